"""`dreamcut catalog ...`: the catalog's automatic backups, restoring one, rebuilding from sidecars."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dreamcut.cli.app import app, open_project, say

catalog_app = typer.Typer(help="The project's catalog: list its backups, restore one, or rebuild it from the takes.",
                          no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("backups")
def backups() -> None:
    """List the automatic backups (taken before migrations and after each generate batch), newest first."""
    from dreamcut.catalog import list_backups, sound

    project = open_project()
    found = list_backups(project.catalog_path)
    for p in found:
        say(f"{project.rel(p)}  {p.stat().st_size / 1024:.0f} kB  {'ok' if sound(p) else 'DAMAGED'}")
    if not found:
        say("no backups yet (one is taken after each `dreamcut generate` batch)")


@catalog_app.command("restore")
def restore(
    source: Optional[Path] = typer.Option(None, "--from", help="This backup file (default: the newest sound one)."),
) -> None:
    """Put the newest sound automatic backup back as the catalog (the current one is kept aside)."""
    from dreamcut.catalog import restore_backup

    project = open_project(write="catalog restore")
    chosen = restore_backup(project.catalog_path, source)
    takes = len(project.catalog.takes(kind=None))
    say(f"restored {project.rel(project.catalog_path)} from {chosen.name}: {takes} takes; "
        f"spent ${project.catalog.spent_usd():,.2f}")
    say("takes made after that backup are not in it: `dreamcut catalog rebuild` recovers every take from its sidecar")


@catalog_app.command("rebuild")
def rebuild() -> None:
    """Rebuild the catalog from the takes' sidecars (takes, jobs and charges; reviews cannot be recovered)."""
    from dreamcut.generate.recover import rebuild_catalog

    project = open_project(write="catalog rebuild")
    result = rebuild_catalog(project)
    say(f"rebuilt {project.rel(project.catalog_path)}: {result.takes} takes, ${result.charged_usd:,.2f} charged")
    for line in result.skipped[:10]:
        say(f"  skipped {line}")
    if result.set_aside is not None:
        say(f"the previous catalog is kept as {project.rel(result.set_aside)}")
    say("reviews and selections are not in sidecars: re-rate on the board, or restore a backup if one has them")
