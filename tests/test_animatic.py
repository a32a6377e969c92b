"""The animatic backend: real renders through real ffmpeg, decoded back with PyAV.

Small frames (256x144) and short takes keep this file fast; one test renders 720p.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from dreamcut.backends.animatic import (AnimaticBackend, caption_overlay, portal_scale, read_camera, read_look,
                                        render_frames, render_size)
from dreamcut.backends.base import GenerationRequest, SceneSegment, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import count_frames, probe, read_frames

W, H = 256, 144


def req(prompt: str = "A continuous zoom down a 1980s school corridor with red lockers, film grain", *,
        seconds: float = 1.0, seed: int = 7, w: int = W, h: int = H, fps: int = 24, **kw) -> GenerationRequest:
    return GenerationRequest(shot_id="s1", prompt=prompt, seconds=seconds, width=w, height=h, fps=fps, seed=seed,
                             **kw)


def render(tmp_path: Path, request: GenerationRequest, name: str) -> Path:
    dest = tmp_path / f"{name}.mp4"
    AnimaticBackend().render(request, dest)
    return dest


def frame_hashes(path: Path) -> list[str]:
    return [hashlib.sha256(f.tobytes()).hexdigest() for _, f in read_frames(path)]


def frames(path: Path) -> list[np.ndarray]:
    return [f for _, f in read_frames(path)]


# -- reading the words ---------------------------------------------------------------


def test_words_set_time_of_day_era_place_and_camera():
    night = read_look("an old couple on a porch at night, stars", "")
    noon = read_look("a desert highway at noon, orange station wagon", "")
    assert night.time == "night" and noon.time == "noon"
    assert night.light < noon.light
    assert "stars" in night.motifs and night.outdoor
    assert read_look("a 1950s kitchen").grade == "1950s"
    assert read_look("a kitchen", "Style: shot on 35mm in the 1980s").grade == "1980s"  # style fills in the era
    assert read_look("a modern office").grain == 0
    assert read_look("a modern office", "film grain").grain > 0
    assert read_look("a red corridor with lockers").accents[0] == (200, 40, 40)
    assert not read_look("a school corridor with lockers").outdoor
    assert read_camera("a street, pan left").kind == "pan_left"
    assert read_camera("a porch at night, slowly zooms out").kind == "zoom_out"
    assert read_camera("the camera orbits the couple").kind == "orbit"
    assert read_camera("a kitchen, handheld camera").kind == "handheld"
    assert read_camera("a kitchen").kind == "zoom"  # the endless forward zoom by default


def test_portal_covers_half_the_frame_at_the_boundary():
    assert portal_scale(5.0, 5.0) ** 2 == pytest.approx(0.5)
    assert portal_scale(4.5, 5.0) < portal_scale(5.0, 5.0) < portal_scale(5.1, 5.0)


# -- the backend through the protocol --------------------------------------------------


def test_capabilities_and_registry():
    backend = load_backend("animatic")
    assert isinstance(backend, AnimaticBackend)
    caps = backend.capabilities()
    assert caps.local and caps.price_per_second == 0 and caps.max_seconds == 120 and caps.preview_mode == "frames"
    assert backend.price(req()) == 0
    assert backend.problems(req(refs=("x.png",))) == []
    assert backend.problems(req(seconds=121)) != []


def test_same_request_same_frames_other_seed_other_frames(tmp_path):
    a = render(tmp_path, req(), "a")
    b = render(tmp_path, req(), "b")
    c = render(tmp_path, req(seed=8), "c")
    ha, hb, hc = frame_hashes(a), frame_hashes(b), frame_hashes(c)
    assert len(ha) == 24
    assert ha == hb
    assert sum(x != y for x, y in zip(ha, hc)) == len(ha)


def test_size_fps_frames_duration_codec_and_label(tmp_path):
    path = tmp_path / "take.mp4"
    run_to_file(AnimaticBackend(), req(seconds=2.0, fps=12, w=320, h=180), path, poll_interval=0)
    info = probe(path)
    assert info.video is not None
    assert (info.video.width, info.video.height) == (320, 180)
    assert info.video.codec == "h264" and info.video.pix_fmt == "yuv420p"
    assert info.video.fps == pytest.approx(12)
    assert count_frames(path) == 24
    assert info.duration == pytest.approx(2.0, abs=1 / 12 + 1e-3)
    assert "animatic" in info.metadata.get("comment", "").lower()
    assert not list(tmp_path.glob(".*part*"))  # nothing half-written left behind


def test_720p_default_size(tmp_path):
    path = render(tmp_path, req(seconds=0.5, w=1280, h=720, caption="ANIMATIC s1 take 1 | corridor"), "hd")
    info = probe(path)
    assert (info.video.width, info.video.height) == (1280, 720)
    assert count_frames(path) == 12


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def soft_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of the pictures with grain and encoder noise blurred away: compares composition."""
    return psnr(cv2.GaussianBlur(a, (0, 0), 1.5), cv2.GaussianBlur(b, (0, 0), 1.5))


def shrunk(full: list[np.ndarray], like: np.ndarray) -> list[np.ndarray]:
    return [cv2.resize(f, (like.shape[1], like.shape[0]), interpolation=cv2.INTER_AREA) for f in full]


# Random motifs (stars, moon, figures, flowers) and grain, a caption and a running timecode: if the
# preview's randomness or layout followed its own smaller size, these would move and the match fail.
BUSY = "an old couple among flowers on a porch at night, stars, 1950s film grain"


def test_preview_renders_four_small_frames_of_the_take(tmp_path):
    preview = req(BUSY, seconds=8.0, preview=True, caption="ANIMATIC  s1  take 1  |  porch")
    path = render(tmp_path, preview, "preview")
    info = probe(path)
    # A quarter of the take's size, but never narrower than a contact-sheet cell (192 wide).
    assert render_size(preview) == (192, 108) == (info.video.width, info.video.height)
    assert count_frames(path) == 4 and info.video.codec == "h264" and info.video.pix_fmt == "yuv420p"
    assert "animatic" in info.metadata.get("comment", "").lower()
    assert frame_hashes(render(tmp_path, preview, "again")) == frame_hashes(path)  # deterministic
    full = frames(render(tmp_path, replace(preview, preview=False), "full"))
    assert len(full) == 192
    # The preview is the take's first frames in miniature: compared at the preview's size (the full
    # frames shrunk), they differ only by grain drawn anew and two encodes -- not by composition.
    small = frames(path)
    ref = shrunk(full[:4], small[0])
    assert all(psnr(a, b) > 30 for a, b in zip(small, ref))
    # Another seed moves the stars, flowers and people: with grain blurred away, clearly further off.
    other = frames(render(tmp_path, replace(preview, seed=8), "other"))
    assert soft_psnr(small[0], ref[0]) > soft_psnr(other[0], ref[0]) + 3


def test_preview_frames_match_the_full_take_before_encoding():
    full = list(render_frames(req(BUSY, seconds=1.0, caption="ANIMATIC s1")))
    # Drawn at the take's own size, a preview is exactly the take's first frames.
    same = list(render_frames(req(BUSY, seconds=1.0, caption="ANIMATIC s1", preview=True,
                                  options=(("preview_scale", 1.0),))))
    assert len(same) == 4 and all(np.array_equal(a, b) for a, b in zip(same, full[:4]))
    # Drawn small (the default), it is the take's first frames shrunk, up to the grain.
    small = list(render_frames(req(BUSY, seconds=1.0, caption="ANIMATIC s1", preview=True)))
    assert small[0].shape == (108, 192, 3)
    assert all(psnr(a, b) > 30 for a, b in zip(small, shrunk(full[:4], small[0])))


def test_preview_size_follows_preview_scale():
    hd = dict(w=1280, h=720, preview=True)
    assert render_size(req(**hd)) == (320, 180)  # PREVIEW_SCALE = 0.25
    assert render_size(req(**hd, options=(("preview_scale", 0.5),))) == (640, 360)
    assert render_size(req(**hd, options=(("preview_scale", 0.01),))) == (192, 108)  # a contact-sheet cell
    assert render_size(req(w=1280, h=720)) == (1280, 720)  # a full take is drawn at its size
    assert render_size(req(w=160, h=90, preview=True)) == (160, 90)  # never larger than the take
    with pytest.raises(BadInput):
        render_size(req(**hd, options=(("preview_scale", 2),)))


def test_caption_changes_pixels_only_in_its_band(tmp_path):
    caption = "ANIMATIC  s1  take 1  |  a school corridor"
    words = "a modern school corridor with red lockers"  # no grain: encoder noise stays small
    on = frames(render(tmp_path, req(words, caption=caption), "on"))
    off = frames(render(tmp_path, req(words, caption=None), "off"))
    _, _, top = caption_overlay(caption, None, W, H)
    # Compare before encoding too: exact outside the band.
    raw_on = list(render_frames(req(caption=caption)))
    raw_off = list(render_frames(req(caption=None)))
    for a, b in zip(raw_on, raw_off):
        assert np.array_equal(a[:top], b[:top])
        assert np.abs(a[top:].astype(int) - b[top:].astype(int)).mean() > 10
    # After H.264: the band differs a lot, the picture above it (a macroblock of margin) barely.
    margin = 16
    for a, b in zip(on, off):
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff[top:].mean() > 10
        assert diff[: top - margin].mean() < 2.0


def _hist(frame: np.ndarray) -> np.ndarray:
    small = cv2.resize(frame, (64, 36), interpolation=cv2.INTER_AREA)
    h = cv2.calcHist([small], [0, 1, 2], None, [6, 6, 6], [0, 256] * 3).ravel()
    return h / h.sum()


def test_segment_changes_happen_at_the_written_times(tmp_path):
    fps = 24
    segs = (SceneSegment(0.0, 2.0, "a red school corridor with lockers at noon"),
            SceneSegment(2.0, 4.5, "a blue ocean beach at night, stars"),
            SceneSegment(4.5, 7.0, "a green football field at dawn"))
    request = req("a corridor, then a beach, then a field", seconds=7.0, fps=fps, segments=segs)
    decoded = frames(render(tmp_path, request, "segments"))
    assert len(decoded) == 7 * fps
    hists = [_hist(f) for f in decoded]
    # Each scene's palette: the frames in the steady middle of its segment.
    refs = [np.mean(hists[int(a * fps) + 2: int(b * fps) - 14], axis=0) for a, b in ((0, 2), (2, 4.5), (4.5, 7))]
    dist = np.array([[np.abs(h - r).sum() for r in refs] for h in hists])
    for k, boundary in enumerate((2.0, 4.5)):
        frame = int(round(boundary * fps))
        # Where the frame stops looking like scene k and starts looking like scene k+1.
        window = range(frame - 24, frame + 24)
        crossing = next(i for i in window if dist[i, k + 1] < dist[i, k])
        assert abs(crossing - frame) <= 3, (boundary, crossing, frame)
        # And the biggest frame-to-frame change near the boundary is within a few frames of it.
        change = [np.abs(hists[i] - hists[i - 1]).sum() for i in window]
        peak = window[int(np.argmax(change))]
        assert abs(peak - frame) <= 5, (boundary, peak, frame)


def _flow(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean horizontal motion and mean outward (zoom) motion between two frames, in pixels."""
    ga, gb = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b))
    flow = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    h, w = ga.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rx, ry = xx - w / 2, yy - h / 2
    norm = np.sqrt(rx ** 2 + ry ** 2) + 1e-3
    outward = (flow[..., 0] * rx + flow[..., 1] * ry) / norm
    return float(flow[..., 0].mean()), float(outward.mean())


@pytest.mark.parametrize("words,expect", [
    ("a modern kitchen with windows, pan left", "right"),
    ("a modern kitchen with windows, pan right", "left"),
    ("a modern kitchen with windows, zoom", "in"),
    ("a modern kitchen with windows, slowly zooms out", "out"),
])
def test_camera_words_change_the_motion(words, expect):
    shots = list(render_frames(req(words, seconds=1.0, w=320, h=180)))
    motions = [_flow(shots[i], shots[i + 2]) for i in range(2, 20, 3)]
    dx = float(np.median([m[0] for m in motions]))
    out = float(np.median([m[1] for m in motions]))
    if expect == "right":
        assert dx > 1.0 and abs(out) < abs(dx)
    elif expect == "left":
        assert dx < -1.0 and abs(out) < abs(dx)
    elif expect == "in":
        assert out > 0.5 and abs(dx) < out
    else:
        assert out < -0.5 and abs(dx) < -out


def test_reference_image_tints_the_scene(tmp_path):
    ref = tmp_path / "ref.png"
    cv2.imwrite(str(ref), np.full((32, 32, 3), (200, 30, 220), np.uint8))  # BGR magenta
    plain = next(render_frames(req("a room")))
    tinted = next(render_frames(req("a room", refs=(str(ref),))))
    assert not np.array_equal(plain, tinted)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(BadInput):
        next(render_frames(req("a room", refs=(str(bad),))))


def test_progress_reaches_one_and_odd_sizes_are_refused(tmp_path):
    seen: list[float] = []
    AnimaticBackend().render(req(seconds=0.5), tmp_path / "p.mp4", progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    odd = req(w=255, h=144)
    assert AnimaticBackend().problems(odd)
    with pytest.raises(BadInput):
        AnimaticBackend().render(odd, tmp_path / "odd.mp4")
    assert not (tmp_path / "odd.mp4").exists()


def test_frames_are_the_same_in_another_process():
    import os
    import subprocess
    import sys

    code = ("import hashlib\nfrom dreamcut.backends.animatic import render_frames\n"
            "from dreamcut.backends.base import GenerationRequest, SceneSegment\n"
            "r = GenerationRequest('s1', 'a red corridor at dusk, film grain', 1.0, 256, 144, 12, 5,"
            " segments=(SceneSegment(0, 0.5, 'a red corridor'), SceneSegment(0.5, 1.0, 'a blue field')),"
            " caption='ANIMATIC x')\n"
            "h = hashlib.sha256()\n"
            "for f in render_frames(r): h.update(f.tobytes())\n"
            "print(h.hexdigest())\n")
    env = dict(os.environ, PYTHONHASHSEED="123", PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    h = hashlib.sha256()
    r = GenerationRequest("s1", "a red corridor at dusk, film grain", 1.0, 256, 144, 12, 5,
                          segments=(SceneSegment(0, 0.5, "a red corridor"), SceneSegment(0.5, 1.0, "a blue field")),
                          caption="ANIMATIC x")
    for f in render_frames(r):
        h.update(f.tobytes())
    assert other.stdout.strip() == h.hexdigest()


def _crossings(decoded: list[np.ndarray], segments, fps: int) -> list[tuple[int, int]]:
    """(frame where the picture turns from scene k to scene k+1, the written boundary frame)."""
    hists = [_hist(f) for f in decoded]
    refs = []
    for s in segments:
        a, b = int(s.start * fps), int(s.end * fps)
        refs.append(np.mean(hists[a + 2: max(a + 3, b - 14)], axis=0))
    dist = np.array([[np.abs(h - r).sum() for r in refs] for h in hists])
    out = []
    for k, s in enumerate(segments[1:]):
        frame = int(round(s.start * fps))
        window = range(max(1, frame - 24), min(len(hists), frame + 24))
        out.append((next(i for i in window if dist[i, k + 1] < dist[i, k]), frame))
    return out


def test_demo_takes_change_scene_at_the_written_times(tmp_path):
    """The short demo through the real planner, orchestrator and catalog: its multi-scene takes
    change scene where the shot list says."""
    import soundfile as sf

    from dreamcut.demo.project import write_demo_project
    from dreamcut.generate.batch import plan_takes
    from dreamcut.generate.orchestrator import Orchestrator
    from dreamcut.project import Project

    write_demo_project(tmp_path, short=True)
    sf.write(tmp_path / "song.wav", np.zeros((44100 * 15, 2), np.float32), 44100)
    project = Project.open(tmp_path)
    planned = plan_takes(project.spec, root=str(tmp_path))
    summary = Orchestrator(project, poll_interval=0).run(planned)
    assert summary.made == len(planned) == 3 and summary.spent_usd == 0
    checked = 0
    for p in planned:
        if len(p.request.segments) < 2:
            continue
        take = next((tmp_path / "takes" / p.shot_id).glob("*.mp4"))
        decoded = frames(take)
        assert len(decoded) == p.request.frame_count
        for crossing, frame in _crossings(decoded, p.request.segments, p.request.fps):
            assert abs(crossing - frame) <= 3, (p.shot_id, crossing, frame)
            checked += 1
    assert checked >= 2


def _first(prompt: str) -> np.ndarray:
    return next(render_frames(req(prompt, seconds=0.2)))


def test_words_show_in_the_pixels():
    def sat(f):  # colour variety: spread of the Lab chroma channels (a sepia tint is one colour)
        lab = cv2.cvtColor(f, cv2.COLOR_RGB2LAB).astype(np.float32)
        return float(lab[..., 1].std() + lab[..., 2].std())

    def luma(f):
        return cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).mean()

    assert luma(_first("a field at night")) < 0.6 * luma(_first("a field at noon"))
    assert sat(_first("a 1950s kitchen")) < 0.6 * sat(_first("a modern kitchen"))
    assert sat(_first("a black and white kitchen")) < 0.2 * sat(_first("a modern kitchen"))
    red, blue = _first("a red corridor with lockers"), _first("a blue corridor with lockers")
    assert red[..., 0].mean() > red[..., 2].mean() and blue[..., 2].mean() > blue[..., 0].mean()

    def fine_detail(a, b):  # high-frequency energy of the difference between two frames
        d = a.astype(np.float32) - b.astype(np.float32)
        return float(np.abs(d - cv2.GaussianBlur(d, (0, 0), 2)).mean())

    clean = _first("a modern kitchen")
    assert fine_detail(_first("a modern kitchen, film grain"), clean) > 1.0
    assert fine_detail(_first("a modern kitchen."), clean) < 0.2  # another prompt, same words: no grain
