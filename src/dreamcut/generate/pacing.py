"""How hard and how often the job runner talks to a provider: a token-bucket rate limiter,
jittered backoff, the provider-time scale, slots for jobs at a provider, the warm-up gate for a
backend's first create, and the pacer that learns when to poll a job first."""

from __future__ import annotations

import os
import random
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from dreamcut.errors import BadInput
from dreamcut.generate.jobs import _Stopped


class RateLimiter:
    """A token bucket: at most `rate` calls per second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None):
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
                self.last = now
                if self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return
                wait_s = (1.0 - self.tokens) / self.rate
            time.sleep(wait_s)


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0-based): the provider's word, else jittered exponential."""
    rng = rng or random
    if retry_after is not None and retry_after >= 0:
        return retry_after + rng.uniform(0, min(1.0, 0.1 * retry_after + 0.05))
    d = min(cap, base * (2 ** attempt))
    return rng.uniform(d / 2, d)


class RetryBudget:
    """The tries one API call has left, per kind of failure, each kind with its own count.

    A rate limit (`ProviderError.rate_limited`, a 429) is the provider saying it is busy: the call
    waits what its Retry-After / rate-limit headers ask (else the backoff) and may do so
    `limits.rate_limit_attempts` times. Any other transient failure (a 5xx, a dropped or refused
    connection, an unreadable answer) gets the bounded jittered exponential backoff, up to
    `limits.max_attempts` tries. `wait(error)` is the seconds to sleep before the next try, or None
    when that kind's tries are spent (the caller gives up on the call)."""

    def __init__(self, limits, rng: random.Random | None = None):
        self.limits = limits
        self.rng = rng
        self.failed = {"rate_limit": 0, "transient": 0}  # failed tries so far, per kind

    def wait(self, error, retry_after: float | None) -> float | None:
        """error: the transient `ProviderError` the last try met; retry_after: its Retry-After in our time."""
        kind = "rate_limit" if getattr(error, "rate_limited", False) else "transient"
        n = self.failed[kind]
        self.failed[kind] = n + 1
        most = self.limits.rate_limit_attempts if kind == "rate_limit" else self.limits.max_attempts
        if n + 1 >= most:
            return None
        return backoff_delay(n, self.limits.backoff_base, self.limits.backoff_cap, retry_after, self.rng)


TIME_SCALE_ENV = "DREAMCUT_PROVIDER_TIME_SCALE"


def provider_time_scale() -> float:
    """How many times faster than ours the provider's clock runs: DREAMCUT_PROVIDER_TIME_SCALE
    (a provider simulator that renders in a fraction of the real time), else 1."""
    text = os.environ.get(TIME_SCALE_ENV, "").strip()
    if not text:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 1.0 <= value <= 10_000.0:
        raise BadInput(f"{TIME_SCALE_ENV}={text!r} is not a number from 1 to 10000", where=TIME_SCALE_ENV,
                       fix=f"unset {TIME_SCALE_ENV} (real providers), or give a factor such as 10")
    return value


class _Slots:
    """A counting semaphore that a stopping run can wake: jobs in flight at one backend."""

    def __init__(self, n: int, stop: threading.Event):
        self.free = n
        self.stop = stop
        self.cond = threading.Condition(threading.Lock())

    def __enter__(self) -> "_Slots":
        with self.cond:
            while self.free <= 0 and not self.stop.is_set():
                self.cond.wait()
            if self.stop.is_set():
                raise _Stopped()
            self.free -= 1
        return self

    def __exit__(self, *exc) -> None:
        with self.cond:
            self.free += 1
            self.cond.notify()

    def wake_all(self) -> None:
        with self.cond:
            self.cond.notify_all()


class _WarmGate:
    """Serialises creates until the first one returned (however it ended); then lets all through."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.warm = False

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self.warm:
            yield
            return
        with self.lock:
            try:
                yield
            finally:
                self.warm = True


class _Pacer:
    """When to poll a new job first, learned from how long jobs like it take in this run.

    Aims to find about six jobs in seven done at their first poll. Learns only from the provider's
    own time: `_wait` passes no job whose polls met a transient error (our backoff and the
    provider's Retry-After are not how long jobs take), and measures to when the completing poll
    left, not to when our rate limiter let it out.

    A job found done at its first poll moves the first poll 0.1 % earlier; from the fourth such
    job in a row the step doubles with each (0.2 %, 0.4 % ... up to 25 %): near the right time a
    miss comes within a few jobs and ends the streak, while an estimate far too late (the jobs got
    faster) comes down within about fifteen jobs. A job not found done moves it later the same way, from
    0.6 % doubling with each miss in a row (never past when it was seen done); one that was still
    running well after the estimate (jobs got much slower) starts it again from between its last
    poll that saw it running and the poll that saw it done. A miss costs a poll or two (the provider's
    `poll_after` says when to come back); a late first poll costs a slot's time.

    With many jobs in flight, the jobs polled at one estimate (`aimed_at`) come back together, a
    round trip later: they are one piece of evidence, not one each. The first of them to come back
    moves the estimate (a step below, or above, THAT estimate) and counts in the streak; the others
    of its cohort, polled at an estimate since lowered (found done) or since raised (not done), change
    nothing. Counting each of them doubled the step with every job, swinging the estimate a quarter
    below how long jobs take and back within a few jobs (about one job in three polled twice).
    """

    EARLIER, LATER, MAX_STEP = 0.001, 0.006, 0.25  # first steps, and the largest

    def __init__(self) -> None:
        self.expected: float | None = None
        self.hits = self.misses = 0  # jobs in a row found done (not done) at their first poll
        self.lock = threading.Lock()

    def first_poll(self, default: float) -> float:
        return self.expected if self.expected is not None else default

    def repoll_floor(self, running_for: float = 0.0, progress: float = 0.0) -> float:
        """The least wait before polling again a job seen unfinished `running_for` seconds after its
        submit, at `progress` (0-1, the provider's figure; 0 when it gives none): a small share of
        how long such jobs take. Before any has finished in this run, the provider's progress,
        extrapolated, says when it should be done (capped at a quarter of the time it has run, as
        progress need not be linear): the first jobs of a run are not polled every few
        milliseconds while the provider finishes them."""
        if self.expected is not None:
            return 0.025 * self.expected
        if not 0.0 < progress < 1.0:
            return 0.0
        return min(running_for * (1.0 - progress) / progress, 0.25 * running_for)

    def learn(self, took: float, *, first_poll_found_it: bool, last_running: float | None = None,
              aimed_at: float | None = None) -> None:
        """A job submitted `took` seconds before the poll that found it done; `last_running`: seconds
        from its submit to the last poll that found it still running (None when found at the first);
        `aimed_at`: the estimate its first poll waited for (None: the current one)."""
        with self.lock:
            if self.expected is None:
                self.expected = took
                return
            aimed = self.expected if aimed_at is None else aimed_at
            if first_poll_found_it:
                if aimed > self.expected * (1.0 + 1e-6):
                    return  # polled at an estimate since lowered: a job of that cohort says nothing new
                step = min(self.MAX_STEP, self.EARLIER * 2 ** max(0, self.hits - 3))
                self.expected = min(self.expected, aimed * (1.0 - step))
                self.hits, self.misses = self.hits + 1, 0
                return
            if last_running is not None and last_running > 1.25 * self.expected:
                self.expected = (last_running + took) / 2  # jobs got much slower: start again from this one
            elif aimed < self.expected * (1.0 - 1e-6):
                return  # polled at an estimate since raised: its miss is already answered
            else:
                self.expected = min(took, self.expected * (1.0 + min(self.MAX_STEP, self.LATER * 2 ** self.misses)))
                self.misses += 1
            self.hits = 0
