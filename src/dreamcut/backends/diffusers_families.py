"""The model families as classes: each says which pipeline a segment needs and calls it.

`LTX`, `Wan` and `CogVideoX` differ in what one call is given: LTX-Video conditions through
`LTXConditionPipeline` (the previous segment's tail at frame 0, a second reference as the last
frame), Wan and CogVideoX through an image-to-video pipeline given the first frame (Wan FLF2V
also a last frame). What they share — the call's common inputs, the VAE options, running the
pipeline and its out-of-memory message — is `FamilyModel`.

Each family's pipelines are built on the one loaded set of components (`derive`, i.e.
`from_pipe` without its dtype cast): no second copy of the weights.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from dreamcut.backends.base import GenerationRequest
from dreamcut.backends.diffusers_folder import ModelFolder, read_json
from dreamcut.backends.diffusers_plan import SegmentPlan, TakePlan
from dreamcut.errors import WorkFailed


@dataclass
class Call:
    """One call of the model: the segment, its take, and where the pipelines come from."""

    seg: SegmentPlan
    plan: TakePlan
    request: GenerationRequest
    refs: list  # reference images (PIL), sized to the model's frame
    made: np.ndarray  # the take's frames so far; the tail conditions a "frames" segment
    generator: Any
    step: Callable[[float], None]  # progress of this call, 0..1
    base: Any  # the loaded pipeline (its components are shared by every role)
    pipe: Callable[[str], Any]  # role (t2v | i2v | condition) -> pipeline
    max_tokens: int
    vae: dict[str, bool | None]  # vae_tiling / vae_slicing defaults of the backend

    @property
    def last(self) -> bool:
        return self.seg is self.plan.segments[-1]

    def tail(self) -> list:
        """The previous segment's last `overlap` frames, as images (empty unless conditioned on frames)."""
        if self.seg.condition != "frames":
            return []
        return [to_pil(f) for f in self.made[len(self.made) - self.seg.overlap:]]


class FamilyModel:
    """A model family's rules at call time (the numbers are `folder.family`, a `Family`)."""

    name = ""
    pipelines: dict[str, str] = {}  # role -> diffusers pipeline class

    def __init__(self, folder: ModelFolder):
        self.folder = folder
        self.rules = folder.family

    # -- what it can do
    def can_use_image(self) -> bool:
        return True

    def takes_last_frame(self) -> bool:
        """Whether a second reference image can end the take (first-and-last-frame)."""
        return False

    def first_last_only(self) -> bool:
        """Whether the model takes exactly a first and a last frame (Wan 2.1 FLF2V)."""
        return False

    def derive_options(self, role: str) -> dict[str, Any]:
        """Config for the pipeline of `role` when it is built on another's components."""
        return {}

    def grid(self, base) -> tuple[int, int]:
        """Temporal factor and size multiple of the loaded model."""
        tf = int(base.vae_scale_factor_temporal)
        spatial = int(base.vae_scale_factor_spatial)
        tr = base.transformer if getattr(base, "transformer", None) is not None else base.transformer_2
        patch = tr.config.patch_size
        p = patch[1] if isinstance(patch, (list, tuple)) else int(patch or 1)
        return tf, max(16, spatial * p)

    def max_tokens(self, base, request: GenerationRequest) -> int:
        """How many text tokens the model reads (the same for every segment of a take)."""
        if request.option("max_sequence_length"):
            return int(request.option("max_sequence_length"))
        return self.rules.max_sequence_length

    # -- one call
    def call(self, c: Call) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def inputs(self, c: Call) -> dict[str, Any]:
        """What every family's pipeline is given."""
        def on_step(pipe, i, t, callback_kwargs):
            c.step((i + 1) / c.plan.steps)
            return callback_kwargs

        return dict(prompt=c.seg.text, negative_prompt=c.request.negative_prompt or None, height=c.plan.height,
                    width=c.plan.width, num_frames=c.seg.frames, num_inference_steps=c.plan.steps,
                    guidance_scale=c.plan.guidance, generator=c.generator, output_type="np",
                    max_sequence_length=c.max_tokens, callback_on_step_end=on_step)

    def run(self, c: Call, pipe, kw: dict[str, Any]) -> np.ndarray:
        """Call `pipe` with `kw`: frames as float32 in [0, 1], (N, H, W, 3)."""
        vae = getattr(pipe, "vae", None)
        for opt, on, off in (("vae_tiling", "enable_tiling", "disable_tiling"),
                             ("vae_slicing", "enable_slicing", "disable_slicing")):
            want = c.request.option(opt, c.vae.get(opt))
            if want is not None and vae is not None and hasattr(vae, on):
                getattr(vae, on if want else off)()
        try:
            with torch_inference(), quiet_diffusers():
                result = pipe(**kw)
        except (RuntimeError, ValueError) as e:
            if "out of memory" in str(e).lower():
                raise WorkFailed(f"{self.folder.label} ran out of memory at {c.plan.width}x{c.plan.height}, "
                                 f"{c.seg.frames} frames", where=f"shot {c.request.shot_id}",
                                 fix="set DREAMCUT_DIFFUSERS_CPU_OFFLOAD=1 and DREAMCUT_DIFFUSERS_VAE_TILING=1, "
                                     "or a smaller size") from None
            raise WorkFailed(f"{self.folder.label} failed: {str(e).splitlines()[0][:200]}",
                             where=f"shot {c.request.shot_id}") from None
        video = np.asarray(result.frames[0], dtype=np.float32)
        if video.ndim == 4 and video.shape[-1] != 3 and video.shape[1] == 3:
            video = video.transpose(0, 2, 3, 1)
        return np.clip(video, 0.0, 1.0)


class LTX(FamilyModel):
    """LTX-Video: `LTXPipeline` (text), `LTXImageToVideoPipeline` (a reference image) and
    `LTXConditionPipeline` (the previous segment's tail; a second reference as the last frame)."""

    name = "ltx"
    pipelines = {"t2v": "LTXPipeline", "i2v": "LTXImageToVideoPipeline", "condition": "LTXConditionPipeline"}

    def takes_last_frame(self) -> bool:
        return True

    def grid(self, base) -> tuple[int, int]:
        return int(base.vae_temporal_compression_ratio), max(32, int(base.vae_spatial_compression_ratio))

    def call(self, c: Call) -> np.ndarray:
        kw = self.inputs(c)
        kw["frame_rate"] = int(round(c.plan.model_fps))
        if getattr(c.base.vae.config, "timestep_conditioning", False):
            # LTX-Video 0.9.1+ VAEs decode from a slightly noised latent (the published settings)
            kw["decode_timestep"] = float(c.request.option("decode_timestep", 0.05))
            kw["decode_noise_scale"] = float(c.request.option("decode_noise_scale", 0.025))
        last = c.refs[1] if (len(c.refs) > 1 and c.last) else None
        if c.seg.condition == "frames" or last is not None:
            # the condition pipeline: the previous tail (or the first reference) at frame 0,
            # and a second reference as the segment's last frame (first-and-last-frame)
            pipe = c.pipe("condition")
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            strength = float(c.request.option("continuity", 1.0))
            if c.seg.condition == "frames":
                conds = [LTXVideoCondition(video=c.tail(), frame_index=0, strength=strength)]
            elif c.seg.condition == "image":
                conds = [LTXVideoCondition(image=c.refs[0], frame_index=0, strength=1.0)]
            else:
                conds = []
            if last is not None:
                conds.append(LTXVideoCondition(image=last, frame_index=c.seg.frames - 1, strength=1.0))
            kw["conditions"] = conds
        elif c.seg.condition == "image":
            pipe = c.pipe("i2v")
            kw["image"] = c.refs[0]
        else:
            pipe = c.pipe("t2v")
        return self.run(c, pipe, kw)


class Wan(FamilyModel):
    """Wan 2.1 / 2.2. A text-to-video folder (`WanPipeline`) conditions on an image through
    `WanImageToVideoPipeline` with `expand_timesteps` (the first latent frame is the encoded image,
    as Wan 2.2 TI2V does); an image-to-video folder needs a reference image; FLF2V and 2.2 I2V use
    a second one as the last frame."""

    name = "wan"
    pipelines = {"t2v": "WanPipeline", "i2v": "WanImageToVideoPipeline"}

    def _transformer_config(self) -> dict:
        return read_json(self.folder.path / "transformer" / "config.json")

    def takes_last_frame(self) -> bool:
        if self.folder.kind != "i2v":
            return False
        # Wan 2.1 FLF2V embeds two CLIP images (pos_embed_seq_len); Wan 2.2 I2V has no CLIP input
        cfg = self._transformer_config()
        return cfg.get("image_dim") is None or bool(cfg.get("pos_embed_seq_len"))

    def first_last_only(self) -> bool:
        # Wan 2.1 FLF2V: its image embedding takes exactly two CLIP images (first and last frame)
        return self.folder.kind == "i2v" and bool(self._transformer_config().get("pos_embed_seq_len"))

    def derive_options(self, role: str) -> dict[str, Any]:
        if role == "i2v" and self.folder.kind == "t2v":
            # A text-to-video Wan transformer has no image channels: condition by putting the
            # encoded image in the first latent frame (Wan 2.2 TI2V's own method).
            return {"expand_timesteps": True}
        return {}

    def call(self, c: Call) -> np.ndarray:
        kw = self.inputs(c)
        if c.seg.condition == "text" and self.folder.kind == "t2v":
            pipe = c.pipe("t2v")
        else:
            pipe = c.pipe("i2v")
            kw["image"] = c.tail()[0] if c.seg.condition == "frames" else c.refs[0]
            if len(c.refs) > 1 and c.last and self.takes_last_frame():
                kw["last_image"] = c.refs[1]  # first-and-last-frame (FLF2V)
        return self.run(c, pipe, kw)


class CogVideoX(FamilyModel):
    """CogVideoX: `CogVideoXPipeline` (text) or `CogVideoXImageToVideoPipeline` (image)."""

    name = "cogvideox"
    pipelines = {"t2v": "CogVideoXPipeline", "i2v": "CogVideoXImageToVideoPipeline"}

    def can_use_image(self) -> bool:
        # CogVideoX's text-to-video transformer has no image input.
        return self.folder.kind != "t2v"

    def max_tokens(self, base, request: GenerationRequest) -> int:
        if request.option("max_sequence_length"):
            return int(request.option("max_sequence_length"))
        return int(getattr(base.transformer.config, "max_text_seq_length", None) or self.rules.max_sequence_length)

    def call(self, c: Call) -> np.ndarray:
        kw = self.inputs(c)
        if c.seg.condition == "text":
            pipe = c.pipe("t2v")
        else:
            pipe = c.pipe("i2v")
            kw["image"] = c.tail()[0] if c.seg.condition == "frames" else c.refs[0]
        return self.run(c, pipe, kw)


MODELS: dict[str, type[FamilyModel]] = {m.name: m for m in (LTX, Wan, CogVideoX)}


def for_folder(folder: ModelFolder) -> FamilyModel:
    """The family class of a model folder."""
    return MODELS[folder.family.name](folder)


def derive(cls, base, **config):
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
def quiet_diffusers():
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


def to_pil(frame: np.ndarray):
    from PIL import Image

    return Image.fromarray((np.clip(frame, 0, 1) * 255.0 + 0.5).astype(np.uint8))
