"""Cast identity in ranking: a take whose cast member changes colour halfway (a drifting take) ranks
below the shot's consistent takes, with "cast drift" and the time in its reason; the likeness works
offline (colour histogram + perceptual hash) and with a local CLIP-type model folder."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from _takes import add_takes, write_song, write_take
from dreamcut.analysis import identity

FPS = 24
N = 96  # 4 s
W, H = 320, 180
RED, GREEN = (200, 30, 40), (40, 180, 60)


def background(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grey = cv2.GaussianBlur(rng.integers(40, 220, (H + 40, W + 80), dtype=np.uint8), (0, 0), 2)
    return np.dstack([grey, grey, grey]).astype(np.uint8)


def draw_figure(img: np.ndarray, x: int, y: int, colour) -> None:
    cv2.ellipse(img, (x, y - 34), (12, 14), 0, 0, 360, colour, -1)
    cv2.rectangle(img, (x - 16, y - 18), (x + 16, y + 36), colour, -1)


def figure_take(seed: int, colour_at) -> list[np.ndarray]:
    bg = background(seed)
    frames = []
    for i in range(N):
        ox = i // 3  # a slow pan, no wrap (a jump would be a motion spike)
        f = np.ascontiguousarray(bg[20:20 + H, ox:ox + W])
        draw_figure(f, 80 + int(1.6 * i), 100, colour_at(i))
        frames.append(f)
    return frames


def drifting(i: int):
    """Red, then turning green over half a second from 2 s: the same person, a different coat."""
    k = float(np.clip((i - 48) / 12, 0, 1))
    return tuple(int(round(a + (b - a) * k)) for a, b in zip(RED, GREEN))


def reference_picture(path: Path, colour) -> Path:
    img = np.full((160, 120, 3), 128, np.uint8)
    draw_figure(img, 60, 90, colour)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="module")
def project_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cast-rank")
    write_song(root / "song.wav")
    reference_picture(root / "mia.png", RED)
    spec = {"title": "Cast drift", "song": "song.wav", "take_seconds": 4.0,
            "render": {"master": "320x180", "resolution": "320x180"},
            "cast": [{"name": "mia", "description": "a woman in a red coat", "refs": ["mia.png"]}],
            "shots": [{"id": "walk", "prompt": "mia walks along a grey wall", "cast": ["mia"]},
                      {"id": "wall", "prompt": "a grey wall"}]}
    (root / "dreamcut.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    files = {"walk-1": figure_take(1, lambda i: RED), "walk-2": figure_take(2, lambda i: RED),
             "walk-3": figure_take(3, lambda i: RED), "walk-drift": figure_take(4, drifting),
             "wall-1": figure_take(5, drifting)}
    add_takes(root, files, FPS)
    return root


def test_drifting_take_ranks_below_consistent_takes_with_the_reason(project_root):
    from conftest import run_cli

    r = run_cli("--project", str(project_root), "rank", "--json", check=True)
    ranked = [t for t in json.loads(r.stdout)["takes"] if t["shot"] == "walk"]
    order = [t["take"] for t in ranked]
    assert order[-1] == "walk-drift", order
    drift = ranked[-1]
    kinds = [d["kind"] for d in drift["defects"]]
    assert "cast_drift" in kinds, drift
    span = next(d for d in drift["defects"] if d["kind"] == "cast_drift")
    assert 1.5 <= span["start"] <= 2.6 and span["end"] >= 3.5, span  # the coat turns at 2.0-2.5 s
    assert drift["why"].startswith("cast drift: mia drifts from the references"), drift["why"]
    for t in ranked[:-1]:
        assert "cast_drift" not in [d["kind"] for d in t["defects"]] and "cast drift" not in t["why"], t
        assert "cast identity" in t["why"]
        assert t["score"] > drift["score"] + 0.05
    # A shot that names no cast is not judged for identity: the same drifting picture is no defect there.
    wall = next(t for t in json.loads(r.stdout)["takes"] if t["shot"] == "wall")
    assert "cast" not in wall["why"] and "cast_drift" not in [d["kind"] for d in wall["defects"]]


def test_take_unlike_the_references_and_the_other_takes_is_drift_throughout(project_root):
    """A take that is green from its first frame never drifts inside itself: it is judged against
    the shot's other takes."""
    look = identity.OfflineLook()
    refs = identity.ref_looks([project_root / "mia.png"], look)
    tmp = project_root / "extra"
    tmp.mkdir(exist_ok=True)
    paths = [write_take(tmp / f"red{i}.mp4", figure_take(10 + i, lambda _: RED), FPS) for i in range(3)]
    paths.append(write_take(tmp / "green.mp4", figure_take(20, lambda _: GREEN), FPS))
    looks = [identity.take_looks(p, look) for p in paths]
    lik = [identity.likeness(t, refs, [o for o in looks if o is not t], look) for t in looks]
    verdicts = [identity.judge_identity(lik[i], lik[:i] + lik[i + 1:], ["mia"], 4.0) for i in range(4)]
    assert [v.drifts for v in verdicts] == [False, False, False, True]
    (start, end, why), = verdicts[3].drift
    assert (start, end) == (0.0, 4.0) and "mia unlike the references" in why
    assert verdicts[3].score < min(v.score for v in verdicts[:3]) - 0.1
    # the numbers behind it: likeness to the references, measured
    assert min(x.refs_mean for x in lik[:3]) > lik[3].refs_mean + 0.2, [x.refs_mean for x in lik]


def test_offline_look_tells_two_members_apart_and_one_member_across_pictures(tmp_path):
    look = identity.OfflineLook()
    red_a = identity.ref_looks([reference_picture(tmp_path / "a.png", RED)], look)[0]
    frames = figure_take(7, lambda _: RED)
    red_b = look.describe([frames[10]])[0]
    green = look.describe([figure_take(7, lambda _: GREEN)[10]])[0]
    assert look.similarity(red_a, red_b) > look.similarity(red_a, green) + 0.2


def test_identity_with_a_local_clip_model_folder(project_root, tmp_path):
    from test_video_analysis import _tiny_clip

    from dreamcut.project import Project
    from dreamcut.ranking import cast_identity

    clip = _tiny_clip(tmp_path / "tiny-clip")
    look = identity.make_look(clip)
    assert isinstance(look, identity.ClipLook) and look.name == "clip:tiny-clip"
    frames = figure_take(1, lambda _: RED)
    a, b = look.describe([frames[0], frames[0]])
    assert a.shape == (16,) and look.similarity(a, b) == pytest.approx(1.0, abs=1e-5)
    project = Project.open(project_root)
    take = next(t for t in project.catalog.takes("walk") if t.id == "walk-1")
    with_model = cast_identity(project, take, clip_model=clip)
    offline = cast_identity(project, take)
    assert 0.0 <= with_model.score <= 1.0 and with_model.score != offline.score
    cached = list((project.cache_dir / "identity").glob("*.json"))
    assert len(cached) == 8  # four takes of the shot, described once per look
    with pytest.raises(Exception) as e:
        identity.make_look(tmp_path / "nowhere")
    assert "not a CLIP model folder" in str(e.value)
    project.catalog.close()


def test_drift_ranked_with_a_local_embedding_model_folder_loaded_offline(project_root, tmp_path):
    """The director's CLIP-type folder (a real CLIPModel whose image tower is hand-set to see coat
    colour: tiny_models.teach_clip_colour) is loaded with from_pretrained(local_files_only=True), with
    the hub switched off, and the drifting take ranks last with its reason, measured by the model."""
    import shutil

    from conftest import run_cli
    from test_video_analysis import _tiny_clip
    from tiny_models import teach_clip_colour

    clip = teach_clip_colour(_tiny_clip(tmp_path / "coat-clip"))
    look = identity.make_look(clip)
    refs = identity.ref_looks([project_root / "mia.png"], look)
    red, green = look.describe([figure_take(1, lambda _: RED)[40], figure_take(1, lambda _: GREEN)[40]])
    assert look.similarity(refs[0], red) > 0.95 and look.similarity(refs[0], green) < 0.05  # the model sees the coat
    root = Path(shutil.copytree(project_root, tmp_path / "proj"))
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "no-hub")}
    r = run_cli("--project", str(root), "rank", "--json", "--clip-model", str(clip), env=offline, check=True)
    ranked = [t for t in json.loads(r.stdout)["takes"] if t["shot"] == "walk"]
    assert [t["take"] for t in ranked][-1] == "walk-drift", ranked
    drift = ranked[-1]
    # one drift, the stretch: the frames before it look like the references, so no whole-take drift too
    span, = [d for d in drift["defects"] if d["kind"] == "cast_drift"]
    assert 1.5 <= span["start"] <= 2.6 and span["end"] >= 3.5, span
    assert drift["why"].startswith("cast drift: mia drifts from the references"), drift["why"]
    assert "likeness 1.00 -> 0.00" in drift["why"], drift["why"]  # the model's numbers, not the histogram's
    for t in ranked[:-1]:
        assert "cast identity 1.00" in t["why"] and t["score"] > drift["score"] + 0.05, t


def test_board_filters_cast_drift_like_every_defect_kind_with_its_reason(project_root):
    from conftest import run_cli
    from fastapi.testclient import TestClient

    from dreamcut.analysis.video import DEFECT_KINDS
    from dreamcut.web import create_app

    assert "cast_drift" in DEFECT_KINDS
    run_cli("--project", str(project_root), "rank", check=True)
    page = TestClient(create_app(project_root)).get("/").text
    # one defect filter, its options every kind analysis knows (cast drift among them)
    for kind in DEFECT_KINDS:
        assert f'<option value="{kind}">{kind.replace("_", " ")}</option>' in page, kind

    def card(take_id: str) -> str:
        return page.split(f'id="t-{take_id}"', 1)[1].split('<div class="take', 1)[0]

    def defects_of(take_id: str) -> str:
        return card(take_id).split('data-defects="', 1)[1].split('"', 1)[0]

    assert "cast_drift" in defects_of("walk-drift").split(",")
    assert "cast_drift" not in defects_of("walk-1").split(",")
    # the reason is on the score: "cast drift: mia drifts from the references at ..."
    score_title = card("walk-drift").split('class="sc" title="', 1)[1].split('"', 1)[0]
    assert score_title.startswith("cast drift: mia drifts from the references at "), score_title


@pytest.mark.browser
def test_board_defect_filter_in_a_browser_shows_only_drifting_takes(project_root):
    from _browser import CHROMIUM, WAIT_MS, chromium, serve_board
    from conftest import run_cli

    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (make chromium)")
    run_cli("--project", str(project_root), "rank", check=True)
    with serve_board(project_root) as url, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.wait_for_selector("#t-walk-drift")
        page.select_option("#f-defect", "cast_drift")
        page.wait_for_function("document.getElementById('t-walk-1').classList.contains('hide')")
        shown = page.eval_on_selector_all(".take:not(.hide)", "cs => cs.map(c => c.dataset.id)")
        assert shown == ["walk-drift"], shown
        page.select_option("#f-defect", "none")
        page.wait_for_function("!document.getElementById('t-walk-1').classList.contains('hide')")
        shown = page.eval_on_selector_all(".take:not(.hide)", "cs => cs.map(c => c.dataset.id)")
        assert "walk-drift" not in shown and "walk-1" in shown, shown


def test_ranking_a_cast_shot_decodes_each_take_once(project_root, tmp_path, monkeypatch):
    """The identity frames are sampled from video analysis's decode (and a peer take is analysed when
    its look is first needed, so its own ranking is a cache hit): one decode per take, counted on
    PyAV; the looks equal those of a decode made for identity alone."""
    import shutil
    from collections import Counter

    import av

    from dreamcut.project import Project
    from dreamcut.ranking import analysis_source, rank_take

    root = Path(shutil.copytree(project_root, tmp_path / "proj"))
    shutil.rmtree(root / ".dreamcut" / "cache", ignore_errors=True)
    decodes: Counter = Counter()
    real_open = av.open

    class Counting:
        def __init__(self, container, name):
            self.container, self.name = container, name

        def __enter__(self):
            self.container.__enter__()
            return self

        def __exit__(self, *exc):
            return self.container.__exit__(*exc)

        def __getattr__(self, attr):
            return getattr(self.container, attr)

        def decode(self, *args, **kwargs):
            decodes[Path(self.name).name] += 1
            return self.container.decode(*args, **kwargs)

    monkeypatch.setattr(av, "open", lambda name, *a, **k: Counting(real_open(name, *a, **k), name))
    project = Project.open(root)
    takes = project.catalog.takes("walk")
    results = {t.id: rank_take(project, t) for t in takes}
    assert sorted(decodes.values()) == [1] * len(takes), decodes
    assert "cast_drift" in [d.kind for d in results["walk-drift"].defects]
    monkeypatch.setattr(av, "open", real_open)
    look = identity.OfflineLook()
    for t in takes:
        shared = identity.cached_take_looks(analysis_source(project, t), look, project.cache_dir / "identity")
        alone = identity.describe_sample(identity.FrameSample(analysis_source(project, t)).decode(), look)
        assert shared.times == pytest.approx(alone.times) and np.allclose(shared.vectors, alone.vectors), t.id
    project.catalog.close()
