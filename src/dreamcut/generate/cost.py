"""Prices and estimates: what a batch will cost and how long it will take, before anything is spent.

One price function: `job_price(backend, request, override)` is what one provider job costs: the
backend's own `price(request)` (its table, with its size and length rules, source and date), with
the spec's `prices:` override for that `backend:model` applied here and nowhere else.
`take_price` is the sum of `job_price` over the jobs a take is made of (one, or a chain of
segments). `check`, `estimate`, the orchestrator's reservation and its charges all call these,
so the estimate is exactly what `generate` reserves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from dataclasses import replace

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


def job_price(backend, request: GenerationRequest, override: float | None = None) -> float:
    """THE price of one provider job: `backend.price(request)`, with the spec's `prices:` override.

    The override is USD per second at the model's default size: it scales the backend's own
    price (which keeps the backend's size and length rules); for a backend whose table is free
    (a local or self-hosted model) it is the override times the seconds billed.
    """
    base = float(backend.price(request))
    if override is None:
        return round(base, 6)
    caps = backend.capabilities()
    if caps.price_per_second > 0:
        return round(base * override / caps.price_per_second, 6)
    return round(override * price_seconds(caps, request), 6)


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


def take_requests(caps: Capabilities, request: GenerationRequest, backend: str) -> list[GenerationRequest]:
    """The provider jobs a take is made of: the request itself, or one request per chain segment
    (`backend`: the name that formats each segment's prompt)."""
    if request.preview:  # a preview is a few frames: never a chain
        return [request]
    plan = segment_plan(caps, request.seconds) or [request.seconds]
    if len(plan) == 1:
        return [request]
    out, at = [], 0.0
    for seconds in plan:
        out.append(segment_request(request, at, seconds, backend))
        at += seconds
    return out


def take_price(backend, request: GenerationRequest, override: float | None = None) -> float:
    """What a take costs: the sum of `job_price` over the jobs it is made of."""
    caps = backend.capabilities()
    return round(sum(job_price(backend, r, override) for r in take_requests(caps, request, backend.name)), 6)


def estimate(planned: list[PlannedTake], backend_for, *, prices: dict[str, float] | None = None,
             budget_usd: float = 0.0, already_done: set[str] = frozenset()) -> Estimate:
    """Price every planned take not already done. `backend_for(BackendRef) -> Backend`."""
    prices = prices or {}
    out: dict[str, BackendEstimate] = defaultdict(lambda: BackendEstimate(""))
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
        b.seconds += p.request.seconds
        b.price_per_second = caps.price_per_second if override is None else override
        b.price_source = "spec prices:" if override is not None else caps.price_source
        b.usd += take_price(backend, p.request, override)
        # Typical wall time: real time for cloud renders (~1x), per-backend speeds refine this later.
        b.generation_minutes += p.request.seconds / 60.0
    return Estimate(by_backend=dict(out), budget_usd=budget_usd)


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
