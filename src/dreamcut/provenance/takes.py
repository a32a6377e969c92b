"""What a signed file says about its takes: the timeline's takes, the catalog's facts about each,
and the digital source type of an edit made of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamcut.provenance.manifest import (COMPOSITE_CAPTURE, COMPOSITE_SYNTHETIC, COMPOSITE_WITH_TRAINED_MEDIA,
                                          DIGITAL_CAPTURE, is_ai_take, take_source_type)

KEYFRAME_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def keyframe_file(project, take) -> Path | None:
    """The cast keyframe image a generated take was animated from (`<job key>.<ext>` under the project's
    keyframes folder, never a partial download), or None."""
    if take.source == "imported" or not take.job_key:
        return None
    for suffix in KEYFRAME_IMAGE_SUFFIXES:
        path = project.keyframes_dir / f"{take.job_key}{suffix}"
        if path.is_file():
            return path
    return None


def take_facts(project, take) -> dict:
    facts: dict[str, Any] = {"shot": take.shot_id, "take": take.id, "backend": take.backend,
                             "model": take.model, "seed": take.seed, "source": take.source,
                             "variant": take.variant, "source_type": (take.meta or {}).get("source_type")}
    if project.spec.include_prompt_in_credentials and take.prompt:
        facts["prompt"] = take.prompt
    meta = take.meta or {}
    if take.source == "imported":
        for k in ("provider", "provider_model"):
            if meta.get(k):
                facts[k] = meta[k]
    return {k: v for k, v in facts.items() if v is not None}


@dataclass
class TimelineTake:
    shot: str
    take: str
    path: str  # relative to the project root
    trimmed: bool
    speed: float


def timeline_takes(timeline) -> list[TimelineTake]:
    """The takes of the timeline's V1 clips (read through `dreamcut.timeline`), first use order, one per take."""
    import opentimelineio as otio

    from dreamcut import timeline as tl

    if isinstance(timeline, (str, Path)):
        timeline = otio.adapters.read_from_file(str(timeline))
    fps = tl.info(timeline).fps
    seen: dict[str, TimelineTake] = {}
    for view, clip in zip(tl.clips(timeline, fps), tl.iter_clips(timeline)):
        if not view.media:
            continue
        avail = getattr(clip.media_reference, "available_range", None)
        trimmed = True
        if avail is not None:
            length = tl.frames(avail.duration, fps)
            trimmed = view.source_in > 0 or abs(view.source_frames - length) > 0.5
        if view.take in seen:
            seen[view.take].trimmed = True
            continue
        seen[view.take] = TimelineTake(shot=view.shot or "", take=view.take, path=view.path, trimmed=trimmed,
                                       speed=view.speed)
    return list(seen.values())


def catalog_take_facts(project, takes: list[TimelineTake]) -> dict[str, dict]:
    """What the catalog knows of each take, carried in the render's own assertion so the chain
    reads even when a take file was never signed."""
    out = {}
    for t in takes:
        take = project.catalog.take(t.take)
        if take is not None:
            out[t.take] = take_facts(project, take)
    return out


def composite_type(project, takes: list[TimelineTake]) -> str:
    """compositeWithTrainedAlgorithmicMedia when any take came from a model (or is of unknown origin),
    compositeCapture when every take is camera footage, compositeSynthetic for previz (with or
    without camera footage)."""
    kinds = set()
    for t in takes:
        take = project.catalog.take(t.take)
        if take is None or is_ai_take(take):
            return COMPOSITE_WITH_TRAINED_MEDIA
        kinds.add(take_source_type(take))
    if not takes:
        return COMPOSITE_WITH_TRAINED_MEDIA
    return COMPOSITE_CAPTURE if kinds == {DIGITAL_CAPTURE} else COMPOSITE_SYNTHETIC
