"""Job records and how jobs end: job states, the run summary, per-backend limits, the outcomes a
job step raises (stopped, gave up, failed, parked, cancelled), request records as stored in the
catalog, and the catalog-level questions other commands ask (parked, pending, done, re-keying)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from dreamcut.backends.base import Backend, GenerationRequest, JobState, JobStatus, ProviderJob
from dreamcut.backends.registry import BackendRef
from dreamcut.generate.batch import KEY_VERSION, PlannedTake
from dreamcut.generate.cost import KEYFRAME_SUFFIX, uses_extend
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
    max_attempts: tries per API call on transient errors (5xx, a dropped or refused connection, an
    unreadable answer) before leaving the job for the next run.
    rate_limit_attempts: tries per API call the provider answers with its rate limit (429), counted
    apart from max_attempts: a burst of 429s never uses up the tries a dropped connection needs,
    nor the reverse (`pacing.RetryBudget`).
    backoff_base / backoff_cap: seconds; the n-th retry of a kind waits a random time in [d/2, d]
    with d = min(cap, base * 2**n), or what the provider's Retry-After (rate-limit headers) says.
    job_timeout: seconds from submission after which a job the provider never finishes is
    cancelled and recorded as failed.
    retries: new paid creates after a failure the provider documents as retryable (Runway's
    INTERNAL); each is counted in the job's history and the failed job's billing is charged.
    """

    concurrency: int = 4
    requests_per_second: float = 0.0
    max_attempts: int = 8
    rate_limit_attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    job_timeout: float = 3600.0
    retries: int = 2


def take_id_for(planned: PlannedTake) -> str:
    number = planned.number if planned.number is not None else planned.index + 1
    return f"{planned.shot_id}-t{number:02d}-{planned.key[:6]}"


class _Stopped(Exception):
    """The run is stopping (Ctrl-C, cancel): leave the job as it is for the next run."""


class _GaveUp(Exception):
    """Transient errors outlasted max_attempts: leave the job in flight for the next run."""


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


def cancel_outcome(ref: BackendRef, seen: JobStatus | None, price: float) -> tuple[float, float, str]:
    """(billed, kept reserved, why) for a cancel at a provider that bills a job it sees running (or
    finished) and may refund one still queued (CancelBilling.BILLED_IF_RUNNING), from its last status."""
    if seen is not None and seen.state in (JobState.RUNNING, JobState.COMPLETED):
        return price, 0.0, f"cancelled while {seen.state.value}: {ref} bills it, so ${price:.2f} stays spent"
    if seen is not None and seen.state == JobState.QUEUED:
        return 0.0, price, (f"cancelled while queued: {ref} may refund it but does not guarantee it, so its "
                            f"${price:.2f} stays reserved as the worst case")
    return 0.0, price, f"its state is unknown; ${price:.2f} stays reserved as the worst case"


def paying_take(kind: str, key: str) -> str | None:
    """The take whose reservation pays child job `key` of `kind`: a chain segment `<take>.s<i>` or a
    cast keyframe `<take>.k` (their own rows reserve nothing); None for a take's own job."""
    if kind == "keyframe" and key.endswith(KEYFRAME_SUFFIX):
        return key[:-len(KEYFRAME_SUFFIX)]
    parent, _, index = key.rpartition(".s")
    return parent if kind == "segment" and parent and index.isdigit() else None


def hold_line(provider: str, key: str, usd: float) -> str:
    """What `dreamcut cancel` says of a job whose worst case stays reserved after its cancel (a refund the
    provider does not guarantee), and how the director frees it."""
    return (f"${usd:,.2f} stays reserved: {provider.capitalize()} may bill a task that started before the cancel; "
            f"release it with `dreamcut reconcile --release {key}` once your invoice shows no charge")


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


def done_keys(project: Project) -> set[str]:
    return {r["key"] for r in project.catalog.jobs("completed")}


_RETRIED = re.compile(r"^retry \d+ of \d+: provider job (\S+) failed")


def retried_provider_ids(history) -> set[str]:
    """The provider jobs a job gave up for a new create (its "retry N of M" ledger notes)."""
    return {m.group(1) for line in history if line["kind"] == "note" and (m := _RETRIED.match(line["note"]))}
