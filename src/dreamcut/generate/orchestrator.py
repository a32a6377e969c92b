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
   A job the provider never finishes is cancelled after `job_timeout` and recorded as failed;
   one that completed as it was given up is billed, so it is taken. A cancel that meets only
   transient errors decides nothing: the job stays in flight and the next run looks at it again.
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
and records every step. `Orchestrator` is this module's run, reservation and recording, with
one concept per module mixed in: `charges.py` (reserve, price, what the provider bills),
`provider_jobs.py` (one provider job, create to download),
`chains.py` (long takes), `keyframes.py` (cast keyframes: an image job `<key>.k` before the
video), `reconcile.py` (cancel, adopt, resubmit, abandon); `jobs.py` holds
job records and outcomes, `pacing.py` rate limits and poll timing, `takefiles.py` files on disk.
Their public names stay importable from here.
"""

from __future__ import annotations

import json
import os
import queue
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Callable

from dreamcut.backends.base import Backend, Capabilities, GenerationRequest
from dreamcut.backends.registry import BackendRef, load_backend
from dreamcut.catalog import Take
from dreamcut.errors import BadInput
from dreamcut.generate.batch import PlannedTake
from dreamcut.generate.cost import KEYFRAME_SUFFIX, can_chain, chain_plan, chain_solves, take_jobs
from dreamcut.media import atomic_path, sweep_stale
from dreamcut.project import Project
from dreamcut.generate.chains import Chains
from dreamcut.generate.charges import Charging
from dreamcut.generate.keyframes import CastKeyframes, keyframe_cost
from dreamcut.generate.jobs import (ACTIVE, PARKED, RECONCILE_SKEW_S, Limits, RunSummary, _Canceled,  # noqa: F401
                                    _Failed, _GaveUp, _KeyedTake, _Parked, _Stopped, _distinct, cancel_outcome,
                                    done_keys, is_extension, known_keys, loaded_request, match_provider_jobs, migrate_job_keys,
                                    parked_jobs, stored_request, take_id_for)
from dreamcut.generate.pacing import (TIME_SCALE_ENV, RateLimiter, _Pacer, _Slots, _WarmGate,  # noqa: F401
                                      backoff_delay, provider_time_scale)
from dreamcut.generate.provider_jobs import ProviderJobs
from dreamcut.generate.reconcile import Reconciling
from dreamcut.generate.takefiles import (DISK_FULL, _check_image, _clear_stale_parts,  # noqa: F401
                                         _is_disk_full, _load_libraries, _probe_once, _verified, _verify,
                                         _write_sidecar)


class Orchestrator(Charging, ProviderJobs, Reconciling, Chains, CastKeyframes):
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
        # (poll_after, Retry-After) shrink by this factor. 1 against real providers.
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
        with self._db:
            known = self.catalog.jobs_by_key([p.key for p in planned])
        todo = [p for p in planned if p.key not in known]
        need = sum(self.price(p) for p in todo)
        if need > 0:
            with self._db:
                left = self.budget_usd - self.catalog.committed_usd()
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
        removed = _clear_stale_parts(self.downloads_dir) + self._sweep_keyframe_parts()
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
            return self._left_in_flight(summary, "stopped")
        except _GaveUp as e:
            return self._left_in_flight(summary, "pending", (p.key, f"retry later: {e}"))
        except Exception as e:  # unexpected: keep the job in flight for the next run, go on with the others
            # A full disk is not the job's fault: it stays in flight, and the next run fetches (not pays) it again.
            full = _is_disk_full(e, self.project.root)
            why = (f"{DISK_FULL}: run `dreamcut generate` again when space is free" if full
                   else f"unexpected {type(e).__name__}: {str(e)[:200]}")
            return self._left_in_flight(summary, "pending", (p.key, why))

    def _left_in_flight(self, summary: RunSummary, outcome: str, failure: tuple[str, str] | None = None) -> str:
        """Count a job left in flight for the next run (and why, when it is not a stop); returns `outcome`."""
        with self._db:
            summary.pending += 1
            if failure is not None:
                summary.failures.append(failure)
        return outcome

    def _counted_canceled(self, summary: RunSummary) -> str:
        with self._db:
            summary.canceled += 1
        return "canceled"

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
            else:
                video = self._video_request(p, backend)  # made from its cast keyframe where the shot asks
                if len(plan) == 1:
                    staged = self._produce(p.backend, backend, caps, key, video, lambda b, k: b.submit(video, k))
                else:
                    staged = self._produce_chain(p, backend, caps, plan, video)
        except _Failed as f:
            with self._db:
                canceled = self.catalog.job(key)["state"] == "canceled"
            if not canceled:  # a job cancelled meanwhile fails at the provider: that is the cancel, not a failure
                self._fail(key, f.code, f.message, summary, billed=f.billed, billed_key=f.key or key, held=f.held)
                return "failed"
            return self._counted_canceled(summary)
        except _Canceled:
            return self._counted_canceled(summary)
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
                    self.catalog.start_attempt(key, state="running", submitted_at=time.time())
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
        with self._db:  # the take's job, its chain's first segment and its cast keyframe, in one read
            rows = self.catalog.jobs_by_key([key, f"{key}.s0", key + KEYFRAME_SUFFIX])
        row, krow = rows[key], rows.get(key + KEYFRAME_SUFFIX)
        chained = f"{key}.s0" in rows
        cost = float(row["cost_usd"]) if chained else float(row["cost_usd"] or row["reserved_usd"])
        keyframe = keyframe_cost(krow)  # charged on its own ledger line; part of what the take cost
        take = Take(id=take_id, shot_id=p.shot_id, kind=p.kind, job_key=key, path=self.project.rel(dest),
                    variant=p.request.variant, seed=p.request.seed, backend=p.backend.name, model=p.backend.model,
                    prompt=p.request.prompt, seconds=info.duration, width=info.video.width,
                    height=info.video.height, fps=info.video.fps, cost_usd=round(cost + keyframe, 6))
        if self.sign_takes:
            from dreamcut.provenance import sign_take

            # Before the take is recorded: a crash here re-signs on resume (signing is idempotent).
            sign_take(self.project, dest, take)
        sidecar = {"take": take_id, "shot": p.shot_id, "backend": str(p.backend), "seed": p.request.seed,
                   "job_key": key, "kind": p.kind,  # with the rest: enough for `dreamcut catalog rebuild`
                   "variant": p.request.variant, "cost_usd": take.cost_usd,
                   "request": stored_request(p.request, self.project.root),
                   "provider_job_id": row["provider_job_id"], "created_at": time.time()}
        if keyframe:  # the take was animated from a cast keyframe: which provider job made it, and its cost
            sidecar["cast_keyframe"] = {"job_key": krow["key"], "provider_job_id": krow["provider_job_id"],
                                        "cost_usd": krow["cost_usd"]}
        _write_sidecar(dest.with_suffix(".json"), json.dumps(sidecar, indent=2, sort_keys=True))
        with self._db, self.catalog.transaction():
            if self.catalog.take(take_id) is None:
                self.catalog.add_take(take)
            row = self.catalog.job(key)
            if row["state"] != "completed":
                self.catalog.update_job(key, state="completed", take_id=take_id, cost_usd=take.cost_usd,
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


