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

The package, one concept a module: `signals` (measuring), `defects` (finding), `score`
(judging against the request, scoring), `similarity` (the prompt match), and here the entry
point `analyze_take` with its cache.

This package only reads media and returns data: it never writes to the catalog, never
renders, and never downloads a model (CLIP loads with local_files_only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from dreamcut.analysis.video.defects import (BLACK_LUMA, DEFECT_KINDS, EXPOSURE_MIN_SECONDS, FLASH_MAX_SECONDS,
                                             FLICKER_LEVELS, FROZEN_MIN_SECONDS, Defect, find_defects)
from dreamcut.analysis.video.score import TakeRequest, asks_for_darkness, judge_against_request, score_take
from dreamcut.analysis.video.signals import ANALYSIS_WIDTH, FLOW_WIDTH, Signals, measure
from dreamcut.analysis.video.similarity import prompt_similarity
from dreamcut.errors import BadInput, WorkFailed

__all__ = ["ANALYSIS_VERSION", "ANALYSIS_WIDTH", "BLACK_LUMA", "DEFECT_KINDS", "Defect", "EXPOSURE_MIN_SECONDS",
           "FLASH_MAX_SECONDS", "FLICKER_LEVELS", "FLOW_WIDTH", "FROZEN_MIN_SECONDS", "Signals", "TakeAnalysis",
           "TakeRequest", "analyze_take", "asks_for_darkness", "find_defects", "judge_against_request", "measure",
           "prompt_similarity", "score_take"]

ANALYSIS_VERSION = 4


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
                 clip_model: Path | None = None, request: TakeRequest | None = None,
                 on_frame: Callable[[int, float, np.ndarray], None] | None = None) -> TakeAnalysis:
    """Score one take and find its defects. Cached in `cache_dir` by content hash (+ prompt and
    model when prompt similarity is asked for, + the request).

    `path` is the file to look at: for an imported take, its original (so the import's frame-rate
    conversion cannot invent cuts); times are seconds from its first frame. `request`: what the
    prompt asked for (see TakeRequest); None judges the picture alone. `on_frame(index, time, rgb)`
    sees every decoded frame (small, RGB), so another measure shares this decode (`analysis.identity`
    samples the cast's frames); a cached result decodes nothing and calls it never."""
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
            if on_frame is not None:
                on_frame(len(times) - 1, t, f)
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
