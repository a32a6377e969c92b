"""Transitions between two shots: hard cut, dissolve, dip to black, and zoom-through.

Cut, dissolve and dip to black are rendered by ffmpeg inside the one render filtergraph
(`concat`, `xfade=fade`, `xfade=fadeblack`), also when an export bakes a dip into a clip;
the frame functions here state what they mean in numpy (and are tested as such), but no
render calls them. The transition kinds themselves are `dreamcut.timeline`'s.

Zoom-through is the endless-zoom transition: the outgoing shot keeps zooming in while
the incoming shot grows out of its centre. It needs per-frame Python, so its frames are
computed here, only for the transition's own frames:

- the zoom is exponential (the scale is `exp(integral of rate)`), so at a constant rate
  the apparent speed of the zoom is constant;
- the rate ramps smoothly from the outgoing shot's own zoom velocity (measured with
  Farneback optical flow at low resolution) up to the transition's cruise rate and back
  down to the incoming shot's velocity, so the motion has no jolt at either end;
- the incoming shot is pasted into the centre with a feathered edge; inside the inset
  its own forward zoom is cancelled by a shrinking digital zoom-in, so its apparent
  speed is the inset's growth and it ends as the untouched incoming frame.

Pure numpy/OpenCV frame functions: this module reads and writes no media. The renderer's
`render.ffmpeg.render_zoom_through` decodes the two takes, calls `zoom_rate` and
`transition_frames` here, and encodes the result (for renders and for the clips exports bake).
This module never decides where a cut goes or which transition a cut gets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np

# The zoom-through's window (where it sits, its feathered edge, the paste) is shared with the animatic.
from dreamcut.portal import centred_window, paste_window, smoothstep
# The transition kinds are the timeline's vocabulary (dreamcut.timeline); named here for the frame code.
from dreamcut.timeline import CUT, DIP_TO_BLACK, DISSOLVE, KIND_TO_TYPE, ZOOM_THROUGH

#: the ffmpeg xfade transition that renders each filter-graph transition type
XFADE = {DISSOLVE: "fade", DIP_TO_BLACK: "fadeblack"}


# -- the simple ones ----------------------------------------------------------------------


def dissolve(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Cross-dissolve: t=0 is all `a`, t=1 all `b`."""
    t = float(np.clip(t, 0.0, 1.0))
    return cv2.addWeighted(a, 1.0 - t, b, t, 0.0)


def dip_to_black(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Fade `a` down to black over the first half, `b` up from black over the second."""
    t = float(np.clip(t, 0.0, 1.0))
    if t < 0.5:
        return cv2.convertScaleAbs(a, alpha=1.0 - 2.0 * t)
    return cv2.convertScaleAbs(b, alpha=2.0 * t - 1.0)


# -- zoom geometry ------------------------------------------------------------------------


def zoom_frame(frame: np.ndarray, scale: float) -> np.ndarray:
    """Digital zoom about the centre (scale > 1 zooms in and crops; < 1 shrinks, black border)."""
    h, w = frame.shape[:2]
    return cv2.warpAffine(frame, _centre_affine(w, h, scale), (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


def _centre_affine(w: int, h: int, scale: float) -> np.ndarray:
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    return np.array([[scale, 0.0, (1.0 - scale) * cx], [0.0, scale, (1.0 - scale) * cy]], dtype=np.float64)


def paste_centre(base: np.ndarray, inset: np.ndarray, scale: float, *, inset_zoom: float = 1.0,
                 feather: float = 0.12, opacity: float = 1.0) -> np.ndarray:
    """Paste `inset` into the centre of `base` at `scale` of the frame, with a feathered edge.

    `inset_zoom` (>= 1) crops into the inset before it is pasted (a digital zoom inside the
    inset's window); `opacity` fades the whole window in. At scale >= 1 the result is the inset.
    The window and its edge are `dreamcut.portal`'s, the same as the animatic's scene change.
    """
    h, w = base.shape[:2]
    if scale <= 1e-4:
        return base.copy()
    x0, y0, pw, ph = centred_window(w, h, scale)
    # As the window nears the full frame its feathered border fills in, so the last frame
    # of the transition is the incoming frame itself, edge to edge; from then on the inset
    # shows around the window too.
    cover = float(smoothstep(min(1.0, max(0.0, (scale - 0.7) / 0.3))))
    cx0, cy0, cw, ch = (0, 0, w, h) if cover > 0 else (x0, y0, pw, ph)
    # The inset zoomed by scale * inset_zoom about the frame's centre, drawn where it shows.
    m = _centre_affine(w, h, scale * inset_zoom)
    m[:, 2] -= (cx0, cy0)
    content = cv2.warpAffine(inset, m, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = base.copy()
    paste_window(out, content, feather, opacity=opacity, cover=cover, window=(pw, ph))
    return out


# -- measuring zoom velocity ----------------------------------------------------------------


def zoom_rate(frames: Sequence[np.ndarray], *, width: int = 160) -> float:
    """Zoom velocity of a run of frames, in log-scale per frame (0.02 = 2 % bigger each frame).

    Farneback optical flow at low resolution between consecutive frames; the flow field is
    fitted to a pure zoom about the centre, `flow = (s - 1) * (p - c)`, and the median
    `log(s)` over the pairs is returned. Pans and noise average out of the radial fit.
    """
    if len(frames) < 2:
        return 0.0
    grey = [_small_grey(f, width) for f in frames]
    h, w = grey[0].shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs - (w - 1) / 2.0, ys - (h - 1) / 2.0
    # Ignore a border where flow is unreliable (content enters/leaves the frame).
    keep = (np.abs(dx) < 0.42 * w) & (np.abs(dy) < 0.42 * h)
    dx, dy = dx[keep], dy[keep]
    denom = float((dx * dx + dy * dy).sum())
    rates = []
    for g0, g1 in zip(grey, grey[1:]):
        flow = cv2.calcOpticalFlowFarneback(g0, g1, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        fx, fy = flow[..., 0][keep], flow[..., 1][keep]
        s_minus_1 = float((fx * dx + fy * dy).sum()) / denom
        rates.append(math.log(max(1e-3, 1.0 + s_minus_1)))
    return float(np.median(rates))


def _small_grey(frame: np.ndarray, width: int) -> np.ndarray:
    h, w = frame.shape[:2]
    height = max(8, round(h * width / w))
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
    return cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)


# -- zoom-through ------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoomPlan:
    """The zoom of one zoom-through, frame by frame.

    `rates[t]` is the apparent zoom velocity at frame t (log-scale per frame);
    `a_zoom[t]` the digital zoom on the outgoing shot, `inset[t]` the incoming shot's
    window size (fraction of the frame), `b_zoom[t]` the digital zoom inside the window,
    `opacity[t]` the window's fade-in (so it grows out of the centre without popping in).
    """

    rates: np.ndarray
    a_zoom: np.ndarray
    inset: np.ndarray
    b_zoom: np.ndarray
    opacity: np.ndarray


def plan_zoom(frames: int, rate_a: float, rate_b: float, *, start_inset: float | None = None,
              ramp: float = 0.25) -> ZoomPlan:
    """Plan a zoom-through of `frames` frames between shots zooming at `rate_a` and `rate_b`.

    The rate ramps (smoothstep) from `rate_a` to a cruise rate over the first `ramp` of the
    frames, cruises, and ramps down to `rate_b` over the last `ramp`; the cruise rate is
    solved so the window grows from `start_inset` of the frame to the full frame. By default
    a short transition travels less (a half-second one starts at ~0.6 of the frame, a
    one-second one at ~0.35), so the cruise stays within a few times a take's own zoom.
    """
    n = int(frames)
    if n < 2:
        raise ValueError("a zoom-through needs at least 2 frames")
    if start_inset is None:
        start_inset = math.exp(-min(1.4, max(0.5, 0.045 * n)))
    rate_a, rate_b = max(0.0, rate_a), max(0.0, rate_b)
    total = math.log(1.0 / start_inset)  # log-zoom the window travels
    # Integral of the piecewise profile = n*ramp*(ra+rb)/2 + n*(1-ramp)*cruise.
    cruise = (total - n * ramp * (rate_a + rate_b) / 2.0) / (n * (1.0 - ramp))
    cruise = max(cruise, rate_a, rate_b)
    u = (np.arange(n + 1) + 0.5) / (n + 1)
    up = smoothstep(np.clip(u / ramp, 0.0, 1.0))
    down = smoothstep(np.clip((1.0 - u) / ramp, 0.0, 1.0))
    rates = np.where(u < 0.5, rate_a + (cruise - rate_a) * up, rate_b + (cruise - rate_b) * down)
    # Rescale the ramp so the window lands exactly on the full frame at frame n.
    rates = rates * (total / rates[:n].sum()) if rates[:n].sum() > 0 else rates
    log_done = np.concatenate([[0.0], np.cumsum(rates[:n])])  # zoom travelled before frame t
    log_left = total - log_done                                # zoom still to go to the full frame
    a_zoom = np.exp(np.cumsum(np.concatenate([[0.0], rates[:n - 1] - rate_a])))[:n]
    inset = np.exp(-log_left[:n])
    # The incoming take keeps zooming natively; cancel that inside the window until frame n.
    b_zoom = np.exp(rate_b * (n - np.arange(n)))
    opacity = smoothstep(np.clip((np.arange(n) + 1.0) / max(1.0, n * ramp * 1.5), 0.0, 1.0))
    return ZoomPlan(rates=rates[:n], a_zoom=a_zoom, inset=inset, b_zoom=b_zoom, opacity=opacity)


def zoom_through_frames(a_frames: Iterable[np.ndarray], b_frames: Iterable[np.ndarray], plan: ZoomPlan, *,
                        feather: float = 0.2) -> Iterator[np.ndarray]:
    """The transition's frames: frame t of the outgoing and incoming takes composed per `plan`."""
    for t, (a, b) in enumerate(zip(a_frames, b_frames)):
        if t >= len(plan.inset):
            return
        base = zoom_frame(a, float(plan.a_zoom[t]))
        yield paste_centre(base, b, float(plan.inset[t]), inset_zoom=float(plan.b_zoom[t]), feather=feather,
                           opacity=float(plan.opacity[t]))


def transition_frames(kind: str, a_frames: Sequence[np.ndarray], b_frames: Sequence[np.ndarray], *,
                      rate_a: float | None = None, rate_b: float | None = None) -> list[np.ndarray]:
    """All frames of a transition of `len(a_frames)` frames (an OTIO transition type or a spec kind).

    For zoom-through, `rate_a` / `rate_b` default to the zoom velocity measured on the
    given frames themselves (the first frames of the outgoing side, the last of the incoming).
    """
    kind = KIND_TO_TYPE.get(kind, kind)
    n = min(len(a_frames), len(b_frames))
    if kind == CUT:
        half = n // 2
        return [np.array(a) for a in a_frames[:half]] + [np.array(b) for b in b_frames[half:n]]
    if kind == DISSOLVE:
        return [dissolve(a_frames[t], b_frames[t], (t + 0.5) / n) for t in range(n)]
    if kind == DIP_TO_BLACK:
        return [dip_to_black(a_frames[t], b_frames[t], (t + 0.5) / n) for t in range(n)]
    if kind == ZOOM_THROUGH:
        probe = max(2, min(6, n // 2))
        ra = zoom_rate(a_frames[:probe]) if rate_a is None else rate_a
        rb = zoom_rate(b_frames[-probe:]) if rate_b is None else rate_b
        return list(zoom_through_frames(a_frames[:n], b_frames[:n], plan_zoom(n, ra, rb)))
    raise ValueError(f"unknown transition {kind!r}; use one of {', '.join(KIND_TO_TYPE)}")
