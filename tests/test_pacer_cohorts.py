"""The first-poll pacer learns once per estimate, not once per job polled at it: with 16 jobs in
flight, a cohort polled at one estimate comes back together, and counting each of them as a hit
(or a miss) in a row doubled the step with every one, swinging the estimate by a quarter in a
few jobs and back (a third of the jobs then polled twice). Pure: `_Pacer` and the event
simulation of test_pacer_in_flight."""

from __future__ import annotations

import random

from dreamcut.generate.pacing import _Pacer
from test_pacer_in_flight import _simulate


def _learned(expected: float) -> _Pacer:
    pacer = _Pacer()
    pacer.learn(expected, first_poll_found_it=False)
    return pacer


def test_a_cohort_found_done_at_one_estimate_lowers_it_by_one_step():
    pacer = _learned(2.0)
    for _ in range(16):  # all polled at 2.0, all found done
        pacer.learn(2.0, first_poll_found_it=True, aimed_at=2.0)
    assert 2.0 * (1 - _Pacer.EARLIER) - 1e-9 <= pacer.expected < 2.0
    # the next job polled at the lowered estimate and found done is new evidence: it lowers it again
    lowered = pacer.expected
    pacer.learn(lowered, first_poll_found_it=True, aimed_at=lowered)
    assert pacer.expected < lowered


def test_a_cohort_missed_at_one_estimate_raises_it_by_one_step():
    pacer = _learned(2.0)
    for _ in range(16):  # all polled at 2.0, none done yet; done at 2.2
        pacer.learn(2.2, first_poll_found_it=False, last_running=2.0, aimed_at=2.0)
    assert pacer.expected == 2.0 * (1 + _Pacer.LATER)
    raised = pacer.expected
    pacer.learn(2.2, first_poll_found_it=False, last_running=raised, aimed_at=raised)
    assert raised < pacer.expected <= 2.2


def test_sixteen_in_flight_poll_about_once_a_job_without_idling_the_slots():
    polls_per_job, late_ms = [], []
    for seed in range(3):
        rng = random.Random(seed)
        durations = [rng.gauss(2.05, 0.03) for _ in range(500)]
        pacer, polls, lowest = _simulate(durations, in_flight=16)
        late = polls[100:]
        polls_per_job.append(sum(late) / len(late))
        assert lowest > 1.9  # no swing a quarter below how long the jobs take
        assert 2.0 < pacer.expected < 2.2
    assert max(polls_per_job) < 1.2  # was 1.3 with the estimate swinging
