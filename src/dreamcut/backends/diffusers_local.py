"""Local open text-to-video models through diffusers: LTX-Video, Wan 2.1 / 2.2 and CogVideoX.

    diffusers:/models/LTX-Video            a folder written by `save_pretrained` (model_index.json)
    diffusers:Lightricks/LTX-Video         a Hugging Face repo id, resolved from the LOCAL cache only

One take reads top to bottom as: plan (pure: frame counts, sizes, segments, notes;
`diffusers_plan`) -> load the pipeline once (offline, `from_pretrained(local_files_only=True)`)
-> generate each segment through its family's `call()` (`diffusers_families`: LTX, Wan,
CogVideoX), each conditioned on the previous one's last frames -> blend the joins -> retime to
the take's fps -> resize to the take's size -> write one mp4 with `media.FrameWriter`.
The folder is read and checked in `diffusers_folder`; the family comes from
`model_index.json` (`_class_name`).

Rules this backend keeps:
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

import gc
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dreamcut.backends._cast import FIRST_FRAME, CastRouting, first_frame_routing, with_first_frame
from dreamcut.backends.base import Capabilities, GenerationRequest, LocalBackend, Progress
from dreamcut.backends.diffusers_families import Call, FamilyModel, derive, for_folder
from dreamcut.backends.diffusers_folder import ModelFolder, family_for, import_stack, inspect_model_folder, resolve_model
from dreamcut.backends.diffusers_plan import (FAMILIES, PROMPT_CHARS, Family, SegmentPlan, TakePlan, blend_join,
                                              format_prompt, plan_take, prompt_draft, retime, round_size,
                                              valid_frames)
from dreamcut.errors import BadInput

__all__ = ["DiffusersBackend", "FAMILIES", "PROMPT_CHARS", "Family", "blend_join", "family_for", "format_prompt",
           "import_stack", "plan_take", "prompt_draft", "retime", "round_size", "valid_frames"]

log = logging.getLogger("dreamcut.backends.diffusers")


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
    _family_model: FamilyModel | None = field(default=None, repr=False)
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

    @property
    def family_model(self) -> FamilyModel:
        """The family's own call of the model (`diffusers_families`: LTX, Wan, CogVideoX)."""
        if self._family_model is None:
            self._family_model = for_folder(self.folder)
        return self._family_model

    def _can_use_image(self) -> bool:
        return self.family_model.can_use_image()

    def _takes_last_frame(self) -> bool:
        """Whether a second reference image can end the take (first-and-last-frame)."""
        return self.family_model.takes_last_frame()

    def _first_last_only(self) -> bool:
        return self.family_model.first_last_only()

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
        torch, _ = import_stack()
        self._use_request_settings(request)
        made = np.zeros((0, plan.height, plan.width, 3), np.float32)
        refs = [load_image(r, plan.width, plan.height) for r in request.refs]
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
        return self.family_model.max_tokens(self._pipes["base"], request)

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
        base = self._pipes.get("base") or self._load_base()
        vae = {"vae_tiling": self.vae_tiling, "vae_slicing": self.vae_slicing}
        call = Call(seg, plan, request, refs, made, generator, step, base, self._pipe, self._max_tokens(request), vae)
        return self.family_model.call(call)

    # -- loading ------------------------------------------------------------------------
    def _model_rules(self) -> tuple[int | None, int | None]:
        """Temporal factor and size multiple of the loaded model (None before it is loaded:
        the family's published values are used for planning until then)."""
        base = self._pipes.get("base")
        if base is None:
            base = self._load_base()
        return self.family_model.grid(base)

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
        torch, diffusers = import_stack()
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
        torch, diffusers = import_stack()
        base = self._pipes.get("base") or self._load_base()
        if role not in self._pipes:
            cls_name = self.family_model.pipelines[role]
            if cls_name == self.folder.class_name:
                pipe = base
            else:
                pipe = derive(getattr(diffusers, cls_name), base, **self.family_model.derive_options(role))
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


def load_image(path: str, width: int, height: int):
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
