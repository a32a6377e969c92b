"""The 9:16 and 1:1 crops keep the output's aspect: no stretch when scaled to the deliverable.

A 9:16 from a 1280x720 master is 720 * 9 / 16 = 405 pixels wide; it was 404 (rounded down to
even, and ffmpeg's crop also rounds an odd width down on yuv420p), a 0.25 % horizontal stretch
once scaled to 1080x1920. Checked on `render.deliver.encode` (the one ffmpeg process `dreamcut
deliver` writes each version with) over a real source file with marker columns at the crop's
first and last column, and the written file's sample / display aspect read back with PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from dreamcut.media import FrameWriter, ffmpeg_exe, read_frames
from dreamcut.render import deliver as dl

FPS = 24


@pytest.mark.parametrize("master", [(1280, 720), (2048, 1152), (1920, 1080), (640, 360), (320, 180)])
@pytest.mark.parametrize("aspect", ["9:16", "1:1"])
def test_the_crop_box_is_the_aspect_to_half_a_pixel_at_full_height(aspect, master):
    W, H = master
    w, h = dl.crop_box(aspect, master)
    aw, ah = dl.ASPECTS[aspect]
    assert h == H and w <= W
    assert abs(w - H * aw / ah) <= 0.5     # the nearest whole pixel to the exact width


def test_720p_and_2k_crops_are_exact():
    assert dl.crop_box("9:16", (1280, 720)) == (405, 720)       # was 404
    assert dl.crop_box("9:16", (2048, 1152)) == (648, 1152)
    assert dl.crop_box("1:1", (1280, 720)) == (720, 720)
    assert dl.crop_box("1:1", (2048, 1152)) == (1152, 1152)


def _marked_source(path: Path, size: tuple[int, int], columns: list[int], frames: int = 3) -> None:
    """Black frames with one white column at each of `columns` (yuv420p h264, near-lossless)."""
    w, h = size
    frame = np.zeros((h, w, 3), np.uint8)
    for c in columns:
        frame[:, c] = 255
    with FrameWriter(path, w, h, FPS, codec_args=("-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
                                                  "-pix_fmt", "yuv444p")) as writer:
        for _ in range(frames):
            writer.write(frame)


def _silence(path: Path, seconds: float) -> Path:
    import subprocess

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
                    "-t", f"{seconds}", str(path)], check=True)
    return path


def _centroid(cols: np.ndarray, near: float, reach: int = 12) -> float:
    """The centre (in pixel-edge coordinates) of the bright marker in `cols` near `near`."""
    lo, hi = max(0, int(near) - reach), min(len(cols), int(near) + reach)
    v = np.clip(cols[lo:hi] - np.median(cols), 0, None)
    return float(((np.arange(lo, hi) + 0.5) * v).sum() / v.sum())


@pytest.mark.parametrize("master,aspect,out_size", [((1280, 720), "9:16", (1080, 1920)),
                                                    ((1280, 720), "1:1", (1080, 1080)),
                                                    ((2048, 1152), "9:16", (1080, 1920)),
                                                    ((2048, 1152), "1:1", (1080, 1080))])
def test_the_encoded_version_is_scaled_by_the_exact_aspect(tmp_path, master, aspect, out_size):
    cw, ch = dl.crop_box(aspect, master)
    x0 = dl.crop_x_pixels([0.5], master[0], cw)[0]
    a, b = x0 + 8, x0 + cw - 10            # 2-pixel white markers inside the crop, near its edges
    source = tmp_path / "master.mp4"
    _marked_source(source, master, [a, a + 1, b, b + 1])
    frames = 3
    item = dl.Deliverable(name="v.mp4", aspect=aspect, size=out_size, start=0.0, seconds=frames / FPS)
    out = tmp_path / "v.mp4"
    dl.encode(source, out, item, fps=FPS, source_size=master, xs=[x0] * frames,
              audio=_silence(tmp_path / "a.wav", 1.0), work_dir=tmp_path, preset="ultrafast")

    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == out_size
        sar = stream.codec_context.sample_aspect_ratio
        assert sar in (None, Fraction(1, 1)), sar   # square pixels: the display aspect is the frame's
        assert Fraction(out_size[0], out_size[1]) == Fraction(*dl.ASPECTS[aspect])
    _, frame = next(iter(read_frames(out)))
    cols = frame.astype(np.float32).mean(axis=(0, 2))
    aw, ah = dl.ASPECTS[aspect]
    exact = out_size[0] / (master[1] * aw / ah)  # output pixels per master pixel when nothing is stretched
    pa = _centroid(cols, (a + 1 - x0) * exact)
    pb = _centroid(cols, (b + 1 - x0) * exact)
    scale = (pb - pa) / (b - a)
    # a 404-wide crop of a 720p master is 0.25 % too wide a scale (2.5 output pixels over the span)
    assert abs(scale / exact - 1) < 0.0006, (scale, exact)
