"""What the first-poll pacer learns from, on the real poll loop and a simulated clock (the helpers
of test_orchestrator_pacing): a job whose poll met a transient error (our backoff, the provider's
Retry-After) teaches it nothing, and an estimate left too late by slower jobs comes down as soon
as the jobs get faster again."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dreamcut.backends.base import JobStatus, ProviderError
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.orchestrator import Limits, Orchestrator
from test_orchestrator_pacing import SimStop, TimedProvider, _clip, _expected, sim_project

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class FlakyTimedProvider(TimedProvider):
    """TimedProvider whose first poll of the jobs numbered in `flaky` fails with a transient error
    that asks to come back in `retry_after` seconds."""

    flaky: set = field(default_factory=set)
    retry_after: float = 5.0

    def poll(self, job_id: str) -> JobStatus:
        if int(job_id.split("-")[1]) in self.flaky and self.polls[job_id] == 0:
            with self.lock:
                self.polls[job_id] += 1
            raise ProviderError("busy", code="rate_limited", transient=True, retry_after=self.retry_after)
        return super().poll(job_id)


def _run(tmp_path, monkeypatch, durations: list[float], flaky: set[int] = frozenset()):
    clock, project = sim_project(tmp_path, monkeypatch, shots=len(durations))
    provider = FlakyTimedProvider(_clip(tmp_path / "clip.mp4"), clock, durations, flaky=set(flaky))
    orch = Orchestrator(project, backend_factory=lambda ref: provider, poll_interval=1.0,
                        default_limits=Limits(concurrency=1), sign_takes=False)
    orch._stop = SimStop(clock)
    summary = orch.run(plan_takes(project.spec, root=str(project.root)))
    assert summary.made == len(durations)
    return provider, orch


def test_a_job_that_waited_on_retries_does_not_move_the_first_poll_later(tmp_path, monkeypatch):
    # one job's poll waits 5 s on a Retry-After: the jobs still take 0.6 s
    provider, orch = _run(tmp_path, monkeypatch, [0.6] * 40, flaky={10})
    assert provider.polls["job-10"] >= 2  # it did meet the error
    assert _expected(orch) < 0.8


def test_the_first_poll_comes_earlier_as_soon_as_jobs_get_faster(tmp_path, monkeypatch):
    provider, orch = _run(tmp_path, monkeypatch, [5.0] * 10 + [0.6] * 30)
    assert _expected(orch) < 0.8
    polls = provider.polls_in_order()[-10:]
    assert sum(1 for n in polls if n == 1) >= 5  # and it does not overshoot into polls wasted on every job
