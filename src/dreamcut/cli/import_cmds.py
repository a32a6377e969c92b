"""`dreamcut import`: bring clips made elsewhere in as takes (files, folders, or a watched folder)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dreamcut.cli.app import app, console, err_console, open_project, progress_bar


@app.command("import")
def import_takes(
    shot: Optional[str] = typer.Argument(None, help="The shot the clips are takes of (with --watch: the inbox shot "
                                                    "for files no pattern matches)."),
    files: Optional[List[Path]] = typer.Argument(None, help="Video files, or folders of them."),
    link: bool = typer.Option(False, "--link", help="Reference the originals (symbolic link) instead of copying them."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="The prompt the clips were made from (else read from "
                                                                "a .txt / .json beside each video)."),
    fit: str = typer.Option("auto", "--fit", help="How a picture of another shape fills the frame: crop, pad, blur "
                                                  "(blurred fill), or auto (crop when close, else blur)."),
    watch_dir: Optional[Path] = typer.Option(None, "--watch", help="Watch this folder and import files as they finish "
                                                                   "downloading, until Ctrl-C."),
    pattern: Optional[str] = typer.Option(None, "--pattern", help="With --watch: file-name pattern naming the shot, "
                                                                  "e.g. 'shot-{shot}_*'."),
    mapping: Optional[List[str]] = typer.Option(None, "--map", help="With --watch: SHOT=GLOB, e.g. "
                                                                    "corridor='*hallway*' (repeatable)."),
    interval: float = typer.Option(2.0, "--interval", min=0.05, help="With --watch: seconds between size checks."),
    once: bool = typer.Option(False, "--once", help="With --watch: import what is there now, then stop."),
    source: Optional[str] = typer.Option(None, "--source", help="Where the clips come from: camera (real footage; "
                                                               "signed as C2PA digitalCapture, never tagged AI), "
                                                               "generated (a model made them) or unknown. Default: "
                                                               "the shot's `source:` in dreamcut.yaml, else generated."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="With --watch: stop after this many seconds."),
) -> None:
    """Import video files as takes of SHOT: copied, checked, normalised to the project's fps and size.

    Each file is imported or refused with one line saying why; a refused file changes nothing.
    """
    from dreamcut.errors import BadInput
    from dreamcut.importer import SOURCES, ShotRouter, import_files, watch

    if source is not None and source not in SOURCES:
        raise BadInput(f"unknown source {source!r}", where="--source", fix=f"use one of: {', '.join(SOURCES)}")
    project = open_project(write="import")
    project.check_writable()
    if watch_dir is not None:
        globs: dict[str, str] = {}
        for item in mapping or []:
            if "=" not in item:
                raise BadInput(f"--map {item!r} is not SHOT=GLOB", where="--map", fix="write e.g. corridor='*hall*'")
            k, v = item.split("=", 1)
            globs[k.strip()] = v.strip()
        if files:
            raise BadInput("give files or --watch, not both", where="import", fix="drop the file arguments")
        router = ShotRouter(pattern=pattern, globs=globs, inbox=shot)
        console.print(f"watching {watch_dir.name} for finished downloads (Ctrl-C to stop)" if not once else
            f"importing finished files from {watch_dir.name}", highlight=False)
        results = watch(project, watch_dir, router, link=link, fit=fit, interval=interval, once=once, source=source,
                        timeout=timeout, report=lambda r: console.print(r.line(), soft_wrap=True, highlight=False))
    else:
        if not shot or not files:
            raise BadInput("name a shot and at least one file or folder", where="import",
                           fix="dreamcut import SHOT FILE... (or --watch DIR)")
        with progress_bar() as progress:
            task = progress.add_task(f"importing into {shot}", total=None)

            def on_file(path: Path, i: int, n: int) -> None:
                progress.update(task, total=n, completed=i, description=f"importing {path.name}")

            results = import_files(project, shot, files, link=link, prompt=prompt, fit=fit, progress=on_file,
                                   source=source)
            progress.update(task, completed=len(results))
        for r in results:
            (err_console if r.status == "refused" else console).print(r.line(), soft_wrap=True, highlight=False)
    refused = sum(1 for r in results if r.status == "refused")
    made = sum(1 for r in results if r.status == "imported")
    dup = sum(1 for r in results if r.status == "duplicate")
    console.print(f"{made} imported, {dup} already there, {refused} refused", highlight=False)
    if refused:  # the good files are in; the exit code still says that some were not
        raise SystemExit(2)
