"""Provider simulators: local HTTP servers that answer, fail and bill the way each provider does.

`PROVIDERS` maps a provider name to a `ProviderSim`: the backend spec to run against it and
`start(faults, seed)`, which returns a running simulator with `.url`, `.env` (the environment
that points the official SDK at it, a fake key included), `.books()`, `.stop()` and `.clock`.
Tests that must hold for every cloud provider are parametrised over `PROVIDERS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from simulators._http import FAULT_KINDS, SimClock, Simulator
from simulators.fal import FalSim
from simulators.luma import LumaSim
from simulators.openai_videos import OpenAISim
from simulators.replicate import ReplicateSim
from simulators.runway import RunwaySim
from simulators.veo import VeoSim


@dataclass(frozen=True)
class ProviderSim:
    spec: str  # a backend spec string, e.g. "runway:gen4_turbo"
    factory: Callable[..., Simulator]
    key: str = "sim-key-0123456789abcdef0123"

    def start(self, faults: float = 0.0, seed: int = 0) -> Simulator:
        """A running simulator; faults = the share of requests that meet a random fault."""
        return self.factory(key=self.key, faults=faults, seed=seed).start()


PROVIDERS: dict[str, ProviderSim] = {
    "runway": ProviderSim("runway:gen4.5", RunwaySim),
    "luma": ProviderSim("luma:ray-flash-2", LumaSim),
    "replicate": ProviderSim("replicate:bytedance/seedance-1-lite", ReplicateSim),
    "veo": ProviderSim("veo:veo-3.1-fast-generate-001", VeoSim),
    "fal": ProviderSim("fal:fal-ai/veo3/fast", FalSim),
    "openai-videos": ProviderSim("openai-videos:sora-2", OpenAISim),
}

__all__ = ["FAULT_KINDS", "PROVIDERS", "ProviderSim", "SimClock", "Simulator"]
