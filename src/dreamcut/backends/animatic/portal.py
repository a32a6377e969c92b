"""The animatic's scene change: a zoom-through portal inside one take (pure timing, one paste).

At a segment boundary the next scene grows out of the centre of the frame in a window whose size
grows exponentially like a zoom (`portal_scale`), covering half the frame's area exactly at the
written boundary time; meanwhile the outer scene rushes forward with it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from dreamcut.backends.animatic.camera import View, view_matrix

# A zoom-through between two segments: the next scene's window grows exponentially at this
# rate (per second, natural log), covering half the frame at the boundary.
THROUGH_RATE = 2.4


def portal_scale(t: float, boundary: float) -> float:
    """The next scene's window size (fraction of the frame) at take time t: half the frame's
    area (scale 1/sqrt(2)) exactly at the boundary, growing exponentially like a zoom."""
    return math.exp(THROUGH_RATE * (t - boundary)) / math.sqrt(2.0)


def portal_window(boundary: float, prev_start: float, next_end: float) -> tuple[float, float]:
    """When the portal opens (scale 0.04) and when it fills the frame (scale 1), clipped to the
    neighbouring segments so a short segment still shows itself."""
    opens = boundary - math.log(0.04 * math.sqrt(2.0)) / -THROUGH_RATE
    fills = boundary + math.log(math.sqrt(2.0)) / THROUGH_RATE
    return max(opens, (prev_start + boundary) / 2), min(fills, (boundary + next_end) / 2)



def zoom_through(out: np.ndarray, nxt: np.ndarray, view: View, s: float, w: int, h: int,
                  shift: float = 0.0) -> None:
    """Draw the next scene into a centred window of `s` times the frame, growing out of its middle."""
    if s >= 1.0:
        return
    pw, ph = max(2, int(round(w * s))), max(2, int(round(h * s)))
    x0, y0 = (w - pw) // 2, (h - ph) // 2
    m = view_matrix(view, w, h, scale=pw / w, shift=shift)
    inner = cv2.warpAffine(nxt, m, (pw, ph), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101)
    # A soft edge (a few percent of the window) so the portal reads as depth, not as a box.
    edge = max(1, int(min(pw, ph) * 0.06))
    ramp = np.minimum(np.arange(pw, dtype=np.float32), np.arange(pw, dtype=np.float32)[::-1]) / edge
    rampy = np.minimum(np.arange(ph, dtype=np.float32), np.arange(ph, dtype=np.float32)[::-1]) / edge
    alpha = np.clip(np.minimum(ramp[None, :], rampy[:, None]), 0, 1)[:, :, None]
    region = out[y0:y0 + ph, x0:x0 + pw]
    region[:] = (inner * alpha + region * (1 - alpha) + 0.5).astype(np.uint8)
