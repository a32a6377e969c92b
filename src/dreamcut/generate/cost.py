"""Prices and estimates: what a batch will cost and how long it will take, before anything is spent.

Pure functions over planned takes and backend capabilities. Price tables live with each
backend (`Capabilities.price_per_second`, with source and date); the spec's `prices:`
overrides them per `backend:model`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from dreamcut.backends.base import Capabilities, GenerationRequest, price_seconds
from dreamcut.generate.batch import PlannedTake


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
    per_second = caps.price_per_second if override is None else override
    return round(per_second * price_seconds(caps, request), 6)


def estimate(planned: list[PlannedTake], caps_for, *, prices: dict[str, float] | None = None,
             budget_usd: float = 0.0, already_done: set[str] = frozenset()) -> Estimate:
    """Price every planned take not already done. `caps_for(BackendRef) -> Capabilities`."""
    prices = prices or {}
    out: dict[str, BackendEstimate] = defaultdict(lambda: BackendEstimate(""))
    for p in planned:
        if p.key in already_done:
            continue
        name = str(p.backend)
        caps = caps_for(p.backend)
        override = prices.get(name)
        b = out[name]
        b.backend = name
        b.takes += 1
        b.seconds += p.request.seconds
        b.price_per_second = caps.price_per_second if override is None else override
        b.price_source = "spec prices:" if override is not None else caps.price_source
        b.usd += request_price(caps, p.request, override)
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
