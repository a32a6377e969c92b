"""Which takes a shot list asks for: pure planning from the spec to generation requests.

No I/O here apart from hashing reference images. The orchestrator turns these into jobs;
`estimate` prices them.

Job identity: a take's job key is a hash of the shot's INPUTS as the director wrote them (key
version, shot id, take number, variant, kind, backend and model, seconds, size, fps, seed, the
spec's prompt fields: the raw prompt or segments, the style preset's name, the global style and
negative prompts, and the content hashes of reference images), never of text our code formats
from them. So changing how prompts are formatted, or moving the project folder, re-keys nothing
and re-pays nothing. `KEY_VERSION` changes only with a deliberate change of what identifies a
take, and comes with a migration (see `orchestrator.migrate_job_keys`).
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dreamcut.backends._cast import KEYFRAME_OPTION
from dreamcut.backends.base import CastMember, GenerationRequest
from dreamcut.backends.registry import BackendRef
from dreamcut.prompts import compose, expand, format_for_backend, max_prompt_chars
from dreamcut.spec import ProjectSpec, Shot


KEY_VERSION = 1  # what identifies a take; a change needs a migration of existing job keys


@dataclass(frozen=True)
class PlannedTake:
    shot_id: str
    index: int  # 0-based take number within the shot
    backend: BackendRef
    request: GenerationRequest
    kind: str = "take"  # take | preview
    inputs: tuple = field(default=(), compare=False)  # the spec's prompt fields, as (name, value) pairs
    # The take number in its id (default index + 1). Not part of the key: a promoted preview is
    # numbered after the shot's existing takes so no two takes of a shot share a number.
    number: int | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return job_key(self)


def job_key(p: PlannedTake) -> str:
    """The job's idempotency key: a versioned hash of the take's inputs (see the module docstring)."""
    r = p.request
    inputs = dict(p.inputs) if p.inputs else {"prompt": r.prompt, "negative": r.negative_prompt,
                                              "segments": [[s.start, s.end, s.text] for s in r.segments]}
    blob = {"v": KEY_VERSION, "shot": p.shot_id, "index": p.index, "variant": r.variant, "kind": p.kind,
            "backend": p.backend.name, "model": p.backend.model, "seconds": r.seconds, "size": [r.width, r.height],
            "fps": r.fps, "seed": r.seed, "preview": [r.preview, r.preview_frames if r.preview else 0],
            "options": [list(kv) for kv in r.options], "inputs": inputs, "refs": [ref_hash(x) for x in r.refs]}
    if r.cast:  # cast pictures by content (a request without a cast keys as before)
        blob["cast_refs"] = [[m.name, [ref_hash(x) for x in m.refs]] for m in r.cast]
    text = json.dumps(blob, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


_REF_HASHES: dict[tuple[str, int, int], str] = {}


def ref_hash(path: str) -> str:
    """Content hash of a reference image (its bytes, not its path); remote refs hash their URL."""
    if "://" in path:
        return "url:" + hashlib.sha256(path.encode()).hexdigest()[:16]
    try:
        st = os.stat(path)
    except OSError:
        return "missing:" + Path(path).name  # `check` refuses a missing reference before anything is paid
    ident = (path, st.st_size, st.st_mtime_ns)
    if ident not in _REF_HASHES:
        _REF_HASHES[ident] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:32]
    return _REF_HASHES[ident]


def spec_inputs(spec: ProjectSpec, shot: Shot) -> tuple:
    """The spec's prompt fields of a shot as written: what identifies its takes' words."""
    prompt: Any = shot.prompt if isinstance(shot.prompt, str) else [
        s.model_dump(exclude_none=True) for s in shot.prompt]
    preset = shot.style or spec.style_preset
    inputs = (("prompt", prompt), ("style_preset", preset), ("style_preset_text", spec.styles.get(preset or "")),
              ("style", spec.style), ("negative", [spec.negative, shot.negative or ""]),
              ("caption", bool(spec.caption)))
    if shot.cast:  # only a shot that names cast members: an unused `cast:` block re-keys nothing
        from dreamcut.cast import spec_key_inputs

        inputs += (("cast", spec_key_inputs(spec, shot)),)
    return inputs


def take_seed(shot_id: str, index: int) -> int:
    """A stable seed per (shot, take number), so re-runs ask for the same takes."""
    return zlib.crc32(f"{shot_id}:{index}".encode()) & 0x7FFFFFFF


def caption_for(shot: Shot, index: int, text: str, backend: BackendRef) -> str:
    excerpt = text if len(text) <= 90 else text[:87].rstrip() + "..."
    return f"ANIMATIC  {shot.id}  take {index + 1}  |  {excerpt}"


def planned_take(spec: ProjectSpec, shot: Shot, index: int, *, root: str = ".", preview: bool = False,
                 seed: int | None = None, variant: int | None = None, kind: str = "take") -> PlannedTake:
    """One planned take of a shot, with its request and the spec inputs that identify it."""
    request = request_for(spec, shot, index, root=root, preview=preview, seed=seed, variant=variant)
    return PlannedTake(shot.id, index, spec.shot_backend(shot), request, kind, inputs=spec_inputs(spec, shot))


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
        variant=variant, segments=composed.segments, refs=refs, preview=preview, caption=caption,
        lead=composed.lead, style=composed.style, camera=composed.camera, cast=request_cast(spec, shot, root),
        options=((KEYFRAME_OPTION, True),) if shot.cast_keyframe and shot.cast else ())


def request_cast(spec: ProjectSpec, shot: Shot, root: str = ".") -> tuple[CastMember, ...]:
    """The shot's cast members as a request carries them: reference images as absolute paths (or URLs)."""
    from dreamcut.cast import shot_members

    return shot_members(spec, shot, root)


def plan_takes(spec: ProjectSpec, *, root: str = ".", shots: list[str] | None = None) -> list[PlannedTake]:
    """Every take the shot list asks for: takes_per_shot (or the shot's `takes`) per shot."""
    out = []
    for shot in spec.shots:
        if shots and shot.id not in shots:
            continue
        for i in range(spec.shot_takes(shot)):
            out.append(planned_take(spec, shot, i, root=root))
    return out
