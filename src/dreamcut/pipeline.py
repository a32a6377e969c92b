"""The main job, step by step: generate -> hear the song -> cut -> render -> upscale -> export.

Each step reads what the previous one wrote in the project folder, so any step can run
on its own (`dreamcut edit`, `dreamcut render`, ...) and a crash loses at most the step
in progress. This module only sequences library calls and chooses file names; every
decision lives in the modules it calls (planner, orchestrator, renderer, exporters).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dreamcut.catalog import Take
from dreamcut.errors import BadInput, WorkFailed
from dreamcut.project import Project

Progress = Callable[[float], None]


# -- generate -------------------------------------------------------------------------


def generate(project: Project, *, shots: list[str] | None = None, on_take=None, **orchestrator_options):
    """Make every take the shot list asks for (resuming anything already made)."""
    from dreamcut.generate.batch import plan_takes
    from dreamcut.generate.orchestrator import Orchestrator

    project.check_writable()
    planned = plan_takes(project.spec, root=str(project.root), shots=shots)
    summary = Orchestrator(project, **orchestrator_options).run(planned, on_progress=on_take)
    project.catalog.backup("after-generate")  # `dreamcut catalog restore` puts it back
    return summary


# -- the check ------------------------------------------------------------------------


def check(project: Project, progress: Progress | None = None):
    """Everything that refuses a shot list: `generate.validate.validate` plus the song map's checks
    (pins the song has, handle room for transitions). `dreamcut check` prints it; `generate` and
    `make` call it and refuse (`.refuse()`) before any money is spent."""
    from dreamcut.generate.validate import Problem, validate

    result = validate(project)
    heard = analyse_song(project, progress=progress)
    for shot_id, severity, message, fix in check_against_song(project, heard):
        result.problems.append(Problem(shot_id, severity, message, fix))
    return result


# -- selection ------------------------------------------------------------------------


def current_prompts(project: Project) -> dict[str, set[str]]:
    """The prompts the shot list asks for now, per shot (what a take made today would be sent)."""
    from dreamcut.generate.batch import plan_takes

    out: dict[str, set[str]] = {}
    for p in plan_takes(project.spec, root=str(project.root)):
        out.setdefault(p.shot_id, set()).add(p.request.prompt)
    return out


def is_stale(take: Take, current: dict[str, set[str]]) -> bool:
    """A generated take whose prompt is not one the shot list asks for now. Imported
    takes (no prompt of ours) are never stale."""
    return take.source == "generated" and bool(take.prompt) and take.prompt not in current.get(take.shot_id, set())


def selected_takes(project: Project, notes: list[str] | None = None) -> dict[str, Take]:
    """The take each shot uses: the director's selection, else the best-rated, else the
    best-scored, else the first made. Rejected takes are never chosen by default, and a
    take made from an older prompt only when the shot has no take from its current one
    (said in `notes`); a director's explicit selection is kept either way."""
    catalog = project.catalog
    chosen: dict[str, Take] = {}
    explicit = catalog.selections()
    current = current_prompts(project)
    for shot in project.spec.shots:
        takes = catalog.takes(shot.id)
        if not takes:
            continue
        by_id = {t.id: t for t in takes}
        if shot.id in explicit and explicit[shot.id]["take_id"] in by_id:
            chosen[shot.id] = by_id[explicit[shot.id]["take_id"]]
            continue
        reviews = {t.id: catalog.review(t.id) for t in takes}
        candidates = [t for t in takes if reviews[t.id]["status"] != "rejected"] or takes
        fresh = [t for t in candidates if not is_stale(t, current)]
        stale_only = not fresh
        candidates = fresh or candidates
        selected = [t for t in candidates if reviews[t.id]["status"] == "selected"]
        pool = selected or candidates

        chosen[shot.id] = sorted(pool, key=lambda t: take_rank(t, reviews[t.id]))[0]
        if stale_only and notes is not None:
            notes.append(f"{shot.id}: stale take {chosen[shot.id].id} used: it was made from an older prompt "
                         "(run `dreamcut generate` for takes of the current one, or select this take to keep it)")
    return chosen


def take_rank(take: Take, review: dict) -> tuple:
    """How takes of a shot rank, best first: rating, then score, then the first made."""
    rating = review["rating"] or 0
    score = take.score if take.score is not None else -1.0
    return (-rating, -score, take.created_at, take.id)


def ranked_takes(project: Project, shot_id: str) -> list[Take]:
    """A shot's takes best first (`take_rank`), rejected ones last: what a swap offers."""
    catalog = project.catalog
    takes = catalog.takes(shot_id)
    reviews = {t.id: catalog.review(t.id) for t in takes}
    return sorted(takes, key=lambda t: (reviews[t.id]["status"] == "rejected", take_rank(t, reviews[t.id])))


# -- hearing the song -------------------------------------------------------------------


def analyse_song(project: Project, progress: Progress | None = None):
    """The song map: heard from the song (cached), with the spec's `song:` corrections applied."""
    from dreamcut.analysis.audio import analyze_song, apply_corrections

    meter = project.spec.song_map.meter if project.spec.song_map else None
    heard = analyze_song(project.song_path, cache_dir=project.cache_dir / "audio", progress=progress,
                         beats_per_bar=meter if meter in (3, 4) else None)
    return apply_corrections(heard, project.spec.song_map)


def beat_effects(project: Project, timeline) -> list:
    """The beat-synced effect cues of the edit (`render.effects`); [] when the spec's `effects:` is off."""
    settings = project.spec.effects
    if settings is None or not settings.active:
        return []
    from dreamcut.render import effects

    hits = effects.song_hits(project.song_path, cache_dir=project.cache_dir / "audio")
    return effects.timeline_cues(timeline, settings, analyse_song(project), hits, project.spec.fps)


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
    from dreamcut.edit.planner import ShotInput, degraded_items, pin_time, plan_edit

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
    if any(sev == "error" for _, sev, _, _ in out):
        return out
    try:
        timeline = plan_edit(song, inputs, fps=spec.fps, size=spec.master_size, title=spec.title,
                             song_media=spec.song, pacing=spec.song_map.pacing if spec.song_map else None)
    except BadInput as e:  # said loudly, but the takes may yet be made longer than the spec asks
        out.append((e.where or "*", "warning", f"the edit would refuse this: {e.message}", e.fix or ""))
        return out
    for frame, shot, what in degraded_items(timeline):
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


# -- render ---------------------------------------------------------------------------


def render_paths(project: Project) -> tuple[Path, Path]:
    spec = project.spec
    ext = ".mov" if spec.render.codec == "prores" else ".mp4"
    master = project.renders_dir / f"final_{spec.render.master}{ext}"
    final = project.renders_dir / f"final_{spec.render.resolution}{ext}"
    return master, final


def render_inputs(project: Project, timeline, master: Path, final: Path) -> str:
    """A fingerprint of everything a render reads: the edit, every take file and the song
    (path, size, modification time), and the render settings. Same fingerprint, same video."""
    import hashlib

    import opentimelineio as otio

    spec = project.spec
    h = hashlib.sha256()
    h.update(otio.adapters.write_to_string(timeline, adapter_name="otio_json").encode())
    media = sorted({c.media_reference.target_url for c in timeline.find_clips()
                    if getattr(c.media_reference, "target_url", None)})
    for rel in media + [spec.song]:
        path = project.abs(rel) if not Path(rel).is_absolute() else Path(rel)
        st = path.stat() if path.exists() else None
        h.update(f"{rel}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}\n".encode())
    if spec.effects is not None and spec.effects.active:  # absent when off: fingerprints made before stay valid
        h.update(json.dumps({"effects": spec.effects.model_dump()}, sort_keys=True).encode())
    h.update(json.dumps({"render": spec.render.model_dump(), "overlay": overlay_on(project),
                         "song_map": spec.song_map.model_dump() if spec.song_map else None, "fps": spec.fps, "size": spec.master_size,
                         "final": spec.final_size, "caption": spec.caption, "outputs": [str(master), str(final)]},
                        sort_keys=True, default=str).encode())
    return h.hexdigest()


def _render_stamp(project: Project) -> Path:
    return project.state_dir / "render-inputs.json"


def render(project: Project, timeline=None, *, master_progress: Progress | None = None,
           upscale_progress: Progress | None = None, upscale_to_final: bool = True,
           say: Callable[[str], None] | None = None, force: bool = False) -> tuple[Path, Path]:
    """Render the cut at the master size with the song, then upscale it to the final size.

    When the edit, the takes, the song and the settings are what the last render read
    (and its files are still there), nothing is rendered again, and `say` hears so;
    force=True renders anyway.

    Each output is encoded once, its disclosure tags set by the encode, then signed and
    verified under a temp name; only then does it replace the previous file (one rename), so
    a failing render (a bad signing setting, a damaged take, a kill) leaves the previous signed
    renders as they were. Temp files of runs that died are removed first.
    upscale_to_final=False renders the master only and removes a final render that no longer
    matches it (saying so through `say`), rather than leaving a stale one.
    """
    from dreamcut.media import staged_path, sweep_stale
    from dreamcut.provenance import disclosure_metadata, sign_render
    from dreamcut.render.ffmpeg import render_timeline
    from dreamcut.render.upscale import upscale

    spec = project.spec
    project.check_writable()
    timeline = timeline if timeline is not None else load_edit(project)
    master, final = render_paths(project)
    fingerprint = render_inputs(project, timeline, master, final)
    stamp = _render_stamp(project)
    if not force and master.is_file() and final.is_file() and stamp.is_file():
        try:
            last = json.loads(stamp.read_text(encoding="utf-8"))
        except ValueError:
            last = {}
        if last.get("inputs") == fingerprint and last.get("master_size") == master.stat().st_size \
                and last.get("final_size") == final.stat().st_size:
            if say:
                say(f"render: edit, takes, song and settings unchanged; kept {project.rel(master)}"
                    + (f" and {project.rel(final)}" if final != master else ""))
            return master, final
    stamp.unlink(missing_ok=True)
    master.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(master.parent)
    tags = disclosure_metadata(project, timeline)
    cues = beat_effects(project, timeline)
    fx = None
    if cues:
        from dreamcut.render.effects import filter_chain

        def fx(work: tuple[int, int]) -> str:
            return filter_chain(cues, spec.fps, work)
    with staged_path(master) as new_master:
        render_timeline(timeline, project.root, new_master, size=spec.master_size, fps=spec.fps,
                        codec=spec.render.codec, crf=spec.render.crf, preset=spec.render.preset,
                        progress=master_progress, metadata=tags, overlay=_program_overlay(project, timeline),
                        effects=fx)
        sign_render(project, new_master, timeline, disclose=False, title=master.name)
        _check_signed(project, new_master, master)
        if master == final or not upscale_to_final:
            os.replace(new_master, master)
            if master == final:
                _stamp_render(stamp, fingerprint, master, final)
            if master != final and final.exists():
                final.unlink()
                if say:
                    say(f"removed {project.rel(final)}: it was upscaled from the previous master "
                        "(run `dreamcut render` to make it again)")
            return master, final
        with staged_path(final) as new_final:
            upscale(new_master, new_final, spec.final_size, method=spec.render.upscaler, progress=upscale_progress,
                    crf=spec.render.crf, preset=spec.render.preset, metadata=tags)
            sign_render(project, new_final, timeline, parent=new_master, disclose=False, title=final.name,
                        parent_title=master.name)
            _check_signed(project, new_final, final)
            os.replace(new_master, master)
            os.replace(new_final, final)
    _stamp_render(stamp, fingerprint, master, final)
    return master, final


def _stamp_render(stamp: Path, fingerprint: str, master: Path, final: Path) -> None:
    from dreamcut.media import write_text_atomic

    write_text_atomic(stamp, json.dumps({"inputs": fingerprint, "master_size": master.stat().st_size,
                                         "final_size": final.stat().st_size}))


def write_song_picture(project: Project, song, target: Path | None = None) -> Path:
    """renders/song.png: the song map with the planned cuts (see `dreamcut song`)."""
    from dreamcut.render.song_picture import draw_song_map

    return draw_song_map(song, target or project.renders_dir / "song.png", cuts=planned_cuts(project))


def overlay_on(project: Project) -> bool:
    """Whether renders carry the program overlay: `render.overlay`, else on for animatic projects."""
    setting = project.spec.render.overlay
    return project.spec.backend_ref.name == "animatic" if setting is None else bool(setting)


def _program_overlay(project: Project, timeline) -> str | None:
    """The overlay filter for this render (an ASS script in the project state folder), or None."""
    if not overlay_on(project):
        return None
    from dreamcut.media import write_text_atomic
    from dreamcut.render.overlay import overlay_filter, program_ass

    spec = project.spec
    song = analyse_song(project)
    shots = []
    for item in timeline.tracks[0]:
        m = item.metadata.get("dreamcut", {}) if hasattr(item, "metadata") else {}
        if "record_start" in m:
            shots.append((float(m["record_start"]), float(m["record_end"]), str(m.get("shot", ""))))
    duration = shots[-1][1] if shots else song.duration
    ass = project.state_dir / "overlay.ass"
    write_text_atomic(ass, program_ass(song, shots, spec.master_size, duration))
    return overlay_filter(ass, spec.master_size)


def _check_signed(project: Project, path: Path, shown: Path) -> None:
    """The just-signed render verifies (else WorkFailed, and the previous render stays)."""
    from dreamcut.provenance import verify

    report = verify(path, project)
    if not (report.has_manifest and report.valid):
        raise WorkFailed(f"the signed render does not verify ({', '.join(report.problems) or 'no manifest'})",
                         where=project.rel(shown), fix="rerun the render; the previous render was kept")


# -- export ---------------------------------------------------------------------------


def export(project: Project, timeline=None, *, progress: Progress | None = None) -> dict[str, Path]:
    """Write the NLE exports (`nle.export`), sign them, check the signatures, then move them into exports/.

    The files are made in a work folder inside exports/ and replace the previous ones only once
    all of them are written and verified (one rename each); a failure leaves the previous
    exports as they were. Leftovers of runs that died are removed first.
    """
    import shutil
    import tempfile

    from dreamcut.media import sweep_stale
    from dreamcut.nle.export import export_all
    from dreamcut.provenance import sign_exports, verify

    project.check_writable()
    timeline = timeline if timeline is not None else load_edit(project)
    final_dir = project.exports_dir
    final_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(final_dir)
    stage = Path(tempfile.mkdtemp(prefix=f".dreamcut-export-pid{os.getpid()}-", dir=final_dir))
    try:
        from dreamcut.render.effects import with_markers

        # The effects ride along as markers: no NLE format carries the expressions themselves.
        marked = with_markers(timeline, beat_effects(project, timeline), project.spec.fps)
        staged = export_all(marked, project.root, final_dir, stage_dir=stage, progress=progress)
        sign_exports(project, staged, timeline)
        for path in staged.values():
            if path.parent == stage:
                report = verify(path, project)
                if not report.valid:
                    raise WorkFailed(f"the signed export does not verify ({', '.join(report.problems) or 'no credentials'})",
                                     where=project.rel(final_dir / path.name),
                                     fix="rerun the export; the previous exports were kept")
        for path in sorted(stage.iterdir()):
            os.replace(path, final_dir / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {k: final_dir / v.name if v.parent == stage else v for k, v in staged.items()}


# -- deliverables ---------------------------------------------------------------------


def deliver_dir(project: Project) -> Path:
    return project.renders_dir / "deliver"


def deliver(project: Project, *, target=None, short_side: int = 1080, aspects: tuple[str, ...] = ("16:9", "9:16", "1:1"),
            teaser_aspects: tuple[str, ...] = ("16:9", "9:16"), teasers: tuple[float, ...] | None = None,
            progress: Callable[[float, str], None] | None = None, say: Callable[[str], None] | None = None):
    """Write the release versions of the master render into renders/deliver/ (`render.deliver`).

    Every file is written under a temp name, its loudness measured, signed with the master as its
    parent, verified; only when all are ready do they replace the previous ones (one rename each),
    so a failure leaves the previous deliverables as they were. Returns the `Delivered` list.
    """
    import shutil
    import tempfile

    from dreamcut import timeline as tl
    from dreamcut.media import probe, sweep_stale
    from dreamcut.provenance import disclosure_metadata, sign_render
    from dreamcut.render import deliver as dl
    from dreamcut.render.ffmpeg import plan_render

    spec = project.spec
    project.check_writable()
    target = target or dl.LoudnessTarget()
    teasers = dl.TEASER_SECONDS if teasers is None else teasers
    master, _ = render_paths(project)
    if not master.is_file():
        raise BadInput("there is no master render yet", where=project.rel(master), fix="run `dreamcut render` first")
    timeline = load_edit(project)
    # The overrides are checked before any work: a shot named in the spec but not in the edit is fine.
    fps = spec.fps
    plan = plan_render(timeline, fps)
    info = probe(master)
    if info.video is None or info.audio is None:
        raise BadInput("the master render has no video or no audio", where=project.rel(master),
                       fix="run `dreamcut render` again")
    master_size = (info.video.width, info.video.height)
    master_seconds = plan.total_frames / fps
    if abs(info.duration - master_seconds) > 2.0 / fps + 0.05:
        raise BadInput(f"the master lasts {info.duration:.2f} s but the edit {master_seconds:.2f} s",
                       where=project.rel(master), fix="run `dreamcut render` to render the current edit")
    report = progress or (lambda f, what: None)
    out_dir = deliver_dir(project)
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(out_dir)

    # Teaser windows: the song analysis the edit was cut to.
    windows: dict[float, object] = {}
    if teasers:
        song = analyse_song(project)
        for seconds in teasers:
            w = dl.teaser_window(song, song_start=plan.song_start, master_seconds=master_seconds, seconds=seconds)
            windows[seconds] = w
            if say and w is None:
                say(f"no {seconds:g} s teaser: the master lasts {master_seconds:.1f} s")
            elif say and w.degraded:
                say(f"{seconds:g} s teaser: {w.reason}")
    items = dl.plan_deliverables(master_size=master_size, master_seconds=master_seconds, short_side=short_side,
                                 aspects=list(aspects), teaser_aspects=list(teaser_aspects), windows=windows)

    # The crop path: the subject tracked on the master, per shot, with the spec's overrides.
    xs_by_aspect: dict[str, list[int]] = {}
    reframes = [a for a in dict.fromkeys(i.aspect for i in items) if a != "16:9"]
    if reframes:
        fixed = {s.id: s.reframe.x for s in spec.shots if s.reframe is not None}
        shots = [(c.record_start, c.record_end, fixed.get(c.shot or "")) for c in tl.clips(timeline, fps)]
        samples = [] if all(f is not None for _, _, f in shots) else dl.track_subject(
            master, progress=lambda f: report(0.1 * f, "finding the subject"), seconds=master_seconds)
        for aspect in reframes:
            cw, _ = dl.crop_box(aspect, master_size)
            path = dl.crop_path(samples, frames=plan.total_frames, fps=fps, shots=shots, crop_fraction=cw / master_size[0])
            xs_by_aspect[aspect] = dl.crop_x_pixels(path, master_size[0], cw)

    tags = disclosure_metadata(project, timeline)
    stage = Path(tempfile.mkdtemp(prefix=f".dreamcut-deliver-pid{os.getpid()}-", dir=out_dir))
    delivered = []
    try:
        audio: dict[tuple[float, float], object] = {}   # one normalised audio per window, shared by its versions
        for k, item in enumerate(items):
            share = 0.9 / len(items)
            step = lambda f, k=k, item=item: report(0.1 + share * (k + f), item.name)  # noqa: E731
            window = (item.start, item.seconds)
            if window not in audio:
                audio[window] = dl.normalise_audio(master, stage / f"audio_{len(audio)}.wav", target,
                                                   start=item.start if item.teaser else 0.0,
                                                   seconds=item.seconds if item.teaser else None, fades=item.teaser)
            staged = stage / item.name
            dl.encode(master, staged, item, fps=fps, master_size=master_size, xs=xs_by_aspect.get(item.aspect),
                      audio=audio[window].wav, work_dir=stage, crf=spec.render.crf,
                      preset=spec.render.preset, metadata=tags, progress=step)
            loud = dl.measure_ebur128(staged)
            if say and loud.true_peak > target.true_peak + 0.1:
                say(f"{item.name}: true peak {loud.true_peak:+.1f} dBTP is over the {target.true_peak:g} dBTP "
                    "ceiling after the AAC encode (the limiter held the WAV under it)")
            sign_render(project, staged, timeline, parent=master, disclose=False, title=item.name,
                        parent_title=master.name,
                        derived=_derivation(item, master_size, target, audio[window]))
            _check_signed(project, staged, out_dir / item.name)
            got = probe(staged)
            delivered.append(dl.Delivered(name=item.name, path=project.rel(out_dir / item.name), aspect=item.aspect,
                                          width=got.video.width, height=got.video.height, seconds=got.duration,
                                          bytes=staged.stat().st_size, loudness=loud, teaser=item.teaser,
                                          note="; ".join(x for x in (item.note, _audio_note(audio[window])) if x)))
        for item in items:
            os.replace(stage / item.name, out_dir / item.name)
        # A deliverable of a previous run that this run did not make (a shorter master) would be stale.
        made = {i.name for i in items}
        for old in out_dir.glob("*.mp4"):
            if old.name not in made:
                old.unlink()
                if say:
                    say(f"removed {project.rel(old)}: it was made from a previous master")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    report(1.0, "done")
    return delivered


def _audio_note(audio) -> str:
    return f"audio {audio.gain_db:+.1f} dB" + (", peaks limited" if audio.limited else "")


def _derivation(item, master_size: tuple[int, int], target, audio) -> list[tuple[str, str]]:
    """What was done to the master to make a deliverable, as C2PA actions (action, description)."""
    steps = []
    if item.teaser:
        steps.append(("c2pa.trimmed", f"{item.seconds:g} s teaser from {item.start:.2f} s ({item.note})"))
    if item.aspect != "16:9":
        steps.append(("c2pa.cropped", f"reframed to {item.aspect} around the subject"))
    if tuple(item.size) != tuple(master_size):
        steps.append(("c2pa.resized", f"{list(master_size)} -> {list(item.size)}"))
    steps.append(("c2pa.edited", f"audio loudness-normalised to {target.integrated:g} LUFS, true peak "
                                 f"{target.true_peak:g} dBTP (EBU R128): {audio.gain_db:+.1f} dB"
                                 + (", peaks limited" if audio.limited else "")))
    return steps
