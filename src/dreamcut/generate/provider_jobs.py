"""One provider job from create to a verified download, for the job runner (`ProviderJobs`, mixed
into `Orchestrator`): the create sent once (unknown outcomes reconciled or parked, never re-sent),
polling paced by the provider, retryable failures, giving up (cancel and what it bills), the
download, and one API call with rate limiting and retries."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from dreamcut.backends.base import (Backend, CancelBilling, GenerationRequest, JobState, JobStatus, OutcomeUnknown,
                                    ProviderError, ProviderJob)
from dreamcut.backends.registry import BackendRef
from dreamcut.generate.jobs import (PARKED, RECONCILE_SKEW_S, _Canceled, _Failed, _GaveUp, _Parked, cancel_outcome,
                                    loaded_request, match_provider_jobs,
                                    retried_provider_ids)
from dreamcut.generate.pacing import RetryBudget, _Pacer, _WarmGate
from dreamcut.generate.takefiles import _fsync, _remember_probe, _verify


class ProviderJobs:
    """Methods of `Orchestrator` (see orchestrator.py for the state they use)."""

    def _provider_wait(self, seconds: float | None) -> float | None:
        """A wait the provider asks for (poll_after, Retry-After), in our time: provider time may run
        faster (`time_scale`, a simulator). Our own backoff is not scaled: outages last real seconds."""
        return None if seconds is None else seconds / self.time_scale

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
                left = self.budget_usd - self.catalog.committed_usd()
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
        budget = RetryBudget(limits, self._rng)
        warm = self._warm_gate(ref)
        while True:
            self._check_stop()
            limiter.acquire()
            # A backend's first create in a process loads its SDK; the others wait for it, so a
            # kill in that second leaves one create of unknown outcome, not a slot-full.
            with warm.hold():
                sent_at = time.time()
                with self._db:  # committed before the paid request leaves: a crash from here on is "unknown"
                    self.catalog.start_attempt(key, state="submitting", sent_at=sent_at)
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
                self._sleep_or_give_up(budget, e)
                continue
            submitted_at = time.time()
            with self._db:
                self.catalog.update_job(key, state="submitted", provider_job_id=provider_id, submitted_at=submitted_at)
            return provider_id, submitted_at

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
            # a provider job this key gave up for a retry is not the lost create either
            claimed = self.catalog.claimed_provider_ids(other_than=key) | retried_provider_ids(
                self.catalog.job_history(key))
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

    def _pacer(self, ref: BackendRef, request: GenerationRequest, kind: str = "") -> "_Pacer":
        k = (str(ref), kind, request.seconds, request.width, request.height)
        pacer = self._pacers.get(k)
        if pacer is None:
            pacer = self._pacers.setdefault(k, _Pacer())
        return pacer

    def _wait(self, ref: BackendRef, backend: Backend, key: str, provider_id: str, submitted_at: float | None,
              request: GenerationRequest) -> JobStatus:
        limits = self.limits_for(ref)
        submitted_at = submitted_at or time.time()
        pacer = self._pacer(ref, request, type(backend).__name__)  # a cast keyframe (an image) paces apart
        # Just submitted: nothing to learn from an immediate poll. Come back when jobs like this
        # one have been finishing in this run; after that, when the provider says to.
        aimed = pacer.first_poll(self.poll_interval)  # the estimate the first poll waits for
        first_wait = aimed - (time.time() - submitted_at)
        learning = first_wait > 0  # a job resumed long after its submit says nothing about how long jobs take
        while first_wait > 0.005:
            self._sleep(first_wait)
            # Jobs that finished meanwhile may have moved the estimate later: follow it.
            estimate = pacer.first_poll(self.poll_interval)
            first_wait = estimate - (time.time() - submitted_at)
            if first_wait > 0.005:
                aimed = estimate
        polls = 0
        running = False
        last_running: float | None = None  # when the last poll that saw the job unfinished left, after submit
        sent: list[float] = []  # when each try of this poll left: a second try means a transient error

        def poll() -> JobStatus:
            sent.append(time.time())
            return backend.poll(provider_id)

        while True:
            sent.clear()
            try:
                status = self._call(ref, key, poll)
            except _Failed as f:  # we give up on a job the provider may still finish: bill it as it will
                billed, held, how, finished = self._give_up(ref, backend, key, provider_id, request)
                if finished is not None:
                    return self._finished(ref, backend, key, request, finished)
                raise _Failed(f.code, f"{f.message}; {how}", billed=billed, held=held, key=key) from None
            polls += 1
            # Our backoff and the provider's Retry-After are not how long such jobs take: learn nothing from this one.
            learning = learning and len(sent) == 1
            if status.state == JobState.COMPLETED:
                if learning:
                    pacer.learn(sent[-1] - submitted_at, first_poll_found_it=polls == 1, last_running=last_running,
                                aimed_at=aimed)
                return self._finished(ref, backend, key, request, status)
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
            last_running = sent[-1] - submitted_at
            if time.time() - submitted_at > limits.job_timeout:
                billed, held, how, finished = self._give_up(ref, backend, key, provider_id, request)
                if finished is not None:
                    return self._finished(ref, backend, key, request, finished)
                raise _Failed("timeout", f"the provider did not finish within {limits.job_timeout:g} s; {how}",
                              billed=billed, held=held, key=key)
            # Not done: come back when the provider says, but not sooner than a small share of how
            # long such jobs take (a provider that says "20 ms" while it renders gets a few polls, not dozens).
            after = self._provider_wait(status.poll_after)
            after = after if after is not None else self.poll_interval
            self._sleep(max(after, pacer.repoll_floor(last_running, status.progress)))

    def _finished(self, ref: BackendRef, backend: Backend, key: str, request: GenerationRequest,
                  status: JobStatus) -> JobStatus:
        """Job `key` completed at the provider: record what it bills (charged with its take) and return `status`."""
        cost = self.charged(ref, backend, request, status, key)
        with self._db:
            self.catalog.update_job(key, cost_usd=cost)
        return status

    def _give_up(self, ref: BackendRef, backend: Backend, key: str, provider_id: str,
                 request: GenerationRequest) -> tuple[float, float, str, JobStatus | None]:
        """Stop waiting for a provider job: cancel it where that helps. Returns (dollars it bills,
        dollars kept reserved as the worst case of a refund that is not guaranteed, what happened, and
        the job's status when it completed as we gave up on it: billed, so the caller takes it).
        A cancel that meets only transient errors leaves the job in flight (`_GaveUp`)."""
        billing = getattr(backend, "cancel_billing", CancelBilling.REFUNDED)
        price = self.job_price(ref, request, key)
        if billing == CancelBilling.IMPOSSIBLE:
            return price, 0.0, f"{ref} cannot cancel: it finishes and bills there, so ${price:.2f} stays spent", None
        seen: JobStatus | None = None
        if billing == CancelBilling.BILLED_IF_RUNNING:
            try:  # what the provider sees now decides the refund: look just before cancelling
                seen = self._call(ref, key, lambda: backend.poll(provider_id))
            except (_Failed, _GaveUp):
                seen = None
            if seen is not None and seen.state.terminal:  # it ended meanwhile: billed as it ended
                return (self.charged(ref, backend, request, seen, key), 0.0, f"it ended {seen.state.value} meanwhile",
                        seen if seen.state == JobState.COMPLETED else None)
        try:
            self._call(ref, key, lambda: backend.cancel(provider_id))
        except _GaveUp as e:
            # The cancel met only transient errors: it may have stopped the job (an answer lost after
            # the provider acted on it) or not. Neither is known, so nothing is charged yet: the job
            # stays in flight, and the next run looks at it again (cancels it, or bills it as it ended).
            raise _GaveUp(f"the cancel got no answer ({e}); the next run looks at the job again") from None
        except _Failed as e:
            return price, 0.0, f"the cancel failed ({e}): ${price:.2f} kept as spent", None
        if billing == CancelBilling.BILLED:
            return price, 0.0, f"cancelled; {ref} bills cancelled jobs, so ${price:.2f} stays spent", None
        if billing == CancelBilling.BILLED_IF_RUNNING:
            billed, held, how = cancel_outcome(ref, seen, price)
            if held:  # said at run time too: `dreamcut reconcile` lists it with its key, --release frees it
                how += "; `dreamcut reconcile` lists it, `--release KEY` frees it once your invoice shows no charge"
            return billed, held, how, None
        try:  # the provider's own word on what the cancelled job costs, when it says
            status = self._call(ref, key, lambda: backend.poll(provider_id))
        except (_Failed, _GaveUp):
            return 0.0, 0.0, "cancelled", None
        if status.state == JobState.COMPLETED:  # it finished before the cancel reached it: billed, so taken
            return self.charged(ref, backend, request, status, key), 0.0, "it completed before the cancel", status
        return (self.charged(ref, backend, request, status, key) if status.state.terminal else 0.0), 0.0, "cancelled", None

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
        """One API call with rate limiting and retries (rate limits and other transient failures on
        budgets of their own, `RetryBudget`). Terminal errors become _Failed; spent tries, _GaveUp."""
        limiter = self._limiter(ref)
        budget = RetryBudget(self.limits_for(ref), self._rng)
        while True:
            self._check_stop()
            limiter.acquire()
            try:
                return fn()
            except ProviderError as e:
                if isinstance(e, OutcomeUnknown):
                    raise  # only the submit path may see it, and it reconciles
                if not e.transient:
                    raise _Failed(e.code, e.message) from None
                self._sleep_or_give_up(budget, e)

    def _sleep_or_give_up(self, budget: RetryBudget, e: ProviderError) -> None:
        """Wait before the next try after transient error `e`, or raise _GaveUp when its kind's tries are spent."""
        wait = budget.wait(e, self._provider_wait(e.retry_after))
        if wait is None:
            raise _GaveUp(f"{e.code}: {e.message}")
        self._sleep(wait)
