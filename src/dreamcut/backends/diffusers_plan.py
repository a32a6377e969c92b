"""Pure planning of a local diffusers take: the families' numbers, the prompt, frames, sizes, segments.

Nothing here touches a weight or imports torch: a take's every number is decided here before
the model loads (`plan_take`), and the frame arithmetic that joins and retimes what the model
made (`blend_join`, `retime`) is plain numpy.

The prompt: a local model reads one chronological paragraph (LTX-Video's prompt guide), so a
take's text is the lead, the scenes joined by "Then", the camera moves inline and the style
(`_prompt.paragraph_draft`). A multi-scene take is generated scene by scene, each call with the
text of its own scene (`scene_text`): the same fields, with that scene alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from dreamcut.backends._prompt import Draft, fit, paragraph_draft
from dreamcut.backends.base import GenerationRequest, SceneSegment
from dreamcut.errors import BadInput

# -- the prompt ------------------------------------------------------------------------------

PROMPT_CHARS = 1000  # text encoders truncate (LTX-Video T5: 128-256 tokens by default); ~4 chars/token


def prompt_draft(request: GenerationRequest) -> Draft:
    """One paragraph: lead, scenes joined by "Then", camera words inline, then "Style: ..."."""
    return paragraph_draft(request)


def format_prompt(request: GenerationRequest, max_chars: int = PROMPT_CHARS) -> str:
    """The text the model reads for `request`, within `max_chars` (see `_prompt.fit`)."""
    return fit(prompt_draft(request), max_chars)


def scene_text(request: GenerationRequest, scene: SceneSegment) -> str:
    """One scene's own text for its segment: the take's lead and style with that scene alone."""
    return format_prompt(replace(request, segments=(scene,)))


# -- the families (data) --------------------------------------------------------------


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
        text = scene_text(request, request.segments[0]) if len(request.segments) > 1 else request.prompt
        cond = "image" if request.refs and can_use_image else "text"
        seg = SegmentPlan(frames=first, overlap=0, keep=first, text=text, condition=cond)
        return TakePlan(family.name, width, height, float(request.fps), first, (seg,), steps, guidance,
                        request.width, request.height, request.fps, request.preview_frames, tuple(notes))

    total = model_frames_for(request.seconds, model_fps) if model_fps != request.fps else out_frames
    overlap = max(1, min(overlap, comfortable - tf - 1))
    if tf > 1 and overlap % tf != 1 and family.name == "ltx":
        # LTX's condition pipeline takes a conditioning video of temporal_factor*k+1 frames.
        overlap = valid_frames(overlap, tf)
    scenes = scene_frames(request, total)
    segs: list[SegmentPlan] = []
    made = 0
    for frames_in_scene, text in scenes:
        left = frames_in_scene
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


def scene_frames(request: GenerationRequest, total: int) -> list[tuple[int, str]]:
    """Frames per scene of the request (summing to `total`), with each scene's own text."""
    if len(request.segments) <= 1:
        return [(total, request.prompt)]
    length = max(1e-6, request.seconds)
    out: list[tuple[int, str]] = []
    bounds = [0] + [int(round(min(1.0, s.end / length) * total)) for s in request.segments]
    bounds[-1] = total
    for seg, a, b in zip(request.segments, bounds, bounds[1:]):
        if b > a:
            out.append((b - a, scene_text(request, seg)))
    return out or [(total, request.prompt)]


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
