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
from dreamcut.generate.orchestrator import Limits, Orchestrator, _Pacer
from dreamcut.media import FrameWriter
from dreamcut.project import Project
from serve_helpers import make_project

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# -- the first poll ---------------------------------------------------------------------------

def _simulate(pacer: _Pacer, durations, repoll: float = 0.02) -> list[int]:
    """Poll each job like the orchestrator does; return how many polls each one took."""
    polls = []
    for took in durations:
        at, n = pacer.first_poll(1.0), 1
        while at < took:  # not done yet: come back when told
            at, n = at + max(repoll, pacer.repoll_floor()), n + 1
        pacer.learn(at, first_poll_found_it=n == 1)
        polls.append(n)
    return polls


def test_pacer_finds_most_jobs_done_at_the_first_poll():
    rng = random.Random(7)
    pacer = _Pacer()
    polls = _simulate(pacer, [rng.gauss(2.05, 0.03) for _ in range(1500)])
    late = polls[-500:]
    assert sum(late) / len(late) < 1.4  # about one poll per job, not one per poll interval
    assert sum(1 for n in late if n == 1) / len(late) > 0.7
    assert 2.0 < pacer.expected < 2.2  # close to how long the jobs take: slots are not left idle


def test_pacer_follows_jobs_that_get_slower():
    pacer = _Pacer()
    _simulate(pacer, [2.0] * 200)
    _simulate(pacer, [6.0] * 5)  # the provider got busy: much longer jobs start the estimate again
    assert pacer.expected > 5.5
    polls = _simulate(pacer, [6.0] * 50)
    assert sum(polls) / len(polls) < 1.5


# -- what a slot covers -----------------------------------------------------------------------

@dataclass
class SlowDownloadProvider:
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

    def capabilities(self) -> Capabilities:
        return Capabilities(max_seconds=60.0, local=False, price_per_second=0.0)

    def price(self, request: GenerationRequest) -> float:
        return 0.0

    def problems(self, request: GenerationRequest) -> list[str]:
        return []

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

    def cancel(self, job_id: str) -> None:
        pass


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
