"""Take analysis: how good is a take, and where inside it are the defects.

`analyze_take(path)` decodes a take once at low resolution (160 px wide, RGB) and measures,
per frame: mean luminance, clipping, sharpness (Laplacian variance), frame difference,
normalised correlation of 32x18 thumbnails with the previous frame (a cheap likeness, not
SSIM), optical flow (OpenCV Farneback) and PySceneDetect's content score (`AdaptiveDetector`,
fed these same small frames: there is no second decode). From those signals pure functions
find the defects a director cuts around:

    frozen        the picture stalls (near-zero frame difference) for >= 0.3 s
    flash         a sudden brightness spike that returns within ~1/3 s
    cut           an internal hard cut (PySceneDetect's boundary, kept when the picture does not
                  merely move or flash), a cut away and back (a glitch), or a cut to black
    transition    a fade to/from black or a dissolve inside the take (milder than a cut; a fade
                  at the very start or end of a take is intended and not reported)
    motion_spike  a jolt: optical flow far above the take's own typical motion
    flicker       frame-to-frame luminance jitter over a stretch (graded by its level)
    dark / blown  crushed or clipped exposure for >= 0.5 s

and one score in 0..1 with a one-line explanation ("frozen 1.2 s at 7.0 s; flicker 4.1 levels").
A take is judged against its own request (`TakeRequest`): darkness its prompt asks for
("at night", "dusk") is not a defect, and a cut or dissolve at a written scene-segment
boundary is the scene change the director wrote. Where the user gives a local CLIP-type model
folder, the score also weighs how well the frames match the prompt.

The edit planner reads `TakeAnalysis.defects` as (start, end, kind) spans to place in and
out points; times are seconds from the take's first frame. Results are cached by the file's
content hash (and the request), so re-ranking is free.

This module only reads media and returns data: it never writes to the catalog, never
renders, and never downloads a model (CLIP loads with local_files_only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from dreamcut.errors import BadInput, WorkFailed

ANALYSIS_VERSION = 4
ANALYSIS_WIDTH = 160  # px; every signal is measured on frames this wide (fast, and enough)
FLOW_WIDTH = 96  # px; optical flow runs on frames this wide (it is the costly signal)
DEFECT_KINDS = ("frozen", "flash", "cut", "transition", "motion_spike", "flicker", "dark", "blown")

FROZEN_MIN_SECONDS = 0.3
FLASH_MAX_SECONDS = 0.35
EXPOSURE_MIN_SECONDS = 0.5
FLICKER_LEVELS = 2.0  # luminance jitter (0..255 levels, high-passed) above which a stretch flickers
BLACK_LUMA = 20.0  # a frame this dark on average (0..255), with nearly every pixel dark, is black
# PySceneDetect AdaptiveDetector settings: its defaults (ratio 3, content 15, window 2), with a
# minimum scene length of 2 frames so a cut away and back a few frames later is still seen.
ADAPTIVE_THRESHOLD = 3.0
MIN_CONTENT_VAL = 15.0
MIN_SCENE_FRAMES = 2
SCENE_CHANGE_SLACK = 0.5  # s: a boundary this close to a written segment boundary is the one asked for


@dataclass(frozen=True)
class Defect:
    """A stretch [start, end) seconds of the take with a problem of `kind` (see DEFECT_KINDS)."""

    start: float
    end: float
    kind: str
    detail: str = ""

    def span(self) -> tuple[float, float, str]:
        return (self.start, self.end, self.kind)


@dataclass
class TakeAnalysis:
    score: float  # 0 (unusable) .. 1 (clean, sharp, well exposed, smooth)
    defects: list[Defect] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    explanation: str = ""
    version: int = ANALYSIS_VERSION

    def spans(self) -> list[tuple[float, float, str]]:
        """Defects as (start, end, kind) tuples, the form the edit planner consumes."""
        return [d.span() for d in self.defects]

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "defects": [asdict(d) for d in self.defects], "metrics": self.metrics,
                "explanation": self.explanation, "version": self.version}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TakeAnalysis":
        return cls(score=float(d["score"]), defects=[Defect(**x) for x in d.get("defects", [])],
                   metrics=dict(d.get("metrics", {})), explanation=d.get("explanation", ""),
                   version=int(d.get("version", 0)))


# -- signals: one number per frame (or per pair of frames) --------------------------------------


@dataclass
class Signals:
    """Per-frame measurements of one take. Index i of the pair signals compares frame i-1 with i
    (index 0 is 0 / 1)."""

    times: np.ndarray  # seconds of each frame
    fps: float
    luma: np.ndarray  # mean luminance 0..255
    dark_frac: np.ndarray  # share of pixels <= 16
    blown_frac: np.ndarray  # share of pixels >= 250
    sharpness: np.ndarray  # Laplacian variance (NaN where not sampled)
    diff: np.ndarray  # mean |frame i - frame i-1|, 0..255
    similarity: np.ndarray  # normalised correlation of small thumbnails (1 = same picture)
    motion: np.ndarray  # mean optical-flow magnitude, px at ANALYSIS_WIDTH
    thumbs: np.ndarray  # (n, 18, 32) float32 zero-mean unit-norm thumbnails, for "does it come back?"
    smalls: np.ndarray | None = None  # (n, h, FLOW_WIDTH) uint8 gray frames, for "did it only move?"
    content: np.ndarray | None = None  # PySceneDetect content_val of frame i vs i-1 (HSV + edges, 0..255)
    boundaries: tuple[int, ...] = ()  # frames where PySceneDetect's AdaptiveDetector starts a new scene


class _SceneDetect:
    """PySceneDetect's AdaptiveDetector fed frame by frame, with its per-frame content score kept.

    The detector's own cut list is the candidate list; its `content_val` (a weighted mean of
    hue, saturation, luma and edge changes) also measures gradual transitions."""

    def __init__(self, fps: float):
        from scenedetect.detectors import AdaptiveDetector
        from scenedetect.stats_manager import StatsManager

        self.fps = fps
        self.detector = AdaptiveDetector(adaptive_threshold=ADAPTIVE_THRESHOLD, min_scene_len=MIN_SCENE_FRAMES,
                                         min_content_val=MIN_CONTENT_VAL, window_width=2)
        self.stats = StatsManager()
        self.detector.stats_manager = self.stats
        self.cuts: list[int] = []
        self.n = 0

    def feed(self, rgb: np.ndarray) -> None:
        from scenedetect.common import FrameTimecode

        bgr = np.ascontiguousarray(rgb[..., ::-1])
        found = self.detector.process_frame(FrameTimecode(self.n, self.fps), bgr)
        self.cuts += [int(tc.frame_num) for tc in found]
        self.n += 1

    def content(self) -> np.ndarray:
        from scenedetect.common import FrameTimecode

        key = self.detector.FRAME_SCORE_KEY
        out = np.zeros(self.n, np.float32)
        for i in range(1, self.n):
            (v,) = self.stats.get_metrics(FrameTimecode(i, self.fps), [key])
            out[i] = float(v) if v is not None else 0.0
        return out


def _thumb(gray: np.ndarray) -> np.ndarray:
    import cv2

    t = cv2.resize(gray, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float32)
    t -= t.mean()
    n = float(np.linalg.norm(t))
    return t / n if n > 1e-3 else t


def _flow_magnitude(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Farneback optical-flow magnitude between two gray frames, in px at ANALYSIS_WIDTH."""
    import cv2

    flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0)
    return float(cv2.magnitude(flow[..., 0], flow[..., 1]).mean()) * (ANALYSIS_WIDTH / a.shape[1])


def measure(frames: Iterable[np.ndarray], times: Sequence[float] | None, fps: float, *,
            sharp_every: int = 4) -> Signals:
    """Measure the signals of RGB (or gray) frames already scaled to analysis size.

    `frames` may be a generator (decoding then overlaps with measuring): optical flow runs in a
    worker thread (OpenCV releases the GIL), on frames FLOW_WIDTH wide. `times` None: i / fps."""
    import cv2

    luma, dark, blown, sharp, diff, sim, thumbs, flows, smalls = [], [], [], [], [], [], [], [], []
    prev = prev_small = None
    scenes = _SceneDetect(fps)
    with ThreadPoolExecutor(max_workers=1) as pool:
        for i, f in enumerate(frames):
            scenes.feed(f if f.ndim == 3 else cv2.cvtColor(f, cv2.COLOR_GRAY2RGB))
            gray = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if f.ndim == 3 else f
            luma.append(float(gray.mean()))
            dark.append(np.count_nonzero(gray <= 16) / gray.size)
            blown.append(np.count_nonzero(gray >= 250) / gray.size)
            sharp.append(float(cv2.Laplacian(gray, cv2.CV_32F).var()) if i % sharp_every == 0 else np.nan)
            thumbs.append(_thumb(gray))
            fh = max(2, int(round(gray.shape[0] * FLOW_WIDTH / gray.shape[1])))
            small = cv2.resize(gray, (FLOW_WIDTH, fh), interpolation=cv2.INTER_AREA) \
                if gray.shape[1] > FLOW_WIDTH else gray
            smalls.append(small)
            if prev is None:
                diff.append(0.0)
                sim.append(1.0)
            else:
                diff.append(float(cv2.absdiff(gray, prev).mean()))
                sim.append(float((thumbs[i] * thumbs[i - 1]).sum()))
                flows.append(pool.submit(_flow_magnitude, prev_small, small))
            prev, prev_small = gray, small
        motion = [0.0] + [fl.result() for fl in flows] if luma else []
    n = len(luma)
    t = np.asarray(times, np.float64) if times is not None else np.arange(n) / fps
    return Signals(times=t[:n], fps=fps, luma=np.asarray(luma, np.float32), dark_frac=np.asarray(dark, np.float32),
                   blown_frac=np.asarray(blown, np.float32), sharpness=np.asarray(sharp, np.float32),
                   diff=np.asarray(diff, np.float32), similarity=np.asarray(sim, np.float32),
                   motion=np.asarray(motion, np.float32),
                   thumbs=np.stack(thumbs) if thumbs else np.zeros((0, 18, 32), np.float32),
                   smalls=np.stack(smalls) if smalls else None, content=scenes.content()[:n],
                   boundaries=tuple(c for c in scenes.cuts if 0 < c < n))


# -- defects: pure functions of the signals ---------------------------------------------------


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


# -- the score: pure ---------------------------------------------------------------------------


def _at(t: float) -> str:
    """A time for people: seconds with a unit ("7.0 s"), never a bare mm:ss.ff that reads as decimals."""
    return f"{t:.1f} s"


@dataclass(frozen=True)
class TakeRequest:
    """What the take was asked to show, so the analysis does not punish it for obeying.

    dark_expected: spans (start, end) seconds where the prompt asks for darkness (night, dusk ...).
    scene_changes: seconds where the prompt's written scene segments change (a cut or dissolve
    there is the change asked for)."""

    dark_expected: tuple[tuple[float, float], ...] = ()
    scene_changes: tuple[float, ...] = ()

    def key(self) -> list:
        return [[list(x) for x in self.dark_expected], list(self.scene_changes)]


# Words that ask for a dark picture. Whole words, lower case; "dark" also matches "darkness".
DARK_WORDS = ("night", "nighttime", "night-time", "midnight", "dusk", "twilight", "dark", "darkness", "darkened",
              "moonlit", "moonlight", "candlelit", "candlelight", "nocturnal", "after hours", "blackout", "pitch black",
              "starlit", "starry sky", "unlit", "shadowy", "noir")


def asks_for_darkness(text: str) -> bool:
    import re

    low = text.lower()
    return any(re.search(r"(?<![a-z])" + re.escape(w) + r"(?![a-z])", low) for w in DARK_WORDS)


def judge_against_request(defects: list[Defect], request: TakeRequest | None) -> tuple[list[Defect], list[str]]:
    """Drop what the request asked for: darkness inside a span that asks for it, a cut or transition
    at a written scene change. Returns the defects left and notes on what was forgiven."""
    if request is None:
        return defects, []
    kept: list[Defect] = []
    notes: list[str] = []
    for d in defects:
        if d.kind == "dark" and any(a - 0.5 <= d.start and d.end <= b + 0.5 for a, b in request.dark_expected):
            notes.append(f"dark {d.end - d.start:.1f} s as asked")
            continue
        if d.kind in ("cut", "transition") and "black" not in d.detail and "away and back" not in d.detail and any(
                d.start - SCENE_CHANGE_SLACK <= t <= d.end + SCENE_CHANGE_SLACK for t in request.scene_changes):
            notes.append(f"scene change at {_at(d.start)} as written")
            continue
        kept.append(d)
    return kept, notes


def _floor(raw: float) -> float:
    """0..1 from a raw score that may go below 0: linear above 0.1, then a soft tail that never
    reaches 0, so two bad takes still order by how bad they are."""
    return float(min(1.0, raw)) if raw >= 0.1 else 0.1 * float(np.exp((raw - 0.1) * 2.0))


def score_take(metrics: dict[str, Any], defects: list[Defect], similarity: float | None = None,
               *, dark_expected: float = 0.0) -> tuple[float, str]:
    """One number 0..1 and the reasons, from metrics and defects. Weights say what a director
    forgives: a soft frame costs little, a stall or a stray cut costs a lot, a dissolve less.

    dark_expected: the share of the take (0..1) whose prompt asks for a dark picture; exposure is
    then judged against a darker target."""
    seconds = max(float(metrics.get("seconds") or 0.0), 1e-3)
    luma = float(metrics.get("luma_mean", 128.0))
    dark_expected = float(np.clip(dark_expected, 0.0, 1.0))
    # Laplacian variance grows with the square of contrast: a night picture asked for is judged
    # as sharp as the same picture lit normally.
    sharp = float(metrics.get("sharpness", 0.0)) * (1.0 + dark_expected * ((118.0 / max(min(luma, 118.0), 8.0)) ** 2 - 1))
    sharp01 = float(np.clip((np.log10(max(sharp, 1e-3)) - 0.5) / 2.0, 0.0, 1.0))
    target = 118.0 - 70.0 * dark_expected
    exposure01 = float(np.clip(1.0 - abs(luma - target) / 118.0, 0.0, 1.0))
    crushed = metrics.get("dark_frac", 0.0) * (1.0 - dark_expected)
    exposure01 *= 1.0 - min(1.0, 2.0 * (crushed + metrics.get("blown_frac", 0.0)))
    smooth = float(metrics.get("motion_smoothness", 1.0))
    score = 0.55 + 0.2 * sharp01 + 0.15 * exposure01 + 0.1 * smooth
    reasons: list[str] = []
    by_kind: dict[str, list[Defect]] = {}
    for d in defects:
        by_kind.setdefault(d.kind, []).append(d)
    for d in by_kind.get("frozen", []):
        score -= 0.12 + 0.8 * (d.end - d.start) / seconds
        reasons.append(f"frozen {d.end - d.start:.1f} s at {_at(d.start)}")
    for kind, each, one, many in (("cut", 0.2, "hard cut", "hard cuts"), ("flash", 0.1, "flash", "flashes"),
                                  ("transition", 0.08, "transition", "transitions"),
                                  ("motion_spike", 0.08, "motion spike", "motion spikes")):
        found = by_kind.get(kind, [])
        score -= each * len(found)
        if found:
            times = ", ".join(_at(d.start) for d in found[:3]) + (" ..." if len(found) > 3 else "")
            if kind == "cut" and len(found) == 1 and "black" in found[0].detail:
                reasons.append(f"cut to black at {times}")
            else:
                reasons.append(f"{one if len(found) == 1 else f'{len(found)} {many}'} at {times}")
    flicker = by_kind.get("flicker", [])
    if flicker:
        share = sum(d.end - d.start for d in flicker) / seconds
        level = float(metrics.get("flicker_peak") or metrics.get("flicker") or FLICKER_LEVELS)
        severity = float(np.clip(level / 10.0, 0.2, 1.5))  # +-3.6 levels is mild, +-13 levels severe
        score -= (0.05 + 0.35 * share) * severity
        where = "throughout" if share > 0.5 else f"at {_at(flicker[0].start)}"
        reasons.append(f"flicker {level:.1f} levels {where}")
    for kind in ("dark", "blown"):
        spans = by_kind.get(kind, [])
        if spans:
            s_ = sum(d.end - d.start for d in spans)
            score -= 0.05 + 0.5 * s_ / seconds
            reasons.append(f"{kind} {s_:.1f} s at {_at(spans[0].start)}")
    if sharp01 < 0.3:
        reasons.append("soft")
    if smooth < 0.5 and not by_kind.get("motion_spike"):
        reasons.append("jerky motion")
    quality = _floor(score)
    if similarity is not None:
        match01 = float(np.clip((similarity - 0.15) / 0.2, 0.0, 1.0))
        quality = 0.75 * quality + 0.25 * match01
        reasons.append(f"prompt match {similarity:.2f}")
    if not any(k in by_kind for k in DEFECT_KINDS) and sharp01 >= 0.3:
        reasons.insert(0, "clean")
    return round(quality, 4), "; ".join(reasons)


# -- prompt similarity (optional, local CLIP-type model) ----------------------------------------

_CLIP_CACHE: dict[str, Any] = {}


CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's preprocessing constants
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _clip_pixels(frames: Sequence[np.ndarray], size: int, mean, std) -> np.ndarray:
    """CLIP preprocessing without transformers' image processors (which need torchvision):
    centre square crop, resize to the model's input size, scale, normalise. -> (n, 3, size, size)."""
    import cv2

    out = []
    for f in frames:
        h, w = f.shape[:2]
        side = min(h, w)
        y, x = (h - side) // 2, (w - side) // 2
        sq = cv2.resize(f[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
        out.append(((sq.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32))
                   .transpose(2, 0, 1))
    return np.stack(out)


def prompt_similarity(frames: Sequence[np.ndarray], prompt: str, model_dir: Path) -> float:
    """Mean cosine similarity between the prompt and four frames, with a CLIP model from a local
    folder (transformers CLIPModel + CLIPTokenizer saved with save_pretrained). Never downloads."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise BadInput("not a CLIP model folder (no config.json)", where=str(model_dir.name),
                       fix="give the folder of a CLIP model saved with save_pretrained")
    from dreamcut.analysis._hf import hide_broken_torchvision

    hide_broken_torchvision()
    try:
        import torch
        from transformers import CLIPModel, CLIPTokenizer
    except ImportError:
        raise BadInput("prompt similarity needs transformers and torch", fix="pip install 'dreamcut[local]'") from None
    key = str(model_dir.resolve())
    if key not in _CLIP_CACHE:
        try:
            model = CLIPModel.from_pretrained(key, local_files_only=True).eval()
            tokenizer = CLIPTokenizer.from_pretrained(key, local_files_only=True)
        except (OSError, ValueError, TypeError) as e:
            raise BadInput(f"cannot load the CLIP model: {str(e).splitlines()[0][:200]}", where=model_dir.name,
                           fix="give a folder with config.json, weights and the tokenizer files") from None
        mean, std = CLIP_MEAN, CLIP_STD
        pre = model_dir / "preprocessor_config.json"
        if pre.is_file():
            cfg = json.loads(pre.read_text())
            mean, std = cfg.get("image_mean", mean), cfg.get("image_std", std)
        _CLIP_CACHE[key] = (model, tokenizer, mean, std)
    model, tokenizer, mean, std = _CLIP_CACHE[key]
    picks = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, num=min(4, len(frames)))]
    pixels = torch.from_numpy(_clip_pixels(picks, model.config.vision_config.image_size, mean, std))
    max_len = model.config.text_config.max_position_embeddings
    with torch.no_grad():
        tokens = tokenizer([prompt], return_tensors="pt", padding=True, truncation=True, max_length=max_len)
        img = model.get_image_features(pixel_values=pixels)
        txt = model.get_text_features(**tokens)
        img = getattr(img, "pooler_output", img)  # transformers 5 may return an output object
        txt = getattr(txt, "pooler_output", txt)
        img = torch.nn.functional.normalize(img, dim=-1)
        txt = torch.nn.functional.normalize(txt, dim=-1)
        return float((img @ txt.T).mean())


# -- the entry point: I/O at the edge -----------------------------------------------------------


def _decode_small(path: Path, size: tuple[int, int], *, rgb: bool) -> Iterator[tuple[float, np.ndarray]]:
    """Decode every frame straight to a small gray (or RGB) picture. Like media.read_frames, but
    scaling with swscale's fast bilinear filter into gray halves the cost of a 720p take, and
    decoding is what analysis spends its time on."""
    import av

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        rate = float(vs.average_rate or 24)
        for i, frame in enumerate(c.decode(vs)):
            t = float(frame.pts * vs.time_base) if frame.pts is not None else i / rate
            yield t, frame.to_ndarray(format="rgb24" if rgb else "gray", width=size[0], height=size[1],
                                      interpolation="FAST_BILINEAR")


def _cache_key(content_hash: str, prompt: str | None, clip_model: Path | None,
               request: TakeRequest | None = None) -> str:
    extra = json.dumps([ANALYSIS_VERSION, ANALYSIS_WIDTH, prompt if clip_model else None,
                        str(Path(clip_model).resolve()) if clip_model else None,
                        request.key() if request else None])
    return f"{content_hash[:32]}-{hashlib.sha256(extra.encode()).hexdigest()[:12]}"


def analyze_take(path: Path, *, cache_dir: Path | None = None, prompt: str | None = None,
                 clip_model: Path | None = None, request: TakeRequest | None = None) -> TakeAnalysis:
    """Score one take and find its defects. Cached in `cache_dir` by content hash (+ prompt and
    model when prompt similarity is asked for, + the request).

    `path` is the file to look at: for an imported take, its original (so the import's frame-rate
    conversion cannot invent cuts); times are seconds from its first frame. `request`: what the
    prompt asked for (see TakeRequest); None judges the picture alone."""
    from dreamcut.media import file_sha256, probe, write_text_atomic

    path = Path(path)
    info = probe(path)
    if info.video is None:
        raise BadInput("the file has no video stream", where=path.name, fix="give a video take")
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / "takes" / f"{_cache_key(file_sha256(path), prompt, clip_model, request)}.json"
        if cache_file.is_file():
            try:
                cached = TakeAnalysis.from_dict(json.loads(cache_file.read_text()))
                if cached.version == ANALYSIS_VERSION:
                    return cached
            except (ValueError, KeyError, TypeError):
                pass  # a damaged cache entry is recomputed and overwritten
    w, h = info.video.width, info.video.height
    aw = min(ANALYSIS_WIDTH, w)
    ah = max(2, int(round(h * aw / w / 2.0)) * 2)
    times: list[float] = []
    frames: list[np.ndarray] = []
    want_clip = clip_model is not None and bool(prompt)

    def decoded():
        for t, f in _decode_small(path, (aw, ah), rgb=True):  # colour: PySceneDetect's score uses hue
            times.append(t)
            if want_clip:
                frames.append(f)  # kept for the prompt match (160 px wide: ~20 MB for a 20 s take)
            yield f

    fps = info.video.fps or 24.0
    try:
        signals = measure(decoded(), None, fps)
    except Exception as e:  # PyAV decode errors have many classes; all mean the same here
        raise WorkFailed(f"cannot decode the take ({type(e).__name__})", where=path.name,
                         fix="re-download or re-render the take") from None
    if len(times) < 2:
        raise BadInput("the take has fewer than 2 frames", where=path.name, fix="re-render the take")
    signals.times = np.asarray(times, np.float64) - times[0]
    defects, metrics = find_defects(signals)
    defects, forgiven = judge_against_request(defects, request)
    if forgiven:
        metrics["as_asked"] = forgiven
    seconds = float(metrics.get("seconds") or 0.0)
    dark_share = (sum(min(b, seconds) - max(a, 0.0) for a, b in request.dark_expected if b > a) / seconds
                  if request and seconds else 0.0)
    similarity = None
    if want_clip:
        similarity = prompt_similarity(frames, prompt, Path(clip_model))
        metrics["prompt_similarity"] = round(similarity, 4)
    score, explanation = score_take(metrics, defects, similarity, dark_expected=dark_share)
    if forgiven:
        explanation += ("; " if explanation else "") + "; ".join(forgiven)
    result = TakeAnalysis(score=score, defects=defects, metrics=metrics, explanation=explanation)
    if cache_file is not None:
        write_text_atomic(cache_file, json.dumps(result.to_dict(), indent=1, sort_keys=True))
    return result
