"""The typer app, the global options, and the one place errors become one-line messages.

Command modules in this package (`dreamcut.cli.<area>`) add their commands to `app`;
each command is a thin call into the library. Conventions:
- every command works on the project in the current folder, or `--project DIR`;
- exit codes: 0 done, 1 failed while working, 2 bad input;
- errors print one line `error: <where>: <what> (fix: <how>)`; `--debug` shows the traceback.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from dreamcut._startup import private_cache_note
from dreamcut.errors import DreamcutError

app = typer.Typer(
    name="dreamcut",
    help="Make a music video from a shot list and a song: generate takes, preview, review, cut to the beat, "
         "render 2K, export to your NLE.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console()
err_console = Console(stderr=True)


@dataclass(frozen=True)
class Options:
    """The options given before the command (`dreamcut --project DIR --wait generate`).

    project_dir: the project folder (None: the current folder).
    debug: show tracebacks instead of one-line errors.
    quiet: no progress bars (also when stderr is not a terminal, unless DREAMCUT_PROGRESS=1).
    wait: queue behind another writer of the project instead of refusing.
    """

    project_dir: Path | None = None
    debug: bool = False
    quiet: bool = False
    wait: bool = False


_options = Options()  # replaced whole, once per invocation, by `_globals`; read through `options()`


def options() -> Options:
    """This invocation's global options."""
    return _options


@app.callback()
def _globals(
    project: Optional[Path] = typer.Option(None, "--project", "-p", help="Project folder (default: the current folder).",
                                           envvar="DREAMCUT_PROJECT"),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    wait: bool = typer.Option(False, "--wait", help="When another command is writing the project, queue behind it "
                                                    "instead of refusing.", envvar="DREAMCUT_WAIT"),
) -> None:
    global _options
    _options = Options(project_dir=project, debug=debug, wait=wait,
                       quiet=quiet or not sys.stderr.isatty() and os.environ.get("DREAMCUT_PROGRESS") != "1")


def open_project(root: Path | None = None, *, write: str | None = None):
    """The project in `root`, else the one named by --project (or the current folder), with its spec
    validated.

    write="generate" (the command's name): this command writes the project, so it becomes the
    project's one writer (refused, naming the holder, while another writes; `--wait` queues).
    """
    from dreamcut.project import Project

    project = Project.open(root or options().project_dir or Path.cwd())
    if write:
        lock_project(project, write)
    return project


def lock_project(project, command: str) -> None:
    """Hold `project`'s writer lock for the rest of this command."""
    project.lock_for_writing(command, wait=options().wait,
                             on_wait=lambda line: err_console.print(line, highlight=False, soft_wrap=True))


@contextmanager
def progress_bar(transient: bool = False) -> Iterator[Progress]:
    """A rich progress bar (what, how many, elapsed, time left); silent when not a terminal."""
    progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TaskProgressColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                        console=err_console, transient=transient, disable=options().quiet)
    with progress:
        yield progress


def fraction_updater(progress: Progress, task_id, total: float = 100.0):
    """A `progress(fraction[, what])` callback for library functions that report 0..1."""
    base = progress.tasks[[t.id for t in progress.tasks].index(task_id)].description if progress.tasks else ""

    def update(fraction: float, what: str | None = None) -> None:
        progress.update(task_id, completed=min(total, max(0.0, fraction) * total),
                        **({"description": f"{base}: {what}"} if what else {}))
    return update


def say(message: str) -> None:
    console.print(message, highlight=False)


_loaded = False


def load_commands() -> None:
    """Import every command module of this package (each adds its commands to `app`)."""
    import importlib
    import pkgutil

    global _loaded
    if _loaded:
        return
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name != "app":
            importlib.import_module(f"dreamcut.cli.{info.name}")
    _loaded = True


def main(argv: list[str] | None = None) -> None:
    import faulthandler

    # A native crash (numba, a codec) then leaves a stack on stderr instead of a silent exit.
    faulthandler.enable()
    cache_note = private_cache_note()  # a slower run, said (stderr: --json output stays one document)
    if cache_note:
        err_console.print(f"[yellow]note[/]: {cache_note}", highlight=False, soft_wrap=True)
    load_commands()
    debug = "--debug" in (argv if argv is not None else sys.argv)
    try:
        # With standalone_mode=False click returns a command's exit code instead of exiting.
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except DreamcutError as e:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {e.line()}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except sqlite3.DatabaseError as e:  # met mid-command: a damaged page, a full disk
        if debug:
            raise
        from dreamcut.catalog import damaged
        from dreamcut.errors import disk_error

        if "disk is full" in str(e):
            err = disk_error(OSError(errno.ENOSPC, "disk full"), options().project_dir or Path.cwd())
        elif isinstance(e, sqlite3.OperationalError) and "malformed" not in str(e):
            err = DreamcutError(f"the catalog could not be used ({e})", where=".dreamcut/catalog.sqlite",
                                fix="run the same command again")
        else:
            err = damaged(e, Path(".dreamcut/catalog.sqlite"))
        err_console.print(f"[bold red]error:[/] {err.line()}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except OSError as e:
        if debug:
            raise
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            from dreamcut.errors import disk_error

            err = disk_error(e, options().project_dir or Path.cwd())
            err_console.print(f"[bold red]error:[/] {err.line()}", highlight=False, soft_wrap=True)
            sys.exit(err.exit_code)
        if isinstance(e, PermissionError):
            err_console.print(f"[bold red]error:[/] {e.filename or 'a file'}: not writable or readable "
                              f"({e.strerror}) (fix: check the folder's permissions)", highlight=False, soft_wrap=True)
            sys.exit(2)
        err_console.print(f"[bold red]error:[/] unexpected {type(e).__name__}: {e} (rerun with --debug for details)",
                          highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing half-written; run the same command again to resume")
        sys.exit(130)
    except (typer.Exit, SystemExit) as e:
        code = getattr(e, "exit_code", getattr(e, "code", 0))
        sys.exit(code or 0)
    except typer.Abort:
        sys.exit(1)
    except Exception as e:  # click usage errors and the unexpected
        # Typer >= 0.20 vendors click as typer._click; match by name so both work.
        names = {c.__name__ for c in type(e).__mro__}
        if "ClickException" in names:
            e.show()
            sys.exit(2 if "UsageError" in names or "BadParameter" in names else 1)
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] unexpected {type(e).__name__}: {e} (rerun with --debug for details)",
                          highlight=False, soft_wrap=True)
        sys.exit(1)

