"""What a job given up on (past its `job_timeout`) costs, when the cancel does not go as planned: the
ledger says what the provider bills, nothing more and nothing less.

CI once saw the ledger one job over the bill under `serve --chaos` (test_crash's twenty kill -9s):
a stuck job timed out, its cancel met only dropped connections and 5xx, and the job was charged
its full price although the server never billed it. Here the same cases run on the real
Orchestrator and its poll loop, on a simulated clock (test_orchestrator_pacing's), against a
test-only provider that bills like `dreamcut serve`: a completed job costs its price, a cancelled
or failed one nothing (CancelBilling.REFUNDED)."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dreamcut.backends.base import CancelBilling, Capabilities, GenerationRequest, JobState, JobStatus, ProviderError
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.orchestrator import Limits, Orchestrator
from dreamcut.project import Project
from serve_helpers import make_project
from test_orchestrator_pacing import SimClock, SimStop, _clip

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PRICE = 0.25  # dollars a completed job bills
TIMEOUT = 60.0


@dataclass
class RefundingProvider:
    """Bills a completed job PRICE, a cancelled one nothing. Each job completes `finish_after`
    seconds after its submit (None: never); `cancel_answers` says whether a cancel reaches it and
    answers (False: every try fails with a dropped connection and the job runs on); with
    `completes_at_cancel`, the job completes just as the cancel arrives (too late to stop it)."""

    clip: Path
    clock: SimClock
    finish_after: float | None = None
    cancel_answers: bool = True
    completes_at_cancel: bool = False
    name: str = "refunding"
    model: str = "x"
    cancel_billing: CancelBilling = CancelBilling.REFUNDED
    lock: threading.Lock = field(default_factory=threading.Lock)
    jobs: dict = field(default_factory=dict)  # id -> "running" | "completed" | "cancelled"
    due: dict = field(default_factory=dict)
    cancels: int = 0

    def capabilities(self) -> Capabilities:
        return Capabilities(max_seconds=60.0, local=False, price_per_second=PRICE)

    def price(self, request: GenerationRequest) -> float:
        return PRICE

    def problems(self, request: GenerationRequest) -> list[str]:
        return []

    def billed(self) -> float:
        return PRICE * sum(1 for s in self.jobs.values() if s == "completed")

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        with self.lock:
            job_id = f"job-{len(self.jobs)}"
            self.jobs[job_id] = "running"
            self.due[job_id] = None if self.finish_after is None else self.clock.time() + self.finish_after
        return job_id

    def poll(self, job_id: str) -> JobStatus:
        with self.lock:
            due = self.due[job_id]
            if self.jobs[job_id] == "running" and due is not None and self.clock.time() >= due:
                self.jobs[job_id] = "completed"
            state = self.jobs[job_id]
        if state == "completed":
            return JobStatus(JobState.COMPLETED, progress=1.0)
        if state == "cancelled":
            return JobStatus(JobState.FAILED, error_code="cancelled", error_message="cancelled; not billed")
        return JobStatus(JobState.RUNNING, poll_after=5.0)

    def cancel(self, job_id: str) -> None:
        with self.lock:
            self.cancels += 1
            if not self.cancel_answers:
                raise ProviderError("the connection dropped", code="connection", transient=True)
            if self.completes_at_cancel:
                self.jobs[job_id] = "completed"
            if self.jobs[job_id] == "running":
                self.jobs[job_id] = "cancelled"

    def download(self, job_id: str, dest: Path, progress=None) -> None:
        assert self.jobs[job_id] == "completed"
        dest.write_bytes(self.clip.read_bytes())


def _setup(tmp_path: Path, monkeypatch, **provider) -> tuple[Project, RefundingProvider, SimClock]:
    from dreamcut.generate import chains, orchestrator, pacing, provider_jobs, reconcile

    clock = SimClock()
    for module in (orchestrator, provider_jobs, pacing, chains, reconcile):
        monkeypatch.setattr(module, "time", clock)
    make_project(tmp_path / "p", shots=1, takes=1, seconds=1, backend="animatic", budget=10, size="64x64", fps=8)
    return Project.open(tmp_path / "p"), RefundingProvider(_clip(tmp_path / "clip.mp4"), clock, **provider), clock


def _run(project: Project, provider: RefundingProvider, clock: SimClock):
    orch = Orchestrator(project, backend_factory=lambda ref: provider, poll_interval=1.0,
                        default_limits=Limits(concurrency=1, job_timeout=TIMEOUT, backoff_cap=2.0), sign_takes=False)
    orch._stop = SimStop(clock)
    return orch.run(plan_takes(project.spec, root=str(project.root)))


def _books(project: Project) -> tuple[float, float, str]:
    """(charged in the ledger, still reserved, the job's state)."""
    with sqlite3.connect(project.root / ".dreamcut" / "catalog.sqlite") as db:
        charged = db.execute("SELECT COALESCE(SUM(amount_usd),0) FROM ledger WHERE kind='charge'").fetchone()[0]
        reserved = db.execute("SELECT COALESCE(SUM(amount_usd),0) FROM ledger WHERE kind IN ('reserve','release')"
                              ).fetchone()[0]
        (state,) = db.execute("SELECT state FROM jobs WHERE kind='take'").fetchone()
    return round(charged, 6), round(reserved, 6), state


def test_a_cancel_that_gets_no_answer_leaves_the_job_in_flight_and_charges_nothing_yet(tmp_path, monkeypatch):
    project, provider, clock = _setup(tmp_path, monkeypatch, cancel_answers=False)
    summary = _run(project, provider, clock)
    assert provider.cancels == Limits().max_attempts  # every try of the cancel failed
    assert summary.failed == 0 and summary.pending == 1
    assert "the cancel got no answer" in summary.failures[0][1]
    assert _books(project) == (0.0, PRICE, "running")  # not charged: the worst case stays reserved
    provider.cancel_answers = True  # the next run: the cancel gets through, and the job is billed as it ended
    summary = _run(project, provider, clock)
    assert summary.failed == 1 and summary.pending == 0 and provider.jobs == {"job-0": "cancelled"}
    assert _books(project) == (0.0, 0.0, "failed") and provider.billed() == 0.0


def test_a_job_the_provider_ran_on_after_a_lost_cancel_is_taken_and_charged_once(tmp_path, monkeypatch):
    project, provider, clock = _setup(tmp_path, monkeypatch, cancel_answers=False)
    _run(project, provider, clock)
    clock.sleep(600)
    provider.jobs["job-0"], provider.cancel_answers = "completed", True  # it finished there meanwhile
    summary = _run(project, provider, clock)
    assert summary.made == 1 and summary.failed == 0
    assert _books(project) == (PRICE, 0.0, "completed") and provider.billed() == PRICE


def test_a_job_that_completes_as_it_is_given_up_is_taken_not_thrown_away(tmp_path, monkeypatch):
    project, provider, clock = _setup(tmp_path, monkeypatch, completes_at_cancel=True)
    summary = _run(project, provider, clock)
    assert provider.cancels == 1 and summary.made == 1 and summary.failed == 0
    assert _books(project) == (PRICE, 0.0, "completed") and provider.billed() == PRICE
    assert len(list((project.root / "takes").rglob("*.mp4"))) == 1


def test_a_stuck_job_whose_cancel_answers_fails_with_nothing_charged(tmp_path, monkeypatch):
    project, provider, clock = _setup(tmp_path, monkeypatch)
    summary = _run(project, provider, clock)
    assert summary.failed == 1 and provider.cancels == 1
    assert "did not finish within 60 s" in summary.failures[0][1]
    assert _books(project) == (0.0, 0.0, "failed") and provider.billed() == 0.0
