"""The finished picture and the NLE hand-off: render (master, then the 2K upscale, signed and
verified before they replace the last ones; skipped when nothing it reads changed) and export.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from dreamcut.backends.base import Progress  # the one progress callback type: fraction 0..1
from dreamcut.errors import WorkFailed
from dreamcut.pipeline.cut import analyse_song, beat_effects, load_edit, planned_cuts, speed_ramps
from dreamcut.project import Project


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
    ramps, ramp_notes = speed_ramps(project, timeline)
    for note in ramp_notes:
        if say:
            say(f"effects: {note}")
    fx = None
    if cues:
        from dreamcut.render.effects import filter_chain

        def fx(work: tuple[int, int]) -> str:
            return filter_chain(cues, spec.fps, work)
    with staged_path(master) as new_master:
        render_timeline(timeline, project.root, new_master, size=spec.master_size, fps=spec.fps,
                        codec=spec.render.codec, crf=spec.render.crf, preset=spec.render.preset,
                        progress=master_progress, metadata=tags, overlay=_program_overlay(project, timeline),
                        effects=fx, ramps=ramps)
        sign_render(project, new_master, timeline, disclose=False, title=master.name)
        check_signed(project, new_master, master)
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
            check_signed(project, new_final, final)
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


def check_signed(project: Project, path: Path, shown: Path) -> None:
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
        marked = with_markers(timeline, beat_effects(project, timeline), project.spec.fps,
                              speed_ramps(project, timeline)[0])
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
