"""A take is judged against its own request: darkness its prompt asks for and a scene change its
segments write are not defects; the same picture under another prompt still is. Also: graded
flicker, and bad takes that still order."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from _takes import add_takes, clean_frames, inject_cut, write_song, write_take
from dreamcut.analysis.video import Defect, analyze_take, score_take

FPS = 24
N = 96  # 4 s


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    from conftest import run_cli

    root = tmp_path_factory.mktemp("req")
    write_song(root / "song.wav")
    spec = {"title": "Requests", "song": "song.wav", "take_seconds": 4.0,
            "render": {"master": "320x180", "resolution": "320x180"},
            "shots": [{"id": "porch", "prompt": "an old wooden porch at night, one lamp"},
                      {"id": "beach", "prompt": "a wide beach at noon, bright sun"},
                      {"id": "rooms", "prompt": [{"text": "a kitchen with a red table", "seconds": 2.0},
                                                 {"text": "a garden with tall grass", "seconds": 2.0}]}]}
    (root / "dreamcut.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    base = clean_frames(N)
    dim = [(f * 0.14).astype(np.uint8) for f in base]
    files = {"porch": dim, "beach": dim, "rooms": inject_cut(base, 48), "rooms-early": inject_cut(base, 20)}
    add_takes(root, files, FPS)
    r = run_cli("--project", str(root), "rank", "--json", check=True)
    return {t["take"]: t for t in json.loads(r.stdout)["takes"]}


def test_night_take_is_clean_when_night_was_asked(ranked):
    porch, beach = ranked["porch"], ranked["beach"]
    assert porch["defects"] == [] and porch["why"].startswith("clean"), porch
    assert "as asked" in porch["why"]
    assert [d["kind"] for d in beach["defects"]] == ["dark"]  # the same picture at noon is underexposed
    assert porch["score"] > beach["score"]


def test_cut_at_a_written_scene_change_is_clean(ranked):
    rooms, early = ranked["rooms"], ranked["rooms-early"]
    assert rooms["defects"] == [] and rooms["why"].startswith("clean"), rooms
    assert "scene change at 2.0 s as written" in rooms["why"]
    cuts = [d for d in early["defects"] if d["kind"] == "cut"]  # 0.83 s: not where the scene changes
    assert len(cuts) == 1 and abs(cuts[0]["start"] - 20 / FPS) < 0.1
    assert rooms["score"] > early["score"]


def test_flicker_is_graded_by_its_level(tmp_path):
    base = clean_frames(N)
    scores = {}
    for amp in (3.6, 12.9):
        frames = [np.clip(f.astype(np.float32) + (amp if i % 2 else -amp), 0, 255).astype(np.uint8)
                  for i, f in enumerate(base)]
        a = analyze_take(write_take(tmp_path / f"flicker{amp}.mp4", frames, FPS))
        assert [d.kind for d in a.defects] == ["flicker"], a.defects  # one flicker, no "flash" at a bright frame
        flicker = a.defects
        assert flicker[0].end - flicker[0].start > 3.5, a.defects
        # the flicker penalty alone, from the measured level
        scores[amp] = score_take(a.metrics, flicker)[0]
        assert f"flicker {a.metrics['flicker_peak']:.1f} levels throughout" in score_take(a.metrics, flicker)[1]
    assert scores[3.6] - scores[12.9] > 0.05, scores


def test_bad_takes_still_order():
    """Three different bad takes must not all score 0.00: the score never bottoms out flat."""
    metrics = {"seconds": 4.0, "sharpness": 100.0, "luma_mean": 118.0, "motion_smoothness": 0.9}
    cuts = [Defect(t, t + 0.04, "cut") for t in (0.5, 1.0, 1.5, 2.0)]
    frozen = [Defect(2.5, 3.5, "frozen")]
    a, _ = score_take(metrics, cuts)
    b, _ = score_take(metrics, cuts + frozen)
    c, _ = score_take({**metrics, "sharpness": 5.0}, cuts + frozen)
    assert a > b > c > 0.0
