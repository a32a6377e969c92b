"""Shared fixtures. Tests use real ffmpeg, real SQLite and real files: no mocks of our own code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# shared/ lives beside the checkout; DREAMCUT_SHARED_DATA points elsewhere (e.g. from a git worktree).
SHARED_DATA = Path(os.environ.get("DREAMCUT_SHARED_DATA") or REPO.parent / "shared" / "data")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600,
            check: bool = False) -> subprocess.CompletedProcess:
    """Run `python -m dreamcut ARGS` as a real process (so exit codes and stderr are real)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "dreamcut", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"dreamcut {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_song(path: Path, seconds: float, *, rate: int = 44100, channels: int = 2) -> Path:
    """The test song: a 220 Hz tone with a click every half second (120 bpm), so loudness and beats are known."""
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    tone = 0.25 * np.sin(2 * np.pi * 220.0 * t)
    clicks = (np.mod(t, 0.5) < 0.01) * 0.5
    mono = (tone + clicks).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.stack([mono, mono * 0.8], axis=1) if channels == 2 else mono
    sf.write(str(path), data, rate, subtype="PCM_16")
    return path


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def shared_nle() -> Path:
    path = SHARED_DATA / "nle"
    if not path.is_dir():
        pytest.skip(f"shared test data not present at {path} (it lives beside the checkout)")
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
