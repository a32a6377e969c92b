"""Upscaling: lanczos always; spandrel with a tiny random model built here; Real-ESRGAN when Vulkan is present."""

from __future__ import annotations

import numpy as np
import pytest

from dreamcut.errors import BadInput
from dreamcut.media import count_frames, probe, read_frames
from dreamcut.render.ffmpeg import render_timeline
from dreamcut.render.upscale import _import_spandrel, available_upscalers, interpolate, parse_method, upscale
from dreamcut.spec import parse_resolution
from finishing_kit import Cut, build_timeline, make_project

FPS = 24


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("up") / "p", shots=1, seconds=2.0, song_seconds=3.0,
                        size=(160, 90))
    tl = build_timeline([Cut("takes/s0/s0_t1.mp4", 0.0, 1.5)], song="song.wav", size=(160, 90))
    out = root / "renders" / "master.mp4"
    render_timeline(tl, root, out, size=(160, 90), fps=FPS)
    return out


def _audio_packets(path) -> list[bytes]:
    import av

    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(audio=0) if p.size]


def test_2k_of_a_16_9_master_is_2048x1152():
    assert parse_resolution("2k", "16:9") == (2048, 1152)
    assert parse_resolution("720p", "16:9") == (1280, 720)


def test_lanczos_upscale_keeps_timing_and_copies_audio(master):
    out = master.with_name("up.mp4")
    seen: list[float] = []
    upscale(master, out, (320, 180), progress=seen.append)
    a, b = probe(master), probe(out)
    assert (b.video.width, b.video.height, b.video.codec) == (320, 180, "h264")
    assert count_frames(out) == count_frames(master) == 36
    assert abs(a.duration - b.duration) <= 1 / FPS
    assert b.audio.codec == "aac" and _audio_packets(out) == _audio_packets(master)   # copied, not re-encoded
    assert seen[-1] == 1.0


def test_lanczos_letterboxes_a_different_aspect(master):
    out = master.with_name("square.mp4")
    upscale(master, out, (320, 320))
    frame = next(read_frames(out))[1]
    assert frame.shape == (320, 320, 3)
    assert frame[:40].max() < 20 and frame[-40:].max() < 20   # black bars, not a stretch


def test_available_upscalers_explains_itself():
    found = available_upscalers()
    assert found["lanczos"] is None
    assert set(found) == {"lanczos", "realesrgan", "spandrel"}
    for name, reason in found.items():
        assert reason is None or (isinstance(reason, str) and "\n" not in reason and len(reason) < 200), name


def test_unknown_upscaler_is_bad_input(master):
    with pytest.raises(BadInput, match="unknown upscaler"):
        parse_method("bicubic-magic")
    with pytest.raises(BadInput, match="does not exist"):
        upscale(master, master.with_name("x.mp4"), (320, 180), method="spandrel:/nonexistent/model.pth")


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    reason = available_upscalers()["spandrel"]
    if reason:
        pytest.skip(reason)
    import torch

    _import_spandrel()
    from spandrel.architectures.ESRGAN import ESRGAN

    # One thread: on a busy 2-core machine torch's spinning worker threads slow tiny models 30x.
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2)
    path = tmp_path_factory.mktemp("weights") / "tiny_x2.pth"
    torch.save(model.state_dict(), path)
    return path


def test_spandrel_weights_upscale_through_the_pipe(tmp_path, tiny_weights):
    root = make_project(tmp_path / "p", shots=1, seconds=1.0, song_seconds=1.0, size=(96, 54))
    short = root / "renders" / "short.mp4"
    render_timeline(build_timeline([Cut("takes/s0/s0_t1.mp4", 0.0, 0.5)], song="song.wav"), root, short,
                    size=(96, 54), fps=FPS)
    out = root / "renders" / "sr.mp4"
    seen: list[float] = []
    # a 2x model, then lanczos to the exact final size (here not a multiple of the model's scale)
    upscale(short, out, (240, 136), method=f"spandrel:{tiny_weights}", tile=32, progress=seen.append)
    info = probe(out)
    assert (info.video.width, info.video.height) == (240, 136)
    assert count_frames(out) == 12
    assert _audio_packets(out) == _audio_packets(short)
    assert seen[-1] == 1.0
    assert parse_method(str(tiny_weights)) == ("spandrel", tiny_weights)   # a bare weights path works too


def test_spandrel_tiles_match_a_whole_frame(tiny_weights):
    from dreamcut.render.upscale import _SpandrelModel

    frame = (np.random.default_rng(0).random((54, 96, 3)) * 255).astype(np.uint8)
    whole = _SpandrelModel(tiny_weights, tile=1024, device="cpu")(frame).astype(int)
    tiled = _SpandrelModel(tiny_weights, tile=32, device="cpu")(frame).astype(int)
    assert whole.shape == (108, 192, 3)
    assert np.abs(whole - tiled).mean() < 1.0


def test_realesrgan_when_vulkan_is_present(master):
    reason = available_upscalers()["realesrgan"]
    if reason:
        pytest.skip(reason)
    out = master.with_name("esrgan.mp4")
    upscale(master, out, (640, 360), method="realesrgan")
    assert probe(out).video.width == 640


def test_interpolate_doubles_the_frame_rate(master):
    out = master.with_name("48.mp4")
    interpolate(master, out, 48)
    info = probe(out)
    assert info.video.fps == pytest.approx(48, abs=0.01)
    assert count_frames(out) == 72
    assert abs(info.duration - probe(master).duration) <= 2 / FPS


def test_upscalers_command_lists_each_with_its_reason(cli):
    proc = cli("upscalers")
    assert proc.returncode == 0
    assert "lanczos     ready" in proc.stdout
    assert "realesrgan" in proc.stdout and "spandrel" in proc.stdout
