"""The signals of a take: one number per frame (or per pair of frames), measured in one pass.

Mean luminance, clipping, sharpness (Laplacian variance), frame difference, normalised
correlation of 32x18 thumbnails with the previous frame (a cheap likeness, not SSIM), optical
flow (OpenCV Farneback) and PySceneDetect's content score (`AdaptiveDetector`, fed these same
small frames: there is no second decode). `measure` is pure in the frames it is given.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

ANALYSIS_WIDTH = 160  # px; every signal is measured on frames this wide (fast, and enough)
FLOW_WIDTH = 96  # px; optical flow runs on frames this wide (it is the costly signal)
# PySceneDetect AdaptiveDetector settings: its defaults (ratio 3, content 15, window 2), with a
# minimum scene length of 2 frames so a cut away and back a few frames later is still seen.
ADAPTIVE_THRESHOLD = 3.0
MIN_CONTENT_VAL = 15.0
MIN_SCENE_FRAMES = 2


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
