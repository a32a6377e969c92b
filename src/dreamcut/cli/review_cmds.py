"""Choosing takes: preview, promote, review, search, rank."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from dreamcut.cli.app import app, console, fraction_updater, open_project, progress_bar, say
from dreamcut.errors import BadInput


@app.command()
def preview(
    shot: str = typer.Argument(..., help="Shot id to preview."),
    variants: int = typer.Option(8, "--variants", "-n", help="How many variants: 4, 8, 16 or 32."),
) -> None:
    """MiniClips: render the first 4 frames of N variants of a shot, and a contact sheet to choose from."""
    from dreamcut.preview import ALLOWED_VARIANTS, preview_shot, prompt_variants

    if variants not in ALLOWED_VARIANTS:
        raise BadInput(f"--variants {variants} is not offered", where="--variants",
                       fix=f"use one of {', '.join(map(str, ALLOWED_VARIANTS))}")
    project = open_project(write="preview")
    project.check_writable()
    with progress_bar() as bars:
        task = bars.add_task(f"previewing {shot}", total=100)
        result = preview_shot(project, shot, variants, progress=fraction_updater(bars, task))
    alternatives = prompt_variants(project, shot)
    table = Table(title=f"{shot}: {len(result.costs)} previews"
                        + (f" over {alternatives} prompt alternatives" if alternatives > 1 else ""))
    for col in ("variant", "seed", "preview", "cost", "prompt"):
        table.add_column(col)
    for c in result.costs:
        prompt = c.prompt if len(c.prompt) <= 60 else c.prompt[:57] + "..."
        table.add_row(str(c.variant), str(c.seed), c.take_id or "-", c.label().split("\n")[1], prompt)
    console.print(table)
    if result.failed:
        say(f"{len(result.failed)} preview(s) failed; run the same command again to retry")
    say(f"contact sheet: {project.rel(result.sheet)}")
    say(f"next: `dreamcut promote {shot} VARIANT...` renders full takes of the variants you like")


@app.command()
def promote(
    shot: str = typer.Argument(..., help="Shot id."),
    variants: List[int] = typer.Argument(..., help="Preview variant numbers (from the contact sheet)."),
) -> None:
    """Render full takes of previewed variants, with the same seed and prompt."""
    from dreamcut.preview import promote as promote_variants

    project = open_project(write="promote")
    project.check_writable()
    with progress_bar() as bars:
        task = bars.add_task(f"promoting {shot}", total=100)
        ids = promote_variants(project, shot, list(variants), progress=fraction_updater(bars, task), warn=say)
    for tid in ids:
        take = project.catalog.take(tid)
        say(f"{tid}  {take.path if take else ''}")


@app.command()
def review(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on."),
    no_open: bool = typer.Option(False, "--no-open", help="Do not open a browser."),
    allowed_host: Optional[List[str]] = typer.Option(
        None, "--allowed-host", help="A host name the board may be reached by (repeatable); required with a --host "
                                     "other than this machine's loopback."),
) -> None:
    """The review board and edit room: rate, select, compare and annotate every take; play the cut with the
    song on a bar/section timeline, swap takes, drag cuts onto the beat, lock slots, undo."""
    from dreamcut.web import serve

    project = open_project()
    if not 0 < port < 65536:
        raise BadInput(f"port {port} is out of range", where="--port", fix="use 1..65535")
    serve(project.root, host=host, port=port, open_browser=not no_open, allowed_hosts=allowed_host or None)


@app.command()
def search(
    query: str = typer.Argument(..., help='What to look for, e.g. "football field at dusk".'),
    limit: int = typer.Option(10, "--limit", "-n", help="How many results."),
    plain: bool = typer.Option(False, "--plain", help="Plain word matching (BM25) instead of the MiniLM model."),
) -> None:
    """Search shot prompts, take prompts and review notes by meaning."""
    from dreamcut.analysis.search import search as run_search

    project = open_project()
    result = run_search(project, query, method="plain" if plain else "auto", limit=limit)
    table = Table(title=f'"{query}" — {result.method}')
    for col in ("score", "kind", "shot", "id", "text"):
        table.add_column(col)
    for h in result.hits:
        ids = ", ".join(h.ids) + (f" (+{h.extra})" if h.extra else "")
        text = h.text if len(h.text) <= 70 else h.text[:67] + "..."
        table.add_row(f"{h.score:.3f}", h.kind, h.shot_id, ids, text)
    console.print(table)
    if not result.hits:
        say("no matches")


@app.command()
def rank(
    shot: Optional[List[str]] = typer.Option(None, "--shot", "-s", help="Only these shots (repeatable)."),
    clip_model: Optional[Path] = typer.Option(None, "--clip-model",
                                              help="Folder of a local CLIP model: also score how well takes match their prompt, "
                                                   "and judge the cast's likeness with its image embeddings."),
    limit: int = typer.Option(0, "--limit", "-n", help="Show only the best N (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document (shot, take, score, why, defects "
                                                      "with times in seconds) instead of the table."),
) -> None:
    """Score every take (sharpness, exposure, flicker, stalls, cuts, transitions, flashes, motion) and list them
    best first. Imported takes are judged on their originals; a take's own prompt says what is asked for."""
    from dreamcut.cli.json_out import emit, rank_document
    from dreamcut.ranking import analysis_source, rank_take

    project = open_project(write="rank")
    takes = [t for t in project.catalog.takes() if not shot or t.shot_id in shot]
    if not takes:
        raise BadInput("no takes to rank", fix="run `dreamcut generate` first (or check --shot)")
    if clip_model is not None and not clip_model.is_dir():
        raise BadInput("CLIP model folder does not exist", where=str(clip_model), fix="give a local model folder")
    rows = []
    with progress_bar() as bars:
        task = bars.add_task("scoring takes", total=len(takes))
        for take in takes:
            path = project.abs(take.path)
            if not project.inside(path) or not path.is_file():
                rows.append((None, take, None, "missing file", None))
            else:
                result = rank_take(project, take, clip_model=clip_model)
                project.catalog.set_score(take.id, result.score, result.to_dict())
                rows.append((result.score, take, result, result.explanation,
                             project.rel(analysis_source(project, take))))
            bars.advance(task)
    rows.sort(key=lambda r: (-(r[0] if r[0] is not None else -1), r[1].shot_id, r[1].id))
    if as_json:
        emit(rank_document(rows[:limit or None]))
        return
    table = Table(title=f"{len(rows)} takes, best first")
    for col in ("score", "shot", "take", "why"):
        table.add_column(col)
    for score, take, _, why, _ in rows[:limit or None]:
        table.add_row("-" if score is None else f"{score:.2f}", take.shot_id, take.id, why)
    console.print(table)
