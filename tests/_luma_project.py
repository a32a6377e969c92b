"""A small cloud project against the Luma simulator (a provider without idempotency), for the
tests of what holds under concurrency, faults and hostile input."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import REPO, make_project

KEY = "luma-secret-0123456789abcdef"


def luma_project(root: Path, shots: int = 2, takes: int = 2) -> Path:
    return make_project(root, [{"id": f"s{i + 1}", "prompt": f"a lighthouse at dusk, angle {i + 1}"} for i in range(shots)],
                        song_seconds=6.0, song_kind="swell", song_rate=22050, song_channels=1, title="Guarantees",
                        backend="luma:ray-flash-2", take_seconds=5, takes_per_shot=takes, budget_usd=100,
                        render={"master": "256x144", "resolution": "256x144"})


def source_env() -> dict:
    """The environment for a `python -m dreamcut` child that runs this checkout's sources."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def luma_env(server) -> dict:
    env = source_env()
    env.update(LUMAAI_API_KEY=KEY, DREAMCUT_LUMA_BASE_URL=server.base_url)
    return env
