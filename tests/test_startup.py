"""Start-up robustness: concurrent first runs share numba's cache without corrupting it, and a
native crash of a board job reads as one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from _takes import make_project
from dreamcut._startup import crash_line


@pytest.mark.slow
def test_four_edits_at_once_on_a_fresh_numba_cache(tmp_path):
    """Four `dreamcut edit` (each hears its song with librosa) start together on an empty cache."""
    cache = tmp_path / "numba-cache"  # fresh: every numba function of librosa must be compiled
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(REPO / "src"))
    roots = [make_project(tmp_path / f"p{i}", shots=3, takes_per_shot=2) for i in range(4)]
    procs = [subprocess.Popen([sys.executable, "-m", "dreamcut", "--project", str(r), "edit"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in roots]
    results = [(p, *p.communicate(timeout=400)) for p in procs]
    for p, out, err in results:
        assert p.returncode == 0, (p.returncode, out[-500:], err[-1500:])
    assert any(cache.glob(".dreamcut-warm-*")), sorted(x.name for x in cache.iterdir())
    for r in roots:
        assert (r / "edits" / "cut.otio").is_file()


def test_a_second_install_with_the_same_versions_warms_the_shared_cache_under_the_lock(tmp_path, monkeypatch):
    """A fresh clone's virtualenv shares the per-user cache with an older one at the same numba and
    librosa versions: numba keys entries by source path, so it has none yet and must compile them
    under the lock, not take the older install's marker as its own."""
    from dreamcut import _startup

    here = _startup._librosa_location()
    assert here  # librosa is installed in the test environment
    versions = _startup._versions()
    assert _startup.warm_marker(versions, here) != _startup.warm_marker(versions, "/another/venv/librosa")
    (tmp_path / _startup.warm_marker(versions, "/another/venv/librosa")).write_text("older install\n")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(_startup, "_warmed", False)
    _startup.warm_librosa(lambda: calls.append("warmed"))
    assert calls == ["warmed"] and (tmp_path / _startup.warm_marker(versions, here)).is_file()
    monkeypatch.setattr(_startup, "_warmed", False)  # a later process of the same install only reads it
    _startup.warm_librosa(lambda: calls.append("again"))
    assert calls == ["warmed"]


def test_numba_cache_is_per_user_by_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(REPO / "src"))
    out = subprocess.run([sys.executable, "-c", "import dreamcut, os; print(os.environ['NUMBA_CACHE_DIR'])"],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == tmp_path / "xdg" / "dreamcut" / "numba"


def test_a_native_crash_is_one_line():
    proc = subprocess.run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    line = crash_line(proc.returncode, "dreamcut render")
    assert line is not None and "\n" not in line
    assert line.startswith("dreamcut render crashed in native code (SIGSEGV)")
    assert crash_line(0, "dreamcut render") is None and crash_line(2, "x") is None


def test_a_crashed_ffmpeg_is_one_line(tmp_path, monkeypatch):
    """run_ffmpeg turns an ffmpeg killed by a signal into one WorkFailed line (a real process that
    crashes, given as the ffmpeg through DREAMCUT_FFMPEG)."""
    from dreamcut import media
    from dreamcut.errors import WorkFailed

    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\nkill -SEGV $$\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DREAMCUT_FFMPEG", str(fake))
    with pytest.raises(WorkFailed) as e:
        media.run_ffmpeg(["-i", "x.mp4", "y.mp4"], what="rendering the master")
    assert e.value.message.startswith("rendering the master crashed in native code (SIGSEGV)")
    assert "\n" not in e.value.line()
