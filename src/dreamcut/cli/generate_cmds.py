"""Commands for making takes: `estimate`, `generate`, `status`, `reconcile`, `cancel`, `serve`.

Thin calls into `dreamcut.generate` and `dreamcut.server`. Every check that can refuse a
batch (unknown model, impossible length, missing key, a reference that is not an image,
the budget) runs before the first paid request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dreamcut.cli.app import app, console, open_project, progress_bar, say
from dreamcut.errors import WorkFailed


def _plan(project, shots: Optional[list[str]] = None):
    """The planned takes of the shot list, with job rows of older key versions re-keyed to them."""
    from dreamcut.generate.batch import plan_takes
    from dreamcut.generate.orchestrator import migrate_job_keys

    planned = plan_takes(project.spec, root=str(project.root), shots=_shots(project, shots))
    migrate_job_keys(project, planned)
    return planned


def _shots(project, shots: Optional[list[str]]) -> list[str] | None:
    if not shots:
        return None
    wanted = [s.strip() for item in shots for s in item.split(",") if s.strip()]
    for s in wanted:
        project.spec.shot(s)  # BadInput naming the known shots
    return wanted


@app.command()
def estimate(
    shots: Optional[list[str]] = typer.Option(None, "--shots", help="Only these shot ids (comma-separated or repeated)."),
    preview_variants: int = typer.Option(8, "--preview-variants", min=1, max=64,
                                         help="Also price MiniClips previews of this many variants per shot."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of the table."),
) -> None:
    """Print what generating the shot list will cost (takes x seconds x price per backend) against the budget."""
    from dreamcut.generate.cost import estimate as make_estimate
    from dreamcut.generate.orchestrator import Orchestrator, known_keys

    project = open_project()
    spec = project.spec
    planned = _plan(project, shots)
    orch = Orchestrator(project)
    # Takes with a job already (done, in flight with their money reserved, failed): not priced again.
    est = make_estimate(planned, orch.backend, prices=spec.prices, budget_usd=spec.budget_usd,
                        already_done=known_keys(project))
    from dreamcut.generate.keyframes import cast_keyframe_lines

    # the same line `dreamcut check` prints in its cast section (one function: cast_keyframe_lines)
    keyframe_lines = cast_keyframe_lines(spec, str(project.root), _shots(project, shots))
    if as_json:
        from dreamcut.cli.json_out import emit, estimate_document

        doc = estimate_document(est, spent=project.catalog.spent_usd(), reserved=project.catalog.reserved_usd(),
                                budget=spec.budget_usd)
        doc["cast_keyframes"] = keyframe_lines
        emit(doc)
        return
    table = Table(title="estimate", show_lines=False)
    for col in ("backend", "takes", "seconds", "minutes", "$/s", "USD", "price source"):
        table.add_column(col, justify="right" if col not in ("backend", "price source") else "left")
    for b in est.by_backend.values():
        table.add_row(b.backend, str(b.takes), f"{b.seconds:,.0f}", f"{b.generation_minutes:,.0f}",
                      f"{b.price_per_second:.3f}", f"${b.usd:,.2f}", b.price_source or "-")
    console.print(table)
    for note in est.notes:  # a degraded decision (a take made longer than asked...) is said before money
        say(f"note: {note}")
    for line in keyframe_lines:
        console.print(f"cast keyframe: {line}", highlight=False, markup=False, soft_wrap=True)
    spent = project.catalog.spent_usd()
    reserved = project.catalog.reserved_usd()
    minutes = est.seconds / 60.0
    say(f"total: {est.takes} takes, {est.seconds:,.0f} s ({minutes:,.0f} minutes of video), ${est.usd:,.2f}; "
        f"spent ${spent:,.2f}, reserved ${reserved:,.2f}, budget ${spec.budget_usd:,.2f}")
    _print_preview_costs(project, preview_variants, _shots(project, shots), orch.backend)
    if est.usd + spent + reserved > spec.budget_usd + 1e-9 and est.usd > 0:
        say(f"OVER BUDGET by ${est.usd + spent + reserved - spec.budget_usd:,.2f}: `dreamcut generate` will refuse "
            f"to start (raise budget_usd or use --shots)")


def _print_preview_costs(project, variants: int, shots, backend_for) -> None:
    """MiniClips first: what N previews per shot cost beside N full takes (money, else compute)."""
    from dreamcut.preview import preview_cost_report

    for line in preview_cost_report(project, variants=variants, shots=shots, backend_for=backend_for):
        if line.full_usd > 0:
            say(f"previews ({line.backend}): {line.variants} previews of 4 frames = ${line.preview_usd:,.2f}, "
                f"{100 * line.ratio:.1f}% of ${line.full_usd:,.2f} for as many full takes")
        elif line.ratio is not None:
            say(f"previews ({line.backend}): {line.variants} previews of 4 frames = {line.preview_compute_s:,.1f} compute s, "
                f"{100 * line.ratio:.1f}% of {line.full_compute_s:,.1f} s for as many full takes (measured here)")
        else:
            say(f"previews ({line.backend}): {line.variants} previews of 4 frames, free; compute share measured "
                f"after the first `dreamcut preview` and `generate`")


@app.command()
def generate(
    shots: Optional[list[str]] = typer.Option(None, "--shots", help="Only these shot ids (comma-separated or repeated)."),
    executor: str = typer.Option("local", "--executor", help="Where local-model renders run: local or ray."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster address (default: start a local Ray)."),
    ray_gpus: float = typer.Option(0.0, "--ray-gpus", help="GPUs each Ray render task asks for."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=256, help="Jobs in flight per backend."),
    rate: float = typer.Option(0.0, "--rate", min=0.0, help="API requests per second per backend (0 = no limit)."),
    job_timeout: float = typer.Option(3600.0, "--job-timeout", min=0.1,
                                      help="Seconds after which a job the provider never finishes is cancelled."),
    poll_interval: float = typer.Option(1.0, "--poll-interval", min=0.01,
                                        help="Seconds between polls when the provider does not say."),
) -> None:
    """Make every take the shot list asks for; a re-run resumes and never pays twice."""
    from dreamcut.generate.executors import make_executor
    from dreamcut.generate.orchestrator import DISK_FULL, Limits, Orchestrator

    from dreamcut import pipeline

    project = open_project(write="generate")
    project.check_writable()
    project.catalog  # opened (or refused as lost) first: what resumes, and where a run killed at once left off
    pipeline.check(project).refuse()  # exactly `dreamcut check`'s verdict, before any money is spent
    planned = _plan(project, shots)
    execu = make_executor(executor, ray_address=ray_address, num_gpus=ray_gpus)
    orch = Orchestrator(project, poll_interval=poll_interval, executor=execu,
                        default_limits=Limits(concurrency=concurrency, requests_per_second=rate,
                                              job_timeout=job_timeout))
    orch.check(planned)
    try:
        with progress_bar() as bar:
            task = bar.add_task("generating takes", total=len(planned))
            summary = orch.run(planned, on_progress=lambda p, state: bar.advance(task))
    finally:
        execu.close()
    _backup(project)
    say(f"made {summary.made}, already there {summary.skipped}, failed {summary.failed}, "
        f"left in flight {summary.pending}, cancelled {summary.canceled}, parked {summary.parked}; "
        f"spent ${summary.spent_usd:,.2f} this run, ${project.catalog.spent_usd():,.2f} in all")
    if summary.retried:
        say(f"retried {summary.retried}: new paid creates after failures the provider documents as retryable "
            f"(each is in the job's history: `dreamcut status`)")
    for key, reason in summary.failures[:10]:
        say(f"  {key[:12]}: {reason}")
    for key, reason in summary.parked_keys[:10]:
        say(f"  {key[:12]} parked: {reason}")
    if summary.parked:
        say(f"{summary.parked} parked: a paid create's outcome is unknown, so it was not sent again; "
            f"their worst case stays reserved. Resolve them with `dreamcut reconcile`.")
    if any(reason.startswith(DISK_FULL) for _, reason in summary.failures):
        raise WorkFailed(f"the disk is full: {summary.pending} takes are left in flight, none lost",
                         where=str(project.root),
                         fix="free some space, then run `dreamcut generate` again (finished jobs are fetched, "
                             "not paid, again)")
    if summary.failed or summary.pending or summary.parked:
        raise WorkFailed(f"{summary.failed} takes failed, {summary.pending} are still in flight and "
                         f"{summary.parked} are parked",
                         fix="see `dreamcut status`; run `dreamcut generate` again to resume the ones in flight; "
                             "`dreamcut reconcile` for the parked ones")


def _backup(project) -> None:
    """A catalog backup after each batch (`dreamcut catalog restore` puts it back); a full disk only warns."""
    try:
        project.catalog.backup("after-generate")
    except Exception as e:  # noqa: BLE001 - the batch is recorded; a missing backup is said, not fatal
        say(f"[yellow]warning[/]: no catalog backup this time ({type(e).__name__}: {e})")


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of the table."),
) -> None:
    """Per shot: takes done / running / parked / failed, seconds generated, money spent and reserved, ETA."""
    from dreamcut.catalog import RESERVING_STATES
    from dreamcut.generate.orchestrator import ACTIVE, PARKED, parked_jobs

    project = open_project()
    catalog = project.catalog
    planned = _plan(project)
    spent = catalog.spent_by_job()
    jobs = {r["key"]: r for r in catalog.jobs()}
    takes = {t.job_key: t for t in catalog.takes()}
    table = Table(title="status")
    for col in ("shot", "done", "running", "parked", "failed", "to do", "seconds", "spent", "reserved"):
        table.add_column(col, justify="left" if col == "shot" else "right")
    per_shot: dict[str, dict] = {}
    for p in planned:
        s = per_shot.setdefault(p.shot_id, dict(done=0, running=0, parked=0, failed=0, todo=0, seconds=0.0,
                                                spent=0.0, reserved=0.0, reasons=[]))
        row = jobs.get(p.key)
        state = row["state"] if row else None
        if state == "completed":
            s["done"] += 1
            t = takes.get(p.key)
            s["seconds"] += t.seconds if t else 0.0
        elif state == PARKED or any(r["state"] == PARKED for r in _segments(jobs, p.key)):
            s["parked"] += 1
        elif state in ACTIVE:
            s["running"] += 1
        elif state in ("failed", "canceled"):
            s["failed"] += 1
            s["reasons"].append(f"{row['error_code']}: {row['error_message']}")
        else:
            s["todo"] += 1
    for row in jobs.values():
        s = per_shot.get(row["shot_id"])
        if s is None:
            continue
        s["reserved"] += row["reserved_usd"] if row["state"] in RESERVING_STATES else 0
        s["spent"] += spent.get(row["key"], 0.0)
    durations = [r["finished_at"] - r["submitted_at"] for r in jobs.values()
                 if r["state"] == "completed" and r["finished_at"] and r["submitted_at"]]
    left = sum(s["running"] + s["todo"] for s in per_shot.values())
    done = sum(s["done"] for s in per_shot.values())
    eta = left * (sum(durations) / len(durations)) / 4 if left and durations else None  # default concurrency
    if as_json:
        from dreamcut.cli.json_out import emit, status_document

        emit(status_document(per_shot, spent=catalog.spent_usd(), reserved=catalog.reserved_usd(),
                             budget=project.spec.budget_usd, eta_seconds=eta if left else 0.0))
        return
    for shot_id, s in per_shot.items():
        table.add_row(shot_id, str(s["done"]), str(s["running"]), str(s["parked"]), str(s["failed"]), str(s["todo"]),
                      f"{s['seconds']:.1f}", f"${s['spent']:,.2f}", f"${s['reserved']:,.2f}")
    console.print(table)
    if eta is not None:
        eta_text = f"ETA about {_duration(eta)} at concurrency 4"
    elif left:
        eta_text = "ETA unknown until a take finishes"
    else:
        eta_text = "nothing left to make"
    say(f"{done} done, {left} to go; spent ${catalog.spent_usd():,.2f}, reserved ${catalog.reserved_usd():,.2f}, "
        f"budget ${project.spec.budget_usd:,.2f}; {eta_text}")
    for shot_id, s in per_shot.items():
        for reason in s["reasons"][:3]:
            say(f"  {shot_id} failed: {reason}")
    parked = parked_jobs(project)
    if parked:
        worst = sum(r["reserved_usd"] for r in parked)
        say(f"{len(parked)} parked (outcome unknown, never re-sent; worst case ${worst:,.2f} counted in reserved): "
            f"resolve with `dreamcut reconcile`")
        for r in parked[:10]:
            say(f"  {r['shot_id']} {r['key'][:12]} ({r['backend']}): {r['error_message']}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def _segments(jobs: dict, key: str) -> list:
    """Take `key`'s child jobs: its cast keyframe (`<key>.k`) and its chain's segments."""
    from dreamcut.generate.cost import KEYFRAME_SUFFIX

    keyframe = [jobs[key + KEYFRAME_SUFFIX]] if key + KEYFRAME_SUFFIX in jobs else []
    return keyframe + ([jobs[k] for k in (f"{key}.s{i}" for i in range(64)) if k in jobs] if f"{key}.s0" in jobs else [])


@app.command()
def reconcile(
    adopt: Optional[tuple[str, str]] = typer.Option(None, "--adopt", metavar="KEY PROVIDER_JOB_ID",
                                                    help="This parked job's create is that provider job: poll and "
                                                         "download it (from the provider's dashboard)."),
    resubmit: Optional[str] = typer.Option(None, "--resubmit", metavar="KEY",
                                           help="Send this parked job's create again. It MAY PAY TWICE if the first "
                                                "one reached the provider: check its dashboard first."),
    abandon: Optional[str] = typer.Option(None, "--abandon", metavar="KEY",
                                          help="Give this parked job up; its worst case stays spent in the ledger."),
    not_billed: bool = typer.Option(False, "--not-billed",
                                    help="With --abandon: the provider did not bill it (release the money)."),
    release: Optional[str] = typer.Option(None, "--release", metavar="KEY",
                                          help="Settle the money a cancel kept reserved for this job (Runway may bill "
                                               "a task that started before the cancel): the provider is asked first; "
                                               "billed, the hold becomes a charge of its amount; not billed (or no "
                                               "longer known: check your invoice first), it is released."),
    json_out: bool = typer.Option(False, "--json", help="Print the parked jobs (or what --release freed) as JSON."),
) -> None:
    """Parked jobs (a paid create whose outcome is unknown): list them, or adopt, resubmit or abandon one;
    or release the reservation a cancel kept."""
    import json

    from dreamcut.errors import BadInput
    from dreamcut.generate.orchestrator import Orchestrator, parked_jobs

    project = open_project()
    actions = [a for a in (adopt, resubmit, abandon, release) if a]
    if actions:  # listing is a read; adopting, resubmitting, abandoning or releasing writes (and may pay)
        from dreamcut.cli.app import lock_project

        lock_project(project, "reconcile")
    if len(actions) > 1:
        raise BadInput("give one of --adopt, --resubmit, --abandon, --release at a time", where="reconcile",
                       fix="run `dreamcut reconcile` once per parked job")
    if not_billed and not abandon:
        raise BadInput("--not-billed goes with --abandon KEY", where="reconcile", fix="add --abandon KEY")
    orch = Orchestrator(project)
    if actions:  # the project is locked: no generate runs, so leftovers of killed runs can go
        orch.sweep_strays()
    if release:
        done = orch.release(release)
        reserved = project.catalog.reserved_usd()
        if json_out:
            from dreamcut.cli.json_out import document, emit

            emit(document("reconcile", key=done.key, released_usd=round(done.released, 6),
                          charged_usd=round(done.charged, 6), reserved_usd=round(reserved, 6), note=done.note))
        elif done.charged:
            say(f"{done.key}: {done.note}: the ${done.held:,.2f} held since its cancel is now a charge of "
                f"${done.charged:,.2f}; reserved now ${reserved:,.2f}")
        else:
            say(f"{done.key}: released ${done.held:,.2f} held since its cancel ({done.note}); "
                f"reserved now ${reserved:,.2f}")
        return
    if adopt:
        key = orch.adopt(adopt[0], adopt[1])
        say(f"{key}: adopted provider job {adopt[1]}; `dreamcut generate` polls and downloads it")
        return
    if resubmit:
        say(f"{resubmit}: sending the create again; if the first one reached the provider, this pays twice")
        key, provider_id = orch.resubmit(resubmit)
        say(f"{key}: provider job {provider_id}; `dreamcut generate` polls and downloads it")
        return
    if abandon:
        key, spent = orch.abandon(abandon, billed=not not_billed)
        say(f"{key}: abandoned; " + (f"${spent:,.2f} kept as spent (use --not-billed if the provider did not bill it)"
                                      if spent else "nothing kept as spent"))
        return
    rows = parked_jobs(project)
    listing = [{"key": r["key"], "shot": r["shot_id"], "kind": r["kind"], "backend": r["backend"],
                "worst_case_usd": round(float(r["reserved_usd"]), 6), "sent_at": r["sent_at"],
                "prompt": json.loads(r["request_json"]).get("prompt", ""), "reason": r["error_message"]}
               for r in rows]
    if json_out:
        typer.echo(json.dumps(listing, indent=2))  # plain stdout: no console wrapping inside strings
        return
    for r in orch.held_jobs():  # money a cancel kept reserved: freed by --release once the invoice says
        console.print(f"{r['key']}: ${r['reserved_usd']:,.2f} held since it was cancelled ({r['backend']}); "
                      f"`dreamcut reconcile --release {r['key']}` once your invoice shows no charge",
                      soft_wrap=True, highlight=False, markup=False)
    if not listing:
        say("no parked jobs")
        return
    table = Table(title="parked jobs (outcome unknown)")
    for col in ("key", "shot", "backend", "worst case", "reason"):
        table.add_column(col)
    for item in listing:
        table.add_row(item["key"], item["shot"], item["backend"], f"${item['worst_case_usd']:,.2f}", item["reason"])
    console.print(table)
    say("look each one up on the provider's dashboard (same prompt, sent at that time), then "
        "`--adopt KEY JOB_ID`, or `--resubmit KEY` (may pay twice), or `--abandon KEY [--not-billed]`")


@app.command()
def cancel(
    shots: Optional[list[str]] = typer.Option(None, "--shots", help="Only these shot ids (default: every job in flight)."),
    json_out: bool = typer.Option(False, "--json", help="Print the cancelled jobs (billed, held) as JSON."),
) -> None:
    """Cancel jobs in flight: tell the provider, release their reserved money."""
    from dreamcut.generate.jobs import hold_line
    from dreamcut.generate.orchestrator import Orchestrator

    # Not the writer lock: cancel is how a director stops a running `generate` from another
    # terminal; it marks jobs in the catalog (one short transaction each) and the generate stops polling them.
    project = open_project()
    done = Orchestrator(project).cancel_jobs(_shots(project, shots))
    reserved = project.catalog.reserved_usd()
    if json_out:
        from dreamcut.cli.json_out import document, emit

        emit(document("cancel", cancelled=[{"key": c.key, "billed_usd": round(c.billed, 6),
                                            "held_usd": round(c.held, 6)} for c in done],
                      reserved_usd=round(reserved, 6)))
        return
    n = len(done)
    say(f"cancelled {n} job{'s' if n != 1 else ''}; reserved now ${reserved:,.2f}")
    for c in done:
        if c.held:
            # one line, never wrapped: the command in it is copied from here
            console.print(f"  {c.key}: {hold_line(c.provider, c.key, c.held)}", soft_wrap=True, highlight=False,
                          markup=False)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    api_key: Optional[str] = typer.Option(None, "--api-key", hidden=True,
                                          help="Deprecated: shows the key in the process list; use --api-key-file."),
    api_key_file: Optional[Path] = typer.Option(None, "--api-key-file",
                                                help="File holding the key clients must send as `Authorization: Bearer KEY` "
                                                     "(or set DREAMCUT_API_KEY)."),
    backend: str = typer.Option("animatic", "--backend", help="Local backend that renders: animatic, testcard, diffusers:PATH."),
    workers: int = typer.Option(2, "--workers", min=1, max=256, help="Jobs rendered at once."),
    chaos: float = typer.Option(0.0, "--chaos", min=0.0, max=1.0,
                                help="Fault rate: 429s with Retry-After, 500s, dropped connections, malformed bodies, stuck jobs."),
    chaos_seed: Optional[int] = typer.Option(None, "--chaos-seed", help="Seed for reproducible chaos."),
    latency: float = typer.Option(0.0, "--latency", min=0.0, help="Simulated generation time per job, seconds."),
    price: float = typer.Option(0.0, "--price", min=0.0, help="USD per second the server bills for its own model."),
    storage: Optional[Path] = typer.Option(None, "--storage", help="Folder for rendered videos (default: a temp folder)."),
    blocked_words: Optional[str] = typer.Option(None, "--blocked-words",
                                                help="Comma-separated words whose prompts fail with moderation_blocked."),
    poll_after_ms: int = typer.Option(1000, "--poll-after-ms", min=10, help="Largest openai-poll-after-ms sent."),
    fps: int = typer.Option(24, "--fps", min=1, max=120, help="Frame rate of rendered videos."),
    max_request_mb: int = typer.Option(64, "--max-request-mb", min=1, max=4096,
                                       help="Largest request body accepted (uploads, data URLs); 413 past it."),
    max_pending: int = typer.Option(1000, "--max-pending", min=1, help="Queued + running jobs before creates get 429."),
    no_fetch_urls: bool = typer.Option(False, "--no-fetch-urls",
                                       help="Refuse http(s) input_reference.image_url (data URLs and file ids still work)."),
) -> None:
    """Run an OpenAI-compatible /v1/videos server on a local backend (the official openai SDK works against it)."""
    import os

    from dreamcut.server import resolve_api_key, run

    api_key, warning = resolve_api_key(flag=api_key, file=api_key_file, env=os.environ.get("DREAMCUT_API_KEY"))
    if warning:
        say(warning)
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        say("warning: serving beyond this machine without an API key (--api-key-file or DREAMCUT_API_KEY): anyone who can reach it can use it")
    say(f"dreamcut serve: http://{host}:{port}/v1 (backend {backend}"
        f"{', chaos ' + str(chaos) if chaos else ''}{', key required' if api_key else ''})")
    run(host=host, port=port, api_key=api_key, backend=backend, workers=workers, chaos=chaos, chaos_seed=chaos_seed,
        latency=latency, price_per_second=price, storage=storage,
        blocked_words=tuple(w.strip() for w in (blocked_words or "").split(",") if w.strip()),
        poll_after_ms=poll_after_ms, fps=fps, max_request_bytes=max_request_mb << 20, max_pending=max_pending,
        fetch_urls=not no_fetch_urls)
