"""Finishing commands: `conform` (an NLE's edit back into renders), `upscalers` (what can upscale here), `deliver`."""

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


@app.command()
def deliver(
    lufs: float = typer.Option(-14.0, "--lufs", help="Integrated loudness target, LUFS (EBU R128; -14 for streaming)."),
    true_peak: float = typer.Option(-1.0, "--true-peak", help="True peak ceiling, dBTP."),
    short_side: int = typer.Option(1080, "--short-side", help="Short side of the 9:16 and 1:1 versions (1080 -> 1080x1920)."),
    aspects: str = typer.Option("16:9,9:16,1:1", "--aspects", help="Full-length versions to write (comma list)."),
    teaser_aspects: str = typer.Option("16:9,9:16", "--teaser-aspects", help="Aspects of the 15 s and 30 s teasers."),
    teasers: bool = typer.Option(True, "--teasers/--no-teasers", help="Also cut the 15 s and 30 s teasers."),
    as_json: bool = typer.Option(False, "--json", help="Print the deliverables and their figures as JSON."),
) -> None:
    """Write the release versions of the master render into renders/deliver/.

    From renders/final_<master>.mp4 (run `dreamcut render` first): the 16:9 master, a 9:16
    (1080x1920) and a 1:1 version reframed around the subject (a shot's `reframe: left|center|right`
    or `{x: 0..1}` in dreamcut.yaml fixes its crop), cropped from the larger final render (2K) when
    its credentials say it was upscaled from this master, else from the master (said in one line),
    and 15 s and 30 s teasers cut from the
    strongest chorus on a downbeat, with short audio fades. The audio of each is normalised to
    the target (loudnorm's measurement, then a measured gain and peak limiter) and measured (ebur128); each file is signed with
    the render it was cut from as its parent. The previous deliverables are replaced only when every new one is ready.
    """
    import json

    from rich.table import Table

    from dreamcut import pipeline
    from dreamcut.cli.app import console
    from dreamcut.render.deliver import LoudnessTarget, parse_aspects

    project = open_project()
    target = LoudnessTarget(integrated=lufs, true_peak=true_peak)
    full = parse_aspects(aspects, "--aspects")
    teaser_list = parse_aspects(teaser_aspects, "--teaser-aspects")
    with progress_bar() as bar:
        task = bar.add_task("deliverables", total=100)
        update = fraction_updater(bar, task)
        done = pipeline.deliver(project, target=target, short_side=short_side, aspects=tuple(full),
                                teaser_aspects=tuple(teaser_list), teasers=None if teasers else (),
                                progress=update, say=say if not as_json else _say_to_stderr)
    if as_json:
        print(json.dumps({"target": {"integrated_lufs": target.integrated, "true_peak_dbtp": target.true_peak},
                          "outputs": [d.to_dict() for d in done]}, indent=2))
        return
    folder = project.rel(pipeline.deliver_dir(project))
    table = Table(title=f"{folder}/ (target {target.integrated:g} LUFS, {target.true_peak:g} dBTP)")
    for col in ("file", "size", "from", "seconds", "MB", "LUFS", "dBTP", "note"):
        table.add_column(col)
    for d in done:
        table.add_row(d.name, f"{d.width}x{d.height}", d.source.rsplit("/", 1)[-1], f"{d.seconds:.2f}",
                      f"{d.bytes / 1e6:.1f}", f"{d.loudness.integrated:.1f}", f"{d.loudness.true_peak:.1f}", d.note)
    console.print(table)


def _say_to_stderr(message: str) -> None:
    """With --json, the lines said to the user (a degraded decision) go to stderr, stdout stays JSON."""
    import sys

    print(message, file=sys.stderr)
