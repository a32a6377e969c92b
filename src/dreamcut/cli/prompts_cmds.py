"""`dreamcut styles`: the style presets a shot list can name (shipped ones and the project's).

A thin command over `dreamcut.styles`; it reads the shot list only to list the project's own
presets, and works outside a project too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dreamcut.cli.app import app, console, options, say
from dreamcut.errors import BadInput, DreamcutError


def _project_spec():
    """The shot list of the current project, or None when there is none (styles work anywhere)."""
    from dreamcut.spec import SPEC_FILE, parse_spec_text

    path = Path(options().project_dir or Path.cwd()) / SPEC_FILE
    if not path.is_file():
        return None
    try:
        return parse_spec_text(path.read_text(encoding="utf-8"), SPEC_FILE)
    except (DreamcutError, UnicodeDecodeError, OSError):
        say("[dim](the project's dreamcut.yaml does not validate; showing shipped presets only — "
            "run `dreamcut check`)[/dim]")
        return None


@app.command()
def styles(
    name: Optional[str] = typer.Argument(None, help="Show the full text of this preset."),
) -> None:
    """List the style presets: name it as `style_preset:` (or a shot's `style:`) in dreamcut.yaml."""
    from dreamcut.styles import all_presets

    spec = _project_spec()
    presets = all_presets(spec)
    if name is not None:
        preset = presets.get(name)
        if preset is None:
            raise BadInput(f"no style preset {name!r}", fix=f"use one of: {', '.join(presets)}")
        say(f"[bold]{preset.name}[/bold]  ({preset.source})")
        say(preset.about)
        say(f"text: {preset.text}")
        return
    table = Table(title="style presets", show_lines=False)
    table.add_column("name", style="bold")
    table.add_column("from")
    table.add_column("what it looks like")
    table.add_column("chars", justify="right")
    for p in presets.values():
        table.add_row(p.name, p.source, p.about, str(len(p.text)))
    console.print(table)
    say("Use one with `style_preset: NAME` in dreamcut.yaml; `dreamcut styles NAME` shows its text.")
