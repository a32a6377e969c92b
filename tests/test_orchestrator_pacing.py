"""How the orchestrator keeps a backend busy: when it polls, and what a concurrency slot covers."""

from __future__ import annotations

import random
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from dreamcut.backends.base import Capabilities, GenerationRequest, JobState, JobStatus
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.orchestrator import Limits, Orchestrator
from dreamcut.media import FrameWriter
from dreamcut.project import Project
from serve_helpers import make_project

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# -- the first poll ---------------------------------------------------------------------------
#
# These drive the real Orchestrator (its poll loop, its pacer) on a simulated clock: the
# generate modules' `time` and the run's stop event (whose `wait` is how the orchestrator
# sleeps) advance a clock instead of waiting, so a batch of 2-second jobs takes no wall time and
# what is asserted is the polling behaviour, never how long anything took.


class SimClock:
    """Stands in for the `time` module inside the orchestrator: sleeping advances it."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.lock = threading.Lock()

    def time(self) -> float:
        with self.lock:
            return self.now

    monotonic = time

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(0.0, seconds)


class SimStop(threading.Event):
    """The run's stop event: `wait(timeout)` is the orchestrator's sleep, on the simulated clock."""

    def __init__(self, clock: SimClock):
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        if not self.is_set() and timeout:
            self.clock.sleep(timeout)
        return self.is_set()


class FreeRemote:
    """What the test-only remote providers below share: a remote backend that costs nothing and
    cannot cancel."""

    def capabilities(self) -> Capabilities:
        return Capabilities(max_seconds=60.0, local=False, price_per_second=0.0)

    def price(self, request: GenerationRequest) -> float:
        return 0.0

    def problems(self, request: GenerationRequest) -> list[str]:
        return []

    def cancel(self, job_id: str) -> None:
        pass


@dataclass
class TimedProvider(FreeRemote):
    """Test-only remote provider on the simulated clock: the n-th job submitted takes `durations[n]`
    seconds; counts the polls each job got."""

    clip: Path
    clock: SimClock
    durations: list[float]
    name: str = "timed"
    model: str = "x"
    lock: threading.Lock = field(default_factory=threading.Lock)
    due: dict = field(default_factory=dict)
    polls: dict = field(default_factory=dict)
    order: list = field(default_factory=list)

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        with self.lock:
            job_id = f"job-{len(self.order)}"
            self.due[job_id] = self.clock.time() + self.durations[len(self.order)]
            self.order.append(job_id)
            self.polls[job_id] = 0
        return job_id

    def poll(self, job_id: str) -> JobStatus:
        with self.lock:
            self.polls[job_id] += 1
        left = self.due[job_id] - self.clock.time()
        if left > 0:
            return JobStatus(JobState.RUNNING, poll_after=0.02)  # a provider that says "come back soon"
        return JobStatus(JobState.COMPLETED, progress=1.0)

    def download(self, job_id: str, dest: Path, progress=None) -> None:
        shutil.copyfile(self.clip, dest)

    def polls_in_order(self) -> list[int]:
        return [self.polls[j] for j in self.order]


def _clip(path: Path) -> Path:
    with FrameWriter(path, 64, 64, 8) as w:
        for _ in range(8):
            w.write(np.full((64, 64, 3), 90, np.uint8))
    return path


def sim_project(tmp_path: Path, monkeypatch, shots: int) -> tuple[SimClock, Project]:
    """A small animatic project whose run sees one simulated clock: the run's modules each read
    `time` (the poll loop lives in provider_jobs, the pacer in pacing), all patched to it."""
    from dreamcut.generate import chains, orchestrator, pacing, provider_jobs, reconcile

    clock = SimClock()
    for module in (orchestrator, provider_jobs, pacing, chains, reconcile):
        monkeypatch.setattr(module, "time", clock)
    make_project(tmp_path / "p", shots=shots, takes=1, seconds=1, backend="animatic", budget=0,
                 size="64x64", fps=8)
    return clock, Project.open(tmp_path / "p")


def _run_timed(tmp_path: Path, monkeypatch, durations: list[float]) -> tuple[TimedProvider, Orchestrator]:
    """One job at a time (so the n-th submit is the n-th duration), on the simulated clock."""
    clock, project = sim_project(tmp_path, monkeypatch, shots=len(durations))
    provider = TimedProvider(_clip(tmp_path / "clip.mp4"), clock, durations)
    orch = Orchestrator(project, backend_factory=lambda ref: provider, poll_interval=1.0,
                        default_limits=Limits(concurrency=1), sign_takes=False)
    orch._stop = SimStop(clock)
    summary = orch.run(plan_takes(project.spec, root=str(project.root)))
    assert summary.made == len(durations)
    return provider, orch


def _expected(orch: Orchestrator) -> float:
    (pacer,) = orch._pacers.values()
    assert pacer.expected is not None
    return pacer.expected


def test_pacer_finds_most_jobs_done_at_the_first_poll(tmp_path, monkeypatch):
    rng = random.Random(7)
    provider, orch = _run_timed(tmp_path, monkeypatch, [rng.gauss(2.05, 0.03) for _ in range(120)])
    late = provider.polls_in_order()[-60:]
    assert sum(late) / len(late) < 1.4  # about one poll per job, not one per poll interval
    assert sum(1 for n in late if n == 1) / len(late) > 0.7
    assert 2.0 < _expected(orch) < 2.2  # close to how long the jobs take: slots are not left idle


def test_pacer_follows_jobs_that_get_slower(tmp_path, monkeypatch):
    # the provider gets busy: much longer jobs start the estimate again
    provider, orch = _run_timed(tmp_path, monkeypatch, [2.0] * 30 + [6.0] * 35)
    assert _expected(orch) > 5.5
    polls = provider.polls_in_order()[-30:]
    assert sum(polls) / len(polls) < 1.5


# -- what a slot covers -----------------------------------------------------------------------

@dataclass
class SlowDownloadProvider(FreeRemote):
    """Test-only remote provider: jobs finish after `job_s`; each download takes `download_s`."""

    clip: Path
    job_s: float = 0.15
    download_s: float = 0.4
    name: str = "slowdl"
    model: str = "x"
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: dict = field(default_factory=dict)
    at_provider: int = 0  # submitted, not yet seen finished by the orchestrator
    downloading: int = 0
    max_at_provider: int = 0
    full_while_downloading: int = 0  # times a slot-full of jobs ran while a download was going on

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        with self.lock:
            job_id = f"job-{len(self.started)}"
            self.started[job_id] = time.monotonic()
            self.at_provider += 1
            self.max_at_provider = max(self.max_at_provider, self.at_provider)
        return job_id

    def poll(self, job_id: str) -> JobStatus:
        left = self.started[job_id] + self.job_s - time.monotonic()
        if left > 0:
            return JobStatus(JobState.RUNNING, poll_after=left)
        with self.lock:
            self.at_provider -= 1
        return JobStatus(JobState.COMPLETED, progress=1.0)

    def download(self, job_id: str, dest: Path, progress=None) -> None:
        with self.lock:
            self.downloading += 1
        deadline = time.monotonic() + self.download_s
        while time.monotonic() < deadline:
            with self.lock:
                if self.at_provider == 2:
                    self.full_while_downloading += 1
            time.sleep(0.02)
        shutil.copyfile(self.clip, dest)
        with self.lock:
            self.downloading -= 1


def test_a_slot_is_freed_when_the_provider_finishes_not_after_the_download(tmp_path):
    clip = tmp_path / "clip.mp4"
    with FrameWriter(clip, 64, 64, 8) as w:
        for _ in range(8):
            w.write(np.full((64, 64, 3), 90, np.uint8))
    make_project(tmp_path / "p", shots=3, takes=2, seconds=1, backend="animatic", budget=0, size="64x64", fps=8)
    project = Project.open(tmp_path / "p")
    provider = SlowDownloadProvider(clip)
    summary = Orchestrator(project, backend_factory=lambda ref: provider, poll_interval=0.05,
                           default_limits=Limits(concurrency=2), sign_takes=False).run(
        plan_takes(project.spec, root=str(project.root)))
    assert summary.made == 6 and len(project.catalog.takes()) == 6
    assert provider.max_at_provider == 2  # the concurrency limit holds at the provider
    assert provider.full_while_downloading > 0  # and the next jobs were submitted while earlier ones downloaded
