"""What the director resolves by hand, for the job runner (`Reconciling`, mixed into
`Orchestrator`): `dreamcut cancel`, and `dreamcut reconcile`'s adopt / resubmit / abandon of
parked jobs whose create has an unknown outcome."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from dreamcut.backends.base import Backend, CancelBilling, GenerationRequest, JobState, JobStatus
from dreamcut.backends.registry import BackendRef, parse_backend
from dreamcut.errors import BadInput, WorkFailed
from dreamcut.generate.cost import cast_keyframe
from dreamcut.generate.jobs import (ACTIVE, PARKED, RunSummary, _Failed, _GaveUp, _Parked, cancel_outcome,
                                    is_extension, loaded_request, paying_take)


@dataclass(frozen=True)
class Cancelled:
    """One job `dreamcut cancel` stopped: what the provider bills for it, and what stays reserved (the
    worst case of a refund it does not guarantee: `held`, freed by `release` once the invoice says)."""

    key: str
    provider: str
    billed: float
    held: float


@dataclass(frozen=True)
class Settled:
    """A hold `reconcile --release` settled: `charged` what the provider bills (0: released), and why."""

    key: str
    held: float
    charged: float
    note: str

    @property
    def released(self) -> float:
        """Dollars of the hold that went back to the budget."""
        return max(0.0, self.held - self.charged)


def settle_hold(ref, status: JobStatus | None, billed: float) -> tuple[str, str]:
    """("charge" | "release" | "wait", why) for a held job whose provider now reports `status`, with
    `billed` what the billing rule (`charged`) makes of that status.

    Completed and failed jobs, and cancelled ones whose cost the provider reports, are the provider's
    word: billed -> a charge of `billed`, else released. A cancelled job whose cost it no longer reports
    (deleted, gone), or a local job (`status` None), is the director's word (the invoice): released.
    A job still queued or running may yet be billed: wait."""
    if status is None:
        return "release", "released by the director (the invoice shows no charge)"
    if not status.state.terminal:
        return "wait", f"{ref} still reports the job {status.state.value}: it may yet be billed"
    if status.state == JobState.CANCELED and status.cost_usd is None:
        return "release", (f"{ref} no longer reports the job's cost ({status.error_code or 'cancelled'}): "
                           "released by the director (the invoice shows no charge)")
    if billed > 0:
        return "charge", f"{ref} reports the job {status.state.value} and bills ${billed:.2f}"
    return "release", f"{ref} reports the job {status.state.value}, not billed"


class Reconciling:
    """Methods of `Orchestrator` (see orchestrator.py for the state they use)."""

    # -- cancel ---------------------------------------------------------------------------------
    def cancel(self, shots: list[str] | None = None) -> int:
        """Cancel every job in flight (of `shots`, if given); how many were cancelled (see `cancel_jobs`)."""
        return len(self.cancel_jobs(shots))

    def cancel_jobs(self, shots: list[str] | None = None) -> list[Cancelled]:
        """Cancel every job in flight (of `shots`, if given): tell the provider, release the reservation."""
        done: list[Cancelled] = []
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
            worst = row["reserved_usd"]
            if paying_take(row["kind"], row["key"]) and backend is not None:
                # a chain segment or cast keyframe is paid out of its take's reservation: its own price
                worst = self.job_price(ref, loaded_request(row["request_json"], self.project.root), row["key"])
            if row["provider_job_id"] and not local and backend is not None:
                billing = getattr(backend, "cancel_billing", CancelBilling.REFUNDED)
                if billing == CancelBilling.BILLED_IF_RUNNING:  # what the provider sees now decides the refund
                    try:
                        seen = self._call(ref, row["key"], lambda: backend.poll(row["provider_job_id"]))
                    except (_Failed, _GaveUp):
                        seen = None
                    billed, held, how = cancel_outcome(ref, seen, worst)
                    why = f"{why}; {how}"
                elif billing != CancelBilling.REFUNDED:  # it finishes (or is billed) there: the money stays spent
                    billed = worst
            # Mark it first, so a generate running elsewhere stops polling it before the provider forgets it.
            with self.catalog.transaction():
                self.catalog.update_job(row["key"], state="canceled", finished_at=time.time(), reserved_usd=held,
                                        error_code="canceled", error_message=why[:500],
                                        cost_usd=row["cost_usd"] + billed)
                if billed:
                    self.catalog.ledger_add("charge", billed, row["key"], "cancelled where cancels are billed")
                if held:
                    self.catalog.ledger_add("note", 0.0, row["key"], f"${held:.2f} kept reserved: {how}")
                if row["reserved_usd"] - held > 0:
                    self.catalog.ledger_add("release", -(row["reserved_usd"] - held), row["key"])
                elif held > row["reserved_usd"]:  # a child job's worst case, held on its own row from now on
                    self.catalog.ledger_add("reserve", held - row["reserved_usd"], row["key"])
            done.append(Cancelled(row["key"], ref.name, billed, held))
            if row["provider_job_id"] and backend is not None and not local:
                try:
                    self._call(ref, row["key"], lambda: backend.cancel(row["provider_job_id"]))
                except (_Failed, _GaveUp, BadInput):
                    pass  # cancelled here either way; the provider may still finish (and bill) it
        return done

    def held_jobs(self) -> list:
        """Finished jobs whose worst case stays reserved: cancelled (or given up) where the provider may
        refund them but does not guarantee it."""
        return [r for r in self.catalog.jobs("canceled", "failed") if r["reserved_usd"] > 0]

    def release(self, key: str) -> "Settled":
        """Settle the reservation a cancel kept for job `key` (a unique prefix), asking the provider first.

        The provider's word decides when it has one (`settle_hold`): a job it reports billed (completed,
        a billed failure, a cancel it charged) turns the hold into a charge of the provider's amount,
        never a release; one it reports not billed is released. When it no longer knows the job's cost
        (Runway answers 404 for a deleted task) the director's invoice decides: released, and said.
        A job the provider still runs, or a provider that does not answer, keeps the hold (WorkFailed).
        BadInput for a job that holds no money."""
        held = self.held_jobs()
        rows = [r for r in held if r["key"].startswith(key)]
        if len(rows) != 1:
            listed = ", ".join(r["key"] for r in held[:5]) or "none"
            what = "no job with money held after a cancel" if not rows else f"{len(rows)} held jobs"
            raise BadInput(f"{what} with key {key!r} (held: {listed})", where="reconcile --release",
                           fix="use a key `dreamcut cancel` named (a unique prefix is enough)")
        row = rows[0]
        key, usd = row["key"], float(row["reserved_usd"])
        ref, backend, request = self._job_backend(row)
        status = None
        if row["provider_job_id"] and not backend.capabilities().local:
            try:
                status = self._call(ref, key, lambda: backend.poll(row["provider_job_id"]))
            except (_Failed, _GaveUp) as e:
                raise WorkFailed(f"{ref} did not say what job {row['provider_job_id']} cost ({e}); "
                                 f"the ${usd:.2f} stays held", where=key,
                                 fix="run `dreamcut reconcile --release` again when the provider answers") from None
        billed = self.charged(ref, backend, request, status, key) if status is not None else 0.0
        decision, why = settle_hold(ref, status, billed)
        if decision == "wait":
            raise WorkFailed(f"{why}; the ${usd:.2f} stays held", where=key,
                             fix="run `dreamcut reconcile --release` again once the job has ended there")
        billed = billed if decision == "charge" else 0.0
        with self.catalog.transaction():
            self.catalog.update_job(key, reserved_usd=0.0, cost_usd=float(row["cost_usd"] or 0.0) + billed)
            if billed:
                self.catalog.ledger_add("charge", billed, key, f"reconcile: {why}")
            self.catalog.ledger_add("release", -usd, key, f"reconcile: {why}" if not billed else
                                    "reconcile: the hold is replaced by the provider's charge")
        return Settled(key, held=usd, charged=billed, note=why)

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
        if row["kind"] == "keyframe":  # a take's cast keyframe: its image step makes it
            backend = cast_keyframe(backend, request) or backend
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
        parent = paying_take(row["kind"], key)
        segment = parent is not None  # a chain segment or cast keyframe: paid from its take's reservation
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
