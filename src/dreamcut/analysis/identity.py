"""Cast identity in takes: does the cast in a take look like its reference images, and like the
shot's other takes? A take whose cast drifts (a face, a coat, a car that changes) is a defect.

Two ways to describe a picture, the same interface for both:
- `OfflineLook` (always available): a colour histogram weighted by saturation (the coloured things
  in a shot, not its grey walls) and a 64-bit perceptual hash (DCT of a 32x32 luma picture);
- `ClipLook`: image embeddings from a local CLIP-type model folder (transformers `CLIPModel`, loaded
  with `from_pretrained(local_files_only=True)`; never downloads), when the director gives one.

Decisions are pure functions of the numbers (`judge_identity`): a take drifts when it looks less
like the references (or the shot's other takes) than the shot's other takes do, by a clear margin,
or when, inside the take, the frames stop looking like the references for a stretch. I/O (decoding
frames, reading reference images, the descriptor cache) is at the edges (`take_looks`, `ref_looks`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from dreamcut.errors import BadInput

IDENTITY_VERSION = 2  # 2: frames sampled as video analysis decodes them (shared decode)
FRAMES_PER_TAKE = 12  # frames sampled evenly across a take
LOOK_WIDTH = 128  # frames are described at this width (colour and layout, not detail)
# A take drifts when its likeness is this much below the median of the shot's other takes ...
PEER_MARGIN = 0.12
# ... or when frames inside it fall this far below the take's own best likeness, for at least
DRIFT_DROP = 0.2
DRIFT_MIN_SECONDS = 0.5
DRIFT_PENALTY = 0.25  # score taken off a drifting take (at full drift)


class Look(Protocol):
    """Describes pictures as vectors and compares two descriptions (0 unlike .. 1 the same)."""

    name: str

    def describe(self, frames: Sequence[np.ndarray]) -> np.ndarray: ...

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float: ...

    def similarities(self, a: np.ndarray, b: np.ndarray) -> np.ndarray: ...


# -- offline: colour histogram + perceptual hash -------------------------------------------------

_HUE_BINS, _SAT_BINS, _GREY_BINS = 18, 3, 4
_HIST_LEN = _HUE_BINS * _SAT_BINS + _GREY_BINS


def colour_histogram(rgb: np.ndarray) -> np.ndarray:
    """Hue x saturation histogram, each pixel weighted by its saturation and brightness, plus a few
    grey-level bins for unsaturated pixels (weighted low): what colour the coloured things are."""
    import cv2

    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.float32)
    h, s, v = hsv[:, 0] / 180.0, hsv[:, 1] / 255.0, hsv[:, 2] / 255.0
    coloured = (s > 0.2) & (v > 0.15)
    hb = np.minimum((h * _HUE_BINS).astype(int), _HUE_BINS - 1)
    sb = np.minimum(((s - 0.2) / 0.8 * _SAT_BINS).astype(int), _SAT_BINS - 1).clip(0)
    hist = np.zeros(_HIST_LEN, np.float64)
    np.add.at(hist, (hb * _SAT_BINS + sb)[coloured], (s * v)[coloured])
    gb = np.minimum((v * _GREY_BINS).astype(int), _GREY_BINS - 1)
    np.add.at(hist, _HUE_BINS * _SAT_BINS + gb[~coloured], 0.05)
    total = hist.sum()
    return hist / total if total > 0 else hist


def perceptual_hash(rgb: np.ndarray) -> np.ndarray:
    """The 64-bit pHash: signs of the low 8x8 DCT coefficients of a 32x32 luma picture (as 0/1)."""
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].flatten()
    return (low > np.median(low[1:])).astype(np.float64)


@dataclass
class OfflineLook:
    """Colour histogram (weight 0.8) and perceptual hash (0.2): no model, no download."""

    name: str = "colour+phash"

    def describe(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([np.concatenate([colour_histogram(f), perceptual_hash(f)]) for f in frames])

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.similarities(a[None], b[None])[0, 0])

    def similarities(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len(a), len(b)) similarities of two stacks of descriptions."""
        hist = np.minimum(a[:, None, :_HIST_LEN], b[None, :, :_HIST_LEN]).sum(axis=2)
        phash = 1.0 - np.abs(a[:, None, _HIST_LEN:] - b[None, :, _HIST_LEN:]).mean(axis=2)
        return 0.8 * hist + 0.2 * phash


# -- a local CLIP-type model -----------------------------------------------------------------------

_MODELS: dict[str, Any] = {}


@dataclass
class ClipLook:
    """Image embeddings of a local CLIP-type model (a folder saved with save_pretrained)."""

    model_dir: Path
    name: str = "clip"

    def __post_init__(self) -> None:
        folder = Path(self.model_dir)
        if not (folder / "config.json").is_file():
            raise BadInput("not a CLIP model folder (no config.json)", where=folder.name,
                           fix="give the folder of a CLIP model saved with save_pretrained")
        self.name = f"clip:{folder.resolve().name}"

    def _model(self):
        from dreamcut.analysis._hf import hide_broken_torchvision

        key = str(Path(self.model_dir).resolve())
        if key not in _MODELS:
            hide_broken_torchvision()
            try:
                from transformers import CLIPModel
            except ImportError:
                raise BadInput("cast identity with a model needs transformers and torch",
                               fix="pip install 'dreamcut[local]', or leave out the model folder") from None
            try:
                model = CLIPModel.from_pretrained(key, local_files_only=True).eval()
            except (OSError, ValueError, TypeError) as e:
                raise BadInput(f"cannot load the CLIP model: {str(e).splitlines()[0][:200]}",
                               where=Path(key).name, fix="give a folder with config.json and the weights") from None
            from dreamcut.analysis.video.similarity import CLIP_MEAN, CLIP_STD

            mean, std = CLIP_MEAN, CLIP_STD
            pre = Path(key) / "preprocessor_config.json"
            if pre.is_file():
                cfg = json.loads(pre.read_text())
                mean, std = cfg.get("image_mean", mean), cfg.get("image_std", std)
            _MODELS[key] = (model, mean, std)
        return _MODELS[key]

    def describe(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        from dreamcut.analysis.video.similarity import _clip_pixels

        model, mean, std = self._model()
        pixels = torch.from_numpy(_clip_pixels(list(frames), model.config.vision_config.image_size, mean, std))
        with torch.no_grad():
            emb = model.get_image_features(pixel_values=pixels)
            emb = getattr(emb, "pooler_output", emb)
            emb = torch.nn.functional.normalize(emb, dim=-1)
        return emb.numpy().astype(np.float64)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.similarities(a[None], b[None])[0, 0])

    def similarities(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len(a), len(b)) cosine similarities, clipped to 0..1."""
        na = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
        nb = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-9)
        return np.clip(na @ nb.T, 0.0, 1.0)


def make_look(model_dir: Path | None) -> Look:
    """The model folder's look when one is given, else the offline one."""
    return ClipLook(Path(model_dir)) if model_dir is not None else OfflineLook()


# -- I/O at the edges: frames of a take, reference pictures, a cache -----------------------------


@dataclass
class TakeLooks:
    """A take's sampled frames, described: times (s) and one descriptor per frame."""

    times: list[float]
    vectors: np.ndarray


class FrameSample:
    """`FRAMES_PER_TAKE` frames spread evenly over a take, kept as they stream past: from video
    analysis's own decode (`analyze_take(on_frame=...)`, so a ranked take is decoded once) or from
    `decode`. Frames are kept as analysis sees them (160 px wide, fast bilinear) and described at
    LOOK_WIDTH, so both ways give the same pictures."""

    def __init__(self, path: Path, n: int = FRAMES_PER_TAKE) -> None:
        from dreamcut.analysis.video import ANALYSIS_WIDTH
        from dreamcut.media import probe

        self.path = Path(path)
        info = probe(self.path)
        if info.video is None:
            raise BadInput("the take has no video stream", where=self.path.name, fix="give a video take")
        w, h = info.video.width, info.video.height
        aw = min(ANALYSIS_WIDTH, w)
        self.decode_size = (aw, max(2, int(round(h * aw / w / 2.0)) * 2))  # analysis's frame size
        self.size = (LOOK_WIDTH, max(2, int(round(h * LOOK_WIDTH / w / 2.0)) * 2))
        count = int(info.video.frames or 0) or max(1, int(round((info.duration or 0.0) * (info.video.fps or 24.0))))
        self.picks = {int(i) for i in np.linspace(0, count - 1, num=min(n, count))}
        self.times: list[float] = []
        self.frames: list[np.ndarray] = []
        self._last: tuple[float, np.ndarray] | None = None

    def __call__(self, index: int, t: float, rgb: np.ndarray) -> None:
        self._last = (t, rgb)
        if index in self.picks:
            self._keep(t, rgb)

    def _keep(self, t: float, rgb: np.ndarray) -> None:
        import cv2

        self.times.append(t)
        self.frames.append(cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA))

    def decode(self) -> "FrameSample":
        """Decode the take for the sample alone: every frame is decoded, only the picked ones are
        scaled and converted (half the cost of a 720p take)."""
        import av

        with av.open(str(self.path)) as c:
            vs = c.streams.video[0]
            vs.thread_type = "AUTO"
            rate = float(vs.average_rate or 24)
            last = None
            for i, frame in enumerate(c.decode(vs)):
                t = float(frame.pts * vs.time_base) if frame.pts is not None else i / rate
                last = (t, frame)
                if i in self.picks:
                    self._keep(t, self._small(frame))
            if last is not None:
                self._last = (last[0], self._small(last[1]))
        return self

    def _small(self, frame) -> np.ndarray:
        return frame.to_ndarray(format="rgb24", width=self.decode_size[0], height=self.decode_size[1],
                                interpolation="FAST_BILINEAR")

    def result(self) -> tuple[list[float], list[np.ndarray]]:
        """(times from the first frame, frames); ends on the take's last frame when the container
        counted more frames than it holds."""
        times, frames = list(self.times), list(self.frames)
        if self._last is not None and len(frames) < len(self.picks) and (not times or self._last[0] > times[-1]):
            import cv2

            times.append(self._last[0])
            frames.append(cv2.resize(self._last[1], self.size, interpolation=cv2.INTER_AREA))
        if not frames:
            raise BadInput("the take has no frames", where=self.path.name, fix="re-render the take")
        t0 = times[0]
        return [t - t0 for t in times], frames


def _cache_file(path: Path, look: Look, cache_dir: Path) -> Path:
    from dreamcut.media import file_sha256

    key = hashlib.sha256(json.dumps([IDENTITY_VERSION, look.name, FRAMES_PER_TAKE, LOOK_WIDTH]).encode())
    return Path(cache_dir) / f"{file_sha256(path)[:32]}-{key.hexdigest()[:12]}.json"


def cached_take_looks(path: Path, look: Look, cache_dir: Path) -> TakeLooks | None:
    """The take's described frames from the cache, or None (a damaged entry is None: recomputed)."""
    cache_file = _cache_file(Path(path), look, cache_dir)
    if cache_file.is_file():
        try:
            d = json.loads(cache_file.read_text())
            return TakeLooks(list(d["times"]), np.asarray(d["vectors"], np.float64))
        except (ValueError, KeyError, TypeError):
            pass
    return None


def describe_sample(sample: FrameSample, look: Look, *, cache_dir: Path | None = None) -> TakeLooks:
    """Describe a take's frame sample (and cache it by the file's content and the look)."""
    from dreamcut.media import write_text_atomic

    times, frames = sample.result()
    result = TakeLooks(times, look.describe(frames))
    if cache_dir is not None:
        write_text_atomic(_cache_file(sample.path, look, cache_dir),
                          json.dumps({"times": result.times, "vectors": result.vectors.tolist()}))
    return result


def take_looks(path: Path, look: Look, *, cache_dir: Path | None = None) -> TakeLooks:
    """Describe `FRAMES_PER_TAKE` frames of a take (cached by the file's content and the look),
    decoding it for that alone when the cache has nothing."""
    if cache_dir is not None:
        cached = cached_take_looks(path, look, cache_dir)
        if cached is not None:
            return cached
    return describe_sample(FrameSample(Path(path)).decode(), look, cache_dir=cache_dir)


def ref_looks(paths: Sequence[Path], look: Look) -> np.ndarray:
    """Describe reference pictures (local files), at the width frames are described."""
    import cv2

    frames = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise BadInput("the reference image cannot be read", where=Path(p).name,
                           fix="give a PNG, JPEG or WebP picture")
        h, w = img.shape[:2]
        img = cv2.resize(img, (LOOK_WIDTH, max(2, int(round(h * LOOK_WIDTH / w)))), interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    return look.describe(frames) if frames else np.zeros((0, 1))


# -- pure decisions ----------------------------------------------------------------------------------


@dataclass
class Likeness:
    """How much a take's frames look like the cast's references (per frame: the best reference)
    and like the shot's other takes (the take's frames against theirs, median)."""

    times: list[float]
    to_refs: list[float] | None  # per sampled frame; None: the cast has no local reference pictures
    to_peers: float | None  # None: no other takes of the shot

    @property
    def refs_mean(self) -> float | None:
        return float(np.mean(self.to_refs)) if self.to_refs else None


def likeness(take: TakeLooks, refs: np.ndarray, peers: Sequence[TakeLooks], look: Look) -> Likeness:
    to_refs = None
    if len(refs):
        to_refs = [float(x) for x in look.similarities(take.vectors, refs).max(axis=1)]
    to_peers = None
    if peers:
        per_peer = [float(look.similarities(take.vectors, p.vectors).mean()) for p in peers]
        to_peers = float(np.median(per_peer))
    return Likeness(take.times, to_refs, to_peers)


@dataclass
class IdentityVerdict:
    """A take's identity score (0..1), and the drift found: spans (start, end) and why."""

    score: float
    drift: list[tuple[float, float, str]] = field(default_factory=list)
    severity: float = 0.0  # 0 (none) .. 1 (the whole take unlike its cast)
    note: str = ""  # what the judgement could not look at, said with the score

    @property
    def drifts(self) -> bool:
        return bool(self.drift)


def judge_identity(mine: Likeness, others: Sequence[Likeness], names: Sequence[str], seconds: float) -> IdentityVerdict:
    """Does this take's cast drift? Against the references: the take's likeness is PEER_MARGIN below
    the median of the shot's other takes, or a stretch of its frames drops DRIFT_DROP below its own
    best. Against the other takes: it looks PEER_MARGIN less like them than they look like each other."""
    who = ", ".join(names) or "the cast"
    parts = [x for x in (mine.refs_mean, mine.to_peers) if x is not None]
    score = round(float(np.mean(parts)), 4) if parts else 1.0
    drift: list[tuple[float, float, str]] = []
    severity = 0.0
    if mine.to_refs:
        peers_ref = [o.refs_mean for o in others if o.refs_mean is not None]
        best = max(mine.to_refs)
        low = [v < best - DRIFT_DROP for v in mine.to_refs]
        start = end = 0.0
        if any(low):
            first = low.index(True)
            last = len(low) - 1 - low[::-1].index(True)
            start = mine.times[first]
            end = mine.times[last + 1] if last + 1 < len(mine.times) else seconds
        stretch = any(low) and end - start >= DRIFT_MIN_SECONDS
        if peers_ref:
            typical = float(np.median(peers_ref))
            # the frames outside a drifting stretch: when they look like the references as the shot's
            # other takes do, the stretch below says it all (no second, whole-take drift)
            steady = [v for v, lo in zip(mine.to_refs, low) if not lo]
            if mine.refs_mean < typical - PEER_MARGIN:
                severity = max(severity, min(1.0, (typical - mine.refs_mean) / (2 * PEER_MARGIN)))
                if not (stretch and steady and float(np.mean(steady)) >= typical - PEER_MARGIN):
                    drift.append((0.0, seconds, f"{who} unlike the references: likeness {mine.refs_mean:.2f}, "
                                                f"the shot's other takes {typical:.2f}"))
        if stretch:
            if not (drift and drift[0][0] == 0.0 and end - start > 0.9 * seconds):
                worst = min(mine.to_refs)
                drift.append((round(start, 3), round(end, 3),
                              f"{who} drifts from the references at {start:.1f} s (likeness {best:.2f} -> {worst:.2f})"))
                depth = min(1.0, (best - worst) / (2 * DRIFT_DROP))  # how far the frames fall
                share = min(1.0, 0.5 + (end - start) / max(seconds, 1e-6))  # how much of the take they fill
                severity = max(severity, depth * share)
    if mine.to_peers is not None:
        peer_pairs = [o.to_peers for o in others if o.to_peers is not None]
        if peer_pairs:
            typical = float(np.median(peer_pairs))
            if mine.to_peers < typical - PEER_MARGIN and not drift:
                drift.append((0.0, seconds, f"{who} unlike the shot's other takes: likeness {mine.to_peers:.2f}, "
                                            f"theirs {typical:.2f}"))
                severity = max(severity, min(1.0, (typical - mine.to_peers) / (2 * PEER_MARGIN)))
    return IdentityVerdict(score=score, drift=drift, severity=round(min(1.0, severity), 4))
