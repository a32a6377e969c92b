"""Ranking a project's takes: which file to look at, what the take was asked for, and its score.

One home for "how is this take judged", so `dreamcut rank`, the auto-rank of `dreamcut make`
and the board agree:

- the file analysed is the take's original where one was kept (`takes/<shot>/originals/`,
  imported takes): the import's frame-rate conversion and fit cannot invent cuts or bars;
- the request comes from the shot's prompt as composed for that take: scene-segment
  boundaries (a cut there is the scene change written) and time-of-day words that ask for a
  dark picture, per segment.

It reads the project and the take files; it never changes a take (the caller stores scores).
"""

from __future__ import annotations

from pathlib import Path

from dreamcut.analysis.video import TakeAnalysis, TakeRequest, analyze_take, asks_for_darkness
from dreamcut.backends.base import SceneSegment
from dreamcut.catalog import Take
from dreamcut.errors import BadInput


def analysis_source(project, take: Take) -> Path:
    """The file that shows the take best: its kept original (imported takes), else the take file."""
    original = (take.meta or {}).get("original")
    if original:
        p = project.abs(original)
        if project.inside(p) and p.is_file():
            return p
    return project.abs(take.path)


def take_request(project, take: Take) -> TakeRequest | None:
    """What the take was asked to show, from its shot's prompt (None when the shot is gone)."""
    from dreamcut.prompts import compose

    try:
        shot = project.spec.shot(take.shot_id)
    except BadInput:
        return None
    try:
        composed = compose(project.spec, shot, take.variant, seconds=take.seconds or None)
    except BadInput:
        return None
    segments = composed.segments
    changes = tuple(round(seg.start, 3) for seg in segments[1:])
    sent = take_scenes(project, take)
    if sent is not None:  # the segments the backend was actually sent (its own clamping applied)
        changes = tuple(round(float(seg.start), 3) for seg in sent[1:])
    whole = " ".join(x for x in (composed.lead, composed.style, take.prompt if len(segments) <= 1 else "") if x)
    if asks_for_darkness(whole) or (len(segments) <= 1 and asks_for_darkness(composed.subject)):
        dark = ((0.0, float(take.seconds or composed.seconds)),)
    else:
        dark = tuple((round(seg.start, 3), round(seg.end, 3)) for seg in segments if asks_for_darkness(seg.text))
    return TakeRequest(dark_expected=dark, scene_changes=changes)


def take_scenes(project, take: Take) -> tuple[SceneSegment, ...] | None:
    """The scenes the take's job asked for (its recorded request's `segments`, in take seconds, the
    backend's own clamping applied); None when the take has no readable job."""
    import json

    from dreamcut.backends.base import GenerationRequest

    row = project.catalog.job(take.job_key) if take.job_key else None
    if row is None:
        return None
    try:
        return GenerationRequest.from_dict(json.loads(row["request_json"])).segments
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def rank_take(project, take: Take, *, clip_model: Path | None = None) -> TakeAnalysis:
    """Analyse one take as `dreamcut rank` does (cached by content hash and request)."""
    return analyze_take(analysis_source(project, take), cache_dir=project.cache_dir / "video",
                        prompt=take.prompt or None, clip_model=clip_model, request=take_request(project, take))
