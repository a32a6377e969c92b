"""The main job's commands: init, check, make, demo, edit, render, export."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dreamcut.cli.app import app, console, err_console, fraction_updater, open_project, progress_bar, say
from dreamcut.errors import BadInput


@app.command()
def init(
    directory: Path = typer.Argument(..., help="Folder for the new project (created if missing)."),
    song: Optional[Path] = typer.Option(None, "--song", help="Copy this song into the project as its song."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing dreamcut.yaml."),
) -> None:
    """Start a project: write a commented example shot list (dreamcut.yaml) to edit.

    With --song, the shot list covers that song: one shot per phrase, takes long enough for it."""
    from dreamcut.demo.project import init_template
    from dreamcut.media import write_text_atomic

    target = directory / "dreamcut.yaml"
    if target.exists() and not force:
        raise BadInput("already has a dreamcut.yaml", where=str(directory),
                       fix="choose another folder, or pass --force to overwrite it")
    if song is not None and not song.is_file():
        raise BadInput("song file does not exist", where=str(song), fix="give the path of an audio file")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if song is not None:
            from dreamcut.analysis.audio import analyze_song

            heard = analyze_song(song)
            text = init_template(duration=heard.duration, bpm=heard.tempo, beats_per_bar=heard.beats_per_bar)
        else:
            text = init_template()
        if song is not None:
            dest = directory / f"song{song.suffix.lower()}"
            shutil.copyfile(song, dest)
            text = text.replace("song: song.wav", f"song: {dest.name}")
        write_text_atomic(target, text)
    except OSError as e:
        raise BadInput(f"cannot write the project: {e.strerror}", where=str(directory),
                       fix="choose a writable folder") from None
    say(f"wrote {target}")
    say("next: put your song in the folder (named in `song:`), edit the shots, then `dreamcut check`")


def _shot_table(spec) -> Table:
    table = Table(title=f"{spec.title} — {len(spec.shots)} shots", show_lines=False)
    for col in ("shot", "seconds", "takes", "backend", "scenes", "placed at", "then"):
        table.add_column(col)
    for shot in spec.shots:
        scenes = 1 if isinstance(shot.prompt, str) else len(shot.prompt)
        place = ""
        if shot.place:
            place = next(f"{k} {v}" for k, v in shot.place.model_dump().items() if v is not None)
        transition = (shot.transition or spec.transition).kind
        table.add_row(shot.id, f"{spec.shot_seconds(shot):g}", str(spec.shot_takes(shot)), str(spec.shot_backend(shot)),
                      str(scenes), place, transition)
    return table


@app.command()
def check(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document (problems, estimate) instead of text; "
                                                      "the exit code still says whether the shot list is ready."),
) -> None:
    """Validate the shot list and say what will happen: shots, takes, seconds, estimated cost."""
    from dreamcut import pipeline

    project = open_project()
    spec = project.spec
    if not as_json:
        console.print(_shot_table(spec))
    with progress_bar(transient=True) as bars:
        task = bars.add_task("hearing the song", total=100)
        # The same function `generate` and `make` run before any money is spent.
        result = pipeline.check(project, progress=fraction_updater(bars, task))
    problems, est = result.problems, result.estimate
    from dreamcut.backends._cast import explain as explain_cast

    cast_lines = explain_cast(spec, str(project.root))
    if as_json:
        from dreamcut.cli.json_out import check_document, emit

        doc = check_document(problems, est, song=spec.song, song_seconds=result.song_seconds, budget=spec.budget_usd)
        doc["cast"] = cast_lines  # what each backend does with the cast (backends._cast.explain)
        emit(doc)
        if not doc["ok"]:
            raise SystemExit(2)
        return
    for pr in problems:
        if pr.shot_id == "*":
            continue
        colour = "red" if pr.severity == "error" else "yellow"
        console.print(f"[{colour}]{pr.severity}[/]: shot {pr.shot_id}: {pr.message}" + (f" (fix: {pr.fix})" if pr.fix else ""),
                      highlight=False)
    say(f"song: {spec.song}, {result.song_seconds:.1f} s; takes: {est.takes} x ~{est.seconds / max(1, est.takes):.1f} s "
        f"= {est.seconds:.0f} s of video to generate")
    for b in est.by_backend.values():
        say(f"  {b.backend}: {b.takes} takes, {b.seconds:.0f} s, ${b.usd:,.2f}"
            + (f" at ${b.price_per_second:.3f}/s ({b.price_source})" if b.price_per_second else ""))
    say(f"estimated cost: ${est.usd:,.2f} of a ${spec.budget_usd:,.2f} budget")
    if cast_lines:
        say("cast (what each backend does with the reference images):")
        for line in cast_lines:
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    for pr in problems:
        if pr.shot_id == "*":  # song-wide: a warning (pacing dropped, a weak pulse) stays a warning
            colour = "red" if pr.severity == "error" else "yellow"
            console.print(f"[{colour}]{pr.severity}[/]: {pr.message}" + (f" (fix: {pr.fix})" if pr.fix else ""),
                          highlight=False)
    if result.errors and not est.over_budget:
        raise BadInput(f"{len(result.errors)} problem(s) in the shot list (listed above)", where="dreamcut.yaml",
                       fix="fix them, then run `dreamcut check` again")
    result.refuse()
    say("[green]ok[/]: ready to `dreamcut generate`")


def _run_pipeline(project, *, skip_generate: bool = False) -> dict[str, Path]:
    """generate -> edit -> render -> upscale -> export, each with a progress bar."""
    from dreamcut import pipeline

    outputs: dict[str, Path] = {}
    timings: list[tuple[str, float]] = []
    spec = project.spec
    if not skip_generate:
        from dreamcut import pipeline as checks

        checks.check(project).refuse()  # `dreamcut check`'s verdict, before any money is spent
    with progress_bar() as bars:
        if not skip_generate:
            t0 = time.monotonic()
            from dreamcut.generate.batch import plan_takes

            total = len(plan_takes(spec, root=str(project.root)))
            task = bars.add_task("generating takes", total=total)
            summary = pipeline.generate(project, on_take=lambda p, state: bars.advance(task))
            timings.append(("generate", time.monotonic() - t0))
            if summary.failed:
                reasons = "; ".join(r for _, r in summary.failures[:3])
                say(f"[yellow]{summary.failed} take(s) failed[/]: {reasons}")
        t0 = time.monotonic()
        task = bars.add_task("hearing the song", total=100)
        song = pipeline.analyse_song(project, progress=fraction_updater(bars, task))
        bars.update(task, completed=100)
        task = bars.add_task("cutting to the music", total=100)
        timeline = pipeline.make_edit(project, song=song, progress=fraction_updater(bars, task))
        bars.update(task, completed=100)
        outputs["edit"] = pipeline.cut_path(project)
        outputs["song map"] = pipeline.write_song_picture(project, song)
        timings.append(("edit", time.monotonic() - t0))
        t0 = time.monotonic()
        master_task = bars.add_task(f"rendering {spec.render.master}", total=100)
        final_task = bars.add_task(f"upscaling to {spec.render.resolution}", total=100)
        master, final = pipeline.render(project, timeline, master_progress=fraction_updater(bars, master_task),
                                        upscale_progress=fraction_updater(bars, final_task), say=say)
        bars.update(final_task, completed=100)
        outputs["master"], outputs["final"] = master, final
        timings.append(("render", time.monotonic() - t0))
        t0 = time.monotonic()
        outputs.update(pipeline.export(project, timeline))
        timings.append(("export", time.monotonic() - t0))
    say("  ".join(f"{name} {secs:.1f}s" for name, secs in timings))
    return outputs


def _print_outputs(project, outputs: dict[str, Path]) -> None:
    from dreamcut.media import probe

    table = Table(title="what was made", show_header=True)
    table.add_column("file")
    table.add_column("what")
    # baked transition clips get one line; the song's WAV (when made) is listed on its own
    baked = [p for p in outputs.values()
             if p.parent.name == "media" and p.parent.parent.name == "exports" and p.suffix == ".mp4"]
    if baked:
        table.add_row("exports/media/", f"{len(baked)} transitions baked into clips for NLEs that cannot carry them")
    for name, path in outputs.items():
        if path in baked:
            continue
        what = ""
        if path.suffix in (".mp4", ".mov"):
            info = probe(path)
            v, a = info.video, info.audio
            what = (f"{v.width}x{v.height} {v.codec} {v.fps:g} fps, {info.duration:.2f} s"
                    + (f", {a.codec} audio" if a else ", no audio")) if v else ""
        elif path.exists():
            what = f"{path.stat().st_size / 1024:.0f} kB"
        table.add_row(project.rel(path), what)
    console.print(table)


@app.command()
def make(
    skip_generate: bool = typer.Option(False, "--skip-generate", help="Use the takes already made; generate nothing."),
) -> None:
    """The whole job: generate takes, cut them to the song, render, upscale, export."""
    project = open_project(write="make")
    outputs = _run_pipeline(project, skip_generate=skip_generate)
    _print_outputs(project, outputs)


@app.command()
def demo(
    directory: Path = typer.Argument(Path("demo-project"), help="Where to write the demo project."),
    short: bool = typer.Option(False, "--short", help="A 15 s song, 3 shots, small frames (for tests)."),
) -> None:
    """Write the demo project (an original synthesized song + a 12-shot endless-zoom shot list) and make it."""
    from dreamcut.demo.project import write_demo_project
    from dreamcut.demo.song import synthesize_song

    started = time.monotonic()
    directory = directory.resolve()
    if (directory / "dreamcut.yaml").exists():
        say(f"{directory.name}: demo project exists; resuming (delete the folder to start over)")
    else:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"cannot create the demo folder: {e.strerror}", where=str(directory)) from None
        write_demo_project(directory, short=short)
    song = directory / "song.wav"
    if not song.exists():
        structure = [("intro", 2), ("verse", 2), ("chorus", 2), ("outro", 1)] if short else None
        truth = synthesize_song(song, structure=structure)
        say(f"synthesized an original song: {truth.duration:.1f} s at {truth.bpm:g} bpm, "
            f"{len(truth.sections)} sections (true beats in song.truth.json)")
    project = open_project(directory, write="demo")
    outputs = _run_pipeline(project)
    _print_outputs(project, outputs)
    say(f"demo finished in {time.monotonic() - started:.0f} s: open {project.rel(outputs['final'])} "
        f"(in {directory})")


@app.command()
def edit(
    explain: bool = typer.Option(False, "--explain", help="Say why each cut is where it is (beat, bar, section, score)."),
    as_json: bool = typer.Option(False, "--json", help="Print the edit (every cut, its time in seconds and why) as "
                                                      "one JSON document."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any decision was degraded (a transition became a "
                                                        "cut, a clip was retimed, a stale take was used)."),
) -> None:
    """Cut the chosen takes to the music and write edits/cut.otio."""
    from dreamcut import pipeline

    project = open_project(write="edit")
    before = pipeline.current_edit(project)
    with progress_bar() as bars:
        task = bars.add_task("hearing the song", total=100)
        song = pipeline.analyse_song(project, progress=fraction_updater(bars, task))
        task = bars.add_task("cutting to the music", total=100)
        timeline = pipeline.make_edit(project, song=song, progress=fraction_updater(bars, task))
    clips = [c for c in timeline.tracks[0] if c.schema_name() == "Clip"]
    from dreamcut.edit.planner import degraded

    lost = degraded(timeline)
    if as_json:
        from dreamcut.cli.json_out import edit_document, emit

        doc = edit_document(timeline, cut_file=project.rel(pipeline.cut_path(project)), song_seconds=song.duration,
                            tempo=song.tempo)
        emit({**doc, "degraded": list(lost)})
        if strict and lost:
            raise SystemExit(1)
        return
    say(f"wrote {project.rel(pipeline.cut_path(project))}: {len(clips)} cuts over {song.duration:.1f} s "
        f"at {song.tempo:.1f} bpm")
    if before.conformed:
        say(f"{project.rel(before.path)} ({before.describe()}) is set aside: renders and the board now use the "
            "planned cut (conform it again to go back)")
    if explain:
        from dreamcut.edit.planner import explain as explain_lines

        fps = int(timeline.metadata.get("dreamcut", {}).get("fps") or project.spec.fps)
        say(f"timecode mm:ss.ff (ff = frame of {fps} fps), shot, take, bar, beat, section, speed, score, entry, why")
        for line in explain_lines(timeline):
            say(line)
    if lost:
        say(f"[yellow]{len(lost)} degraded decision(s)[/]:")
        for line in lost:
            say(f"  {line}")
        if strict:
            err_console.print(f"error: {len(lost)} degraded decision(s) with --strict (fix: lengthen the takes, "
                              "regenerate stale shots, or drop --strict)", highlight=False)
            raise typer.Exit(1)


@app.command()
def render(
    force: bool = typer.Option(False, "--force", help="Render even when the edit, takes and settings are unchanged."),
) -> None:
    """Render the edit with the song (master size), then upscale to the final size.

    Skipped, and said, when the edit, the takes, the song and the settings are unchanged."""
    from dreamcut import pipeline

    project = open_project(write="render")
    source = pipeline.current_edit(project)
    if source.conformed:
        say(f"rendering {project.rel(source.path)} ({source.describe()}; `dreamcut edit` plans a new cut)")
    with progress_bar() as bars:
        m = bars.add_task(f"rendering {project.rel(source.path)} at {project.spec.render.master}", total=100)
        f = bars.add_task(f"upscaling to {project.spec.render.resolution}", total=100)
        master, final = pipeline.render(project, master_progress=fraction_updater(bars, m),
                                        upscale_progress=fraction_updater(bars, f), force=force, say=say)
    _print_outputs(project, {"master": master, "final": final})


@app.command()
def export() -> None:
    """Export the edit for NLEs: exports/cut.otio, premiere.xml (FCP7 XML), cut.edl (CMX 3600), cut.otioz.

    Zoom-throughs and dips are baked into clips in exports/media/ (XML and EDL carry only
    dissolves); retimed clips go out as speed changes; the song as WAV. The files are signed
    and replace the previous exports only when all of them are written.
    """
    from dreamcut import pipeline

    project = open_project(write="export")
    with progress_bar() as bars:
        task = bars.add_task("exporting (baking transitions NLEs cannot carry)", total=100)
        outputs = pipeline.export(project, progress=fraction_updater(bars, task))
    _print_outputs(project, outputs)
