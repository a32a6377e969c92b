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
    """Analyse one take as `dreamcut rank` does (cached by content hash and request), and, when its
    shot names cast members, judge the cast's identity (`cast_identity`). A take is decoded once:
    the cast's frames are sampled from the analysis decode (`_analyse`)."""
    cast = _cast_look(project, take, clip_model)
    result = _analyse(project, take, clip_model, cast)
    return with_cast_identity(project, take, result, clip_model=clip_model)


def _analyse(project, take: Take, clip_model: Path | None, cast=None) -> TakeAnalysis:
    """`analyze_take` of the take's file; with `cast` ((look, cache dir) of the shot's cast) and the
    take's look not cached yet, the identity frames are sampled from the same decode and cached."""
    from dreamcut.analysis import identity

    path = analysis_source(project, take)
    sample = None
    if cast is not None and identity.cached_take_looks(path, *cast) is None:
        sample = identity.FrameSample(path)
    result = analyze_take(path, cache_dir=project.cache_dir / "video", prompt=take.prompt or None,
                          clip_model=clip_model, request=take_request(project, take), on_frame=sample)
    if sample is not None and sample.frames:  # the analysis decoded (it was not cached)
        identity.describe_sample(sample, cast[0], cache_dir=cast[1])
    return result


def _cast_look(project, take: Take, clip_model: Path | None):
    """(look, cache dir) the take's cast is judged with; None when its shot names no cast (or is gone)."""
    from dreamcut.analysis import identity
    from dreamcut.cast import shot_cast

    try:
        shot = project.spec.shot(take.shot_id)
    except BadInput:
        return None
    if not shot_cast(project.spec, shot):
        return None
    return identity.make_look(clip_model), project.cache_dir / "identity"


def cast_identity(project, take: Take, *, clip_model: Path | None = None):
    """The take's cast identity verdict (`analysis.identity`) against the cast's reference pictures and
    the shot's other takes; None when the shot names no cast (or is gone). `clip_model`: a local
    CLIP-type folder for the likeness, else colour histogram + perceptual hash. A peer take not yet
    described is analysed now (as its own ranking will: then a cache hit), sharing that decode."""
    from dreamcut.analysis import identity
    from dreamcut.cast import shot_cast

    cast = _cast_look(project, take, clip_model)
    if cast is None:
        return None
    look, cache = cast
    members = shot_cast(project.spec, project.spec.shot(take.shot_id))
    refs = [project.root / r for m in members for r in m.refs if "://" not in r]
    ref_vectors = identity.ref_looks(refs, look)
    peers = [t for t in project.catalog.takes(take.shot_id) if t.id != take.id
             and project.inside(analysis_source(project, t)) and analysis_source(project, t).is_file()]
    everyone = [take, *peers]
    looks = {}
    for t in everyone:
        path = analysis_source(project, t)
        if identity.cached_take_looks(path, look, cache) is None:
            _analyse(project, t, clip_model, cast)
        looks[t.id] = identity.take_looks(path, look, cache_dir=cache)  # cached now, unless analysis was

    def likeness_of(t: Take):
        return identity.likeness(looks[t.id], ref_vectors, [looks[o.id] for o in everyone if o.id != t.id], look)

    mine = likeness_of(take)
    others = [likeness_of(t) for t in peers]
    seconds = float(take.seconds or (mine.times[-1] if mine.times else 0.0))
    verdict = identity.judge_identity(mine, others, [m.name for m in members], seconds)
    web = [r for m in members for r in m.refs if "://" in r]
    if web:  # said, not silent: only local pictures are compared
        verdict.note = f"{len(web)} cast picture(s) on the web not compared"
    return verdict


def with_cast_identity(project, take: Take, result: TakeAnalysis, *, clip_model: Path | None = None) -> TakeAnalysis:
    """`result` with the cast identity folded in: metrics["identity"], and a "cast_drift" defect
    that costs score and says why (the edit cuts around a drifting stretch like any defect)."""
    from dreamcut.analysis.identity import DRIFT_PENALTY
    from dreamcut.analysis.video import Defect

    verdict = cast_identity(project, take, clip_model=clip_model)
    if verdict is None:
        return result
    metrics = dict(result.metrics, identity=verdict.score)
    said = [f"cast identity {verdict.score:.2f}"] + ([verdict.note] if verdict.note else [])
    if not verdict.drifts:
        return TakeAnalysis(score=result.score, defects=result.defects, metrics=metrics,
                            explanation="; ".join([x for x in [result.explanation] if x] + said))
    defects = sorted(result.defects + [Defect(a, b, "cast_drift", why) for a, b, why in verdict.drift],
                     key=lambda d: (d.start, d.end))
    explanation = result.explanation.removeprefix("clean").lstrip("; ")
    reasons = "; ".join(f"cast drift: {why}" for _, _, why in verdict.drift)
    score = round(max(0.0, result.score - DRIFT_PENALTY * max(verdict.severity, 0.2)), 4)
    return TakeAnalysis(score=score, defects=defects, metrics=metrics,
                        explanation="; ".join([reasons] + [x for x in [explanation] if x] + said[1:]))
