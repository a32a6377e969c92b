"""Before any job of a run has finished, the pacer knows nothing of how long jobs take: a provider
that says "come back in 20 ms" while it finishes a job (as `dreamcut serve` does once its simulated
wait is over) had the first jobs polled every 20 ms. The provider's progress, extrapolated, now
says when to come back. On the real poll loop and the simulated clock of test_orchestrator_pacing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dreamcut.backends.base import JobState, JobStatus
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.orchestrator import Limits, Orchestrator
from dreamcut.generate.pacing import _Pacer
from test_orchestrator_pacing import SimStop, TimedProvider, _clip, sim_project

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class ProgressProvider(TimedProvider):
    """Like `dreamcut serve`: a simulated wait of `wait_s` reporting progress (at most 95 %) and
    asking to come back when it is over (at most 1 s ahead, at least 20 ms), then a render."""

    wait_s: float = 2.0

    def poll(self, job_id: str) -> JobStatus:
        with self.lock:
            self.polls[job_id] += 1
        now = self.clock.time()
        left = self.due[job_id] - now
        if left <= 0:
            return JobStatus(JobState.COMPLETED, progress=1.0)
        ran = now - (self.due[job_id] - self.durations[self.order.index(job_id)])
        return JobStatus(JobState.RUNNING, progress=min(0.95, ran / self.wait_s),
                         poll_after=max(0.02, min(1.0, self.wait_s - ran + 0.025)))


def test_the_first_job_is_not_polled_every_20_ms_while_the_provider_finishes_it(tmp_path, monkeypatch):
    durations = [2.4, 2.4, 2.4]  # 2 s of waiting, then 0.4 s of render at "95 %"
    clock, project = sim_project(tmp_path, monkeypatch, shots=len(durations))
    provider = ProgressProvider(_clip(tmp_path / "clip.mp4"), clock, durations)
    orch = Orchestrator(project, backend_factory=lambda ref: provider, poll_interval=1.0,
                        default_limits=Limits(concurrency=1), sign_takes=False)
    orch._stop = SimStop(clock)
    assert orch.run(plan_takes(project.spec, root=str(project.root))).made == len(durations)
    first = provider.polls_in_order()[0]
    assert first <= 6  # at 1 s, 2 s, then every ~0.11 s as the progress says (was 22: every 20 ms for 0.4 s)
    (pacer,) = orch._pacers.values()
    assert 2.4 <= pacer.expected < 2.4 * 1.26  # what it learned from the first job: late by at most a quarter


def test_without_progress_or_once_jobs_have_finished_the_floor_is_unchanged():
    pacer = _Pacer()
    assert pacer.repoll_floor(2.0, 0.0) == 0.0  # no figure from the provider: its poll_after stands
    assert pacer.repoll_floor(2.0, 0.5) == pytest.approx(0.5)  # capped at a quarter of the time run
    assert pacer.repoll_floor(2.0, 0.95) == pytest.approx(2.0 * 0.05 / 0.95)
    pacer.learn(2.0, first_poll_found_it=False)
    assert pacer.repoll_floor(2.0, 0.95) == pytest.approx(0.05)  # 2.5 % of how long jobs take
