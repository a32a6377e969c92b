"""The job runner: planned takes -> jobs in the catalog -> backend -> verified takes on disk.

Durability contract (what makes "never pay twice" true):
1. A job row keyed by the request's content key is committed (state `pending`, cost
   reserved) BEFORE `backend.submit` is called.
2. The provider's job id is committed (state `submitted`) the moment submit returns.
3. A job found `submitted`/`running`/`downloading` on start-up is polled, never
   submitted again (local backends excepted: re-running them costs nothing).
4. Downloads go to a temp file beside the target, are verified by probing, and are
   renamed into `takes/<shot>/`; the take row and the ledger charge are written in one
   transaction with the job's `completed` state.

This module decides nothing about which takes to make (see `batch.py`) and never prices
(see `cost.py`); it runs what it is given, in order, and records every step.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dreamcut.backends.base import Backend, JobState, ProviderError
from dreamcut.backends.registry import BackendRef, load_backend
from dreamcut.catalog import Take
from dreamcut.errors import WorkFailed
from dreamcut.generate.batch import PlannedTake
from dreamcut.media import atomic_path, probe, write_text_atomic
from dreamcut.project import Project

ACTIVE = ("pending", "submitted", "running", "downloading")


@dataclass
class RunSummary:
    made: int = 0
    skipped: int = 0
    failed: int = 0
    spent_usd: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (job key, reason)


def take_id_for(planned: PlannedTake) -> str:
    return f"{planned.shot_id}-t{planned.index + 1:02d}-{planned.key[:6]}"


class Orchestrator:
    def __init__(self, project: Project, *, backend_factory: Callable[[BackendRef], Backend] | None = None,
                 poll_interval: float = 1.0):
        self.project = project
        self.catalog = project.catalog
        self._factory = backend_factory or (lambda ref: load_backend(ref))
        self._backends: dict[str, Backend] = {}
        self.poll_interval = poll_interval

    def backend(self, ref: BackendRef) -> Backend:
        name = str(ref)
        if name not in self._backends:
            self._backends[name] = self._factory(ref)
        return self._backends[name]

    # -- the run -------------------------------------------------------------------------
    def run(self, planned: list[PlannedTake], *, on_progress: Callable[[PlannedTake, str], None] | None = None
            ) -> RunSummary:
        summary = RunSummary()
        for p in planned:
            state = self._run_one(p, summary)
            if on_progress:
                on_progress(p, state)
        return summary

    def _run_one(self, p: PlannedTake, summary: RunSummary) -> str:
        key = p.key
        row = self.catalog.job(key)
        if row is not None and row["state"] == "completed" and self.catalog.take_for_job(key):
            summary.skipped += 1
            return "skipped"
        if row is not None and row["state"] in ("failed", "canceled"):
            summary.failed += 1
            return row["state"]
        backend = self.backend(p.backend)
        caps = backend.capabilities()
        if row is None:
            price = backend.price(p.request)
            now = time.time()
            with self.catalog.transaction() as db:
                db.execute(
                    "INSERT INTO jobs(key, shot_id, kind, variant, backend, request_json, state, reserved_usd, "
                    "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (key, p.shot_id, p.kind, p.request.variant, str(p.backend), json.dumps(p.request.to_dict()),
                     "pending", price, now, now))
                if price:
                    self.catalog.ledger_add("reserve", price, key)
            row = self.catalog.job(key)
        provider_id = row["provider_job_id"]
        if row["state"] == "pending" or (caps.local and row["state"] != "completed"):
            try:
                provider_id = backend.submit(p.request, key)
            except ProviderError as e:
                self._fail(key, e.code, e.message, summary)
                return "failed"
            self.catalog.update_job(key, state="submitted", provider_job_id=provider_id,
                                    submitted_at=time.time(), attempts=row["attempts"] + 1)
        # poll until done
        while True:
            try:
                status = backend.poll(provider_id)
            except ProviderError as e:
                if e.transient:
                    time.sleep(e.retry_after or self.poll_interval)
                    continue
                self._fail(key, e.code, e.message, summary)
                return "failed"
            if status.state == JobState.COMPLETED:
                break
            if status.state.terminal:
                self._fail(key, status.error_code or status.state.value, status.error_message or "", summary)
                return "failed"
            self.catalog.update_job(key, state="running")
            time.sleep(status.poll_after or self.poll_interval)
        self.catalog.update_job(key, state="downloading")
        take = self._download(p, backend, provider_id, status.cost_usd)
        summary.made += 1
        summary.spent_usd += take.cost_usd
        return "completed"

    def _download(self, p: PlannedTake, backend: Backend, provider_id: str, billed: float | None) -> Take:
        key = p.key
        take_id = take_id_for(p)
        dest = self.project.take_path(p.shot_id, take_id, kind=p.kind)
        if not dest.exists():
            with atomic_path(dest) as tmp:
                backend.download(provider_id, tmp)
                info = probe(tmp)
                if info.video is None or info.duration <= 0:
                    raise WorkFailed("the backend returned a file without video", where=self.project.rel(dest))
        info = probe(dest)
        assert info.video is not None
        row = self.catalog.job(key)
        cost = float(billed if billed is not None else row["reserved_usd"])
        take = Take(id=take_id, shot_id=p.shot_id, kind=p.kind, job_key=key, path=self.project.rel(dest),
                    variant=p.request.variant, seed=p.request.seed, backend=p.backend.name, model=p.backend.model,
                    prompt=p.request.prompt, seconds=info.duration, width=info.video.width,
                    height=info.video.height, fps=info.video.fps, cost_usd=cost)
        sidecar = {"take": take_id, "shot": p.shot_id, "backend": str(p.backend), "seed": p.request.seed,
                   "variant": p.request.variant, "cost_usd": cost, "request": p.request.to_dict(),
                   "created_at": time.time()}
        write_text_atomic(dest.with_suffix(".json"), json.dumps(sidecar, indent=2, sort_keys=True))
        with self.catalog.transaction():
            if self.catalog.take(take_id) is None:
                self.catalog.add_take(take)
            self.catalog.update_job(key, state="completed", take_id=take_id, cost_usd=cost, finished_at=time.time())
            if cost:
                self.catalog.ledger_add("charge", cost, key)
            if row["reserved_usd"]:
                self.catalog.ledger_add("release", -row["reserved_usd"], key)
        return take

    def _fail(self, key: str, code: str, message: str, summary: RunSummary) -> None:
        row = self.catalog.job(key)
        with self.catalog.transaction():
            self.catalog.update_job(key, state="failed", error_code=code, error_message=message[:500],
                                    finished_at=time.time())
            if row and row["reserved_usd"]:
                self.catalog.ledger_add("release", -row["reserved_usd"], key)
        summary.failed += 1
        summary.failures.append((key, f"{code}: {message}"))


def pending_keys(project: Project) -> set[str]:
    return {r["key"] for r in project.catalog.jobs(*ACTIVE)}


def done_keys(project: Project) -> set[str]:
    return {r["key"] for r in project.catalog.jobs("completed")}
