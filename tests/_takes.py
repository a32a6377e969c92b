"""Synthetic takes for tests: real H.264 files made with media.FrameWriter, with defects
injected at known frames (a frozen stretch, a spliced-in hard cut, flashes, a motion spike)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dreamcut.media import FrameWriter


def texture(seed: int, w: int, h: int) -> np.ndarray:
    """A colourful, detailed picture larger than the frame (so it can pan)."""
    rng = np.random.default_rng(seed)
    big = rng.integers(0, 256, (h + 120, w + 240, 3), dtype=np.uint8)
    big = cv2.GaussianBlur(big, (0, 0), 3)
    big = cv2.normalize(big, None, 20, 235, cv2.NORM_MINMAX)
    # a few hard-edged shapes so the picture has real edges (sharpness)
    for k in range(12):
        x, y = int(rng.integers(0, w + 200)), int(rng.integers(0, h + 100))
        color = tuple(int(c) for c in rng.integers(30, 230, 3))
        cv2.rectangle(big, (x, y), (x + int(rng.integers(10, 50)), y + int(rng.integers(10, 40))), color, -1)
    return big


def clean_frames(n: int, w: int = 320, h: int = 180, seed: int = 1, speed: float = 1.0) -> list[np.ndarray]:
    tex = texture(seed, w, h)
    frames = []
    for i in range(n):
        x = int(round(60 + speed * i)) % 200
        y = int(round(40 + 10 * np.sin(i / 15)))
        frames.append(np.ascontiguousarray(tex[y:y + h, x:x + w]))
    return frames


def write_take(path: Path, frames: list[np.ndarray], fps: int = 24) -> Path:
    h, w = frames[0].shape[:2]
    with FrameWriter(path, w, h, fps) as wr:
        for f in frames:
            wr.write(f)
    return path


def inject_frozen(frames, start: int, count: int):
    out = list(frames)
    for i in range(start + 1, start + 1 + count):
        out[i] = out[start]
    return out


def inject_cut(frames, at: int, seed: int = 99):
    other = clean_frames(len(frames), frames[0].shape[1], frames[0].shape[0], seed=seed)
    return list(frames[:at]) + other[at:]


def inject_flash(frames, at: int, length: int = 2, gain: float = 120.0):
    out = list(frames)
    for i in range(at, at + length):
        out[i] = np.clip(out[i].astype(np.int16) + int(gain), 0, 255).astype(np.uint8)
    return out


def inject_jolt(frames, at: int, length: int = 2, shift: int = 28):
    """A camera jolt: the picture jumps sideways for `length` frames and comes back."""
    out = list(frames)
    for i in range(at, at + length):
        out[i] = np.ascontiguousarray(np.roll(out[i], shift, axis=1))
    return out
