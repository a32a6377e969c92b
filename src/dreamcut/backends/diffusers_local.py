"""Local open text-to-video models through diffusers: LTX-Video, Wan 2.1 / 2.2 and CogVideoX.

    diffusers:/models/LTX-Video            a folder written by `save_pretrained` (model_index.json)
    diffusers:Lightricks/LTX-Video         a Hugging Face repo id, resolved from the LOCAL cache only

One take reads top to bottom as: plan (pure: frame counts, sizes, segments, notes) ->
load the pipeline once (offline, `local_files_only=True`) -> generate each segment, each
conditioned on the previous one's last frames -> blend the joins -> retime to the take's
fps -> resize to the take's size -> write one mp4 with `media.FrameWriter`.

The family is read from `model_index.json` (`_class_name`):
- LTX-Video: `LTXPipeline` (text), `LTXImageToVideoPipeline` (a reference image), and
  `LTXConditionPipeline` (continue from the previous segment's last frames; a second
  reference as the last frame), all built on the same loaded components (`_derive`, i.e.
  `from_pipe` without its dtype cast: no second copy of the weights).
- Wan: a text-to-video folder (`WanPipeline`: 2.1 T2V, 2.2 T2V / TI2V) conditions on an
  image through `WanImageToVideoPipeline` with `expand_timesteps` (the first latent frame
  is the encoded image, as Wan 2.2 TI2V does); an image-to-video folder
  (`WanImageToVideoPipeline`: 2.1 I2V / FLF2V, 2.2 I2V) needs a reference image; FLF2V and
  2.2 I2V use a second one as the last frame (first-and-last-frame).
- CogVideoX: `CogVideoXPipeline` (text) or `CogVideoXImageToVideoPipeline` (image).

Rules this module keeps:
- It never downloads anything: loading is `local_files_only=True`, and a missing or
  partial folder is one `BadInput` line naming what is missing.
- A size or frame count the model cannot make is rounded WITH A NOTE (logged and written
  into the mp4's `comment` metadata), never refused; the file always has the requested
  size, fps and length.
- torch, diffusers and transformers are imported lazily (the base install has none).
- No paths from the user's home in messages: errors name the model folder by its name.
- One render at a time per loaded model (a lock): serve and the orchestrator use threads.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import math
import os
import sys
import threading
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dreamcut.backends._cast import FIRST_FRAME, CastRouting, first_frame_routing, with_first_frame
from dreamcut.backends.base import Capabilities, GenerationRequest, LocalBackend, Progress
from dreamcut.errors import BadInput, WorkFailed

log = logging.getLogger("dreamcut.backends.diffusers")


# -- the families (data) ---------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """What a model family needs, in the director's units. Values are the families' published defaults.

    size_multiple: width and height must be multiples of this (pixels).
    native_fps: the frame rate the model was trained at; None = it takes the take's fps.
    comfortable_frames: the longest segment generated in one call; longer takes are chained.
    overlap_frames: frames shared by two chained segments (the blend window).
    """

    name: str
    size_multiple: int
    temporal_factor: int  # frames = temporal_factor * k + 1 (the VAE's temporal compression)
    native_fps: int | None
    comfortable_frames: int
    overlap_frames: int
    steps: int
    guidance: float
    native_size: tuple[int, int]  # (width, height) the model was trained at
    max_sequence_length: int


FAMILIES: dict[str, Family] = {
    "ltx": Family("ltx", 32, 8, None, 257, 9, 40, 3.0, (768, 512), 128),
    "wan": Family("wan", 16, 4, 16, 81, 5, 40, 5.0, (832, 480), 512),
    "cogvideox": Family("cogvideox", 16, 4, 8, 49, 5, 50, 6.0, (720, 480), 226),
}

# model_index.json `_class_name` -> (family, folder kind): "t2v" makes video from text
# (and, where the family allows, from an image too); "i2v" needs a reference image.
PIPELINE_CLASSES: dict[str, tuple[str, str]] = {
    "LTXPipeline": ("ltx", "t2v"),
    "LTXImageToVideoPipeline": ("ltx", "t2v"),
    "LTXConditionPipeline": ("ltx", "t2v"),
    "WanPipeline": ("wan", "t2v"),
    "WanImageToVideoPipeline": ("wan", "i2v"),
    "CogVideoXPipeline": ("cogvideox", "t2v"),
    "CogVideoXImageToVideoPipeline": ("cogvideox", "i2v"),
}

_MODEL_COMPONENTS = {"transformer", "transformer_2", "vae", "text_encoder", "image_encoder"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json", ".gguf", ".pt", ".pth")


# -- pure planning -------------------------------------------------------------------------


def valid_frames(frames: int, temporal_factor: int) -> int:
    """The smallest count >= `frames` of the form temporal_factor * k + 1 (k >= 1)."""
    k = max(1, math.ceil((max(frames, 2) - 1) / temporal_factor))
    return temporal_factor * k + 1


def round_size(width: int, height: int, multiple: int) -> tuple[int, int]:
    """The nearest size whose sides are multiples of `multiple` (at least one multiple each).
    A tie rounds down (720 -> 704 for 32): fewer pixels, less memory."""
    def r(x: int) -> int:
        return max(multiple, int(math.ceil(x / multiple - 0.5)) * multiple)
    return r(width), r(height)


def model_frames_for(seconds: float, fps: float) -> int:
    """Frames covering `seconds` at `fps`, counting both ends (a clip of n frames spans n-1 steps)."""
    return max(2, int(math.ceil(seconds * fps - 1e-6)) + 1)


@dataclass(frozen=True)
class SegmentPlan:
    """One call of the model: `frames` generated, of which the first `overlap` repeat the
    previous segment's tail (the blend window) and the next `keep` are new."""

    frames: int
    overlap: int
    keep: int
    text: str
    condition: str  # "text" | "image" (reference) | "frames" (previous segment's tail)


@dataclass(frozen=True)
class TakePlan:
    family: str
    width: int  # what the model makes
    height: int
    model_fps: float
    total_frames: int  # model frames of the whole take, after joining
    segments: tuple[SegmentPlan, ...]
    steps: int
    guidance: float
    out_width: int  # what the file has
    out_height: int
    out_fps: int
    out_frames: int
    notes: tuple[str, ...] = ()


def plan_take(request: GenerationRequest, family: Family, *, temporal_factor: int | None = None,
              size_multiple: int | None = None, comfortable_frames: int | None = None,
              overlap_frames: int | None = None, can_use_image: bool = True,
              needs_image: bool = False, default_steps: int | None = None,
              default_guidance: float | None = None) -> TakePlan:
    """Decide every number of a take before any weight is touched (pure).

    Long takes and multi-scene takes become chained segments: each scene segment of the
    request gets its own text; a scene longer than the model's comfortable length is cut
    into several calls. Segment k>0 starts with `overlap` frames conditioned on the tail
    of what is already made, which the join blends away.
    """
    tf = temporal_factor or family.temporal_factor
    mult = size_multiple or family.size_multiple
    comfortable = valid_frames(comfortable_frames or family.comfortable_frames, tf)
    overlap = overlap_frames if overlap_frames is not None else family.overlap_frames
    notes: list[str] = []
    if needs_image and not request.refs:
        raise BadInput("this image-to-video model needs a reference image", where=f"shot {request.shot_id}",
                       fix="add `refs:` to the shot, or use a text-to-video model folder")

    steps = int(request.option("steps", default_steps or family.steps))
    guidance = float(request.option("guidance", default_guidance or family.guidance))
    want_w, want_h = request.width, request.height
    if request.preview:
        # MiniClips: the first frames only, at a smaller size with fewer steps.
        scale = float(request.option("preview_scale", 0.5))
        want_w, want_h = int(request.width * scale), int(request.height * scale)
        steps = int(request.option("preview_steps", max(2, steps // 4)))
    width, height = round_size(want_w, want_h, mult)
    if (width, height) != (want_w, want_h):
        notes.append(f"size {want_w}x{want_h} is not a multiple of {mult} for {family.name}: "
                     f"generated at {width}x{height}, resized to {request.width}x{request.height}")

    native = request.option("model_fps", family.native_fps)
    model_fps = float(native) if native else float(request.fps)
    out_frames = request.frame_count
    if model_fps != request.fps and not request.preview:
        notes.append(f"{family.name} generates at {model_fps:g} fps; retimed to {request.fps} fps")

    if request.preview:
        first = valid_frames(max(4, request.preview_frames), tf)
        text = _scene_text(request, request.segments[0].text) if len(request.segments) > 1 else request.prompt
        cond = "image" if request.refs and can_use_image else "text"
        seg = SegmentPlan(frames=first, overlap=0, keep=first, text=text, condition=cond)
        return TakePlan(family.name, width, height, float(request.fps), first, (seg,), steps, guidance,
                        request.width, request.height, request.fps, request.preview_frames, tuple(notes))

    total = model_frames_for(request.seconds, model_fps) if model_fps != request.fps else out_frames
    overlap = max(1, min(overlap, comfortable - tf - 1))
    if tf > 1 and overlap % tf != 1 and family.name == "ltx":
        # LTX's condition pipeline takes a conditioning video of temporal_factor*k+1 frames.
        overlap = valid_frames(overlap, tf)
    scenes = _scene_frames(request, total)
    segs: list[SegmentPlan] = []
    made = 0
    for scene_frames, text in scenes:
        left = scene_frames
        while left > 0:
            first = made == 0
            ov = 0 if first else overlap
            room = comfortable - ov
            keep = min(left, room)
            if 0 < left - keep < room // 2:
                # a short remainder would be a near-empty call that is mostly overlap: share
                # the rest of the scene evenly between this call and the next
                keep = (left + 1) // 2
            frames = valid_frames(ov + keep, tf)
            keep = min(left, frames - ov)  # frames rounded up to the family's rule are kept, not wasted
            if first:
                cond = "image" if (request.refs and can_use_image) else "text"
            else:
                cond = "frames"
            segs.append(SegmentPlan(frames=frames, overlap=ov, keep=keep, text=text, condition=cond))
            made += keep
            left -= keep
    if len(segs) > 1:
        notes.append(f"{len(segs)} segments of at most {comfortable} frames, joined with {overlap}-frame blends")
    return TakePlan(family.name, width, height, model_fps, total, tuple(segs), steps, guidance,
                    request.width, request.height, request.fps, out_frames, tuple(notes))


def _scene_frames(request: GenerationRequest, total: int) -> list[tuple[int, str]]:
    """Frames per scene segment (summing to `total`), with each scene's text."""
    if len(request.segments) <= 1:
        return [(total, request.prompt)]
    length = max(1e-6, request.seconds)
    out: list[tuple[int, str]] = []
    bounds = [0] + [int(round(min(1.0, s.end / length) * total)) for s in request.segments]
    bounds[-1] = total
    for seg, a, b in zip(request.segments, bounds, bounds[1:]):
        if b > a:
            out.append((b - a, _scene_text(request, seg.text)))
    return out or [(total, request.prompt)]


def _scene_text(request: GenerationRequest, scene: str) -> str:
    """A scene's own text for its segment: the take's lead words (before the first scene, they
    apply to the whole take), the scene, and the take's style block (after 'Style:')."""
    body, sep, style = request.prompt.rpartition(" Style: ")
    if not sep:
        body = request.prompt
    first = request.segments[0].text.strip() if request.segments else ""
    at = body.find(first) if first else -1
    # prompts.compose writes "<lead>. <scene 1> Then <scene 2>..."; anything else has no lead
    lead = body[:at].rstrip(" ").rstrip(".").strip() if at > 1 and body[:at].endswith(". ") else ""
    text = ". ".join(p for p in (lead, scene.strip().rstrip(". ")) if p) + "."
    return f"{text} Style: {style}" if sep else text


def blend_join(made: np.ndarray, new: np.ndarray, overlap: int) -> np.ndarray:
    """Append `new` to `made`, crossfading the first `overlap` frames of `new` over the last of `made`."""
    if overlap <= 0 or len(made) == 0:
        return np.concatenate([made, new]) if len(made) else new
    overlap = min(overlap, len(made), len(new))
    w = ((np.arange(overlap) + 1) / (overlap + 1)).reshape(-1, 1, 1, 1).astype(np.float32)
    mixed = made[-overlap:] * (1 - w) + new[:overlap] * w
    return np.concatenate([made[:-overlap], mixed, new[overlap:]])


def retime(frames: np.ndarray, src_fps: float, dst_fps: float, count: int) -> np.ndarray:
    """`count` frames at `dst_fps` sampled from `frames` at `src_fps`, blending the two neighbours."""
    if src_fps == dst_fps and len(frames) >= count:
        return frames[:count]
    t = np.arange(count) * (src_fps / dst_fps)
    t = np.clip(t, 0, len(frames) - 1)
    lo = np.floor(t).astype(int)
    hi = np.minimum(lo + 1, len(frames) - 1)
    w = (t - lo).reshape(-1, 1, 1, 1).astype(np.float32)
    return frames[lo] * (1 - w) + frames[hi] * w


# -- the model folder ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    label: str  # what messages call it (the folder or repo name, never a home path)
    class_name: str
    family: Family
    kind: str  # t2v | i2v
    index: dict


def resolve_model(model: str) -> tuple[Path, str]:
    """A folder path, or a repo id found in the local Hugging Face cache (never downloaded)."""
    text = os.path.expanduser(model.strip())
    path = Path(text)
    if path.is_dir():
        return path.resolve(), path.name
    if not path.is_absolute() and text.count("/") == 1 and not text.startswith("."):
        try:
            from huggingface_hub import snapshot_download
            from huggingface_hub.errors import LocalEntryNotFoundError
        except ImportError:
            snapshot_download = None  # type: ignore[assignment]
        if snapshot_download is not None:
            try:
                cache = os.environ.get("HF_HUB_CACHE") or None
                return Path(snapshot_download(text, local_files_only=True, cache_dir=cache)), text
            except (LocalEntryNotFoundError, OSError, ValueError):
                pass
        raise BadInput(f"model {text!r} is neither a folder nor in the local Hugging Face cache",
                       where=f"diffusers:{text}",
                       fix="download it once with `huggingface-cli download` (dreamcut never downloads), "
                           "or give the folder path")
    raise BadInput("the model folder does not exist", where=f"diffusers:{path.name}",
                   fix="give the folder that holds model_index.json (written by save_pretrained)")


def inspect_model_folder(path: Path, label: str) -> ModelFolder:
    """Check a model folder without loading weights; one BadInput line naming everything missing."""
    where = f"diffusers:{label}"
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise BadInput("model folder has no model_index.json", where=where,
                       fix="give a diffusers pipeline folder (written by save_pretrained or downloaded as a repo)")
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise BadInput(f"model_index.json is not valid JSON ({type(e).__name__})", where=where,
                       fix="re-download the model") from None
    class_name = str(index.get("_class_name", ""))
    if class_name not in PIPELINE_CLASSES:
        known = ", ".join(sorted(PIPELINE_CLASSES))
        raise BadInput(f"model_index.json names {class_name or 'no pipeline'!r}, not a supported video model",
                       where=where, fix=f"use an LTX-Video, Wan or CogVideoX folder ({known})")
    family, kind = PIPELINE_CLASSES[class_name]
    missing: list[str] = []
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[0] is None:
            continue
        sub = path / name
        if not sub.is_dir():
            missing.append(f"{name}/")
            continue
        files = [p.name for p in sub.iterdir() if p.is_file()]
        if name in _MODEL_COMPONENTS:
            if "config.json" not in files:
                missing.append(f"{name}/config.json")
            if not any(f.endswith(_WEIGHT_SUFFIXES) for f in files):
                missing.append(f"{name}/ weights (*.safetensors)")
            else:
                missing += _missing_shards(sub, files, name)
        elif name == "scheduler" and "scheduler_config.json" not in files:
            missing.append("scheduler/scheduler_config.json")
        elif not files:
            missing.append(f"{name}/ files")
    if missing:
        raise BadInput(f"model folder is incomplete: missing {', '.join(missing)}", where=where,
                       fix="finish the download (or save_pretrained) of the whole pipeline")
    transformer = _read_json(path / "transformer" / "config.json") or _read_json(path / "transformer_2" / "config.json")
    return ModelFolder(path, label, class_name, family_for(family, index, transformer), kind, index)


def family_for(name: str, index: dict, transformer: dict) -> Family:
    """The family's defaults, adjusted for the members that differ (read from their configs)."""
    fam = FAMILIES[name]
    if name == "wan" and index.get("expand_timesteps"):
        # Wan 2.2 TI2V-5B: 24 fps, 121 frames (5 s) a call
        return replace(fam, native_fps=24, comfortable_frames=121)
    if name == "cogvideox" and transformer.get("patch_size_t"):
        # CogVideoX 1.5: 16 fps, 81 frames a call (the 1.0 models: 8 fps, 49 frames)
        return replace(fam, native_fps=16, comfortable_frames=81)
    return fam


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _missing_shards(sub: Path, files: list[str], name: str) -> list[str]:
    out = []
    for f in files:
        if f.endswith(".index.json"):
            try:
                shards = set(json.loads((sub / f).read_text()).get("weight_map", {}).values())
            except (OSError, ValueError):
                return [f"{name}/{f} (unreadable)"]
            gone = sorted(s for s in shards if not (sub / s).is_file())
            if gone:
                out.append(f"{name}/{gone[0]}" + (f" and {len(gone) - 1} more shards" if len(gone) > 1 else ""))
    return out


# -- lazy imports ------------------------------------------------------------------------------


def _import_stack():
    """Import torch + diffusers on first use. A broken torchvision (a CUDA wheel beside a CPU
    torch) must not take transformers down with it: it is only an optional extra there."""
    _hide_broken_torchvision()
    try:
        import diffusers
        import torch
        import transformers
    except ImportError as e:
        raise BadInput(f"backend 'diffusers' cannot load: missing package {e.name or e}",
                       fix="pip install 'dreamcut[local]'") from None
    # loading bars would fight the CLI's own progress bar
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    return torch, diffusers


_TV_CHECKED = False


def _hide_broken_torchvision() -> None:
    global _TV_CHECKED
    if _TV_CHECKED:
        return
    _TV_CHECKED = True
    import importlib.util

    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
        return
    except Exception:  # noqa: BLE001 - any failure means "unusable", whatever it raised
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    # A None entry makes `import torchvision` raise ImportError and find_spec() say "not
    # installed", so transformers and diffusers take their documented no-torchvision paths.
    sys.modules["torchvision"] = None  # type: ignore[assignment]
    log.warning("torchvision is installed but cannot load (does its build match torch?); "
                "using transformers and diffusers without it")
    if "diffusers" in sys.modules:  # imported before us: it read availability at import time
        import diffusers.utils.import_utils as diu

        diu._torchvision_available = False
    if "transformers" in sys.modules:  # imported before us: its availability checks are cached
        import transformers.utils as tu
        import transformers.utils.import_utils as tiu

        def off() -> bool:
            return False

        for mod in (tiu, tu):
            for fn in ("is_torchvision_available", "is_torchvision_v2_available"):
                if hasattr(mod, fn):
                    setattr(mod, fn, off)


def _env_flag(name: str) -> bool | None:
    v = os.environ.get(name)
    if v is None or v == "":
        return None
    return v.strip().lower() in ("1", "true", "yes", "on")


# -- the backend -------------------------------------------------------------------------------


@dataclass
class DiffusersBackend(LocalBackend):
    """A local diffusers video model. `model` is a folder (or a repo id in the local HF cache).

    dtype: "bf16" | "fp16" | "fp32" (default: bf16 on CUDA, fp32 on CPU); env DREAMCUT_DIFFUSERS_DTYPE.
    device: "cuda" | "cpu" | None (auto: CUDA when present); env DREAMCUT_DIFFUSERS_DEVICE.
    cpu_offload: move each component to the GPU only while it runs (model CPU offload).
    vae_tiling / vae_slicing: decode in tiles / one video at a time (less VRAM at 720p).
    compile: `torch.compile` the transformer (slow first call, faster after).
    comfortable_frames / overlap_frames: override the family's segment length and blend window.
    steps / guidance: defaults for requests without a "steps" / "guidance" option.
    Each option can also come from env DREAMCUT_DIFFUSERS_<NAME> (flags as 1/0), which is how
    `dreamcut make` / `dreamcut serve` pass them (the registry builds backends from a name only).
    """

    name: str = "diffusers"
    model: str | None = None
    dtype: str | None = None
    device: str | None = None
    cpu_offload: bool | None = None
    vae_tiling: bool | None = None
    vae_slicing: bool | None = None
    compile: bool | None = None
    comfortable_frames: int | None = None
    overlap_frames: int | None = None
    steps: int | None = None
    guidance: float | None = None
    notes: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _folder: ModelFolder | None = field(default=None, repr=False)
    _pipes: dict[str, Any] = field(default_factory=dict, repr=False)
    _active: str | None = field(default=None, repr=False)
    _lock: Any = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        if not self.model:
            raise BadInput("backend 'diffusers' needs a model folder", fix="write backend: diffusers:/path/to/model")
        path, label = resolve_model(self.model)
        self._folder = inspect_model_folder(path, label)
        self.dtype = self.dtype or os.environ.get("DREAMCUT_DIFFUSERS_DTYPE") or None
        self.device = self.device or os.environ.get("DREAMCUT_DIFFUSERS_DEVICE") or None
        for opt in ("cpu_offload", "vae_tiling", "vae_slicing", "compile"):
            if getattr(self, opt) is None:
                setattr(self, opt, _env_flag(f"DREAMCUT_DIFFUSERS_{opt.upper()}"))
        for opt, kind in (("steps", int), ("guidance", float), ("comfortable_frames", int), ("overlap_frames", int)):
            env = os.environ.get(f"DREAMCUT_DIFFUSERS_{opt.upper()}")
            if getattr(self, opt) is None and env:
                try:
                    setattr(self, opt, kind(env))
                except ValueError:
                    raise BadInput(f"DREAMCUT_DIFFUSERS_{opt.upper()}={env!r} is not a number",
                                   fix="set it to a number or unset it") from None

    def __getstate__(self) -> dict:
        # Ray ships the backend to a worker: ship the settings, never loaded weights.
        state = dict(self.__dict__)
        state["_pipes"], state["_active"], state["_pending"], state["_lock"] = {}, None, {}, None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- what it can do -------------------------------------------------------------
    @property
    def folder(self) -> ModelFolder:
        assert self._folder is not None
        return self._folder

    @property
    def family(self) -> Family:
        return self.folder.family

    def _can_use_image(self) -> bool:
        # CogVideoX's text-to-video transformer has no image input; the others do.
        return not (self.family.name == "cogvideox" and self.folder.kind == "t2v")

    def _takes_last_frame(self) -> bool:
        """Whether a second reference image can end the take (first-and-last-frame)."""
        fam = self.family.name
        if fam == "ltx":
            return True
        if fam != "wan" or self.folder.kind != "i2v":
            return False
        # Wan 2.1 FLF2V embeds two CLIP images (pos_embed_seq_len); Wan 2.2 I2V has no CLIP input
        cfg = _read_json(self.folder.path / "transformer" / "config.json")
        return cfg.get("image_dim") is None or bool(cfg.get("pos_embed_seq_len"))

    def _first_last_only(self) -> bool:
        """Wan 2.1 FLF2V: its image embedding takes exactly two CLIP images (first and last frame)."""
        if self.family.name != "wan" or self.folder.kind != "i2v":
            return False
        return bool(_read_json(self.folder.path / "transformer" / "config.json").get("pos_embed_seq_len"))

    def _can_chain(self) -> bool:
        return self._can_use_image() and not self._first_last_only()

    def capabilities(self) -> Capabilities:
        fam = self.family
        fps = fam.native_fps or 24
        one_call = (self.comfortable_frames or fam.comfortable_frames) / fps
        return Capabilities(
            min_seconds=0.25, max_seconds=120.0 if self._can_chain() else round(one_call, 2),
            image_conditioning=self._can_use_image(), extend=self._can_chain(),
            max_prompt_chars=4 * fam.max_sequence_length, price_per_second=0.0,
            price_source="local compute (no per-second price)", local=True, preview_mode="frames")

    def cast_routing(self, request: GenerationRequest) -> CastRouting:
        return _folder_cast_routing(self.folder, request.cast, request.refs)

    def problems(self, request: GenerationRequest) -> list[str]:
        request = with_first_frame(request, self.cast_routing(request))
        out = super().problems(request)
        if self.folder.kind == "i2v" and not request.refs:
            out.append(f"{self.folder.label} is an image-to-video model: the shot needs a reference image (refs:)")
        if self._first_last_only():
            longest = self.family.comfortable_frames / (self.family.native_fps or 16)
            if len(request.refs) < 2:
                out.append(f"{self.folder.label} is a first-and-last-frame model: the shot needs two reference images")
            if request.seconds > longest + 1e-6:
                out.append(f"{request.seconds:g} s is longer than a first-and-last-frame model makes ({longest:g} s)")
        for ref in request.refs:
            if not Path(ref).is_file():
                out.append(f"reference image {Path(ref).name!r} does not exist")
        return out

    # -- the take ---------------------------------------------------------------------
    def plan(self, request: GenerationRequest) -> TakePlan:
        self._use_request_settings(request)
        pipe_tf, pipe_mult = self._model_rules()
        plan = plan_take(request, self.family, temporal_factor=pipe_tf, size_multiple=pipe_mult,
                         comfortable_frames=self.comfortable_frames, overlap_frames=self.overlap_frames,
                         can_use_image=self._can_use_image(), needs_image=self.folder.kind == "i2v",
                         default_steps=self.steps, default_guidance=self.guidance)
        if len(request.refs) > 1:
            note = ("second reference image is the take's last frame" if self._takes_last_frame()
                    else f"{self.folder.label} has no last-frame input: reference images after the first are unused")
            plan = replace(plan, notes=plan.notes + (note,))
        return plan

    def render(self, request: GenerationRequest, dest: Path, progress: Progress | None = None) -> None:
        request = with_first_frame(request, self.cast_routing(request))
        problems = self.problems(request)
        if problems:
            raise BadInput("; ".join(problems), where=f"shot {request.shot_id}",
                           fix="change the shot's refs:/seconds: in dreamcut.yaml, or use another model folder")
        # One take at a time per loaded model: `dreamcut serve` and the orchestrator render from
        # several threads, and a pipeline (its scheduler state, the GPU) serves one call at a time.
        with self._lock:
            self._render_locked(request, dest, progress)

    def _render_locked(self, request: GenerationRequest, dest: Path, progress: Progress | None) -> None:
        plan = self.plan(request)
        plan = replace(plan, notes=plan.notes + self._prompt_notes(request, plan))
        for note in plan.notes:
            log.warning("%s: %s", request.shot_id, note)
        self.notes[str(dest)] = list(plan.notes)
        while len(self.notes) > 256:  # a long-running server keeps only recent notes
            self.notes.pop(next(iter(self.notes)))
        frames = self.generate(request, plan, progress)
        frames = retime(frames, plan.model_fps, plan.out_fps, plan.out_frames)
        self._write(frames, plan, dest, request)
        if progress:
            progress(1.0)

    def generate(self, request: GenerationRequest, plan: TakePlan, progress: Progress | None = None) -> np.ndarray:
        """All segments of a take as float32 frames in [0, 1], (N, H, W, 3), at the model's fps."""
        with self._lock:
            return self._generate_locked(request, plan, progress)

    def _generate_locked(self, request: GenerationRequest, plan: TakePlan, progress: Progress | None) -> np.ndarray:
        torch, _ = _import_stack()
        self._use_request_settings(request)
        made = np.zeros((0, plan.height, plan.width, 3), np.float32)
        refs = [_load_image(r, plan.width, plan.height) for r in request.refs]
        for i, seg in enumerate(plan.segments):
            def step(frac: float, i: int = i) -> None:
                if progress:
                    progress(min(0.99, (i + frac) / len(plan.segments)))

            generator = torch.Generator("cpu").manual_seed(int(request.seed) + 1_000_003 * i)
            out = self._call(seg, plan, request, refs, made, generator, step)
            if seg.overlap == 0:
                made = np.concatenate([made, out[: seg.keep]])
            else:
                made = blend_join(made, out[: seg.overlap + seg.keep], seg.overlap)
        return made[: plan.total_frames] if not request.preview else made[: plan.out_frames]

    def _max_tokens(self, request: GenerationRequest) -> int:
        """How many text tokens the model reads (the same for every segment of a take)."""
        if request.option("max_sequence_length"):
            return int(request.option("max_sequence_length"))
        if self.family.name == "cogvideox":
            tr = self._pipes["base"].transformer
            return int(getattr(tr.config, "max_text_seq_length", None) or self.family.max_sequence_length)
        return self.family.max_sequence_length

    def _prompt_notes(self, request: GenerationRequest, plan: TakePlan) -> tuple[str, ...]:
        """A note for each segment text longer than the model reads (it would be cut silently)."""
        tokenizer = getattr(self._pipes.get("base"), "tokenizer", None)
        if tokenizer is None:
            return ()
        limit = self._max_tokens(request)
        out = []
        for i, seg in enumerate(plan.segments):
            n = len(tokenizer(seg.text, add_special_tokens=True).input_ids)
            if n > limit:
                where = f"segment {i + 1} prompt" if len(plan.segments) > 1 else "prompt"
                out.append(f"{where} is {n} tokens; {self.folder.label} reads the first {limit} "
                           f"(shorten it, or set option max_sequence_length)")
        return tuple(dict.fromkeys(out))

    def _use_request_settings(self, request: GenerationRequest) -> None:
        """dtype / cpu_offload / compile asked by a request: these are load-time settings, so
        a change reloads the model (the weights stay in the OS page cache: seconds, not minutes).
        The setting then stays until a request asks for another (no reload back and forth)."""
        changed = False
        for opt in ("dtype", "cpu_offload", "compile"):
            want = request.option(opt)
            if want is not None and want != getattr(self, opt):
                setattr(self, opt, want)
                changed = True
        if changed and self._pipes:
            self._pipes.clear()
            self._active = None
            gc.collect()

    # -- one model call ------------------------------------------------------------------
    def _call(self, seg: SegmentPlan, plan: TakePlan, request: GenerationRequest, refs: list,
              made: np.ndarray, generator: Any, step: Callable[[float], None]) -> np.ndarray:
        fam = self.family.name
        kw: dict[str, Any] = dict(prompt=seg.text, negative_prompt=request.negative_prompt or None,
                                  height=plan.height, width=plan.width, num_frames=seg.frames,
                                  num_inference_steps=plan.steps, guidance_scale=plan.guidance,
                                  generator=generator, output_type="np")
        kw["max_sequence_length"] = self._max_tokens(request)

        def on_step(pipe, i, t, callback_kwargs):
            step((i + 1) / plan.steps)
            return callback_kwargs

        kw["callback_on_step_end"] = on_step
        tail = [_to_pil(f) for f in made[len(made) - seg.overlap:]] if seg.condition == "frames" else []
        if fam == "ltx":
            kw["frame_rate"] = int(round(plan.model_fps))
            if getattr(self._pipes["base"].vae.config, "timestep_conditioning", False):
                # LTX-Video 0.9.1+ VAEs decode from a slightly noised latent (the published settings)
                kw["decode_timestep"] = float(request.option("decode_timestep", 0.05))
                kw["decode_noise_scale"] = float(request.option("decode_noise_scale", 0.025))
            last = refs[1] if (len(refs) > 1 and seg is plan.segments[-1]) else None
            if seg.condition == "frames" or last is not None:
                # the condition pipeline: the previous tail (or the first reference) at frame 0,
                # and a second reference as the segment's last frame (first-and-last-frame)
                pipe = self._pipe("condition")
                from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

                strength = float(request.option("continuity", 1.0))
                if seg.condition == "frames":
                    conds = [LTXVideoCondition(video=tail, frame_index=0, strength=strength)]
                elif seg.condition == "image":
                    conds = [LTXVideoCondition(image=refs[0], frame_index=0, strength=1.0)]
                else:
                    conds = []
                if last is not None:
                    conds.append(LTXVideoCondition(image=last, frame_index=seg.frames - 1, strength=1.0))
                kw["conditions"] = conds
            elif seg.condition == "image":
                pipe = self._pipe("i2v")
                kw["image"] = refs[0]
            else:
                pipe = self._pipe("t2v")
        elif fam == "wan":
            if seg.condition == "text" and self.folder.kind == "t2v":
                pipe = self._pipe("t2v")
            else:
                pipe = self._pipe("i2v")
                kw["image"] = tail[0] if seg.condition == "frames" else refs[0]
                if len(refs) > 1 and seg is plan.segments[-1] and self._takes_last_frame():
                    kw["last_image"] = refs[1]  # first-and-last-frame (FLF2V)
        else:  # cogvideox
            if seg.condition == "text":
                pipe = self._pipe("t2v")
            else:
                pipe = self._pipe("i2v")
                kw["image"] = tail[0] if seg.condition == "frames" else refs[0]
        vae = getattr(pipe, "vae", None)
        for opt, on, off in (("vae_tiling", "enable_tiling", "disable_tiling"),
                             ("vae_slicing", "enable_slicing", "disable_slicing")):
            want = request.option(opt, getattr(self, opt))
            if want is not None and vae is not None and hasattr(vae, on):
                getattr(vae, on if want else off)()
        try:
            with torch_inference(), _quiet_diffusers():
                result = pipe(**kw)
        except (RuntimeError, ValueError) as e:
            if "out of memory" in str(e).lower():
                raise WorkFailed(f"{self.folder.label} ran out of memory at {plan.width}x{plan.height}, "
                                 f"{seg.frames} frames", where=f"shot {request.shot_id}",
                                 fix="set DREAMCUT_DIFFUSERS_CPU_OFFLOAD=1 and DREAMCUT_DIFFUSERS_VAE_TILING=1, "
                                     "or a smaller size") from None
            raise WorkFailed(f"{self.folder.label} failed: {str(e).splitlines()[0][:200]}",
                             where=f"shot {request.shot_id}") from None
        video = np.asarray(result.frames[0], dtype=np.float32)
        if video.ndim == 4 and video.shape[-1] != 3 and video.shape[1] == 3:
            video = video.transpose(0, 2, 3, 1)
        return np.clip(video, 0.0, 1.0)

    # -- loading ------------------------------------------------------------------------
    def _model_rules(self) -> tuple[int | None, int | None]:
        """Temporal factor and size multiple of the loaded model (None before it is loaded:
        the family's published values are used for planning until then)."""
        base = self._pipes.get("base")
        if base is None:
            base = self._load_base()
        fam = self.family.name
        if fam == "ltx":
            return int(base.vae_temporal_compression_ratio), max(32, int(base.vae_spatial_compression_ratio))
        tf = int(base.vae_scale_factor_temporal)
        spatial = int(base.vae_scale_factor_spatial)
        tr = base.transformer if getattr(base, "transformer", None) is not None else base.transformer_2
        patch = tr.config.patch_size
        p = patch[1] if isinstance(patch, (list, tuple)) else int(patch or 1)
        return tf, max(16, spatial * p)

    def _torch_dtype(self, torch):
        name = (self.dtype or "").lower()
        table = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
                 "fp32": torch.float32, "float32": torch.float32}
        if name and name not in table:
            raise BadInput(f"dtype {self.dtype!r} is not bf16, fp16 or fp32", where="diffusers backend",
                           fix="set DREAMCUT_DIFFUSERS_DTYPE to bf16, fp16 or fp32")
        if name:
            return table[name]
        return torch.bfloat16 if self._device(torch) == "cuda" else torch.float32

    def _device(self, torch) -> str:
        if self.device:
            return self.device
        return "cuda" if torch.cuda.is_available() else "cpu"

    def _load_base(self):
        torch, diffusers = _import_stack()
        device = self._device(torch)
        if device == "cpu":
            log.warning("no CUDA GPU: %s runs on the CPU, which is very slow at real sizes", self.folder.label)
        cls = getattr(diffusers, self.folder.class_name)
        dtype = self._torch_dtype(torch)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch_dtype -> dtype rename in newer diffusers
                pipe = cls.from_pretrained(str(self.folder.path), torch_dtype=dtype, local_files_only=True)
        except (OSError, ValueError, EnvironmentError) as e:
            raise BadInput(f"cannot load the model: {str(e).splitlines()[0][:200]}",
                           where=f"diffusers:{self.folder.label}",
                           fix="check that the folder is a complete diffusers pipeline") from None
        pipe.set_progress_bar_config(disable=True)
        self._pipes["base"] = pipe
        self._apply_memory_options(pipe, torch, device, compile_now=True)
        return pipe

    def _apply_memory_options(self, pipe, torch, device: str, compile_now: bool = False) -> None:
        vae = getattr(pipe, "vae", None)
        if vae is not None:
            if self.vae_tiling and hasattr(vae, "enable_tiling"):
                vae.enable_tiling()
            if self.vae_slicing and hasattr(vae, "enable_slicing"):
                vae.enable_slicing()
        if compile_now and self.compile:
            for name in ("transformer", "transformer_2"):
                module = getattr(pipe, name, None)
                if module is not None:
                    module.compile()
        if self.cpu_offload and device == "cuda":
            pipe.enable_model_cpu_offload()
        else:
            pipe.to(device)

    def _pipe(self, role: str):
        """The pipeline for a role (t2v | i2v | condition), made from the loaded components."""
        torch, diffusers = _import_stack()
        base = self._pipes.get("base") or self._load_base()
        if role not in self._pipes:
            fam, kind = self.family.name, self.folder.kind
            cls_name = {
                ("ltx", "t2v"): "LTXPipeline", ("ltx", "i2v"): "LTXImageToVideoPipeline",
                ("ltx", "condition"): "LTXConditionPipeline",
                ("wan", "t2v"): "WanPipeline", ("wan", "i2v"): "WanImageToVideoPipeline",
                ("cogvideox", "t2v"): "CogVideoXPipeline", ("cogvideox", "i2v"): "CogVideoXImageToVideoPipeline",
            }[(fam, role)]
            if cls_name == self.folder.class_name:
                pipe = base
            else:
                extra: dict[str, Any] = {}
                if fam == "wan" and role == "i2v" and kind == "t2v":
                    # A text-to-video Wan transformer has no image channels: condition by putting the
                    # encoded image in the first latent frame (Wan 2.2 TI2V's own method).
                    extra["expand_timesteps"] = True
                pipe = _derive(getattr(diffusers, cls_name), base, **extra)
                pipe.set_progress_bar_config(disable=True)
            self._pipes[role] = pipe
        pipe = self._pipes[role]
        if self.cpu_offload and self._device(torch) == "cuda" and self._active != role:
            # offload hooks live on the shared modules: re-attach them for the pipeline in use
            pipe.enable_model_cpu_offload()
        self._active = role
        return pipe

    # -- output --------------------------------------------------------------------------
    def _write(self, frames: np.ndarray, plan: TakePlan, dest: Path, request: GenerationRequest) -> None:
        from dreamcut.media import FrameWriter

        import cv2

        meta = {"comment": ("dreamcut diffusers " + self.folder.label + "; " + " | ".join(plan.notes))[:900]}
        with FrameWriter(Path(dest), plan.out_width, plan.out_height, plan.out_fps, metadata=meta) as w:
            for f in frames:
                img = (np.clip(f, 0, 1) * 255.0 + 0.5).astype(np.uint8)
                if img.shape[:2] != (plan.out_height, plan.out_width):
                    shrink = img.shape[0] > plan.out_height
                    img = cv2.resize(img, (plan.out_width, plan.out_height),
                                     interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
                w.write(img)


def _derive(cls, base, **config):
    """`cls` built on `base`'s loaded components (shared, no copy) and its config.

    This is `from_pipe` without its final `.to(dtype)`, which would cast the modules a model
    keeps in float32 (Wan's norms and rope) down to bf16."""
    import inspect

    params = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in base.components.items() if k in params}
    for k in params:
        if k not in kwargs and k != "self" and k in base.config and not k.startswith("_"):
            kwargs[k] = base.config[k]
    kwargs.update(config)
    return cls(**kwargs)


@contextlib.contextmanager
def _quiet_diffusers():
    """Pipelines log advice meant for their own developers during a call (scheduler
    sigmas, truncated prompts); our notes say what matters to a director."""
    from diffusers.utils import logging as dlog

    before = dlog.get_verbosity()
    dlog.set_verbosity_error()
    try:
        yield
    finally:
        dlog.set_verbosity(before)


def torch_inference():
    import torch

    return torch.inference_mode()


def _to_pil(frame: np.ndarray):
    from PIL import Image

    return Image.fromarray((np.clip(frame, 0, 1) * 255.0 + 0.5).astype(np.uint8))


def _load_image(path: str, width: int, height: int):
    """A reference image, cropped to the take's aspect and sized to the model's frame."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            return ImageOps.fit(im, (width, height), method=Image.Resampling.LANCZOS)
    except (OSError, ValueError) as e:
        raise BadInput(f"reference image cannot be read ({type(e).__name__})", where=Path(path).name,
                       fix="use a PNG or JPEG file") from None


def cast_routing(model: str | None, cast, own_refs) -> CastRouting:
    """A local pipeline conditions on images only as its first frame (LTX-Video's condition at frame 0,
    Wan's image-to-video input, CogVideoX's I2V image; CogVideoX text-to-video has no image input): the
    first cast picture takes the first frame when the shot gives none. Reads only model_index.json."""
    try:
        folder = inspect_model_folder(*resolve_model(model or ""))
    except BadInput as e:
        return CastRouting(f"diffusers:{model}", how="cannot read the model folder", problems=(e.message,))
    return _folder_cast_routing(folder, cast, own_refs)


def _folder_cast_routing(folder: "ModelFolder", cast, own_refs) -> CastRouting:
    can_image = not (folder.family.name == "cogvideox" and folder.kind == "t2v")
    return first_frame_routing(
        f"diffusers:{folder.label}", cast, own_refs, slots=1 if can_image else 0,
        field=f"{FIRST_FRAME} (conditioning image)",
        why_one=(f"{folder.family.name} conditions on one image, as the first frame" if can_image
                 else f"{folder.label} is text-to-video: it has no image input"),
        usable=lambda ref: "://" not in ref, unusable="a web URL: a local model reads local pictures")
