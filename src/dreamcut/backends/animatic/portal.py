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
from dreamcut.portal import centred_window, paste_window

# A zoom-through between two segments: the next scene's window grows exponentially at this
# rate (per second, natural log), covering half the frame at the boundary.
THROUGH_RATE = 2.4
# The portal's soft edge, as a fraction of the window's short side.
PORTAL_FEATHER = 0.06


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
    """Draw the next scene into a centred window of `s` times the frame, growing out of its middle
    (the window and its soft edge are `dreamcut.portal`'s, as in the edit's zoom-through)."""
    if s >= 1.0:
        return
    _, _, pw, ph = centred_window(w, h, s)
    m = view_matrix(view, w, h, scale=pw / w, shift=shift)
    inner = cv2.warpAffine(nxt, m, (pw, ph), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101)
    # A soft edge (a few percent of the window) so the portal reads as depth, not as a box.
    paste_window(out, inner, PORTAL_FEATHER)
