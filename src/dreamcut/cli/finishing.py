"""Finishing commands: `conform` (an NLE's edit back into renders) and `upscalers` (what can upscale here)."""

from __future__ import annotations

from pathlib import Path

import typer

from dreamcut.cli.app import app, fraction_updater, open_project, progress_bar, say


@app.command()
def conform(
    edit: Path = typer.Argument(..., help="The edit exported by your NLE: .otio, FCP7 .xml (Premiere) or .edl."),
    upscale_to_final: bool = typer.Option(True, "--upscale/--no-upscale",
                                          help="Also upscale the master to the final size (renders/final_2k.mp4)."),
) -> None:
    """Read back an edit changed in an NLE (reordered, trimmed, takes swapped) and re-render it.

    Writes edits/conformed.otio, the master render (renders/final_720p.mp4 by default) and,
    unless --no-upscale, the final upscale (renders/final_2k.mp4, with the spec's upscaler),
    through the same render step as `dreamcut render` (so renders are signed the same way).
    With --no-upscale a final render made from the previous master is removed, with a line.
    The project's own edit (edits/cut.otio) is left as it is.
    """
    from dreamcut import pipeline
    from dreamcut.nle.conform import read_edit
    from dreamcut.render.ffmpeg import timeline_frames
    from dreamcut.render.upscale import interpolate
    from dreamcut.timeline import write_timeline

    project = open_project(write="conform")
    spec = project.spec
    edit = edit if edit.is_absolute() else Path.cwd() / edit
    project.check_writable()
    timeline = read_edit(edit, project.root, fps=spec.fps, song=spec.song, size=spec.master_size)
    frames = timeline_frames(timeline, spec.fps)
    clips = sum(1 for _ in timeline.tracks[0].find_clips())
    import time

    # Recorded in the edit, so the board and `dreamcut render` can say which edit they show.
    timeline.metadata.setdefault("dreamcut", {}).update(conformed_from=edit.name, conformed_at=round(time.time(), 3))
    write_timeline(timeline, pipeline.conformed_path(project))
    master, final = pipeline.render_paths(project)
    w, h = spec.master_size
    fw, fh = spec.final_size
    with progress_bar() as bar:
        render_task = bar.add_task(f"render {w}x{h}", total=100)
        upscale_task = bar.add_task(f"upscale {fw}x{fh} ({spec.render.upscaler})", total=100,
                                    visible=upscale_to_final and master != final)
        # The pipeline's own render step: same file names, same provenance signing, old renders kept on failure.
        master, final = pipeline.render(project, timeline, master_progress=fraction_updater(bar, render_task),
                                        upscale_progress=fraction_updater(bar, upscale_task),
                                        upscale_to_final=upscale_to_final, say=say)
        if upscale_to_final and spec.render.interpolate_fps:
            task = bar.add_task(f"interpolate to {spec.render.interpolate_fps} fps", total=100)
            smooth = final.with_name(f"{final.stem}_{spec.render.interpolate_fps}fps{final.suffix}")
            interpolate(final, smooth, spec.render.interpolate_fps, progress=fraction_updater(bar, task))
    say(f"conformed {edit.name}: {clips} clips, {frames / spec.fps:.2f} s -> {project.rel(master)}"
        + (f", {project.rel(final)}" if upscale_to_final and final != master else ""))


@app.command()
def upscalers() -> None:
    """List the upscalers and whether each can run on this machine (and why not)."""
    from rich.markup import escape

    from dreamcut.render.upscale import available_upscalers

    for name, reason in available_upscalers().items():
        say(escape(f"{name:<11} {'ready' if reason is None else 'unavailable: ' + reason}"))
