"""How much sharper is a 9:16 deliverable cropped from the 2K final than from the 720p master?

One detailed 1 s take drawn natively at 2048x1152 (texture, fine grain, text, thin lines; a slow
pan). `dreamcut render` makes the 1280x720 master and its 2048x1152 lanczos upscale; `dreamcut
deliver` writes full_9x16.mp4 (1080x1920) from the 2K, then again with the 2K removed (from the
master). The reference is the same frame rendered natively at 2048x1152, cropped 648x1152 at the
same centre and scaled to 1080x1920. Printed per version: PSNR and SSIM against the reference
(grey), and the variance of the Laplacian (sharpness; the reference's for scale); and, to take the
crop's even-pixel rounding out of it, PSNR and SSIM against the native frame's window that matches
the crop the code took.

    python benchmarks/deliver_sharpness.py [work folder]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

FPS, SECONDS, FRAME = 24, 1.0, 12
NATIVE = (2048, 1152)


def detailed_frames() -> list[np.ndarray]:
    from finishing_kit import texture

    w, h = NATIVE
    rng = np.random.default_rng(3)
    big = (texture(5, w + 64, h).astype(np.float32) * 0.8)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w + 64)).astype(np.float32), (0, 0), 0.8)
    big += grain[..., None] * 40.0
    for i in range(0, w + 64, 37):
        cv2.line(big, (i, 0), (i + 200, h), (230, 230, 230), 1, cv2.LINE_AA)
    big = np.clip(big, 0, 255).astype(np.uint8)
    for row, y in enumerate(range(60, h, 70)):
        cv2.putText(big, "dreamcut 9:16 delivery sharpness " * 3, (10 - row * 13, y), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5 + 0.15 * (row % 4), (250, 250, 240), 1 + row % 2, cv2.LINE_AA)
    return [big[:, 2 * i:2 * i + w].copy() for i in range(round(FPS * SECONDS) + 2)]


def cli(root: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "dreamcut", "--project", str(root), *args], capture_output=True,
                          text=True, env={**__import__("os").environ, "PYTHONPATH": str(REPO / "src")})
    if proc.returncode:
        raise SystemExit(f"dreamcut {' '.join(args)} failed: {proc.stderr[-800:]}")
    if proc.stderr.strip():
        print(f"  [{args[0]}] said: {proc.stderr.strip()}")


def frame(path: Path, index: int) -> np.ndarray:
    from dreamcut.media import read_frames

    for k, (_, f) in enumerate(read_frames(path)):
        if k == index:
            return f
    raise SystemExit(f"{path} has no frame {index}")


def project(root: Path, master: tuple[int, int], final: tuple[int, int], frames) -> Path:
    import conftest
    from dreamcut import timeline as tl
    from finishing_kit import Cut, build_timeline
    from test_deliver import write_take

    write_take(root / "takes/s0/s0_t1.mp4", frames)
    conftest.make_project(root, [{"id": "s0", "prompt": "detail", "reframe": "center"}], song_seconds=SECONDS,
                          title="sharpness", fps=FPS, takes_per_shot=1,
                          render={"master": f"{master[0]}x{master[1]}", "resolution": f"{final[0]}x{final[1]}",
                                  "preset": "medium", "crf": 18, "overlay": False})
    tl.write_timeline(build_timeline([Cut("takes/s0/s0_t1.mp4", 0.0, SECONDS)], song="song.wav", size=NATIVE),
                      root / "edits" / "cut.otio")
    cli(root, "render")
    return root


def main() -> None:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from dreamcut.render import deliver as dl

    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="dreamcut-sharp-"))
    shutil.rmtree(work, ignore_errors=True)
    frames = detailed_frames()
    native = project(work / "native", NATIVE, NATIVE, frames)
    ref_full = frame(native / "renders" / "final_2048x1152.mp4", FRAME)
    cw, ch = dl.crop_box("9:16", NATIVE)
    x = dl.crop_x_pixels([0.5], NATIVE[0], cw)[0]
    ref = cv2.resize(ref_full[:ch, x:x + cw], (1080, 1920), interpolation=cv2.INTER_LANCZOS4)

    p = project(work / "p", (1280, 720), NATIVE, frames)
    got, aligned, took = {}, {}, {}
    for label, size in (("from the 2K final", NATIVE), ("from the 720p master", (1280, 720))):
        t0 = time.monotonic()
        cli(p, "deliver", "--no-teasers", "--aspects", "9:16", "--json")
        took[label] = time.monotonic() - t0
        got[label] = frame(p / "renders" / "deliver" / "full_9x16.mp4", FRAME)
        (p / "renders" / "final_2048x1152.mp4").unlink(missing_ok=True)
        # the same window of the native frame as the crop the code took (even-pixel rounding included)
        sw, sh = dl.crop_box("9:16", size)
        sx = dl.crop_x_pixels([0.5], size[0], sw)[0]
        k = NATIVE[0] / size[0]
        m = np.float32([[sw * k / 1080, 0, sx * k + 0.5 * (sw * k / 1080 - 1)],
                        [0, sh * k / 1920, 0.5 * (sh * k / 1920 - 1)]])
        aligned[label] = cv2.warpAffine(ref_full, m, (1080, 1920), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP)

    def grey(a):
        return cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)

    def lap(a):
        return float(cv2.Laplacian(grey(a), cv2.CV_64F).var())

    print(f"reference (native 2048x1152 render, 648x1152 crop -> 1080x1920): Laplacian variance {lap(ref):.1f}")
    for label, img in got.items():
        psnr = peak_signal_noise_ratio(grey(ref), grey(img), data_range=255)
        ssim = structural_similarity(grey(ref), grey(img), data_range=255)
        apsnr = peak_signal_noise_ratio(grey(aligned[label]), grey(img), data_range=255)
        assim = structural_similarity(grey(aligned[label]), grey(img), data_range=255)
        print(f"9:16 {label:<22} PSNR {psnr:.2f} dB  SSIM {ssim:.4f}  Laplacian variance {lap(img):.1f}  "
              f"(against the native window it cropped: PSNR {apsnr:.2f} dB  SSIM {assim:.4f}); "
              f"deliver took {took[label]:.1f} s")


if __name__ == "__main__":
    main()
