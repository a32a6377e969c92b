"""`dreamcut verify`, `dreamcut credits`, `dreamcut sign`: Content Credentials from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dreamcut.cli.app import app, console, err_console, open_project, options, progress_bar


def say(text: str) -> None:
    # one line stays one line (a verify report is read by people and by scripts)
    console.print(text, soft_wrap=True, highlight=False, markup=False)


def _timeline_path(project, timeline: Optional[Path]) -> Path | None:
    path = timeline if timeline is not None else project.edits_dir / "cut.otio"
    if timeline is not None and not path.is_file():
        from dreamcut.errors import BadInput

        raise BadInput("timeline file does not exist", where=str(timeline), fix="run `dreamcut edit` first")
    return path if path.is_file() else None


@app.command()
def verify(
    file: Path = typer.Argument(..., help="A take, a render, or an export (with its .c2pa / .c2pa.json sidecar)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Read and validate a file's Content Credentials and explain its chain in plain words.

    Inside a project (--project or the current folder), a take animated from a cast keyframe has
    that keyframe file re-hashed against the sha256 signed with the take.

    Exit code 0: valid; 1: tampered or invalid (or its keyframe file changed); 2: no credentials found.
    """
    from dreamcut.provenance import verify as verify_file

    project = None
    if options().project_dir is not None:
        project = open_project()
    elif (Path.cwd() / "dreamcut.yaml").is_file():
        from dreamcut.errors import DreamcutError

        try:
            project = open_project()
        except DreamcutError as e:  # verify still reads the file; only the project's own checks are skipped
            err_console.print(f"note: the project here does not open ({e}); its keyframe files are not re-hashed",
                              highlight=False, markup=False, soft_wrap=True)
    report = verify_file(file, project)
    if json_out:
        from dreamcut.cli.json_out import emit, verify_document

        emit(verify_document(report))
    else:
        say(report.text())
    # SystemExit, not typer.Exit: click swallows Exit's code when run with standalone_mode=False.
    raise SystemExit(report.exit_code)


@app.command()
def credits(
    timeline: Optional[Path] = typer.Option(None, "--timeline", help="The edit (default: edits/cut.otio)."),
) -> None:
    """Print the credits (models used, shots chosen from how many takes) for a video description."""
    from dreamcut.provenance import credits_text

    project = open_project()
    say(credits_text(project, _timeline_path(project, timeline)))


@app.command()
def sign(
    files: list[Path] = typer.Argument(None, help="Exports to sign with a sidecar (default: sign every unsigned take)."),
    timeline: Optional[Path] = typer.Option(None, "--timeline", help="The edit the exports come from (default: edits/cut.otio)."),
) -> None:
    """Add Content Credentials: to every take without them, or a sidecar to the given export files."""
    from dreamcut.provenance import sign_take, write_sidecar

    project = open_project(write="sign")
    if files:
        tl = _timeline_path(project, timeline)
        for f in files:
            out = write_sidecar(project, f, timeline=tl)
            say(f"{f.name}: credentials written to {out.name}")
        return
    takes = project.catalog.takes(kind=None)
    signed = 0
    with progress_bar() as progress:
        task = progress.add_task("signing takes", total=len(takes))
        for take in takes:
            path = project.abs(take.path)
            if path.is_file() and not _ours(path, take.id):
                sign_take(project, path, take)
                signed += 1
            progress.advance(task)
    say(f"signed {signed} take{'s' if signed != 1 else ''} ({len(takes) - signed} already carried credentials)")


def _ours(path: Path, take_id: str) -> bool:
    from dreamcut.provenance import TAKE_ASSERTION, active_manifest, assertion, read_manifest_store

    facts = assertion(active_manifest(read_manifest_store(path)), TAKE_ASSERTION)
    return bool(facts and facts.get("take") == take_id)
