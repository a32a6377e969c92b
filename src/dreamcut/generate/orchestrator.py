"""The job runner: planned takes -> jobs in the catalog -> backend -> verified takes on disk.

Durability contract (what makes "never pay twice, lose nothing" true, even after kill -9):
1. A job row keyed by the request's content key (the idempotency key) is committed, with
   its cost reserved in the ledger, BEFORE any paid request leaves the machine. The budget
   check and the reservation are one transaction: spent + reserved never exceeds the budget.
2. The job is marked `submitting` (with `sent_at`) before each paid create leaves, and the
   provider's job id is committed the moment submit returns; a job with an id is only ever
   polled. A create whose outcome is unknown (the backend raises `OutcomeUnknown`, or a run was
   killed between sending and recording the answer) is NEVER sent again by `generate`: where the
   backend can list jobs (`find_jobs`) it is reconciled by matching (our tag, else prompt and time
   window; exactly one unclaimed match is adopted), otherwise it is parked as `needs_reconcile`
   with its worst case still reserved, and `dreamcut reconcile` resolves it (adopt a provider id,
   resubmit on an explicit flag, or abandon). Only a provider that honours our idempotency key
   (`honours_idempotency_key`) gets the same create again after a crash.
3. Downloads stream to `.dreamcut/downloads/<key>.<pid>.part.mp4`, are probed, and only then
   renamed to `<key>.mp4`; a verified download is renamed into `takes/<shot>/<take>.mp4`,
   then the take row, the job's `completed` state and the ledger charge are committed in
   one transaction. A restart finds each file where the crash left it and carries on.
4. Transient failures that certainly did not create anything (429, refused connections, 5xx on
   polls) are retried with jittered exponential backoff, honouring Retry-After; terminal ones
   (content policy, invalid request) are recorded with the provider's reason and never retried.
   A job the provider never finishes is cancelled after `job_timeout` and recorded as failed.
   The ledger records what the provider bills, failures and cancels included (`charged`): a
   billed failure is charged; a job given up at a provider that cannot cancel, or bills
   cancels, keeps its price as spent. The budget guard counts spent + reserved + parked worst
   case, so the provider's bill never passes `budget_usd`.
5. Long takes (more seconds than the model makes at once) are chains of child jobs keyed
   `<key>.s<i>`, each durable like any job: the provider's `extend` where it has one,
   otherwise image-to-video from the previous segment's last frame; joined by ffmpeg.

Keeping a backend busy: a backend's `concurrency` counts jobs AT THE PROVIDER (submitted, not
yet seen finished) or local renders; the slot is freed the moment a poll finds the job done, so
the next job is submitted while the finished one downloads, is verified and recorded on another
thread. The first poll comes when jobs like it have been finishing in this run (`_Pacer`), after
that when the provider's `poll_after` (e.g. `openai-poll-after-ms`) says: about one poll per job.

Local backends (free to re-run) render through an executor (in-process or Ray).
This module decides nothing about which takes to make (see `batch.py`) and prices only
through `cost.py` (`take_price` to reserve, `job_price` to charge); it runs what it is given
and records every step.
"""

from __future__ import annotations

import json
import os
import queue
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

from dreamcut.backends.base import (Backend, CancelBilling, Capabilities, GenerationRequest, JobState, JobStatus,
                                    OutcomeUnknown, ProviderError, ProviderJob)
from dreamcut.backends.registry import BackendRef, load_backend, parse_backend
from dreamcut.catalog import Take
from dreamcut.errors import BadInput, WorkFailed
from dreamcut.generate.batch import KEY_VERSION, PlannedTake
from dreamcut.generate.cost import can_chain, chain_plan, chain_solves, job_price, take_jobs, take_price, uses_extend
from dreamcut.media import atomic_path, ffmpeg_exe, probe, sweep_stale, write_text_atomic
from dreamcut.project import Project

ACTIVE = ("pending", "submitting", "submitted", "running", "downloading")
PARKED = "needs_reconcile"
RECONCILE_SKEW_S = 300.0  # look this much before our send time at the provider (clock skew)


@dataclass
class RunSummary:
    made: int = 0
    skipped: int = 0
    failed: int = 0
    spent_usd: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (job key, reason)
    pending: int = 0  # left in flight (gave up retrying for now, or stopped): the next run resumes them
    canceled: int = 0
    parked: int = 0  # outcome unknown: never re-sent; `dreamcut reconcile` resolves them
    parked_keys: list[tuple[str, str]] = field(default_factory=list)  # (job key, reason)
    retried: int = 0  # new paid creates after failures the provider documents as retryable


@dataclass(frozen=True)
class Limits:
    """How hard to push one backend.

    concurrency: jobs in flight at once. requests_per_second: API calls per second (0 = no limit).
    max_attempts: tries per API call on transient errors before leaving the job for the next run.
    backoff_base / backoff_cap: seconds; the n-th retry waits a random time in [d/2, d] with
    d = min(cap, base * 2**n), or what the provider's Retry-After says.
    job_timeout: seconds from submission after which a job the provider never finishes is
    cancelled and recorded as failed.
    retries: new paid creates after a failure the provider documents as retryable (Runway's
    INTERNAL); each is counted in the job's history and the failed job's billing is charged.
    """

    concurrency: int = 4
    requests_per_second: float = 0.0
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    job_timeout: float = 3600.0
    retries: int = 2


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


def take_id_for(planned: PlannedTake) -> str:
    number = planned.number if planned.number is not None else planned.index + 1
    return f"{planned.shot_id}-t{number:02d}-{planned.key[:6]}"


class _Stopped(Exception):
    """The run is stopping (Ctrl-C, cancel): leave the job as it is for the next run."""


class _GaveUp(Exception):
    """Transient errors outlasted max_attempts: leave the job in flight for the next run."""


class Orchestrator:
    """Runs planned takes durably. One instance per run; safe to kill at any moment.

    backend_factory: BackendRef -> Backend (default: the registry).
    limits: per-backend Limits by name ("openai-videos:sora-2" or "openai-videos"), else `default_limits`.
    executor: runs local backends' renders (default in-process; see executors.py).
    budget_usd: the cap for spent + reserved (default: the spec's budget_usd).
    prices: USD per second by "backend:model", overriding the backends' tables (default: the spec's).
    """

    def __init__(self, project: Project, *, backend_factory: Callable[[BackendRef], Backend] | None = None,
                 poll_interval: float = 1.0, limits: dict[str, Limits] | None = None,
                 default_limits: Limits | None = None, concurrency: int | None = None, executor=None,
                 budget_usd: float | None = None, prices: dict[str, float] | None = None, seed: int | None = None,
                 sign_takes: bool = True):
        self.project = project
        self.sign_takes = sign_takes  # Content Credentials on every take (off only to measure the runner alone)
        self.catalog = project.catalog
        self._factory = backend_factory or (lambda ref: load_backend(ref))
        self._backends: dict[str, Backend] = {}
        self.poll_interval = poll_interval
        base = default_limits or Limits()
        if concurrency is not None:
            base = replace(base, concurrency=concurrency)
        self.default_limits = base
        self.limits = dict(limits or {})
        self._limiters: dict[str, RateLimiter] = {}
        if executor is None:
            from dreamcut.generate.executors import InProcessExecutor

            executor = InProcessExecutor()
        self.executor = executor
        spec = project.spec
        self.budget_usd = spec.budget_usd if budget_usd is None else budget_usd
        self.prices = dict(spec.prices if prices is None else prices)
        self._db = threading.RLock()  # one catalog connection, shared by the worker threads
        self._stop = threading.Event()
        self._rng = random.Random(seed)
        self._pacers: dict[tuple, _Pacer] = {}  # when to poll first, per (backend, seconds, size)
        self._slots: dict[str, _Slots] = {}  # jobs at the provider at once, per backend
        self._made_dirs: set[Path] = set()
        self._warm: dict[str, _WarmGate] = {}
        self._retried = 0  # new creates after retryable failures, this run
        # Provider time may run faster than ours (a simulator's clock): the waits a provider asks for
        # (poll_after, Retry-After, backoff) shrink by this factor. 1 against real providers.
        self.time_scale = provider_time_scale()
        self.downloads_dir = project.state_dir / "downloads"
        self.segments_dir = project.state_dir / "segments"

    # -- backends ------------------------------------------------------------------------
    def backend(self, ref: BackendRef) -> Backend:
        name = str(ref)
        if name not in self._backends:
            self._backends[name] = self._factory(ref)
        return self._backends[name]

    def limits_for(self, ref: BackendRef) -> Limits:
        return self.limits.get(str(ref)) or self.limits.get(ref.name) or self.default_limits

    def _limiter(self, ref: BackendRef) -> RateLimiter:
        name = str(ref)
        if name not in self._limiters:
            self._limiters[name] = RateLimiter(self.limits_for(ref).requests_per_second)
        return self._limiters[name]

    def price(self, p: PlannedTake) -> float:
        """What the take costs (every segment of a chain): what is reserved for it."""
        return take_price(self.backend(p.backend), p.request, self.prices.get(str(p.backend)))

    def job_price(self, ref: BackendRef | str, request: GenerationRequest, key: str | None = None) -> float:
        """What one provider job costs (cost.job_price with the spec's override); `key` names the
        job, so that a chain segment made by `extend` is priced as the extension it is."""
        ref = parse_backend(ref) if isinstance(ref, str) else ref
        backend = self.backend(ref)
        return job_price(backend, request, self.prices.get(str(ref)),
                         extends=key is not None and is_extension(key, backend))

    def charged(self, ref: BackendRef | str, backend: Backend, request: GenerationRequest, status: JobStatus,
                key: str | None = None) -> float:
        """Dollars the provider bills for job `key` that ended in `status` (failures and cancels too)."""
        fn = getattr(backend, "charged", None)
        if fn is not None:
            billed = round(float(fn(request, status)), 6)
        elif status.cost_usd is not None:
            billed = round(float(status.cost_usd), 6)
        elif status.state == JobState.COMPLETED:
            billed = self.job_price(ref, request)
        else:
            billed = 0.0
        if billed and status.cost_usd is None and key is not None and is_extension(key, backend):
            # A billed extension costs an extension's price (Veo: its 7 s), not the generation the
            # segment's request would be on its own; the provider's own figure, when it gives one, wins.
            return self.job_price(ref, request, key)
        return billed

    # -- checks before anything is spent ---------------------------------------------------
    def check(self, planned: list[PlannedTake]) -> None:
        """Raise BadInput for the first request no backend can make, or when the batch is over budget."""
        planned = _distinct(planned)
        _load_libraries(self.sign_takes)
        for p in planned:
            backend = self.backend(p.backend)
            caps = backend.capabilities()
            problems = [x for x in backend.problems(p.request) if not chain_solves(x, backend, p.request)]
            if not p.request.preview and (p.request.seconds > caps.max_seconds + 1e-6 or caps.durations):
                plan = chain_plan(backend, p.request.seconds)
                if plan is None:
                    allowed = ", ".join(f"{d:g}" for d in (caps.durations or ()))
                    problems.append(f"{p.request.seconds:g} s cannot be made from {p.backend}'s lengths ({allowed} s)")
                elif len(plan) > 1 and not can_chain(caps, backend):
                    problems.append(f"{p.request.seconds:g} s is longer than {p.backend} makes "
                                    f"({caps.max_seconds:g} s) and it can neither extend nor start from an image")
            for ref in p.request.refs:
                _check_image(ref, p.shot_id)
            if problems:
                fix = ("export it in the shell that runs dreamcut (keys are never read from files)"
                       if "API_KEY" in problems[0] else "change the shot's seconds, size or backend in dreamcut.yaml")
                raise BadInput(problems[0], where=f"shot {p.shot_id}", fix=fix)
        todo = [p for p in planned if self.catalog.job(p.key) is None]
        need = sum(self.price(p) for p in todo)
        if need > 0:
            with self._db:
                left = self.budget_usd - self.catalog.spent_usd() - self.catalog.reserved_usd()
            if need > left + 1e-9:
                raise BadInput(f"this batch costs ${need:,.2f} but the budget leaves ${max(0.0, left):,.2f} "
                               f"(budget ${self.budget_usd:,.2f})", where="budget_usd",
                               fix="raise budget_usd in dreamcut.yaml, or generate fewer shots with --shots")

    # -- the run -------------------------------------------------------------------------
    def run(self, planned: list[PlannedTake], *, on_progress: Callable[[PlannedTake, str], None] | None = None
            ) -> RunSummary:
        """Make every planned take that is not made yet; resume jobs a crash left in flight."""
        planned = _distinct(planned)
        self.check(planned)
        self.sweep_strays()
        summary = RunSummary()
        by_backend: dict[str, list[PlannedTake]] = {}
        for p in planned:
            by_backend.setdefault(str(p.backend), []).append(p)
        pools = {}
        for name, ps in by_backend.items():
            ref = ps[0].backend
            slots = max(1, self.limits_for(ref).concurrency)
            self._slots_for(ref, slots)
            # A slot is a job at the provider (or a local render). Downloading, verifying and
            # recording a finished job happen outside it, on extra threads, so the next job is
            # submitted the moment the provider says one is done.
            workers = slots if self.backend(ref).capabilities().local else 2 * slots
            pools[name] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"gen-{name}")
        finished: queue.SimpleQueue = queue.SimpleQueue()
        futures: dict[Future, PlannedTake] = {}
        try:
            for name, ps in by_backend.items():
                for p in ps:
                    f = pools[name].submit(self._run_one, p, summary)
                    futures[f] = p
                    f.add_done_callback(finished.put)
            for _ in range(len(futures)):
                while True:  # a timeout, so Ctrl-C reaches this thread promptly
                    try:
                        f = finished.get(timeout=1.0)
                        break
                    except queue.Empty:
                        continue
                state = f.result()
                if on_progress:
                    on_progress(futures[f], state)
        except BaseException:
            self.stop()  # Ctrl-C: workers stop at their next step; jobs stay in flight for resume
            raise
        finally:
            for pool in pools.values():
                pool.shutdown(wait=True, cancel_futures=True)
        summary.retried = self._retried
        return summary

    def sweep_strays(self) -> list[Path]:
        """Remove the temporary files of runs that died (kill -9, a full disk): `.part` downloads,
        half-signed takes under takes/<shot>/ and previews/<shot>/, segment work. Files of a run that
        is still alive are kept. Returns what was removed."""
        removed = _clear_stale_parts(self.downloads_dir)
        for top in (self.project.takes_dir, self.project.previews_dir, self.segments_dir):
            if top.is_dir():
                removed += sweep_stale(top)
                for folder in top.iterdir():
                    if folder.is_dir() and not folder.name.startswith("."):
                        removed += sweep_stale(folder)
        return removed

    def stop(self) -> None:
        self._stop.set()
        for slots in self._slots.values():
            slots.wake_all()

    def _slots_for(self, ref: BackendRef, n: int | None = None) -> "_Slots":
        name = str(ref)
        if name not in self._slots:
            self._slots[name] = _Slots(n or max(1, self.limits_for(ref).concurrency), self._stop)
        return self._slots[name]

    def _run_one(self, p: PlannedTake, summary: RunSummary) -> str:
        try:
            return self._make_take(p, summary)
        except _Stopped:
            with self._db:
                summary.pending += 1
            return "stopped"
        except _GaveUp as e:
            with self._db:
                summary.pending += 1
                summary.failures.append((p.key, f"retry later: {e}"))
            return "pending"
        except Exception as e:  # unexpected: keep the job in flight for the next run, go on with the others
            if _is_disk_full(e, self.project.root):
                # Not the job's fault: it stays in flight, and the next run fetches (not pays) it again.
                with self._db:
                    summary.pending += 1
                    summary.failures.append((p.key, f"{DISK_FULL}: run `dreamcut generate` again when space is free"))
                return "pending"
            with self._db:
                summary.pending += 1
                summary.failures.append((p.key, f"unexpected {type(e).__name__}: {str(e)[:200]}"))
            return "pending"

    def _make_take(self, p: PlannedTake, summary: RunSummary) -> str:
        key = p.key
        with self._db:
            row = self.catalog.job(key)
            if row is not None and row["state"] == "completed" and self.catalog.take_for_job(key):
                summary.skipped += 1
                return "skipped"
            if row is not None and row["state"] in ("failed", "canceled"):
                if row["state"] == "failed":
                    summary.failed += 1
                else:
                    summary.canceled += 1
                return row["state"]
        backend = self.backend(p.backend)
        caps = backend.capabilities()
        if row is None and not self._reserve(p, summary):
            return "failed"
        # A preview is a few frames: never a chain, whatever the take's length.
        plan = [j.request.seconds for j in take_jobs(backend, p.request)]
        try:
            if _verified(self.project.take_path(p.shot_id, take_id_for(p), kind=p.kind)):
                # A crash after the move into takes/ and before the catalog commit: just record it.
                staged = self.project.take_path(p.shot_id, take_id_for(p), kind=p.kind)
            elif len(plan) == 1:
                staged = self._produce(p.backend, backend, caps, key, p.request, lambda b, k: b.submit(p.request, k))
            else:
                staged = self._produce_chain(p, backend, caps, plan)
        except _Failed as f:
            with self._db:
                canceled = self.catalog.job(key)["state"] == "canceled"
            if not canceled:  # a job cancelled meanwhile fails at the provider: that is the cancel, not a failure
                self._fail(key, f.code, f.message, summary, billed=f.billed, billed_key=f.key or key, held=f.held)
                return "failed"
            with self._db:
                summary.canceled += 1
            return "canceled"
        except _Canceled:
            with self._db:
                summary.canceled += 1
            return "canceled"
        except _Parked as e:
            with self._db:
                summary.parked += 1
                summary.parked_keys.append((e.key, e.reason))
            return "parked"
        take = self._finish(p, staged)
        with self._db:
            summary.made += 1
            summary.spent_usd += take.cost_usd
        return "completed"

    # -- reservation -------------------------------------------------------------------------
    def _reserve(self, p: PlannedTake, summary: RunSummary) -> bool:
        """Create the job row and reserve its price, in one transaction; False when the budget is spent."""
        price = self.price(p)
        request_json = json.dumps(stored_request(p.request, self.project.root))
        with self._db, self.catalog.transaction():
            if self.catalog.job(p.key) is None:
                if price > 0:
                    left = self.budget_usd - self.catalog.spent_usd() - self.catalog.reserved_usd()
                    if price > left + 1e-9:
                        summary.failed += 1
                        summary.failures.append((p.key, f"budget: needs ${price:.2f}, ${max(0, left):.2f} left"))
                        return False
                self.catalog.add_job(p.key, shot_id=p.shot_id, kind=p.kind, variant=p.request.variant,
                                     backend=str(p.backend), request_json=request_json, reserved_usd=price,
                                     key_version=KEY_VERSION)
                if price:
                    self.catalog.ledger_add("reserve", price, p.key)
            return True

    # -- one provider job, from submit to a verified file ---------------------------------------
    def _produce(self, ref: BackendRef, backend: Backend, caps: Capabilities, key: str,
                 request: GenerationRequest, submit: Callable[[Backend, str], str],
                 dest: Path | None = None) -> Path:
        """Drive one job (whose row exists) to a verified file: `dest` or `.dreamcut/downloads/<key>.mp4`."""
        dest = dest or self.downloads_dir / f"{key}.mp4"
        if _verified(dest):
            return dest
        if caps.local:
            # Free to re-run: a crash loses compute, never money, so nothing is resumed.
            with self._slots_for(ref):
                with self._db:
                    self.catalog.update_job(key, state="running", attempts=self.catalog.job(key)["attempts"] + 1,
                                            submitted_at=time.time())
                self._check_stop()
                try:
                    with atomic_path(dest) as tmp:
                        self.executor.render(ref, backend, request, tmp, key)
                        _verify(tmp, key)
                except (_Failed, _Stopped):
                    raise
                except Exception as e:  # a local render failing is this take's failure, not the batch's
                    if _is_disk_full(e, dest.parent):
                        raise  # the disk's fault, not the take's: left in flight, re-rendered next run

                    raise _Failed("render_failed", getattr(e, "message", None) or str(e)[:300]) from None
            return dest
        with self._slots_for(ref):  # held while the provider works on it; downloading happens outside
            provider_id = self._submit_and_wait(ref, backend, key, submit, request)
        return self._fetch(ref, backend, key, provider_id, dest)

    def _submit_and_wait(self, ref: BackendRef, backend: Backend, key: str,
                         submit: Callable[[Backend, str], str], request: GenerationRequest) -> str:
        """Submit job `key` (or resume it) and wait until the provider finished it; the provider's id.
        A failure the provider documents as retryable gets a new create (`_retry`), a bounded number of times."""
        while True:
            provider_id, submitted_at = self._ensure_submitted(ref, backend, key, submit, request)
            try:
                self._wait(ref, backend, key, provider_id, submitted_at, request)
                return provider_id
            except _Failed as f:
                if not (f.retryable and self._retry(ref, key, provider_id, f)):
                    raise

    def _retry(self, ref: BackendRef, key: str, provider_id: str, f: "_Failed") -> bool:
        """Provider job `provider_id` of job `key` failed in a way the provider documents as retryable:
        charge what it bills, say so in the job's history, and make the job ready for a new paid create.
        False (the caller records the failure) once `Limits.retries` new creates were made, when the
        job was cancelled meanwhile, or when its billing leaves no budget for another create."""
        limits = self.limits_for(ref)
        with self._db, self.catalog.transaction():
            row = self.catalog.job(key)
            done = sum(1 for line in self.catalog.job_history(key)
                       if line["kind"] == "note" and line["note"].startswith("retry "))
            if row["state"] == "canceled" or done >= limits.retries:
                return False
            if f.billed:
                left = self.budget_usd - self.catalog.spent_usd() - self.catalog.reserved_usd()
                if f.billed > left + 1e-9:
                    return False
                self.catalog.ledger_add("charge", f.billed, key, f"billed by the provider: {f.code} (retried)")
            self.catalog.ledger_add("note", 0.0, key, f"retry {done + 1} of {limits.retries}: provider job "
                                    f"{provider_id} failed ({f.code}: {f.message[:200]}), which the provider "
                                    f"documents as retryable; billed ${f.billed:.2f}; a new create")
            self.catalog.update_job(key, state="pending", provider_job_id=None, submitted_at=None, sent_at=None,
                                    error_code=f.code, error_message=f"retried after: {f.message}"[:500])
        with self._db:
            self._retried += 1
        return True

    def _ensure_submitted(self, ref: BackendRef, backend: Backend, key: str,
                          submit: Callable[[Backend, str], str],
                          request: GenerationRequest | None = None) -> tuple[str, float | None]:
        """The provider's id for job `key` (submitting it if it has none) and when it was submitted.

        A create whose outcome is unknown is never sent again here: it is reconciled through the
        provider's job list, or parked (`_Parked`)."""
        with self._db:
            row = self.catalog.job(key)
        if row["provider_job_id"]:
            return row["provider_job_id"], row["submitted_at"]
        if row["state"] in ("failed", "canceled"):  # abandoned or cancelled through `reconcile` / `cancel`
            raise _Failed(row["error_code"] or row["state"], row["error_message"] or row["state"])
        if request is None:
            request = loaded_request(row["request_json"], self.project.root)
        if row["state"] in ("submitting", PARKED) and not getattr(backend, "honours_idempotency_key", False):
            # A run died (or the provider went silent) after this create left: it may exist there.
            reason = (row["error_message"] or "").split("; ")[0] if row["state"] == PARKED else \
                "a run stopped between sending the create and recording the provider's answer"
            return self._reconcile(ref, backend, key, request, row["sent_at"] or row["created_at"], reason)
        limits = self.limits_for(ref)
        limiter = self._limiter(ref)
        last: ProviderError | None = None
        warm = self._warm_gate(ref)
        for attempt in range(limits.max_attempts):
            self._check_stop()
            limiter.acquire()
            # A backend's first create in a process loads its SDK; the others wait for it, so a
            # kill in that second leaves one create of unknown outcome, not a slot-full.
            with warm.hold():
                sent_at = time.time()
                with self._db:  # committed before the paid request leaves: a crash from here on is "unknown"
                    self.catalog.update_job(key, state="submitting", sent_at=sent_at,
                                            attempts=self.catalog.job(key)["attempts"] + 1)
                try:
                    provider_id = submit(backend, key)
                except ProviderError as e:
                    error = e
                else:
                    error = None
            if isinstance(error, OutcomeUnknown):
                return self._reconcile(ref, backend, key, request, sent_at, error.message)
            if error is not None:
                e = error
                with self._db:  # the provider certainly made nothing (the backend's word): safe to send again
                    self.catalog.update_job(key, state="pending")
                if not e.transient:
                    raise _Failed(e.code, e.message) from None
                last = e
                self._sleep(backoff_delay(attempt, limits.backoff_base, limits.backoff_cap, e.retry_after, self._rng)
                            / self.time_scale)
                continue
            submitted_at = time.time()
            with self._db:
                self.catalog.update_job(key, state="submitted", provider_job_id=provider_id, submitted_at=submitted_at)
            return provider_id, submitted_at
        raise _GaveUp(f"{last.code}: {last.message}" if last else "no answer")

    def _warm_gate(self, ref: BackendRef):
        """A context held around a create: exclusive until the backend's first create in this run returned."""
        name = str(ref)
        with self._db:
            gate = self._warm.get(name)
            if gate is None:
                gate = self._warm[name] = _WarmGate()
        return gate

    def _reconcile(self, ref: BackendRef, backend: Backend, key: str, request: GenerationRequest,
                   sent_at: float, reason: str) -> tuple[str, float]:
        """Find the provider job a create of unknown outcome made, and adopt it; else park the job."""
        finder = getattr(backend, "find_jobs", None)
        if finder is None:
            self._park(key, f"{reason}; {ref} cannot list its jobs, so it cannot be looked up")
        found: list[ProviderJob] | None = None
        for look in range(2):  # a create may take a moment to show in the provider's list
            try:
                found = self._call(ref, key, lambda: finder(request, key, sent_at - RECONCILE_SKEW_S))
            except (_Failed, _GaveUp) as e:
                self._park(key, f"{reason}; listing the provider's jobs failed ({e})")
            if found is None:
                self._park(key, f"{reason}; {ref} cannot list its jobs, so it cannot be looked up")
            if found or look:
                break
            self._sleep(self.poll_interval)
        with self._db:
            claimed = self.catalog.claimed_provider_ids(other_than=key)
        candidates = match_provider_jobs(found or [], key, claimed)
        if len(candidates) == 1:
            job = candidates[0]
            submitted_at = sent_at  # our clock (the provider's may differ): timeouts and pacing read it
            with self._db:
                self.catalog.update_job(key, state="submitted", provider_job_id=job.job_id, submitted_at=submitted_at,
                                        error_code=None, error_message=None)
                self.catalog.ledger_add("note", 0.0, key, f"reconciled: adopted provider job {job.job_id}")
            return job.job_id, submitted_at
        if not candidates:
            self._park(key, f"{reason}; no matching job at the provider (it may not exist, or not show yet)")
        ids = ", ".join(j.job_id for j in candidates[:5])
        self._park(key, f"{reason}; {len(candidates)} provider jobs match ({ids}): pick one with "
                        f"`dreamcut reconcile --adopt`")
        raise AssertionError  # unreachable: _park raises

    def _park(self, key: str, reason: str) -> None:
        """Park job `key`: outcome unknown, worst case kept reserved, never re-sent by `generate`."""
        with self._db:
            self.catalog.update_job(key, state=PARKED, error_code="outcome_unknown", error_message=reason[:500])
        raise _Parked(key, reason)

    def _pacer(self, ref: BackendRef, request: GenerationRequest) -> "_Pacer":
        k = (str(ref), request.seconds, request.width, request.height)
        pacer = self._pacers.get(k)
        if pacer is None:
            pacer = self._pacers.setdefault(k, _Pacer())
        return pacer

    def _wait(self, ref: BackendRef, backend: Backend, key: str, provider_id: str, submitted_at: float | None,
              request: GenerationRequest) -> JobStatus:
        limits = self.limits_for(ref)
        submitted_at = submitted_at or time.time()
        pacer = self._pacer(ref, request)
        # Just submitted: nothing to learn from an immediate poll. Come back when jobs like this
        # one have been finishing in this run; after that, when the provider says to.
        first_wait = pacer.first_poll(self.poll_interval) - (time.time() - submitted_at)
        learning = first_wait > 0  # a job resumed long after its submit says nothing about how long jobs take
        while first_wait > 0.005:
            self._sleep(first_wait)
            # Jobs that finished meanwhile may have moved the estimate later: follow it.
            first_wait = pacer.first_poll(self.poll_interval) - (time.time() - submitted_at)
        polls = 0
        running = False
        while True:
            try:
                status = self._call(ref, key, lambda: backend.poll(provider_id))
            except _Failed as f:  # we give up on a job the provider may still finish: bill it as it will
                billed, held, how = self._give_up(ref, backend, key, provider_id, request)
                raise _Failed(f.code, f"{f.message}; {how}", billed=billed, held=held, key=key) from None
            polls += 1
            if status.state == JobState.COMPLETED:
                if learning:
                    pacer.learn(time.time() - submitted_at, first_poll_found_it=polls == 1)
                cost = self.charged(ref, backend, request, status, key)
                with self._db:
                    self.catalog.update_job(key, cost_usd=cost)
                return status
            if status.state.terminal:  # failed or cancelled there: charged what the provider bills for it
                raise _Failed(status.error_code or status.state.value,
                              status.error_message or f"the provider reports {status.state.value}",
                              billed=self.charged(ref, backend, request, status, key), key=key,
                              retryable=status.retryable and status.state == JobState.FAILED)
            with self._db:
                row = self.catalog.job(key)
                if row["state"] == "canceled":  # `dreamcut cancel` from another terminal
                    raise _Canceled()
                if not running and row["state"] != "running":
                    self.catalog.update_job(key, state="running")
                running = True
            if time.time() - submitted_at > limits.job_timeout:
                billed, held, how = self._give_up(ref, backend, key, provider_id, request)
                raise _Failed("timeout", f"the provider did not finish within {limits.job_timeout:g} s; {how}",
                              billed=billed, held=held, key=key)
            # Not done: come back when the provider says, but not sooner than a small share of how
            # long such jobs take (a provider that says "20 ms" while it renders gets a few polls, not dozens).
            after = status.poll_after / self.time_scale if status.poll_after is not None else self.poll_interval
            self._sleep(max(after, pacer.repoll_floor()))

    def _give_up(self, ref: BackendRef, backend: Backend, key: str, provider_id: str,
                 request: GenerationRequest) -> tuple[float, float, str]:
        """Stop waiting for a provider job: cancel it where that helps. Returns (dollars it bills,
        dollars kept reserved as the worst case of a refund that is not guaranteed, what happened)."""
        billing = getattr(backend, "cancel_billing", CancelBilling.REFUNDED)
        price = self.job_price(ref, request, key)
        if billing == CancelBilling.IMPOSSIBLE:
            return price, 0.0, f"{ref} cannot cancel: it finishes and bills there, so ${price:.2f} stays spent"
        seen: JobStatus | None = None
        if billing == CancelBilling.BILLED_IF_RUNNING:
            try:  # what the provider sees now decides the refund: look just before cancelling
                seen = self._call(ref, key, lambda: backend.poll(provider_id))
            except (_Failed, _GaveUp):
                seen = None
            if seen is not None and seen.state.terminal:  # it ended meanwhile: billed as it ended
                return self.charged(ref, backend, request, seen, key), 0.0, f"it ended {seen.state.value} meanwhile"
        try:
            self._call(ref, key, lambda: backend.cancel(provider_id))
        except (_Failed, _GaveUp) as e:
            return price, 0.0, f"the cancel failed ({e}): ${price:.2f} kept as spent"
        if billing == CancelBilling.BILLED:
            return price, 0.0, f"cancelled; {ref} bills cancelled jobs, so ${price:.2f} stays spent"
        if billing == CancelBilling.BILLED_IF_RUNNING:
            return cancel_outcome(ref, seen, price)
        try:  # the provider's own word on what the cancelled job costs, when it says
            status = self._call(ref, key, lambda: backend.poll(provider_id))
        except (_Failed, _GaveUp):
            return 0.0, 0.0, "cancelled"
        return (self.charged(ref, backend, request, status, key) if status.state.terminal else 0.0), 0.0, "cancelled"

    def _fetch(self, ref: BackendRef, backend: Backend, key: str, provider_id: str, dest: Path) -> Path:
        with self._db:
            self.catalog.update_job(key, state="downloading")
        part = dest.with_name(f"{dest.stem}.{os.getpid()}.part{dest.suffix}")  # per process: never shared
        self._ensure_dir(dest.parent)

        def download() -> None:
            backend.download(provider_id, part)
            try:
                info = _verify(part, key)
            except _Failed:
                part.unlink(missing_ok=True)
                raise ProviderError("the download is not a playable video", code="corrupt_download", transient=True)
            _fsync(part)
            _remember_probe(part, info)  # a rename keeps inode, size and mtime: _finish need not probe again
            os.replace(part, dest)

        try:
            self._call(ref, key, download)
        except _Failed as f:  # the provider finished the job (and bills it) even if we cannot fetch it
            with self._db:
                cost = float(self.catalog.job(key)["cost_usd"] or 0.0)
            raise _Failed(f.code, f"{f.message} (the provider finished it: ${cost:.2f} billed)" if cost else f.message,
                          billed=cost, key=key) from None
        return dest

    def _call(self, ref: BackendRef, key: str, fn: Callable):
        """One API call with rate limiting and retries. Terminal errors become _Failed."""
        limits = self.limits_for(ref)
        limiter = self._limiter(ref)
        last: ProviderError | None = None
        for attempt in range(limits.max_attempts):
            self._check_stop()
            limiter.acquire()
            try:
                return fn()
            except ProviderError as e:
                if isinstance(e, OutcomeUnknown):
                    raise  # only the submit path may see it, and it reconciles
                if not e.transient:
                    raise _Failed(e.code, e.message) from None
                last = e
                self._sleep(backoff_delay(attempt, limits.backoff_base, limits.backoff_cap, e.retry_after, self._rng)
                            / self.time_scale)
        raise _GaveUp(f"{last.code}: {last.message}" if last else "no answer")

    # -- long takes: a chain of segments --------------------------------------------------------
    def _produce_chain(self, p: PlannedTake, backend: Backend, caps: Capabilities, plan: list[float]) -> Path:
        final = self.downloads_dir / f"{p.key}.mp4"
        if _verified(final):
            return final
        use_extend = uses_extend(backend)
        seg_dir = self.segments_dir / p.key
        parts: list[Path] = []
        prev_provider: str | None = None
        requests = [j.request for j in take_jobs(backend, p.request)]  # the same segments `take_price` priced
        for i, _seconds in enumerate(plan):
            ckey = f"{p.key}.s{i}"
            request = requests[i]
            last = i == len(plan) - 1
            if use_extend:
                if i == 0:
                    def submit(b, k, r=request):
                        return b.submit(r, k)
                else:
                    def submit(b, k, r=request, prev=prev_provider):
                        return b.extend(prev, r, k)
                self._child(p, ckey, request)
                if last:
                    # The provider stitches: the last extension's download is the whole take.
                    self._produce(p.backend, backend, caps, ckey, request, submit, dest=final)
                else:
                    with self._slots_for(p.backend):
                        prev_provider = self._submit_and_wait(p.backend, backend, ckey, submit, request)
                self._charge_child(p.key, ckey, backend, request)
            else:
                if parts:
                    still = seg_dir / f"{i - 1}.last.png"
                    if not still.exists():
                        _last_frame(parts[-1], still)
                    request = replace(request, refs=(str(still),))
                self._child(p, ckey, request)
                seg = seg_dir / f"{i}.mp4"
                self._produce(p.backend, backend, caps, ckey, request, lambda b, k, r=request: b.submit(r, k),
                              dest=seg)
                self._charge_child(p.key, ckey, backend, request)
                parts.append(seg)
        if not use_extend:
            with atomic_path(final) as tmp:
                _concat(parts, tmp)
                _verify(tmp, p.key)
        return final

    def _child(self, p: PlannedTake, ckey: str, request: GenerationRequest) -> None:
        with self._db:
            self.catalog.add_job(ckey, shot_id=p.shot_id, kind="segment", variant=p.request.variant,
                                 backend=str(p.backend), request_json=json.dumps(stored_request(request, self.project.root)),
                                 reserved_usd=0.0, key_version=KEY_VERSION)

    def _charge_child(self, parent: str, ckey: str, backend: Backend, request: GenerationRequest) -> None:
        """A finished segment moves its price from the parent's reservation to a charge, once."""
        with self._db, self.catalog.transaction():
            row = self.catalog.job(ckey)
            if row["state"] == "completed":
                return
            cost = row["cost_usd"] or self.job_price(row["backend"], request, ckey)
            parent_row = self.catalog.job(parent)
            moved = min(cost, parent_row["reserved_usd"])
            self.catalog.update_job(ckey, state="completed", cost_usd=cost, finished_at=time.time())
            self.catalog.update_job(parent, reserved_usd=parent_row["reserved_usd"] - moved,
                                    cost_usd=parent_row["cost_usd"] + cost)
            if cost:
                self.catalog.ledger_add("charge", cost, ckey)
            if moved:
                self.catalog.ledger_add("release", -moved, parent)

    # -- finishing -------------------------------------------------------------------------------
    def _finish(self, p: PlannedTake, staged: Path) -> Take:
        take_id = take_id_for(p)
        dest = self.project.take_path(p.shot_id, take_id, kind=p.kind)
        self._ensure_dir(dest.parent)
        moved = staged != dest and staged.exists()
        if moved:
            os.replace(staged, dest)  # same filesystem: atomic; the staged file was verified
        try:
            return self._record(p, dest, take_id)
        except BaseException:
            # No take file without its catalog row: a failed sign or commit (a full disk) puts the
            # file back where the next run finds it, verified, and records it then.
            if moved and dest.exists() and not self._recorded(take_id):
                os.replace(dest, staged)
                dest.with_suffix(".json").unlink(missing_ok=True)
            raise

    def _recorded(self, take_id: str) -> bool:
        try:
            with self._db:
                return self.catalog.take(take_id) is not None
        except Exception:  # noqa: BLE001 - cannot tell: assume not, so the file goes back for the next run
            return False

    def _record(self, p: PlannedTake, dest: Path, take_id: str) -> Take:
        """Sign the take in `dest`, write its sidecar, and commit take row + job state + charge."""
        key = p.key
        info = _probe_once(dest)
        assert info.video is not None
        with self._db:
            row = self.catalog.job(key)
            chained = self.catalog.job(f"{key}.s0") is not None
        cost = float(row["cost_usd"]) if chained else float(row["cost_usd"] or row["reserved_usd"])
        take = Take(id=take_id, shot_id=p.shot_id, kind=p.kind, job_key=key, path=self.project.rel(dest),
                    variant=p.request.variant, seed=p.request.seed, backend=p.backend.name, model=p.backend.model,
                    prompt=p.request.prompt, seconds=info.duration, width=info.video.width,
                    height=info.video.height, fps=info.video.fps, cost_usd=cost)
        if self.sign_takes:
            from dreamcut.provenance import sign_take

            # Before the take is recorded: a crash here re-signs on resume (signing is idempotent).
            sign_take(self.project, dest, take)
        sidecar = {"take": take_id, "shot": p.shot_id, "backend": str(p.backend), "seed": p.request.seed,
                   "job_key": key, "kind": p.kind,  # with the rest: enough for `dreamcut catalog rebuild`
                   "variant": p.request.variant, "cost_usd": cost,
                   "request": stored_request(p.request, self.project.root),
                   "provider_job_id": row["provider_job_id"], "created_at": time.time()}
        write_text_atomic(dest.with_suffix(".json"), json.dumps(sidecar, indent=2, sort_keys=True))
        with self._db, self.catalog.transaction():
            if self.catalog.take(take_id) is None:
                self.catalog.add_take(take)
            row = self.catalog.job(key)
            if row["state"] != "completed":
                self.catalog.update_job(key, state="completed", take_id=take_id, cost_usd=cost,
                                        finished_at=time.time(), reserved_usd=0.0)
                if not chained and cost:
                    self.catalog.ledger_add("charge", cost, key)
                if row["reserved_usd"]:
                    self.catalog.ledger_add("release", -row["reserved_usd"], key)
        return take

    def _fail(self, key: str, code: str, message: str, summary: RunSummary, *, billed: float = 0.0,
              billed_key: str | None = None, held: float = 0.0) -> None:
        """Record job `key` failed with its reason; charge what the provider bills for it (on the
        job that failed: the take's, or one segment of its chain), keep `held` reserved (the worst
        case of a refund the provider does not guarantee) and release the rest of the reservation."""
        billed_key = billed_key or key
        with self._db, self.catalog.transaction():
            row = self.catalog.job(key)
            if billed_key != key:
                self.catalog.update_job(billed_key, state="failed", error_code=code, error_message=message[:500],
                                        finished_at=time.time(), cost_usd=billed)
            held = min(held, row["reserved_usd"]) if row else 0.0
            self.catalog.update_job(key, state="failed", error_code=code, error_message=message[:500],
                                    finished_at=time.time(), reserved_usd=held,
                                    cost_usd=(row["cost_usd"] if row else 0.0) + billed)
            if billed:
                self.catalog.ledger_add("charge", billed, billed_key, f"billed by the provider: {code}")
            if row and row["reserved_usd"] - held:
                self.catalog.ledger_add("release", -(row["reserved_usd"] - held), key)
            summary.failed += 1
            summary.failures.append((key, f"{code}: {message}"))

    # -- cancel ---------------------------------------------------------------------------------
    def cancel(self, shots: list[str] | None = None) -> int:
        """Cancel every job in flight (of `shots`, if given): tell the provider, release the reservation."""
        n = 0
        for row in self.catalog.jobs(*ACTIVE):
            if shots and row["shot_id"] not in shots:
                continue
            if row["state"] == "submitting":
                continue  # a create on its way (or of unknown outcome): `reconcile` decides, not a blind cancel
            billed = held = 0.0
            why, how = "cancelled by the director", ""
            ref = parse_backend(row["backend"])
            try:
                backend = self.backend(ref)
                local = backend.capabilities().local
            except BadInput:
                backend, local = None, False
            if row["provider_job_id"] and not local and backend is not None:
                billing = getattr(backend, "cancel_billing", CancelBilling.REFUNDED)
                if billing == CancelBilling.BILLED_IF_RUNNING:  # what the provider sees now decides the refund
                    try:
                        seen = self._call(ref, row["key"], lambda: backend.poll(row["provider_job_id"]))
                    except (_Failed, _GaveUp):
                        seen = None
                    billed, held, how = cancel_outcome(ref, seen, row["reserved_usd"])
                    why = f"{why}; {how}"
                elif billing != CancelBilling.REFUNDED:  # it finishes (or is billed) there: the money stays spent
                    billed = row["reserved_usd"]
            # Mark it first, so a generate running elsewhere stops polling it before the provider forgets it.
            with self.catalog.transaction():
                self.catalog.update_job(row["key"], state="canceled", finished_at=time.time(), reserved_usd=held,
                                        error_code="canceled", error_message=why[:500],
                                        cost_usd=row["cost_usd"] + billed)
                if billed:
                    self.catalog.ledger_add("charge", billed, row["key"], "cancelled where cancels are billed")
                if held:
                    self.catalog.ledger_add("note", 0.0, row["key"], f"${held:.2f} kept reserved: {how}")
                if row["reserved_usd"] - held:
                    self.catalog.ledger_add("release", -(row["reserved_usd"] - held), row["key"])
            n += 1
            if row["provider_job_id"] and backend is not None and not local:
                try:
                    self._call(ref, row["key"], lambda: backend.cancel(row["provider_job_id"]))
                except (_Failed, _GaveUp, BadInput):
                    pass  # cancelled here either way; the provider may still finish (and bill) it
        return n

    # -- reconcile: the director resolves parked jobs ---------------------------------------------
    def parked_job(self, key: str):
        """The parked (or mid-create) job whose key is `key` or starts with it; BadInput otherwise."""
        rows = [r for r in self.catalog.jobs(PARKED, "submitting") if r["key"].startswith(key)]
        if len(rows) != 1:
            listed = ", ".join(r["key"] for r in self.catalog.jobs(PARKED)[:5]) or "none"
            what = "no parked job" if not rows else f"{len(rows)} parked jobs"
            raise BadInput(f"{what} with key {key!r} (parked: {listed})", where="reconcile",
                           fix="use a key from `dreamcut reconcile` (a unique prefix is enough)")
        return rows[0]

    def _job_backend(self, row) -> tuple[BackendRef, Backend, GenerationRequest]:
        ref = parse_backend(row["backend"])
        return ref, self.backend(ref), loaded_request(row["request_json"], self.project.root)

    def adopt(self, key: str, provider_job_id: str) -> str:
        """Adopt provider job `provider_job_id` as parked job `key`'s create (checked with one poll)."""
        row = self.parked_job(key)
        key = row["key"]
        other = self.catalog.job_with_provider_id(provider_job_id, other_than=key)
        if other:
            raise BadInput(f"provider job {provider_job_id} already belongs to job {other}", where="reconcile --adopt",
                           fix="adopt the provider job this take made (see the provider's dashboard)")
        ref, backend, _request = self._job_backend(row)
        try:
            status = self._call(ref, key, lambda: backend.poll(provider_job_id))
        except (_Failed, _GaveUp) as e:
            raise BadInput(f"{ref} does not know job {provider_job_id} ({e})", where="reconcile --adopt",
                           fix="copy the job id from the provider's dashboard") from None
        if status.state == JobState.CANCELED:  # nothing of ours is cancelled while parked: gone, or not this one
            raise BadInput(f"{ref} reports job {provider_job_id} cancelled or gone ({status.error_message})",
                           where="reconcile --adopt", fix="copy the job id of this take from the provider's dashboard")
        with self.catalog.transaction():
            self.catalog.update_job(key, state="submitted", provider_job_id=provider_job_id,
                                    submitted_at=row["sent_at"] or time.time(), error_code=None, error_message=None)
            self.catalog.ledger_add("note", 0.0, key, f"reconcile: adopted provider job {provider_job_id}")
        return key

    def resubmit(self, key: str) -> tuple[str, str]:
        """Send parked job `key`'s create again (the director's explicit choice: it may pay twice).
        Returns (key, provider job id); parks it again if this create's outcome is unknown too."""
        row = self.parked_job(key)
        key = row["key"]
        ref, backend, request = self._job_backend(row)
        submit: Callable[[Backend, str], str] = lambda b, k: b.submit(request, k)  # noqa: E731
        parent, _, index = key.rpartition(".s")
        if is_extension(key, backend):
            prev = self.catalog.job(f"{parent}.s{int(index) - 1}")["provider_job_id"]
            submit = lambda b, k: b.extend(prev, request, k)  # noqa: E731
        with self.catalog.transaction():
            self.catalog.update_job(key, state="pending", error_code=None, error_message=None)
            self.catalog.ledger_add("note", 0.0, key, "reconcile: resubmitted by the director")
        try:
            provider_id, _ = self._ensure_submitted(ref, backend, key, submit, request)
        except _Failed as f:
            self._fail(key, f.code, f.message, RunSummary())
            raise WorkFailed(f"{ref} refused the create: {f.code}: {f.message}", where=key) from None
        except _GaveUp as e:
            raise WorkFailed(f"{ref} did not answer ({e}); nothing was created", where=key,
                             fix="run `dreamcut generate` later: the job is pending again") from None
        except _Parked as e:  # this create's answer was lost too: parked again, never sent a third time blindly
            raise WorkFailed(f"the new create's outcome is unknown too, so the job is parked again ({e.reason})",
                             where=key, fix="look it up on the provider's dashboard, then `dreamcut reconcile "
                                            "--adopt KEY JOB_ID`") from None
        return key, provider_id

    def abandon(self, key: str, *, billed: bool = True) -> tuple[str, float]:
        """Give parked job `key` up. Its worst case stays in the ledger as spent unless the director
        says the provider did not bill it. Returns (key, dollars kept as spent)."""
        row = self.parked_job(key)
        key = row["key"]
        ref, backend, request = self._job_backend(row)
        parent, _, index = key.rpartition(".s")
        segment = row["kind"] == "segment" and parent and index.isdigit()
        worst = self.job_price(ref, request, key) if segment else float(row["reserved_usd"])
        spent = worst if billed else 0.0
        why = (f"abandoned by the director; worst case ${spent:.2f} kept as spent" if billed
               else "abandoned by the director, who says the provider did not bill it")
        with self.catalog.transaction():
            self.catalog.update_job(key, state="failed", error_code="abandoned", error_message=why,
                                    finished_at=time.time(), reserved_usd=0.0, cost_usd=spent)
            if spent:
                self.catalog.ledger_add("charge", spent, key, "reconcile: abandoned, worst case kept")
            if segment:  # the money came out of the take's reservation
                prow = self.catalog.job(parent)
                moved = min(spent, prow["reserved_usd"])
                if moved:
                    self.catalog.update_job(parent, reserved_usd=prow["reserved_usd"] - moved,
                                            cost_usd=prow["cost_usd"] + spent)
                    self.catalog.ledger_add("release", -moved, parent)
            elif row["reserved_usd"]:
                self.catalog.ledger_add("release", -row["reserved_usd"], key)
        return key, spent

    # -- small helpers ---------------------------------------------------------------------------
    def _ensure_dir(self, folder: Path) -> None:
        if folder not in self._made_dirs:  # once per folder and run, not one failing mkdir per job
            folder.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(folder)
    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped()

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(max(0.0, seconds)):
            raise _Stopped()


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

    Aims to find about six jobs in seven done at their first poll: each one found done moves the
    first poll 0.1 % earlier, each one that was not moves it 0.6 % later (equilibrium: ~15 % misses;
    small steps, because a whole slot-full of jobs is already waiting on the last estimate);
    a job that took much longer than expected resets it. A miss costs a poll or two (the
    provider's `poll_after` says when to come back); a late first poll costs a slot's time.
    """

    EARLIER, LATER = 0.999, 1.006

    def __init__(self) -> None:
        self.expected: float | None = None
        self.lock = threading.Lock()

    def first_poll(self, default: float) -> float:
        return self.expected if self.expected is not None else default

    def repoll_floor(self) -> float:
        return 0.025 * self.expected if self.expected is not None else 0.0

    def learn(self, took: float, *, first_poll_found_it: bool) -> None:
        with self.lock:
            if self.expected is None:
                self.expected = took
            elif first_poll_found_it:
                self.expected *= self.EARLIER
            elif took > 1.25 * self.expected:  # jobs got much slower: start again from this one
                self.expected = took
            else:
                self.expected = min(took, self.expected * self.LATER)


class _Canceled(Exception):
    """The director cancelled this job while it ran."""


class _Failed(Exception):
    """A job ended for good. `billed`: dollars the provider bills for it anyway (on job `key`)."""

    def __init__(self, code: str, message: str, *, billed: float = 0.0, key: str | None = None,
                 retryable: bool = False, held: float = 0.0):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.billed = billed
        self.held = held  # kept reserved: the worst case of a refund the provider does not guarantee
        self.key = key
        self.retryable = retryable  # the provider documents this failure as worth a new create


class _Parked(Exception):
    """A create's outcome is unknown and could not be reconciled: the job waits for `dreamcut reconcile`."""

    def __init__(self, key: str, reason: str):
        super().__init__(reason)
        self.key = key
        self.reason = reason


class _KeyedTake(PlannedTake):
    """A planned take whose job key and request record are computed once (neither is free)."""

    @cached_property
    def key(self) -> str:  # type: ignore[override]
        return PlannedTake.key.fget(self)  # type: ignore[attr-defined]


def stored_request(request: GenerationRequest, root: Path) -> dict:
    """The request as recorded in the catalog and take sidecars: reference images relative to the
    project (a copied or moved project still finds them), others absolute."""
    d = request.to_dict()
    refs = []
    for r in request.refs:
        try:
            refs.append(Path(r).resolve().relative_to(Path(root).resolve()).as_posix() if "://" not in r else r)
        except ValueError:
            refs.append(r)
    d["refs"] = refs
    return d


def loaded_request(request_json: str, root: Path) -> GenerationRequest:
    """The request of a job row, its relative reference images resolved against the project."""
    d = json.loads(request_json)
    d["refs"] = [r if ("://" in r or Path(r).is_absolute()) else str((Path(root) / r).resolve())
                 for r in d.get("refs", ())]
    return GenerationRequest.from_dict(d)


def _distinct(planned: list[PlannedTake]) -> list[PlannedTake]:
    seen: set[str] = set()
    out = []
    for p in planned:
        if not isinstance(p, _KeyedTake):
            p = _KeyedTake(p.shot_id, p.index, p.backend, p.request, p.kind, p.inputs, p.number)
        if p.key not in seen:
            seen.add(p.key)
            out.append(p)
    return out


_PROBED: dict[tuple[str, int, int], object] = {}  # (path, size, mtime_ns) -> MediaInfo, so a file is probed once
_PROBED_LOCK = threading.Lock()


def _load_libraries(signing: bool) -> None:
    """Import what every finished job needs once, up front, rather than inside the first job."""
    import av  # noqa: F401  (the probe's library)

    if signing:
        import c2pa  # noqa: F401

        import dreamcut.provenance  # noqa: F401


DISK_FULL = "disk full"


def _is_disk_full(e: BaseException, where: Path) -> bool:
    """A failure caused by a full disk (ENOSPC anywhere in its chain, SQLite's or ffmpeg's words)."""
    import errno

    from dreamcut.errors import disk_full

    seen = 0
    while e is not None and seen < 8:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(e)
        if "No space left" in text or "disk is full" in text:
            return True
        e = e.__cause__ or e.__context__
        seen += 1
    return disk_full(where)


def _clear_stale_parts(folder: Path) -> list[Path]:
    """Remove `<key>.<pid>.part.mp4` downloads left by processes that are gone (kill -9, a full disk)."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for part in folder.glob("*.part.mp4"):
        pid = part.name.rsplit(".part.mp4", 1)[0].rsplit(".", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            part.unlink(missing_ok=True)
            removed.append(part)
    return removed


def _verify(path: Path, key: str):
    try:
        info = probe(path)
    except BadInput:
        raise _Failed("corrupt", "the file is not a readable video") from None
    if info.video is None or info.duration <= 0:
        raise _Failed("corrupt", "the file has no video")
    return info


def _probe_once(path: Path, info=None):
    """Probe `path`, or reuse the probe of the same bytes made before a rename (same size and mtime)."""
    st = path.stat()
    ident = (st.st_size, st.st_mtime_ns, st.st_ino)
    with _PROBED_LOCK:
        cached = _PROBED.pop(ident, None)
    return cached or probe(path)


def _remember_probe(path: Path, info) -> None:
    st = path.stat()
    with _PROBED_LOCK:
        if len(_PROBED) > 256:
            _PROBED.clear()
        _PROBED[(st.st_size, st.st_mtime_ns, st.st_ino)] = info


def _verified(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        _verify(path, "")
        return True
    except _Failed:
        path.unlink(missing_ok=True)
        return False


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_image(path: str, shot_id: str) -> None:
    from dreamcut.generate.validate import ref_problem

    problem = ref_problem(Path(path).parent, Path(path).name)
    if problem:
        raise BadInput(problem, where=f"shot {shot_id}", fix="use a PNG, JPEG or WebP file")


def _last_frame(video: Path, still: Path) -> None:
    import subprocess

    with atomic_path(still) as tmp:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-sseof", "-0.5", "-i",
                               str(video), "-update", "1", "-frames:v", "1", str(tmp)], capture_output=True)
        if proc.returncode != 0 or not tmp.stat().st_size:
            raise WorkFailed(f"cannot take the last frame of {video.name}", where=str(video.name))


def _concat(parts: list[Path], dest: Path) -> None:
    """Join segments with ffmpeg's concat demuxer (same codec and size: no re-encode)."""
    import subprocess

    listing = dest.with_suffix(".txt")
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in parts))
    try:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
                               "-i", str(listing), "-c", "copy", "-f", "mp4", str(dest)], capture_output=True)
        if proc.returncode != 0:
            raise WorkFailed(f"cannot join the segments: {proc.stderr.decode(errors='replace').strip()[-200:]}")
    finally:
        listing.unlink(missing_ok=True)


def cancel_outcome(ref: BackendRef, seen: JobStatus | None, price: float) -> tuple[float, float, str]:
    """(billed, kept reserved, why) for a cancel at a provider that bills a job it sees running (or
    finished) and may refund one still queued (CancelBilling.BILLED_IF_RUNNING), from its last status."""
    if seen is not None and seen.state in (JobState.RUNNING, JobState.COMPLETED):
        return price, 0.0, f"cancelled while {seen.state.value}: {ref} bills it, so ${price:.2f} stays spent"
    if seen is not None and seen.state == JobState.QUEUED:
        return 0.0, price, (f"cancelled while queued: {ref} may refund it but does not guarantee it, so its "
                            f"${price:.2f} stays reserved as the worst case")
    return 0.0, price, f"its state is unknown; ${price:.2f} stays reserved as the worst case"


def is_extension(key: str, backend: Backend) -> bool:
    """Job `key` is segment i > 0 of a chain that the provider's `extend` makes from segment i - 1."""
    parent, _, index = key.rpartition(".s")
    return bool(parent) and index.isdigit() and int(index) > 0 and uses_extend(backend)


def match_provider_jobs(found: list[ProviderJob], key: str, claimed: set[str]) -> list[ProviderJob]:
    """The provider jobs that may be the create of job `key`: not already another job's, and carrying
    our key as their tag where any carries one (a job tagged with another key is not ours)."""
    free = [j for j in found if j.job_id not in claimed]
    tagged = [j for j in free if j.tag == key]
    if tagged:
        return tagged
    return [j for j in free if not j.tag]


def migrate_job_keys(project: Project, planned: list[PlannedTake]) -> int:
    """Re-key job rows written under an older key version to the planned takes' keys (no re-pay).

    Key version 0 was the content hash of the formatted request (`GenerationRequest.key`): a row
    whose old key equals what a planned take's request hashes to now is that take's job. Returns
    how many rows moved. Files named by key (downloads, segment folders) move with them."""
    catalog = project.catalog
    if not catalog.has_jobs_before_key_version(KEY_VERSION):
        return 0
    moved = 0
    state = project.state_dir
    for p in planned:
        new = p.key
        old = p.request.key(str(p.backend))
        if old == new:
            continue
        row = catalog.job(old)
        if row is None or row["key_version"] >= KEY_VERSION or catalog.job(new) is not None:
            continue
        for folder, name_old, name_new in ((state / "downloads", f"{old}.mp4", f"{new}.mp4"),
                                           (state / "segments", old, new)):
            if (folder / name_old).exists() and not (folder / name_new).exists():
                os.replace(folder / name_old, folder / name_new)
        catalog.rekey_job(old, new, KEY_VERSION)
        moved += 1
    return moved


def known_keys(project: Project) -> set[str]:
    """Keys of takes that have a job (done, in flight, parked or failed): not priced again."""
    return {r["key"] for r in project.catalog.jobs()}


def parked_jobs(project: Project) -> list:
    """Jobs whose create's outcome is unknown, waiting for `dreamcut reconcile`."""
    return project.catalog.jobs(PARKED)


def pending_keys(project: Project) -> set[str]:
    return {r["key"] for r in project.catalog.jobs(*ACTIVE)}


def done_keys(project: Project) -> set[str]:
    return {r["key"] for r in project.catalog.jobs("completed")}
