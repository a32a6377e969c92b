"""The zoom-through's window: the next picture grows out of the centre of the frame.

Both zoom-throughs in dreamcut paste the incoming picture the same way: the edit's transition
between two takes (`edit/transitions.py`) and the animatic's scene change inside one take
(`backends/animatic/portal.py`). Each decides how fast the window grows and what picture fills
it; this module owns the window itself: where it sits for a given scale (`centred_window`),
its feathered edge (`feather_mask`) and the paste (`paste_window`).

Pure numpy/OpenCV on RGB uint8 frames; nothing of dreamcut is imported here.
"""

from __future__ import annotations

import numpy as np


def smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    """3x^2 - 2x^3 on [0, 1]: an ease with zero slope at both ends."""
    return x * x * (3.0 - 2.0 * x)


def centred_window(width: int, height: int, scale: float) -> tuple[int, int, int, int]:
    """(x0, y0, w, h) of the window of `scale` times the frame, centred, whole pixels, at least 2x2
    and at most the frame."""
    pw = min(width, max(2, int(round(width * scale))))
    ph = min(height, max(2, int(round(height * scale))))
    return (width - pw) // 2, (height - ph) // 2, pw, ph


def feather_mask(w: int, h: int, feather: float = 0.12) -> np.ndarray:
    """A float32 HxW mask: 1 inside, falling smoothly to 0 over `feather` of the short side at the edges."""
    band = max(1.0, feather * min(w, h))
    x = np.minimum(np.arange(w) + 0.5, w - np.arange(w) - 0.5) / band
    y = np.minimum(np.arange(h) + 0.5, h - np.arange(h) - 0.5) / band
    ramp_x = smoothstep(np.clip(x, 0.0, 1.0))
    ramp_y = smoothstep(np.clip(y, 0.0, 1.0))
    return (ramp_y[:, None] * ramp_x[None, :]).astype(np.float32)


def paste_window(base: np.ndarray, inner: np.ndarray, feather: float, *, opacity: float = 1.0,
                 cover: float = 0.0, window: tuple[int, int] | None = None) -> None:
    """Blend `inner` into the centre of `base` through a feathered window, in place.

    The window is `window` = (w, h) pixels (default: `inner`'s size; `centred_window` gives it),
    centred in the frame; `inner` is centred too and at least the window's size. The window's edge
    is feathered over `feather` of its short side so it reads as depth, not as a box; `cover`
    (0..1) fills in everything around the window's core with `inner` (1: all of `inner`, hard
    edged), for a window that is about to become the whole frame; `opacity` fades it all in."""
    h, w = base.shape[:2]
    ih, iw = inner.shape[:2]
    pw, ph = window if window is not None else (iw, ih)
    x0, y0 = (w - iw) // 2, (h - ih) // 2
    wx, wy = (w - pw) // 2 - x0, (h - ph) // 2 - y0   # the window's corner inside `inner`
    if (pw, ph) == (iw, ih):
        mask = feather_mask(pw, ph, feather)
    else:
        mask = np.zeros((ih, iw), np.float32)
        mask[wy:wy + ph, wx:wx + pw] = feather_mask(pw, ph, feather)
    if cover > 0.0:
        mask = mask + (1.0 - mask) * np.float32(cover)
    m = mask[:, :, None] * np.float32(opacity)
    region = base[y0:y0 + ih, x0:x0 + iw]
    region[:] = (region.astype(np.float32) * (1.0 - m) + inner.astype(np.float32) * m + 0.5).astype(np.uint8)
