"""`dreamcut song`: the song map (tempo, bars, sections, confidence), as text, JSON and song.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dreamcut.cli.app import app, console, fraction_updater, open_project, progress_bar, say


@app.command()
def song(
    as_json: bool = typer.Option(False, "--json", help="Print the song map as JSON."),
    picture: Optional[Path] = typer.Option(None, "--png", help="Where to write the picture (default: song.png in "
                                                               "the project's renders folder)."),
    bars: bool = typer.Option(False, "--bars", help="List every bar's start too."),
) -> None:
    """Show the song map: tempo (curve), bars, downbeats, sections with timecodes and confidence (guessed starts
    marked); write song.png.

    Correct it in dreamcut.yaml's `song:` block (bpm or tempo map, downbeat, meter, sections);
    the edit follows the corrections exactly.
    """
    from dreamcut import pipeline
    from dreamcut.analysis.audio import song_map
    from dreamcut.render.overlay import timecode

    project = open_project()
    with progress_bar(transient=True) as bar:
        task = bar.add_task("hearing the song", total=100)
        analysis = pipeline.analyse_song(project, progress=fraction_updater(bar, task))
    cuts = pipeline.planned_cuts(project)
    target = pipeline.write_song_picture(project, analysis, picture)
    data = song_map(analysis)
    data["picture"] = project.rel(target)
    data["cuts"] = cuts
    if as_json:
        print(json.dumps(data, indent=2))
        return
    curve = data["tempo_curve"]
    moves = ""
    if data["tempo_moves"] and curve:
        bpms = [b for _, b in curve]
        moves = f" (moves {min(bpms):.0f}-{max(bpms):.0f})"
    doubt = f" ([yellow]{data['tempo_doubt']}[/])" if data["tempo_doubt"] else ""
    say(f"{project.spec.song}: {timecode(analysis.duration)}, {analysis.tempo:.1f} bpm{moves}{doubt}, "
        f"{analysis.beats_per_bar} beats a bar, {len(analysis.downbeats)} bars, first downbeat "
        f"{data['first_downbeat'] if data['first_downbeat'] is not None else '-'} s")
    if data["downbeat_doubt"]:
        say(f"[yellow]bar line in doubt[/]: {data['downbeat_doubt']}")
    if data["weak_pulse"]:
        say(f"[yellow]weak pulse[/] ({analysis.pulse:.2f}): the beat is hard to hear; cuts follow phrases and "
            "onsets. Give `bpm:` and `downbeat:` in the `song:` block if you hear one.")
    if analysis.corrected:
        say(f"set in dreamcut.yaml: {', '.join(analysis.corrected)}")
    if data["chorus_doubt"]:
        say(f"[yellow]chorus in doubt[/]: {data['chorus_doubt']}")
    table = Table(title="sections")
    for col in ("section", "start", "end", "bar", "bars", "confidence", "start is"):
        table.add_column(col)
    for s in data["sections"]:
        nbars = sum(1 for d in analysis.downbeats if s["start"] - 0.005 <= d < s["end"] - 0.005)
        table.add_row(s["name"], timecode(s["start"]), timecode(s["end"]), str(s["bar"]), str(nbars),
                      f"{s['confidence']:.2f}", "sure" if s["sure"] else "[yellow]a guess[/]")
    console.print(table)
    guesses = [s["name"] for s in data["sections"] if not s["sure"]]
    if guesses:
        say(f"[yellow]{len(guesses)} guessed section start(s)[/] ({', '.join(guesses)}): the edit is not forced to cut "
            "there; listen, and give the section list in dreamcut.yaml's `song:` block to fix them.")
    if bars:
        for b in data["bars"]:
            say(f"bar {b['bar']:>4}  {timecode(b['start'])}")
    if cuts:
        say(f"{len(cuts)} cuts planned (edits/cut.otio)")
    say(f"picture: {project.rel(target)}")
