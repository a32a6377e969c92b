"""The local diffusers backend on tiny random LTX-Video, Wan and CogVideoX pipelines (CPU, offline).

The pipelines are built in `tiny_models.py`, written with save_pretrained and loaded back
through the backend's real loading path (local_files_only, HF_HUB_OFFLINE=1). Pixels from
random weights mean nothing; what is checked is geometry, timing, determinism,
conditioning, chaining and the round trip through the orchestrator.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

sys.path.insert(0, str(Path(__file__).parent))
import tiny_models  # noqa: E402

from dreamcut.backends.base import GenerationRequest, SceneSegment, run_to_file  # noqa: E402
from dreamcut.backends.diffusers_local import (  # noqa: E402
    FAMILIES, DiffusersBackend, blend_join, plan_take, retime, round_size, valid_frames)
from dreamcut.backends.registry import load_backend  # noqa: E402
from dreamcut.errors import BadInput  # noqa: E402
from dreamcut.media import count_frames, probe, read_frames  # noqa: E402

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {"ltx": tiny_models.build_ltx(root / "ltx"), "wan": tiny_models.build_wan(root / "wan"),
            "wan_i2v": tiny_models.build_wan_i2v(root / "wan_i2v"),
            "cogvideox": tiny_models.build_cogvideox(root / "cogvideox")}


@pytest.fixture(scope="session")
def ltx(models) -> DiffusersBackend:
    return load_backend(f"diffusers:{models['ltx']}")


@pytest.fixture(scope="session")
def wan(models) -> DiffusersBackend:
    return load_backend(f"diffusers:{models['wan']}")


def req(**kw) -> GenerationRequest:
    base = dict(shot_id="s1", prompt="a corridor, camera dollies forward. Style: vintage 35mm.", seconds=1.0,
                width=32, height=32, fps=8, seed=7, options=(("steps", 2),))
    base.update(kw)
    return GenerationRequest(**base)


def frames_of(path: Path) -> np.ndarray:
    return np.stack([f for _, f in read_frames(path)]).astype(np.float32)


def ref_image(path: Path, color: tuple[int, int, int]) -> str:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (64, 64), color)
    ImageDraw.Draw(im).rectangle([8, 8, 40, 40], fill=(255 - color[0], 255 - color[1], 255 - color[2]))
    im.save(path)
    return str(path)


# -- pure rules ------------------------------------------------------------------------------


def test_frame_count_rules_per_family():
    assert [valid_frames(n, 8) for n in (1, 9, 10, 121, 257)] == [9, 9, 17, 121, 257]  # LTX 8k+1
    assert [valid_frames(n, 4) for n in (4, 5, 6, 80, 81)] == [5, 5, 9, 81, 81]  # Wan / CogVideoX 4k+1
    assert round_size(1280, 720, 32) == (1280, 704)
    assert round_size(1280, 720, 16) == (1280, 720)
    assert round_size(10, 10, 32) == (32, 32)


def test_plan_rounds_size_with_a_note_and_keeps_the_requested_output():
    plan = plan_take(req(width=1280, height=720, seconds=4.0, fps=24), FAMILIES["ltx"])
    assert (plan.width, plan.height) == (1280, 704)
    assert (plan.out_width, plan.out_height, plan.out_fps, plan.out_frames) == (1280, 720, 24, 96)
    assert any("1280x720 is not a multiple of 32" in n for n in plan.notes)
    assert all((s.frames - 1) % 8 == 0 for s in plan.segments)
    wan = plan_take(req(width=1280, height=720, seconds=4.0, fps=24), FAMILIES["wan"])
    assert (wan.width, wan.height) == (1280, 720) and not any("multiple" in n for n in wan.notes)
    assert wan.model_fps == 16 and any("retimed to 24 fps" in n for n in wan.notes)
    assert all((s.frames - 1) % 4 == 0 and s.frames <= 81 for s in wan.segments)


def test_long_take_plan_covers_the_take_and_follows_scene_segments():
    r = req(seconds=20.0, fps=24, width=1280, height=720, style="vintage 35mm",
            segments=(SceneSegment(0, 5, "corridor"), SceneSegment(5, 12, "classroom"),
                      SceneSegment(12, 20, "football field")))
    plan = plan_take(r, FAMILIES["wan"])  # 16 fps, 81 frames a call
    assert sum(s.keep for s in plan.segments) == plan.total_frames == 321
    assert plan.segments[0].condition == "text" and all(s.condition == "frames" for s in plan.segments[1:])
    assert all(s.frames <= 81 and s.overlap + s.keep <= s.frames for s in plan.segments)
    texts = [s.text.split(". Style")[0].rstrip(".") for s in plan.segments]
    assert texts[0] == "corridor" and texts[-1] == "football field" and "classroom" in texts
    assert all(s.text.endswith("Style: vintage 35mm.") for s in plan.segments)
    # the lead (words before the first scene) applies to every segment
    led = replace(r, lead="Slow dolly, 1986")
    led_texts = [s.text for s in plan_take(led, FAMILIES["wan"]).segments]
    assert led_texts[0] == "Slow dolly, 1986. corridor. Style: vintage 35mm."
    assert led_texts[-1] == "Slow dolly, 1986. football field. Style: vintage 35mm."
    # the scene change falls where it was written: 5 s of 16 fps frames into the take
    starts = np.cumsum([0] + [s.keep for s in plan.segments])
    first_class = texts.index("classroom")
    assert abs(starts[first_class] - 5 * 16) <= 1


def test_family_members_that_differ_are_recognised():
    from dreamcut.backends.diffusers_local import family_for

    assert family_for("wan", {"_class_name": "WanPipeline"}, {}).native_fps == 16
    ti2v = family_for("wan", {"_class_name": "WanPipeline", "expand_timesteps": True}, {})
    assert (ti2v.native_fps, ti2v.comfortable_frames) == (24, 121)
    assert family_for("cogvideox", {}, {"patch_size_t": 2}).native_fps == 16
    assert family_for("cogvideox", {}, {"patch_size_t": None}).native_fps == 8


def test_blend_and_retime_are_continuous():
    a = np.zeros((10, 2, 2, 3), np.float32)
    b = np.ones((10, 2, 2, 3), np.float32)
    j = blend_join(a, b, 5)
    assert len(j) == 15
    steps = np.diff(j[:, 0, 0, 0])
    assert steps.max() <= 1 / 6 + 1e-6  # 5 blended frames: no jump bigger than 1/6
    r = retime(np.linspace(0, 1, 17).reshape(-1, 1, 1, 1).repeat(3, -1), 16, 24, 24)
    assert len(r) == 24 and np.all(np.diff(r[:, 0, 0, 0]) > 0)


# -- the model folder --------------------------------------------------------------------------


def test_missing_and_partial_folders_are_one_clear_line(models, tmp_path):
    with pytest.raises(BadInput) as e:
        DiffusersBackend(model=str(tmp_path / "nope"))
    assert "does not exist" in e.value.line() and "\n" not in e.value.line()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInput, match="no model_index.json"):
        DiffusersBackend(model=str(empty))
    partial = tmp_path / "partial"
    shutil.copytree(models["wan"], partial)
    for f in (partial / "transformer").glob("*.safetensors"):
        f.unlink()
    shutil.rmtree(partial / "vae")
    with pytest.raises(BadInput) as e:
        DiffusersBackend(model=str(partial))
    line = e.value.line()
    assert "missing" in line and "transformer/ weights" in line and "vae/" in line
    assert str(tmp_path) not in line  # the folder is named, not its full path
    odd = tmp_path / "odd"
    shutil.copytree(models["wan"], odd)
    index = json.loads((odd / "model_index.json").read_text())
    index["_class_name"] = "StableDiffusionPipeline"
    (odd / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(BadInput, match="not a supported video model"):
        DiffusersBackend(model=str(odd))
    with pytest.raises(BadInput, match="local Hugging Face cache"):
        DiffusersBackend(model="someone/not-downloaded-model")


def test_repo_id_resolves_from_the_local_cache_only(models, tmp_path, monkeypatch):
    snapshot = tmp_path / "hub" / "models--tiny--wan-t2v" / "snapshots" / "0123abcd"
    shutil.copytree(models["wan"], snapshot)
    (tmp_path / "hub" / "models--tiny--wan-t2v" / "refs").mkdir()
    (tmp_path / "hub" / "models--tiny--wan-t2v" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    backend = load_backend("diffusers:tiny/wan-t2v")
    assert backend.folder.path == snapshot and backend.family.name == "wan"
    with pytest.raises(BadInput, match="local Hugging Face cache"):
        load_backend("diffusers:tiny/not-there")


def test_backend_ships_to_a_worker_without_weights(ltx, tmp_path):
    """Ray pickles the backend to run it on a worker: settings travel, loaded pipelines do not."""
    import pickle

    a = tmp_path / "a.mp4"
    run_to_file(ltx, req(seed=5), a, poll_interval=0)
    assert ltx._pipes  # loaded here
    blob = pickle.dumps(ltx)
    assert len(blob) < 100_000
    worker = pickle.loads(blob)
    assert not worker._pipes and worker.folder == ltx.folder
    b = tmp_path / "b.mp4"
    run_to_file(worker, req(seed=5), b, poll_interval=0)
    assert np.array_equal(frames_of(a), frames_of(b))


def test_capabilities_and_problems(ltx, models, tmp_path):
    caps = ltx.capabilities()
    assert caps.local and caps.image_conditioning and caps.preview_mode == "frames"
    assert ltx.price(req()) == 0.0
    cog = DiffusersBackend(model=str(models["cogvideox"]))
    assert not cog.capabilities().image_conditioning
    assert any("reference images" in p for p in cog.problems(req(refs=(ref_image(tmp_path / "r.png", (9, 9, 9)),))))
    assert any("does not exist" in p for p in ltx.problems(req(refs=(str(tmp_path / "missing.png"),))))


# -- rendering ---------------------------------------------------------------------------------


def test_ltx_take_has_requested_size_fps_and_length_with_rounding_note(ltx, tmp_path):
    out = tmp_path / "take.mp4"
    long_prompt = "a corridor " * 30 + "Style: vintage."  # 300+ tokens for the tiny character tokenizer
    run_to_file(ltx, req(width=40, height=30, seconds=1.5, prompt=long_prompt), out, poll_interval=0)
    info = probe(out)
    assert (info.video.width, info.video.height) == (40, 30)
    assert info.video.fps == pytest.approx(8)
    assert count_frames(out) == 12
    assert info.duration == pytest.approx(1.5, abs=0.01)
    assert "40x30 is not a multiple of 32" in info.metadata.get("comment", "")
    assert any("40x30" in n for n in ltx.notes[str(out)])
    assert any("reads the first 128" in n for n in ltx.notes[str(out)])  # never cut silently


def test_cogvideox_text_to_video_take(models, tmp_path):
    cog = load_backend(f"diffusers:{models['cogvideox']}")
    out = tmp_path / "cog.mp4"
    run_to_file(cog, req(seconds=1.0, fps=8, width=48, height=32), out, poll_interval=0)
    info = probe(out)
    assert (info.video.width, info.video.height, count_frames(out)) == (48, 32, 8)
    assert cog.plan(req()).segments[0].frames == 9  # 4k+1 at its native 8 fps: no retiming


def test_same_seed_same_take_other_seed_other_take(ltx, tmp_path):
    a, b, c = (tmp_path / f"{n}.mp4" for n in "abc")
    run_to_file(ltx, req(seed=11), a, poll_interval=0)
    run_to_file(ltx, req(seed=11), b, poll_interval=0)
    run_to_file(ltx, req(seed=12), c, poll_interval=0)
    fa, fb, fc = frames_of(a), frames_of(b), frames_of(c)
    assert fa.shape == (8, 32, 32, 3)
    assert np.array_equal(fa, fb)
    assert np.abs(fa - fc).mean() > 5.0  # of 255


@pytest.mark.parametrize("family", ["ltx", "wan"])
def test_reference_image_conditions_the_take(family, models, tmp_path):
    backend = load_backend(f"diffusers:{models[family]}")
    red, blue = ref_image(tmp_path / "red.png", (220, 30, 30)), ref_image(tmp_path / "blue.png", (20, 40, 220))
    outs = []
    for name, ref in (("red", red), ("blue", blue)):
        out = tmp_path / f"{family}-{name}.mp4"
        run_to_file(backend, req(refs=(ref,), seconds=1.0), out, poll_interval=0)
        outs.append(frames_of(out))
    assert outs[0].shape == outs[1].shape
    diff = np.abs(outs[0] - outs[1]).mean(axis=(1, 2, 3))
    # same seed and text, so without conditioning the takes would be identical (see the seed test)
    assert diff.mean() > 1.0


def test_ltx_two_references_are_first_and_last_frame(ltx, tmp_path):
    first = ref_image(tmp_path / "first.png", (220, 30, 30))
    last = ref_image(tmp_path / "last.png", (20, 40, 220))
    r = req(refs=(first, last), seconds=1.0)
    assert "second reference image is the take's last frame" in ltx.plan(r).notes
    out = tmp_path / "flf.mp4"
    run_to_file(ltx, r, out, poll_interval=0)
    assert count_frames(out) == 8
    swapped = tmp_path / "swapped.mp4"
    run_to_file(ltx, replace(r, refs=(last, first)), swapped, poll_interval=0)
    assert np.abs(frames_of(out) - frames_of(swapped)).mean() > 1.0


def test_preview_makes_the_first_four_frames(wan, tmp_path):
    out = tmp_path / "preview.mp4"
    run_to_file(wan, req(seconds=8.0, width=64, height=32, preview=True), out, poll_interval=0)
    info = probe(out)
    assert count_frames(out) == 4
    assert (info.video.width, info.video.height) == (64, 32)
    plan = wan.plan(req(seconds=8.0, width=64, height=32, preview=True))
    _, multiple = wan._model_rules()
    assert (plan.width, plan.height) == round_size(32, 16, multiple)  # half size, on the model's grid
    assert plan.width == 32
    assert plan.steps <= 2 and plan.segments[0].frames == 5  # Wan's smallest valid count >= 4


def test_chained_long_take_has_the_requested_length_and_a_continuous_join(models, tmp_path):
    backend = DiffusersBackend(model=str(models["ltx"]), comfortable_frames=17)
    r = req(seconds=3.0, segments=(SceneSegment(0, 1.5, "a school corridor"),
                                   SceneSegment(1.5, 3.0, "a football field at dusk")))
    plan = backend.plan(r)
    assert len(plan.segments) >= 2 and plan.segments[1].condition == "frames"
    out = tmp_path / "long.mp4"
    run_to_file(backend, r, out, poll_interval=0)
    assert count_frames(out) == 24
    assert probe(out).duration == pytest.approx(3.0, abs=0.01)
    f = frames_of(out)
    step = np.abs(np.diff(f, axis=0)).mean(axis=(1, 2, 3))  # mean change per frame
    join = plan.segments[0].keep  # first frame that follows the blend window's start
    window = step[join - plan.segments[1].overlap - 1: join + 1]
    elsewhere = np.concatenate([step[: join - plan.segments[1].overlap - 1], step[join + 1:]])
    # no cut at the join: the biggest change there is no bigger than the take's ordinary motion
    assert window.max() <= max(2.0 * np.percentile(elsewhere, 90), 3.0)


def test_each_segment_continues_from_the_previous_one(models):
    """Two takes that differ only in their FIRST scene: the second segment has the same text and
    seed in both, so it can only differ because it is conditioned on the first one's tail."""
    backend = DiffusersBackend(model=str(models["ltx"]), comfortable_frames=17)
    takes = []
    for first in ("a school corridor", "a desert road at noon"):
        r = req(seconds=3.0, segments=(SceneSegment(0, 1.5, first), SceneSegment(1.5, 3.0, "a football field")))
        plan = backend.plan(r)
        takes.append(backend.generate(r, plan))
    assert len(takes[0]) == len(takes[1]) == plan.total_frames == 24
    second = slice(plan.segments[0].keep + 1, None)  # past the blend window's first frame
    # (identical inputs give bit-identical frames: see the seed test; random weights move little)
    assert np.abs(takes[0][second] - takes[1][second]).mean() > 1e-4


def test_wan_image_to_video_folder_first_and_last_frame(models, tmp_path):
    backend = DiffusersBackend(model=str(models["wan_i2v"]))
    assert any("needs a reference image" in p for p in backend.problems(req()))
    with pytest.raises(BadInput, match="needs a reference image"):
        run_to_file(backend, req(), tmp_path / "x.mp4", poll_interval=0)
    first = ref_image(tmp_path / "first.png", (220, 30, 30))
    last = ref_image(tmp_path / "last.png", (20, 40, 220))
    one = req(refs=(first,), options=(("steps", 2), ("model_fps", 8)))
    two = replace(one, refs=(first, last))
    assert any("last frame" in n for n in backend.plan(two).notes)
    a, b = backend.generate(one, backend.plan(one)), backend.generate(two, backend.plan(two))
    per_frame = np.abs(a - b).mean(axis=(1, 2, 3))
    # the last-frame image changes the end of the take much more than its start
    assert per_frame[-1] > 10 * per_frame[0] and per_frame[-1] > 1e-4


# -- through the orchestrator (the path `dreamcut generate` takes) -----------------------------


def _tiny_project(root: Path, model: Path) -> Path:
    import soundfile as sf

    (root / "refs").mkdir(parents=True)
    sf.write(root / "song.wav", np.zeros(8000, np.float32), 8000)
    ref_image(root / "refs" / "hall.png", (200, 180, 40))
    (root / "dreamcut.yaml").write_text(f"""
title: tiny
song: song.wav
fps: 8
backend: "diffusers:{model}"
takes_per_shot: 1
take_seconds: 1.0
render: {{master: "64x32", resolution: "64x32"}}
shots:
  - id: corridor
    prompt:
      - text: a 1980s school corridor
      - text: a classroom full of light
  - id: hall
    prompt: a hall with a yellow floor
    refs: [refs/hall.png]
""")
    return root


def test_cli_check_names_a_missing_model_folder(models, tmp_path, cli):
    root = _tiny_project(tmp_path / "proj", models["ltx"])
    ok = cli("check", cwd=root)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    text = (root / "dreamcut.yaml").read_text().replace(str(models["ltx"]), str(tmp_path / "gone" / "LTX-Video"))
    (root / "dreamcut.yaml").write_text(text)
    bad = cli("check", cwd=root)
    assert bad.returncode == 2
    line = [ln for ln in (bad.stdout + bad.stderr).splitlines() if "error" in ln.lower()]
    assert line and "LTX-Video" in line[0] and "does not exist" in line[0] and str(tmp_path) not in line[0]


def test_cli_local_model_describes_a_folder_without_loading_it(models, tmp_path, cli):
    ok = cli("local-model", str(models["wan_i2v"]))
    assert ok.returncode == 0, ok.stderr
    assert "WanImageToVideoPipeline" in ok.stdout and "reference image (required)" in ok.stdout
    assert "last frame" in ok.stdout
    partial = tmp_path / "partial"
    shutil.copytree(models["ltx"], partial)
    shutil.rmtree(partial / "text_encoder")
    bad = cli("local-model", str(partial))
    assert bad.returncode == 2 and "missing text_encoder/" in bad.stderr


@pytest.mark.slow
def test_generate_end_to_end_with_tiny_ltx(models, tmp_path, cli):
    """`dreamcut generate` and `dreamcut preview` with `backend: diffusers:<folder>`."""
    from dreamcut.generate.batch import plan_takes
    from dreamcut.generate.orchestrator import Orchestrator
    from dreamcut.project import Project

    root = _tiny_project(tmp_path / "proj", models["ltx"])
    env = {"DREAMCUT_DIFFUSERS_STEPS": "2"}
    proc = cli("generate", cwd=root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mp4s = sorted((root / "takes").rglob("*.mp4"))
    assert [p.parent.name for p in mp4s] == ["corridor", "hall"]
    for mp4 in mp4s:
        info = probe(mp4)
        assert (info.video.width, info.video.height, round(info.video.fps)) == (64, 32, 8)
        assert count_frames(mp4) == 8
        sidecar = json.loads(mp4.with_suffix(".json").read_text())
        assert sidecar["backend"].startswith("diffusers:")
    # the two-scene shot was made as chained segments (the backend's note rides in the file)
    assert "2 segments" in probe(mp4s[0]).metadata.get("comment", "")
    hall = json.loads(mp4s[1].with_suffix(".json").read_text())
    assert hall["request"]["refs"] and len(json.loads(mp4s[0].with_suffix(".json").read_text())["request"]["segments"]) == 2
    # resuming makes nothing twice
    project = Project.open(root)
    again = Orchestrator(project, poll_interval=0).run(plan_takes(project.spec, root=str(root)))
    assert again.skipped == 2 and again.made == 0
    # MiniClips through the CLI: four variants of the image-conditioned shot, four frames each
    proc = cli("preview", "hall", "--variants", "4", cwd=root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    clips = sorted((root / "previews" / "hall").rglob("*.mp4"))
    assert len(clips) == 4 and all(count_frames(c) == 4 for c in clips)
    assert (root / "previews" / "hall" / "contact_sheet.png").is_file()


# -- as the engine of `dreamcut serve` and of the Ray executor -------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's notice about OpenAI's hosted Sora API
def test_serve_renders_with_the_tiny_model_through_the_openai_sdk(models, tmp_path):
    """`dreamcut serve --backend diffusers:<folder>` answers the official OpenAI SDK."""
    import subprocess
    import time
    import urllib.request

    from openai import OpenAI

    port, key = _free_port(), "local-test-key"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"),
               DREAMCUT_DIFFUSERS_STEPS="2", DREAMCUT_API_KEY=key)  # the key never on the command line
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "dreamcut", "serve", "--port", str(port),
                             "--backend", f"diffusers:{models['ltx']}", "--fps", "8", "--workers", "2",
                             "--poll-after-ms", "50", "--storage", str(tmp_path / "store")],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{port}/_dreamcut/health", headers={"Authorization": f"Bearer {key}"}), timeout=2)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        client = OpenAI(api_key=key, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
        ids = [client.videos.create(model="diffusers", prompt=f"a corridor, take {i}", seconds="1", size="64x32").id
               for i in range(2)]  # two at once: the server's workers share one loaded model
        for vid in ids:
            deadline = time.monotonic() + 240
            while (v := client.videos.retrieve(vid)).status not in ("completed", "failed"):
                assert time.monotonic() < deadline, "the video did not finish"
                time.sleep(0.2)
            assert v.status == "completed", v.error
            out = tmp_path / f"{vid}.mp4"
            client.videos.download_content(vid).write_to_file(out)
            info = probe(out)
            assert (info.video.width, info.video.height, round(info.video.fps)) == (64, 32, 8)
            assert count_frames(out) == 8
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.mark.slow
def test_ray_executor_renders_with_the_tiny_model(models, tmp_path):
    """The Ray executor pickles the backend to a worker, which loads the model itself."""
    pytest.importorskip("ray")
    from dreamcut.generate import executors
    from dreamcut.backends.registry import parse_backend

    ref = parse_backend(f"diffusers:{models['ltx']}")
    backend = load_backend(ref)
    ex = executors.RayExecutor(None, num_gpus=0, num_cpus=1,
                               init_options={"num_cpus": 1, "object_store_memory": 80 * 2**20,
                                             "runtime_env": {"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}}})
    try:
        r = req(seed=3)
        dest = tmp_path / "ray.mp4"
        ex.render(ref, backend, r, dest, r.key(str(ref)))
    finally:
        ex.close()
    local = tmp_path / "local.mp4"
    run_to_file(backend, r, local, poll_interval=0)
    assert count_frames(dest) == 8
    assert np.array_equal(frames_of(dest), frames_of(local))
