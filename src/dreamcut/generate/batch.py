"""Which takes a shot list asks for: pure planning from the spec to generation requests.

No I/O here. The orchestrator turns these into jobs; `estimate` prices them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from dreamcut.backends.base import GenerationRequest
from dreamcut.backends.registry import BackendRef
from dreamcut.prompts import compose, expand, format_for_backend, max_prompt_chars
from dreamcut.spec import ProjectSpec, Shot


@dataclass(frozen=True)
class PlannedTake:
    shot_id: str
    index: int  # 0-based take number within the shot
    backend: BackendRef
    request: GenerationRequest
    kind: str = "take"  # take | preview

    @property
    def key(self) -> str:
        return self.request.key(str(self.backend))


def take_seed(shot_id: str, index: int) -> int:
    """A stable seed per (shot, take number), so re-runs ask for the same takes."""
    return zlib.crc32(f"{shot_id}:{index}".encode()) & 0x7FFFFFFF


def caption_for(shot: Shot, index: int, text: str, backend: BackendRef) -> str:
    excerpt = text if len(text) <= 90 else text[:87].rstrip() + "..."
    return f"ANIMATIC  {shot.id}  take {index + 1}  |  {excerpt}"


def request_for(spec: ProjectSpec, shot: Shot, index: int, *, root: str = ".", preview: bool = False,
                seed: int | None = None, variant: int | None = None) -> GenerationRequest:
    backend = spec.shot_backend(shot)
    variant = index if variant is None else variant
    composed = compose(spec, shot, variant)
    # One text per request, shaped for the provider and within its limit (static table: no SDK import).
    prompt = format_for_backend(composed, backend.name, max_prompt_chars(backend))
    width, height = spec.master_size
    caption = caption_for(shot, index, expand(shot.prompt_text, variant), backend) if (spec.caption and backend.name == "animatic") else None
    refs = tuple(str((__import__("pathlib").Path(root) / r).resolve()) for r in shot.refs)
    return GenerationRequest(
        shot_id=shot.id, prompt=prompt, negative_prompt=composed.negative, seconds=spec.shot_seconds(shot),
        width=width, height=height, fps=spec.fps, seed=take_seed(shot.id, index) if seed is None else seed,
        variant=variant, segments=composed.segments, refs=refs, preview=preview, caption=caption)


def plan_takes(spec: ProjectSpec, *, root: str = ".", shots: list[str] | None = None) -> list[PlannedTake]:
    """Every take the shot list asks for: takes_per_shot (or the shot's `takes`) per shot."""
    out = []
    for shot in spec.shots:
        if shots and shot.id not in shots:
            continue
        for i in range(spec.shot_takes(shot)):
            out.append(PlannedTake(shot.id, i, spec.shot_backend(shot), request_for(spec, shot, i, root=root)))
    return out
