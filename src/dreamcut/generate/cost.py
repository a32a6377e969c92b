"""Prices and estimates: what a batch will cost and how long it will take, before anything is spent.

One price function: `job_price(backend, request, override)` is what one provider job costs: the
backend's own `price(request)` (its table, with its size and length rules, source and date), with
the spec's `prices:` override for that `backend:model` applied here and nowhere else.
`take_price` is the sum of `job_price` over the jobs a take is made of (one, or a chain of
segments: `take_jobs`). `check`, `estimate`, the orchestrator's reservation and its charges all
call these, so the estimate is exactly what `generate` reserves.

Chains: a backend with its own `segment_plan(seconds)` (Veo: a 4/6/8 s generation, then 7 s
extensions) plans its chains itself; others get the generic `segment_plan(caps, seconds)`. A
segment after the first made through the provider's `extend` is an extension job, priced with
the backend's `extend_price` where it has one (Veo bills an extension's 7 s, not an 8 s generation).

Cast keyframes: a take whose shot says `cast_keyframe: true` (and whose backend has a keyframe step,
`backend.cast_keyframe(request)`) first buys one image; `take_price` adds its price (`keyframe_price`,
the backend's image table; the spec's `prices:` override is per second of video and does not apply:
`override_gaps` says so, and `check` prints it).

The override reaches every charge computed from the table (`at_spec_prices`): a job's price, an
extension's, and what a backend's billing rule charges for a finished, failed or cancelled job, so
estimate == reservation == charge holds with an override too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from dreamcut.backends.base import Capabilities, GenerationRequest, SceneSegment, price_seconds
from dreamcut.generate.batch import PlannedTake
from dreamcut.prompts import format_prompt


@dataclass
class BackendEstimate:
    backend: str
    takes: int = 0
    seconds: float = 0.0  # seconds of video generated
    usd: float = 0.0
    price_per_second: float = 0.0
    price_source: str = ""
    generation_minutes: float = 0.0  # wall time at the backend's typical speed, one job at a time


@dataclass
class Estimate:
    by_backend: dict[str, BackendEstimate] = field(default_factory=dict)
    budget_usd: float = 0.0
    notes: list[str] = field(default_factory=list)  # "shot s03: veo makes 13 s for this 12 s shot ..."

    @property
    def usd(self) -> float:
        return sum(b.usd for b in self.by_backend.values())

    @property
    def seconds(self) -> float:
        return sum(b.seconds for b in self.by_backend.values())

    @property
    def takes(self) -> int:
        return sum(b.takes for b in self.by_backend.values())

    @property
    def over_budget(self) -> bool:
        return self.usd > self.budget_usd + 1e-9


def request_price(caps: Capabilities, request: GenerationRequest, override: float | None = None) -> float:
    """A flat per-second table price (for backends whose table is one number per second)."""
    per_second = caps.price_per_second if override is None else override
    return round(per_second * price_seconds(caps, request), 6)


def job_price(backend, request: GenerationRequest, override: float | None = None, *, extends: bool = False
              ) -> float:
    """THE price of one provider job: `backend.price(request)`, with the spec's `prices:` override.

    The override is USD per second at the model's default size: it scales the backend's own
    price (which keeps the backend's size and length rules); for a backend whose table is free
    (a local or self-hosted model) it is the override times the seconds billed.
    """
    extend_price = getattr(backend, "extend_price", None) if extends else None
    base = float(extend_price(request) if extend_price is not None else backend.price(request))
    caps = backend.capabilities()
    if override is None or caps.price_per_second > 0:
        return at_spec_prices(backend, base, override)
    return round(override * price_seconds(caps, request), 6)


def at_spec_prices(backend, table_usd: float, override: float | None) -> float:
    """Dollars computed from the backend's price table (a job's price, or what its billing rule
    charges: `backend.charged`, a provider's figure in the table's money such as Runway's credits
    at $0.01) in the spec's `prices:` override for its model: scaled by override / table price per
    second, so a charge equals the reservation it replaces. The table's figure where there is no
    override, or where the table is free (then `job_price` prices the seconds billed)."""
    per_second = backend.capabilities().price_per_second if override is not None else 0.0
    if per_second <= 0:
        return round(float(table_usd), 6)
    return round(float(table_usd) * override / per_second, 6)


def override_gaps(name: str, backend, request: GenerationRequest, override: float | None) -> list[str]:
    """The charges of a take that the spec's `prices:` override (USD per second of video) cannot reach,
    one line each: a cast keyframe is priced per image, from the backend's image table."""
    step = cast_keyframe(backend, request) if override is not None else None
    if step is None:
        return []
    return [f"prices: {name} ${override:g}/s is per second of video; its cast keyframe ({step.name} {step.model}) "
            f"is billed per image and stays at the table's ${step.price(request):.4g} an image"]


def segment_request(request: GenerationRequest, at: float, seconds: float, backend: str) -> GenerationRequest:
    """The request for one segment [at, at + seconds) of a chained take: its length, the take's scenes
    that fall inside it (in the segment's own seconds), and `backend`'s prompt for them."""
    end = at + seconds
    inside = [s for s in request.segments if s.start < end - 1e-6 and s.end > at + 1e-6]
    if not inside and request.segments:  # past the last scene's end: the last scene goes on
        inside = [max(request.segments, key=lambda s: s.start)]
    scenes = tuple(SceneSegment(max(0.0, s.start - at), max(0.0, min(s.end, end) - at), s.text) for s in inside)
    part = replace(request, seconds=seconds, segments=scenes)
    return replace(part, prompt=format_prompt(backend, part)) if scenes else part


@dataclass(frozen=True)
class TakeJob:
    """One provider job of a take: its request, and whether the provider's `extend` makes it from
    the previous segment (then it is priced as an extension)."""

    request: GenerationRequest
    extends: bool = False


def uses_extend(backend) -> bool:
    """Chains of this backend continue the previous segment through the provider's `extend`."""
    caps = backend.capabilities()
    return bool(caps.extend and hasattr(backend, "extend") and not caps.local)


def chain_plan(backend, seconds: float) -> list[float] | None:
    """The segment lengths a take of `seconds` is made of: the backend's own plan where it has one
    (Veo: a generation, then 7 s extensions), else the generic `segment_plan`."""
    own = getattr(backend, "segment_plan", None)
    if own is not None:
        return own(seconds)
    return segment_plan(backend.capabilities(), seconds)


def take_jobs(backend, request: GenerationRequest) -> list[TakeJob]:
    """The provider jobs a take is made of: the request itself, or one job per chain segment."""
    if request.preview:  # a preview is a few frames: never a chain
        return [TakeJob(request)]
    plan = chain_plan(backend, request.seconds) or [request.seconds]
    if len(plan) == 1:
        return [TakeJob(request)]
    extend = uses_extend(backend)
    name = getattr(backend, "name", "")  # the backend whose formatter writes each segment's prompt
    out, at = [], 0.0
    for i, seconds in enumerate(plan):
        out.append(TakeJob(segment_request(request, at, seconds, name), extends=extend and i > 0))
        at += seconds
    return out


def take_requests(backend, request: GenerationRequest) -> list[GenerationRequest]:
    """The requests of `take_jobs`."""
    return [j.request for j in take_jobs(backend, request)]


KEYFRAME_SUFFIX = ".k"  # the job key of a take's cast keyframe: "<take key>.k"


def cast_keyframe(backend, request: GenerationRequest):
    """The backend's cast keyframe step for `request` (see backends._cast.KeyframeStep), or None."""
    fn = getattr(backend, "cast_keyframe", None)
    return fn(request) if fn is not None else None


def keyframe_price(backend, request: GenerationRequest) -> float:
    """What the take's cast keyframe costs (0 when it has none)."""
    step = cast_keyframe(backend, request)
    return round(float(step.price(request)), 6) if step is not None else 0.0


def take_price(backend, request: GenerationRequest, override: float | None = None) -> float:
    """What a take costs: the sum of `job_price` over the jobs it is made of, and its cast keyframe."""
    return round(sum(job_price(backend, j.request, override, extends=j.extends)
                     for j in take_jobs(backend, request)) + keyframe_price(backend, request), 6)


def made_seconds(backend, request: GenerationRequest) -> float:
    """Seconds of video the provider makes (and bills) for a take: the wish, or more where the
    backend says so (Veo's 7 s extension steps make a 12 s wish 13 s)."""
    fn = getattr(backend, "made_seconds", None)
    return float(fn(request)) if fn is not None else float(request.seconds)


def take_notes(backend, request: GenerationRequest) -> list[str]:
    """The backend's degraded decisions for a take (made longer, at another size...), said before any money:
    its `take_notes(request)` where it has one (a method of that name, not any attribute called notes)."""
    fn = getattr(backend, "take_notes", None)
    if not callable(fn):
        return []
    return list(fn(request))


def estimate(planned: list[PlannedTake], backend_for, *, prices: dict[str, float] | None = None,
             budget_usd: float = 0.0, already_done: set[str] = frozenset()) -> Estimate:
    """Price every planned take not already done. `backend_for(BackendRef) -> Backend`."""
    prices = prices or {}
    out: dict[str, BackendEstimate] = defaultdict(lambda: BackendEstimate(""))
    notes: list[str] = []
    for p in planned:
        if p.key in already_done:
            continue
        name = str(p.backend)
        backend = backend_for(p.backend)
        caps = backend.capabilities()
        override = prices.get(name)
        b = out[name]
        b.backend = name
        b.takes += 1
        b.seconds += made_seconds(backend, p.request)
        b.price_per_second = caps.price_per_second if override is None else override
        b.price_source = "spec prices:" if override is not None else caps.price_source
        b.usd += take_price(backend, p.request, override)
        step = cast_keyframe(backend, p.request)
        notes_for = take_notes(backend, p.request)
        if step is not None:
            notes_for.append(f"a cast keyframe first ({step.name} {step.model}, ${step.price(p.request):.4g} a take, "
                             f"in the price above), then the video from it")
        for note in notes_for:
            line = f"shot {p.shot_id}: {note}"
            if line not in notes:
                notes.append(line)
        # Typical wall time: real time for cloud renders (~1x), per-backend speeds refine this later.
        b.generation_minutes += p.request.seconds / 60.0
    return Estimate(by_backend=dict(out), budget_usd=budget_usd, notes=notes)


def segment_plan(caps: Capabilities, seconds: float) -> list[float] | None:
    """How a take of `seconds` is made from segments this model can generate, longest first.

    One segment when the model makes that length; otherwise a chain (extend, or image-to-video
    from the previous segment's last frame). Fixed-length models (4/8/12 s) need lengths that
    add up exactly, with as few segments as possible; None when no chain adds up.
    """
    eps = 1e-6
    if caps.durations:
        durations = sorted(set(caps.durations), reverse=True)
        if any(abs(seconds - d) < eps for d in durations):
            return [float(seconds)]
        # fewest segments adding up to `seconds` (lengths in tenths of a second keep it exact)
        target = int(round(seconds * 10))
        units = [int(round(d * 10)) for d in durations]
        best: dict[int, list[int]] = {0: []}
        for total in range(1, target + 1):
            options = [best[total - u] + [u] for u in units if total - u in best]
            if options:
                best[total] = min(options, key=len)
        if target not in best:
            return None
        return sorted((u / 10 for u in best[target]), reverse=True)
    if seconds <= caps.max_seconds + eps:
        return [float(seconds)]
    n = int(-(-seconds // caps.max_seconds))
    return [round(seconds / n, 6)] * (n - 1) + [round(seconds - round(seconds / n, 6) * (n - 1), 6)]


def can_chain(caps: Capabilities, backend: object) -> bool:
    """A model can make takes longer than one segment by extending or by image-to-video."""
    return (caps.extend and hasattr(backend, "extend")) or caps.image_conditioning


def chain_solves(problem: str, backend, request: GenerationRequest) -> bool:
    """A backend's 'too long' problem that a chain of segments solves is not a problem."""
    caps = backend.capabilities()
    long = request.seconds > (max(caps.durations) if caps.durations else caps.max_seconds) + 1e-6
    return long and ("longer than" in problem or "not a length" in problem) and can_chain(caps, backend)
