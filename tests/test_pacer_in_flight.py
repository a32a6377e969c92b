"""The first-poll pacer with many jobs in flight (a pure event simulation of `_wait`'s first poll
against `_Pacer`, no threads, no clock): jobs found done come back a round trip after the estimate
they were polled at, and a run of them must not lower the estimate again each (which drove it to
a tenth of how long jobs take: every job then polled three times)."""

from __future__ import annotations

import heapq
import random

from dreamcut.generate.pacing import _Pacer


def _simulate(durations: list[float], in_flight: int, poll_interval: float = 1.0) -> tuple[_Pacer, list[int], float]:
    """Run `durations` through `in_flight` slots the way `_wait` does: sleep to the estimate (following
    it when it moves later), poll, and come back when the provider says (the job's end + 25 ms, at
    least 20 ms, at most 1 s). Returns the pacer, the polls per job, and the lowest estimate seen."""
    pacer, events, polls, lowest = _Pacer(), [], [0] * len(durations), float("inf")
    jobs: list[dict] = []

    def submit(now: float) -> None:
        if len(jobs) < len(durations):
            jobs.append({"at": now, "due": now + durations[len(jobs)], "aimed": None, "running": None})
            heapq.heappush(events, (now, len(jobs) - 1, "wait"))

    for _ in range(in_flight):
        submit(0.0)
    while events:
        now, n, what = heapq.heappop(events)
        job = jobs[n]
        if what == "wait":
            estimate = pacer.first_poll(poll_interval)
            wait = estimate - (now - job["at"])
            if wait > 0.005 or job["aimed"] is None:
                job["aimed"] = estimate
            if wait > 0.005:
                heapq.heappush(events, (now + wait, n, "wait"))
                continue
        polls[n] += 1
        if now >= job["due"]:
            pacer.learn(now - job["at"], first_poll_found_it=polls[n] == 1, last_running=job["running"],
                        aimed_at=job["aimed"])
            if pacer.expected is not None:
                lowest = min(lowest, pacer.expected)
            submit(now)
        else:
            job["running"] = now - job["at"]
            after = max(0.02, min(1.0, job["due"] - now + 0.025))
            heapq.heappush(events, (now + max(after, pacer.repoll_floor()), n, "poll"))
    return pacer, polls, lowest


def test_sixteen_jobs_in_flight_do_not_drive_the_first_poll_towards_zero():
    rng = random.Random(3)
    durations = [rng.gauss(2.07, 0.03) for _ in range(400)]
    pacer, polls, lowest = _simulate(durations, in_flight=16)
    assert lowest > 0.7 * 2.0  # a step of at most 25 % below the estimate the jobs were polled at
    late = polls[100:]
    assert sum(late) / len(late) < 1.45
    assert 1.9 < pacer.expected < 2.3


def test_with_jobs_in_flight_the_estimate_still_comes_down_when_jobs_get_faster():
    rng = random.Random(5)
    durations = [10.0] * 40 + [rng.gauss(2.0, 0.03) for _ in range(260)]
    pacer, polls, _ = _simulate(durations, in_flight=16)
    assert 1.8 < pacer.expected < 2.4
    late = polls[-100:]
    assert sum(1 for n in late if n == 1) / len(late) > 0.6
