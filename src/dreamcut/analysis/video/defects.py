"""The defects of a take: pure functions of its `Signals` (see DEFECT_KINDS).

Each `find_*` turns signals into `Defect` spans; `find_defects` runs them in the order that lets
a later finder skip what an earlier one explained (a black gap is not also a cut), and returns
the take's summary metrics beside the defects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dreamcut.analysis.video.signals import Signals

# "cast_drift" is found by `analysis.identity` (ranking folds it in for shots that name cast members);
# it is listed here so every reader of defect kinds (the board's filter, rank --json) knows it.
DEFECT_KINDS = ("frozen", "flash", "cut", "transition", "motion_spike", "flicker", "dark", "blown", "cast_drift")

FROZEN_MIN_SECONDS = 0.3
FLASH_MAX_SECONDS = 0.35
EXPOSURE_MIN_SECONDS = 0.5
FLICKER_LEVELS = 2.0  # luminance jitter (0..255 levels, high-passed) above which a stretch flickers
BLACK_LUMA = 20.0  # a frame this dark on average (0..255), with nearly every pixel dark, is black


@dataclass(frozen=True)
class Defect:
    """A stretch [start, end) seconds of the take with a problem of `kind` (see DEFECT_KINDS)."""

    start: float
    end: float
    kind: str
    detail: str = ""

    def span(self) -> tuple[float, float, str]:
        return (self.start, self.end, self.kind)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(first, last)] index runs where mask is True."""
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        elif not m and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


def _t(s: Signals, i: int) -> float:
    return float(s.times[min(max(i, 0), len(s.times) - 1)])


def _end(s: Signals, i: int) -> float:
    """End time of frame i (its start plus one frame)."""
    return round(_t(s, i) + 1.0 / s.fps, 4)


def find_flashes(s: Signals) -> list[Defect]:
    """Brightness spikes that come back: the level before, a jump up, the level again within ~1/3 s."""
    out: list[Defect] = []
    n = len(s.luma)
    max_len = max(1, int(round(FLASH_MAX_SECONDS * s.fps)))
    i = 1
    while i < n:
        before = float(np.median(s.luma[max(0, i - 5):i]))
        # The take's own jitter, before the jump and after where a flash would be over: a take that
        # flickers frame to frame (even from its first frames) does not flash at every bright frame.
        jitters = [float(np.std(np.diff(w))) for w in (s.luma[max(0, i - 12):i],
                                                       s.luma[i + max_len + 1:i + max_len + 13]) if len(w) > 2]
        jitter = max(jitters, default=0.0)
        threshold = max(25.0, 6.0 * jitter)
        if s.luma[i] - before > threshold:
            back = next((j for j in range(i + 1, min(n, i + max_len + 1)) if s.luma[j] - before < threshold / 2), None)
            if back is not None:
                peak = float(s.luma[i:back].max())
                out.append(Defect(round(_t(s, i), 4), round(_t(s, back), 4), "flash",
                                  f"+{peak - before:.0f} levels for {back - i} frame(s)"))
                i = back + 1
                continue
        i += 1
    return out


def find_frozen(s: Signals) -> list[Defect]:
    """Stretches where consecutive frames are (nearly) identical for >= FROZEN_MIN_SECONDS."""
    moving = s.diff[1:]
    if len(moving) == 0:
        return []
    typical = float(np.median(moving))
    # Scale the threshold to the take: slow drifts have small differences, codec noise smaller still.
    threshold = max(0.05, min(0.6, 0.08 * typical))
    still = np.zeros(len(s.diff), bool)
    still[1:] = (s.diff[1:] <= threshold) & ~black_frames(s)[1:]  # black is a cut to black or an edge, not a stall
    out = []
    for a, b in _runs(still):
        held = b - a + 2  # frames a-1..b show the same picture
        seconds = held / s.fps
        if seconds + 1e-6 >= FROZEN_MIN_SECONDS:
            out.append(Defect(round(_t(s, a), 4), _end(s, b), "frozen", f"{seconds:.1f} s still"))
    return out


def black_frames(s: Signals) -> np.ndarray:
    """Frames that are black: dark on average and nearly every pixel crushed."""
    return (s.luma < BLACK_LUMA) & (s.dark_frac > 0.9)


def edge_black(s: Signals) -> tuple[int, int]:
    """(last frame of the black lead-in or -1, first frame of the black tail or n): intended edges."""
    black = black_frames(s)
    n = len(black)
    head = -1
    while head + 1 < n and black[head + 1]:
        head += 1
    tail = n
    while tail - 1 > head and black[tail - 1]:
        tail -= 1
    return head, tail


def _ramp(s: Signals, i: int, step: int) -> int:
    """From frame i, walk (step -1: back, +1: forward) while the luma keeps rising away from black."""
    n = len(s.luma)
    j = i
    while 0 <= j + step < n and s.luma[j + step] > s.luma[j] + 0.5:
        j += step
    return j


def find_black_gaps(s: Signals) -> tuple[list[Defect], list[Defect]]:
    """Black stretches inside the take: a cut to black when the picture drops to black at once,
    a dip-to-black transition when it fades. Black at the very start or end is intended."""
    cuts: list[Defect] = []
    transitions: list[Defect] = []
    head, tail = edge_black(s)
    black = black_frames(s)
    for a, b in _runs(black):
        if a <= head or b >= tail:
            continue
        seconds = (b - a + 1) / s.fps
        before = _ramp(s, a - 1, -1) if a > 0 else a
        after = _ramp(s, b + 1, +1) if b + 1 < len(black) else b
        abrupt_in = a - before <= 1  # the picture was at full level one frame before the black
        if abrupt_in:
            cuts.append(Defect(round(_t(s, a), 4), _end(s, b), "cut", f"cut to black for {seconds:.2f} s"))
        else:
            transitions.append(Defect(round(_t(s, before), 4), _end(s, after), "transition",
                                      f"dip to black ({seconds:.2f} s black)"))
    return cuts, transitions


def find_cuts(s: Signals, exclude: list[Defect] = ()) -> list[Defect]:
    """Hard cuts inside a take, from PySceneDetect's AdaptiveDetector boundaries, kept only when
    the picture did not merely move (a jolt), flash or go to black (see find_black_gaps). A cut
    away and back within ~0.4 s is one defect, a glitch."""
    out: list[Defect] = []
    n = len(s.luma)
    look = max(2, int(round(0.4 * s.fps)))
    black = black_frames(s)
    head, tail = edge_black(s)
    for i in s.boundaries:
        if not 0 < i < n or i <= head + 1 or i >= tail - 1 or black[i] or black[i - 1]:
            continue  # black edges are intended; black inside is find_black_gaps' business
        if _covered(s, i, exclude) or any(d.start - 1e-3 <= _t(s, i) <= d.end + 1e-3 for d in out):
            continue
        if s.similarity[i] >= 0.85:
            continue  # the same picture, relit: not a cut
        if s.smalls is not None and _shifted_match(s.smalls[i - 1], s.smalls[i]) > 0.7:
            continue  # the same picture moved (a jolt, or a stall resuming): not a cut
        later = s.thumbs[i + 1:min(n, i + 1 + look)]
        back = np.nonzero((later * s.thumbs[i - 1]).sum(axis=(1, 2)) > 0.75)[0] if len(later) else []
        if len(back):
            r = i + 1 + int(back[0])
            out.append(Defect(round(_t(s, i), 4), round(_t(s, r), 4), "cut",
                              f"cut away and back ({r - i} frame(s))"))
        else:
            score = float(s.content[i]) if s.content is not None else 0.0
            out.append(Defect(round(_t(s, i), 4), _end(s, i), "cut", f"content change {score:.0f}"))
    return out


def find_dissolves(s: Signals, exclude: list[Defect] = ()) -> list[Defect]:
    """Gradual changes from one picture to another over ~0.5 s: each middle frame is the mix of the
    frames either side (a dissolve or a fade), although no single step is large and the picture did
    not just move. Not reported at the take's first or last frames, where a fade is intended."""
    if s.smalls is None or len(s.smalls) < 5:
        return []
    n = len(s.smalls)
    w = max(2, int(round(0.25 * s.fps)))
    head, tail = edge_black(s)
    f = s.smalls.astype(np.float32)
    hits = np.zeros(n, bool)
    for i in range(w, n - w):
        a, b = i - w, i + w
        d_end = float(np.abs(f[b] - f[a]).mean())
        if d_end < 12.0 or float((s.thumbs[a] * s.thumbs[b]).sum()) > 0.6:
            continue
        steps = np.abs(np.diff(f[a:b + 1], axis=0)).mean(axis=(1, 2))
        if float(steps.max()) > 0.45 * d_end:
            continue  # one big step: a cut, handled elsewhere
        mix = float(np.abs(f[i] - 0.5 * (f[a] + f[b])).mean())
        if mix > 0.3 * d_end:
            continue  # the middle frame is not a mix of the two ends: motion
        if _shifted_match(s.smalls[a], s.smalls[b]) > 0.6:
            continue
        hits[i] = True
    out = []
    for a, b in _runs(hits):
        start, end = max(0, a - w), min(n - 1, b + w)
        if start <= head + 2 or end >= tail - 2 or start <= 1 or end >= n - 2:
            continue  # a fade in or out at the take's edge: intended
        if any(_covered(s, j, exclude) for j in range(start, end + 1)):
            continue
        kind = "fade" if min(s.luma[start], s.luma[end]) < BLACK_LUMA * 2 else "dissolve"
        out.append(Defect(round(_t(s, start), 4), _end(s, end), "transition",
                          f"{kind} over {(end - start + 1) / s.fps:.2f} s"))
    return out


def _shifted_match(before: np.ndarray, after: np.ndarray) -> float:
    """Best correlation of the centre of `before` anywhere within a sixth of the frame in `after`:
    high when the picture only moved (a jolt, a stall resuming), low after a real cut."""
    import cv2

    h, w = before.shape[:2]
    dy, dx = max(1, h // 6), max(1, w // 6)
    centre = np.ascontiguousarray(before[dy:h - dy, dx:w - dx]).astype(np.float32)
    if float(centre.std()) < 1e-3:
        return 0.0
    return float(cv2.matchTemplate(np.ascontiguousarray(after).astype(np.float32), centre,
                                   cv2.TM_CCOEFF_NORMED).max())


def find_motion_spikes(s: Signals, exclude: list[Defect] = ()) -> list[Defect]:
    """Pairs of frames whose optical flow is far above the take's own typical motion."""
    m = s.motion[1:]
    if len(m) < 5:
        return []
    med = float(np.median(m))
    mad = float(np.median(np.abs(m - med))) + 1e-3
    threshold = max(1.5, med + 8.0 * mad, 3.0 * med)
    spike = np.zeros(len(s.motion), bool)
    spike[1:] = s.motion[1:] > threshold
    out = []
    runs: list[tuple[int, int]] = []
    gap = max(1, int(round(0.15 * s.fps)))
    for a, b in _runs(spike):  # a jolt out and back is one event
        if runs and a - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    for a, b in runs:
        if all(_covered(s, i, exclude) for i in range(a, b + 1)):
            continue
        peak = float(s.motion[a:b + 1].max())
        out.append(Defect(round(_t(s, a), 4), _end(s, b), "motion_spike",
                          f"{peak:.1f} px/frame vs typical {med:.1f}"))
    return out


def flicker_residual(s: Signals, exclude: list[Defect] = ()) -> np.ndarray:
    """Luminance minus its 7-frame running median: the jitter that no real light change makes."""
    padded = np.pad(s.luma.astype(np.float64), 3, mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(padded, 7), axis=1)
    r = s.luma - smooth
    for i in range(len(r)):
        if _covered(s, i, exclude, pad=3):
            r[i] = 0.0
    return r


def find_flicker(s: Signals, exclude: list[Defect] = ()) -> tuple[list[Defect], float, float]:
    """Stretches of >= 0.5 s whose luminance jitter (1 s window) exceeds FLICKER_LEVELS; also the
    take's overall jitter and its worst 1 s level (both in 0..255 levels), which grade the penalty."""
    r = flicker_residual(s, exclude)
    win = max(3, int(round(s.fps)))
    level = np.zeros(len(r))
    for i in range(len(r)):
        a, b = max(0, i - win // 2), min(len(r), i + win // 2 + 1)
        level[i] = float(np.std(r[a:b]))
    out = [Defect(round(_t(s, a), 4), _end(s, b), "flicker", f"jitter {level[a:b + 1].max():.1f} levels")
           for a, b in _runs(level > FLICKER_LEVELS) if (b - a + 1) / s.fps >= 0.5]
    return out, float(np.std(r)) if len(r) else 0.0, float(level.max()) if len(level) else 0.0


def find_exposure(s: Signals, exclude: list[Defect] = ()) -> list[Defect]:
    out = []
    for kind, mask in (("dark", (s.luma < 24) | (s.dark_frac > 0.6)), ("blown", s.blown_frac > 0.25)):
        mask = mask.copy()
        for i in range(len(mask)):
            if _covered(s, i, exclude):
                mask[i] = False
        for a, b in _runs(mask):
            seconds = (b - a + 1) / s.fps
            if seconds + 1e-6 >= EXPOSURE_MIN_SECONDS:
                out.append(Defect(round(_t(s, a), 4), _end(s, b), kind, f"{seconds:.1f} s"))
    return out


def _covered(s: Signals, i: int, defects, pad: int = 1) -> bool:
    t = _t(s, i)
    slack = pad / s.fps
    return any(d.start - slack <= t < d.end + slack for d in defects)


def find_defects(s: Signals) -> tuple[list[Defect], dict[str, float]]:
    """All defects, ordered by time, and the take-level metrics they came from."""
    head, tail = edge_black(s)
    edges = ([Defect(0.0, _end(s, head), "edge")] if head >= 0 else []) + \
        ([Defect(round(_t(s, tail), 4), _end(s, len(s.luma) - 1), "edge")] if tail < len(s.luma) else [])
    flashes = find_flashes(s)
    frozen = find_frozen(s)
    black_cuts, dips = find_black_gaps(s)
    cuts = sorted(black_cuts + find_cuts(s, flashes + dips + black_cuts), key=lambda d: d.start)
    transitions = sorted(dips + find_dissolves(s, flashes + cuts + dips), key=lambda d: d.start)
    spikes = find_motion_spikes(s, flashes + cuts + frozen + transitions + edges)  # a stall resuming jumps
    flicker, flicker_index, flicker_peak = find_flicker(s, flashes + cuts + spikes + transitions + edges)
    exposure = find_exposure(s, flashes + black_cuts + dips + edges)
    defects = sorted(flashes + frozen + cuts + transitions + spikes + flicker + exposure,
                     key=lambda d: (d.start, d.kind))
    sharp = s.sharpness[~np.isnan(s.sharpness)]
    m = s.motion[1:]
    steady = flashes + cuts + transitions + edges
    calm = np.array([not _covered(s, i, steady) for i in range(1, len(s.motion))], bool)
    m_calm = m[calm] if calm.any() else m
    smooth = 1.0
    if len(m_calm) > 2:
        jerk = float(np.median(np.abs(np.diff(m_calm))))
        smooth = 1.0 / (1.0 + jerk / (float(np.mean(m_calm)) + 0.25))
    metrics = {
        "frames": int(len(s.times)),
        "seconds": round(len(s.times) / s.fps, 3) if s.fps else 0.0,
        "fps": round(float(s.fps), 3),
        "sharpness": round(float(np.median(sharp)) if len(sharp) else 0.0, 2),
        "luma_mean": round(float(s.luma.mean()), 2),
        "dark_frac": round(float(s.dark_frac.mean()), 4),
        "blown_frac": round(float(s.blown_frac.mean()), 4),
        "flicker": round(flicker_index, 3),
        "flicker_peak": round(flicker_peak, 3),
        "motion_mean": round(float(m_calm.mean()) if len(m_calm) else 0.0, 3),
        "motion_smoothness": round(smooth, 3),
        "frozen_seconds": round(sum(d.end - d.start for d in frozen), 3),
    }
    return defects, metrics
