"""The backend protocol: request -> job -> status -> downloaded take, with a price.

Every backend (animatic, local diffusers models, cloud APIs) implements `Backend`.
The orchestrator only talks to this protocol; a backend's quirks stay in its own file.

Rules for implementers:
- Never write an API key anywhere (not in errors, logs, metadata). Read keys from the
  environment in `__init__` and keep them in memory only.
- `submit` must be the only call that can cost money; it receives the orchestrator's
  idempotency key and should pass it to the provider where the provider supports one.
- Raise `ProviderError(transient=True, retry_after=...)` for rate limits / 5xx / network,
  and `ProviderError(transient=False, code=...)` for terminal refusals (content policy,
  invalid request). The orchestrator retries only transient ones.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

Progress = Callable[[float], None]  # fraction 0..1


@dataclass(frozen=True)
class SceneSegment:
    """A scene inside one take: [start, end) seconds of the take, with its own text."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class CastMember:
    """A recurring character of the video: name, how they look, and reference images (absolute paths)."""

    name: str
    description: str = ""
    refs: tuple[str, ...] = ()
    kind: str = "character"  # character | place | object (the spec's `cast:` kind)


class CastLike(Protocol):
    """A cast member as prompts and backends read it (the spec's `cast:` entry or a request's
    `CastMember`): a name, a description and reference images."""

    name: str
    description: str
    refs: Sequence[str]


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that decides a take's pixels. Two equal requests make the same take.

    prompt: the one text the provider receives: the backend's own formatting of the structured
        fields below (its `format_prompt`), or a caller's plain text where there is no structure.
    lead: the shot's words that apply to the whole take (before its first timed scene), or "".
    segments: the take's scenes in take seconds, each with its own text (one for a single-scene shot).
    style: the style block (preset + global style, variant expanded), or "".
    camera: camera moves lifted out of a single-scene shot's words ("slow push in"), or ().
    cast: the recurring characters this take shows (name, description, reference images), or ().
    seconds, width, height, fps: the take's length and frame geometry.
    seed: the generation seed (deterministic backends reproduce the take from it).
    refs: absolute paths of reference images (image conditioning), or ().
    preview: MiniClips mode: only the first `preview_frames` frames, cheapest settings.
    caption: text the animatic burns in (None = no caption); ignored by AI backends.
    options: backend-specific knobs as sorted (key, value) pairs (steps, guidance, ...).
    """

    shot_id: str
    prompt: str
    seconds: float
    width: int
    height: int
    fps: int
    seed: int
    negative_prompt: str = ""
    variant: int = 0
    segments: tuple[SceneSegment, ...] = ()
    refs: tuple[str, ...] = ()
    preview: bool = False
    preview_frames: int = 4
    caption: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    lead: str = ""
    style: str = ""
    camera: tuple[str, ...] = ()
    cast: tuple[CastMember, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["segments"] = [asdict(s) for s in self.segments]
        d["refs"] = list(self.refs)
        d["options"] = [list(kv) for kv in self.options]
        d["camera"] = list(self.camera)
        d["cast"] = [{"name": c.name, "description": c.description, "refs": list(c.refs), "kind": c.kind}
                     for c in self.cast]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GenerationRequest":
        """The request from `to_dict`'s form; rows written before a field existed get its default."""
        d = dict(d)
        d["segments"] = tuple(SceneSegment(**s) for s in d.get("segments", ()))
        d["refs"] = tuple(d.get("refs", ()))
        d["options"] = tuple((k, v) for k, v in d.get("options", ()))
        d["camera"] = tuple(d.get("camera", ()))
        d["cast"] = tuple(CastMember(c["name"], c.get("description", ""), tuple(c.get("refs", ())),
                                     c.get("kind", "character")) for c in d.get("cast", ()))
        return cls(**d)

    # Fields added after key version 0: `key` leaves them out, so a version-0 key computed now is
    # the key the catalog row was written under (see `orchestrator.migrate_job_keys`).
    _LATER_FIELDS = ("lead", "style", "camera", "cast")

    def key(self, backend: str) -> str:
        """Content key of (backend, request) as key version 0 wrote it: the hash of the formatted
        request (prompt, segments, geometry, seed, ...). Jobs are keyed by `generate.batch.job_key`."""
        d = {k: v for k, v in self.to_dict().items() if k not in self._LATER_FIELDS}
        blob = json.dumps({"backend": backend, **d}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)

    def with_options(self, **kw: Any) -> "GenerationRequest":
        merged = dict(self.options) | kw
        return replace(self, options=tuple(sorted(merged.items())))

    @property
    def frame_count(self) -> int:
        if self.preview:
            return self.preview_frames
        return max(1, int(round(self.seconds * self.fps)))


@dataclass(frozen=True)
class Capabilities:
    """What a model can do, and what it costs. Prices carry their source and date."""

    min_seconds: float = 0.5
    max_seconds: float = 120.0
    durations: tuple[float, ...] | None = None  # only these lengths (e.g. 4, 8, 12), else any in range
    sizes: tuple[tuple[int, int], ...] | None = None  # only these sizes, else any
    image_conditioning: bool = False
    extend: bool = False
    max_prompt_chars: int = 8000
    price_per_second: float = 0.0  # USD per generated second at the default size
    price_source: str = ""  # where the price comes from, with its date
    local: bool = False  # runs on this machine: free to re-run after a crash
    preview_mode: str = "frames"  # frames | cheapest | thumbnail

    def nearest_duration(self, seconds: float) -> float:
        """The length this model will actually make for a wish of `seconds` (one segment)."""
        if self.durations:
            fits = [d for d in self.durations if d >= seconds - 1e-6]
            return min(fits) if fits else max(self.durations)
        return min(max(seconds, self.min_seconds), self.max_seconds)


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELED)


@dataclass
class JobStatus:
    state: JobState
    progress: float = 0.0
    error_code: str | None = None
    error_message: str | None = None
    poll_after: float | None = None  # seconds the provider asks us to wait before the next poll
    cost_usd: float | None = None  # what the provider billed, when it says
    # FAILED, but the provider documents this failure as worth retrying (e.g. Runway INTERNAL): a retry is
    # a NEW paid create (a new job id), so whoever retries counts it against the budget like any create.
    retryable: bool = False


class ProviderError(Exception):
    """A provider refused or failed. `transient` ones are retried with backoff."""

    def __init__(self, message: str, *, code: str = "error", transient: bool = False,
                 retry_after: float | None = None, rate_limited: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.transient = transient
        self.retry_after = retry_after
        # the provider's rate limit (HTTP 429): it is busy, not broken; the job runner waits what it
        # asks for, on a retry budget of its own (`Limits.rate_limit_attempts`)
        self.rate_limited = rate_limited


class OutcomeUnknown(ProviderError):
    """A paid create whose result is unknown: the provider may have accepted it.

    Raised by `submit`/`extend` when the request left this machine and no clear answer
    came back (connection dropped or timed out after sending, a 5xx or an HTML body after
    the POST reached the provider). The orchestrator never re-sends such a create blindly:
    it reconciles through `find_jobs` where the provider can list jobs, and otherwise parks
    the job as `needs-reconcile`, counting its worst-case cost against the budget.
    """

    def __init__(self, message: str, *, code: str = "outcome_unknown"):
        super().__init__(message, code=code, transient=False)


class CancelBilling(str, Enum):
    """What a provider bills for a job cancelled (or abandoned) while it runs."""

    REFUNDED = "refunded"  # cancel stops the job and nothing is billed
    BILLED = "billed"  # cancel stops the job, but it is billed in full
    IMPOSSIBLE = "impossible"  # no cancel: the job runs on and is billed when it finishes
    # a job the provider sees running is billed; one still queued may be refunded, not guaranteed:
    # nothing is charged for it and its worst case stays reserved (Runway)
    BILLED_IF_RUNNING = "billed_if_running"


@dataclass(frozen=True)
class ProviderJob:
    """One job as the provider's own list shows it (for reconciling unknown outcomes)."""

    job_id: str
    state: JobState
    created_at: float | None = None  # unix seconds, when the provider says
    tag: str | None = None  # our idempotency key, where the API carries a client tag/metadata
    prompt: str | None = None


@runtime_checkable
class Backend(Protocol):
    name: str
    model: str | None

    def capabilities(self) -> Capabilities: ...

    def price(self, request: GenerationRequest) -> float: ...

    def problems(self, request: GenerationRequest) -> list[str]: ...

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str: ...

    def poll(self, job_id: str) -> JobStatus: ...

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None: ...

    def cancel(self, job_id: str) -> None: ...

    # Optional (looked up with getattr; the orchestrator has defaults):
    #   cancel_billing: CancelBilling   what a cancel costs at this provider (default REFUNDED)
    #   def charged(self, request, status: JobStatus) -> float
    #       dollars the provider bills for a job that ended in `status` (failures too, per its docs);
    #       default: status.cost_usd if given, else price(request) when COMPLETED, else 0.
    #   def find_jobs(self, request, idempotency_key, created_after: float) -> list[ProviderJob] | None
    #       the provider's jobs that may be this create (by client tag/metadata, else prompt + time
    #       window); None when the provider cannot list jobs.


def price_seconds(caps: Capabilities, request: GenerationRequest) -> float:
    """Seconds that will be billed: previews are billed at the model's shortest length."""
    if request.preview:
        return caps.nearest_duration(caps.min_seconds if not caps.durations else min(caps.durations))
    return request.seconds


@dataclass
class LocalBackend:
    """Base for backends that render on this machine (animatic, diffusers).

    `submit` only remembers the request; `download` renders it into `dest`. A crash
    loses nothing but compute: re-running a local job costs no money.
    Subclasses implement `render(request, dest, progress)` and `capabilities()`.
    """

    name: str = "local"
    model: str | None = None
    _pending: dict[str, GenerationRequest] = field(default_factory=dict, repr=False)

    def capabilities(self) -> Capabilities:  # pragma: no cover - abstract
        raise NotImplementedError

    def render(self, request: GenerationRequest, dest: Path, progress: Progress | None = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def price(self, request: GenerationRequest) -> float:
        return 0.0

    def problems(self, request: GenerationRequest) -> list[str]:
        caps = self.capabilities()
        out = []
        if request.seconds > caps.max_seconds + 1e-6:
            out.append(f"{request.seconds:g} s is longer than {self.name} makes ({caps.max_seconds:g} s)")
        if request.refs and not caps.image_conditioning:
            out.append(f"{self.name} cannot use reference images")
        return out

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        self._pending[idempotency_key] = request
        return idempotency_key

    def poll(self, job_id: str) -> JobStatus:
        if job_id in self._pending:
            return JobStatus(JobState.COMPLETED, progress=1.0)
        return JobStatus(JobState.FAILED, error_code="lost", error_message="local job not in memory (resubmit)")

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        request = self._pending.pop(job_id)
        self.render(request, Path(dest), progress)

    def cancel(self, job_id: str) -> None:
        self._pending.pop(job_id, None)


def run_to_file(backend: Backend, request: GenerationRequest, dest: Path, *,
                poll_interval: float = 1.0, timeout: float = 3600.0, progress: Progress | None = None) -> None:
    """Submit, poll and download one request, in the foreground. For one-off use (tests, previews);
    batches go through the orchestrator, which records every step in the catalog first."""
    job_id = backend.submit(request, request.key(getattr(backend, "name", "backend")))
    deadline = time.monotonic() + timeout
    while True:
        status = backend.poll(job_id)
        if progress:
            progress(status.progress)
        if status.state == JobState.COMPLETED:
            break
        if status.state.terminal:
            raise ProviderError(status.error_message or status.state.value, code=status.error_code or "failed")
        if time.monotonic() > deadline:
            raise ProviderError("timed out waiting for the provider", code="timeout", transient=True)
        time.sleep(status.poll_after or poll_interval)
    backend.download(job_id, Path(dest), progress)
