"""Hearing the song and making the cut: the song's analysis, the takes' analyses, the planned
edit (`edits/cut.otio`), which edit is current (planned or conformed), and the check of a shot
list against the song.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dreamcut.backends.base import Progress  # the one progress callback type: fraction 0..1
from dreamcut.catalog import Take
from dreamcut.errors import BadInput
from dreamcut.pipeline.selection import selected_takes
from dreamcut.project import Project


# -- hearing the song -------------------------------------------------------------------


def analyse_song(project: Project, progress: Progress | None = None):
    """The song map: heard from the song (cached), with the spec's `song:` corrections applied (a
    corrected grid carries the heard sections onto its bar lines, where the edit cuts them)."""
    from dreamcut.analysis.audio import analyze_song, apply_corrections
    from dreamcut.edit.cut_places import sections_on_the_directors_grid

    meter = project.spec.song_map.meter if project.spec.song_map else None
    heard = analyze_song(project.song_path, cache_dir=project.cache_dir / "audio", progress=progress,
                         beats_per_bar=meter if meter in (3, 4) else None)
    return sections_on_the_directors_grid(apply_corrections(heard, project.spec.song_map))


def beat_effects(project: Project, timeline) -> list:
    """The beat-synced effect cues of the edit (`render.effects`); [] when the spec's `effects:` is off."""
    settings = project.spec.effects
    if settings is None or not settings.active:
        return []
    from dreamcut.render import effects

    hits = effects.song_hits(project.song_path, cache_dir=project.cache_dir / "audio")
    return effects.timeline_cues(timeline, settings, analyse_song(project), hits, project.spec.fps)


def speed_ramps(project: Project, timeline) -> tuple[list, list[str]]:
    """The speed ramps into downbeats of the edit (`render.effects`) and the decisions to say
    (a ramp lowered or dropped where a take has no room); ([], []) when no `ramp` level is on."""
    settings = project.spec.effects
    if settings is None or not settings.active:
        return [], []
    from dreamcut.render import effects

    return effects.timeline_ramps(timeline, settings, analyse_song(project), project.spec.fps, project.root)


def analyse_takes(project: Project, takes: list[Take], progress: Progress | None = None) -> dict:
    """Defects and scores of takes (cached by content hash); stored as the takes' scores."""
    from dreamcut.ranking import rank_take

    out = {}
    for i, take in enumerate(takes):
        result = rank_take(project, take)
        project.catalog.set_score(take.id, result.score, result.to_dict())
        out[take.id] = result
        if progress:
            progress((i + 1) / max(1, len(takes)))
    return out


# -- the edit -------------------------------------------------------------------------


def cut_path(project: Project) -> Path:
    return project.edits_dir / "cut.otio"


def make_edit(project: Project, *, progress: Progress | None = None, song=None):
    """Plan the cut from the song and the chosen takes; write edits/cut.otio."""
    from dreamcut.edit.planner import ShotInput, plan_edit
    from dreamcut.timeline import write_timeline

    spec = project.spec
    project.check_writable()
    song = song or analyse_song(project)
    # Score every take first (cached by content), so the default choice per shot is the best one.
    candidates = [t for shot in spec.shots for t in project.catalog.takes(shot.id)]
    analyses = analyse_takes(project, candidates, progress)
    warnings: list[str] = []
    chosen = selected_takes(project, warnings)
    missing = [s.id for s in spec.shots if s.id not in chosen]
    if missing:
        raise BadInput(f"no takes yet for shot(s) {', '.join(missing[:8])}", where=str(project.spec_path.name),
                       fix="run `dreamcut generate` (or `dreamcut import SHOT FILE`) first")
    selections = project.catalog.selections()
    inputs = []
    for shot in spec.shots:
        take = chosen[shot.id]
        analysis = analyses.get(take.id)
        defects = _real_defects(project, take, analysis)
        sel = selections.get(shot.id)
        source_in = sel["source_in"] if sel is not None and sel["take_id"] == take.id else None
        inputs.append(ShotInput(
            shot_id=shot.id, take_id=take.id, media=take.path, take_seconds=take.seconds, place=shot.place,
            transition=shot.transition or spec.transition, defects=defects,
            score=analysis.score if analysis else take.score, source_in=source_in))
    timeline = plan_edit(song, inputs, fps=spec.fps, size=spec.master_size, title=spec.title, song_media=spec.song,
                         pacing=spec.song_map.pacing if spec.song_map else None)
    meta = dict(timeline.metadata["dreamcut"])
    meta["warnings"] = list(meta.get("warnings", [])) + warnings
    timeline.metadata["dreamcut"] = meta
    write_timeline(timeline, cut_path(project))
    return timeline


def check_against_song(project: Project, song) -> list[tuple[str, str, str, str]]:
    """(shot, severity, message, fix) for what the edit would refuse or degrade, before anything
    is generated: pins the song map does not have, and transitions the takes leave no handle
    room for (a dry run of the planner with takes of the length asked, or the takes made)."""
    from dreamcut.edit.planner import ShotInput, degraded_items, pin_doubt, pin_time, plan_edit

    spec = project.spec
    out: list[tuple[str, str, str, str]] = []
    made = {}
    try:
        made = {t.shot_id: t for t in selected_takes(project).values()}
    except Exception:  # noqa: BLE001 - a check must not fail on an unreadable catalog; the edit will say
        made = {}
    inputs = []
    for i, shot in enumerate(spec.shots):
        take = made.get(shot.id)
        seconds = take.seconds if take is not None else spec.shot_seconds(shot)
        si = ShotInput(shot_id=shot.id, take_id=take.id if take else f"{shot.id}-planned",
                       media=take.path if take else f"takes/{shot.id}.mp4", take_seconds=seconds, place=shot.place,
                       transition=shot.transition or spec.transition)
        inputs.append(si)
        if shot.place is not None:
            try:
                pin_time(song, si)
            except BadInput as e:
                out.append((shot.id, "error", e.message, e.fix or ""))
            else:
                doubt = pin_doubt(song, si)
                if doubt:
                    out.append((shot.id, "warning", doubt, ""))
    if any(sev == "error" for _, sev, _, _ in out):
        return out
    try:
        timeline = plan_edit(song, inputs, fps=spec.fps, size=spec.master_size, title=spec.title,
                             song_media=spec.song, pacing=spec.song_map.pacing if spec.song_map else None)
    except BadInput as e:  # said loudly, but the takes may yet be made longer than the spec asks
        out.append((e.where or "*", "warning", f"the edit would refuse this: {e.message}", e.fix or ""))
        return out
    said = {(shot, what) for shot, _, what, _ in out}
    for frame, shot, what in degraded_items(timeline):
        if (shot, what) in said:  # a pin onto a guessed section, said above
            continue
        fix = "make the takes longer (seconds:) or the transition shorter (beats:)" if shot else ""
        out.append((shot or "*", "warning", what, fix))
    return out


# A scene change the director wrote into a multi-scene prompt looks like a cut or a jolt to
# the defect finder; it is the point of the take, so it is not held against it.
_SCENE_CHANGE_LOOKALIKES = {"cut", "motion_spike", "flash"}


def _real_defects(project: Project, take: Take, analysis) -> tuple[tuple[float, float, str], ...]:
    if analysis is None:
        return ()
    from dreamcut.ranking import take_scenes

    boundaries = [seg.start for seg in (take_scenes(project, take) or ())[1:]]
    return tuple((d.start, d.end, d.kind) for d in analysis.defects
                 if not (d.kind in _SCENE_CHANGE_LOOKALIKES
                         and any(d.start - 0.75 <= b <= d.end + 0.75 for b in boundaries)))


def conformed_path(project: Project) -> Path:
    return project.edits_dir / "conformed.otio"


@dataclass(frozen=True)
class EditSource:
    """Which edit is the project's current one: the planner's cut or an NLE's edit read back by
    `conform`. `conformed_from` names the NLE file and `conformed_at` when (Unix time)."""

    path: Path
    conformed_from: str | None = None
    conformed_at: float | None = None

    @property
    def conformed(self) -> bool:
        return self.conformed_from is not None

    def describe(self) -> str:
        if not self.conformed:
            return "planned by `dreamcut edit`"
        import time

        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.conformed_at or 0))
        return f"conformed from {self.conformed_from} at {stamp}"


def current_edit(project: Project) -> EditSource:
    """The edit renders, exports and the board use: edits/conformed.otio when `conform` wrote it
    after the last `dreamcut edit`, else edits/cut.otio. So re-rendering after a conform keeps
    the NLE's edit; only an explicit `dreamcut edit` (a new plan) sets it aside."""
    cut, conformed = cut_path(project), conformed_path(project)
    if conformed.is_file() and (not cut.is_file() or conformed.stat().st_mtime_ns >= cut.stat().st_mtime_ns):
        try:
            meta = json.loads(conformed.read_text()).get("metadata", {}).get("dreamcut", {})
        except (OSError, ValueError, AttributeError):
            meta = {}
        return EditSource(conformed, str(meta.get("conformed_from") or conformed.name),
                          float(meta.get("conformed_at") or conformed.stat().st_mtime))
    return EditSource(cut)


def planned_cuts(project: Project) -> list[float]:
    """Record times (s) of the cuts in the current edit; [] when there is none (or it is unreadable)."""
    if not cut_path(project).is_file():
        return []
    try:
        timeline = load_edit(project)
    except BadInput:
        return []
    out = []
    for item in timeline.tracks[0]:
        m = item.metadata.get("dreamcut", {}) if hasattr(item, "metadata") else {}
        start = m.get("record_start")
        if start is not None and float(start) > 0:
            out.append(round(float(start), 4))
    return out


def load_edit(project: Project):
    """The current edit (`current_edit`) as a timeline."""
    from dreamcut.timeline import read_timeline

    path = current_edit(project).path
    if not path.is_file():
        raise BadInput("there is no edit yet", where=project.rel(path), fix="run `dreamcut edit` first")
    return read_timeline(path, where=project.rel(path))
