"""Process start-up that must happen before heavy libraries load: numba's cache and crash reports.

librosa compiles its numba functions with `cache=True`, and numba writes that cache beside
librosa's own files (inside the virtualenv) unless NUMBA_CACHE_DIR says otherwise. Two
processes compiling the same functions at once can leave cache entries from different
compilations side by side, and the next process that loads them dies with a segmentation
fault (numba/numba#10128, librosa/librosa#1998; the board re-rendering while the director
runs `dreamcut edit` is enough). So:

- `configure_numba_cache()` (called from `dreamcut/__init__`, before anything imports numba)
  points NUMBA_CACHE_DIR at a per-user folder (`$XDG_CACHE_HOME/dreamcut/numba`), unless the
  user set it;
- `warm_librosa(warm)` fills that cache once under an exclusive file lock: the first process
  compiles (running `warm`) while the others wait, then they all only read it.

It must never import numba or librosa itself, and never fail a command: a folder it cannot
create falls back to one under the temp dir.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

NUMBA_ENV = "NUMBA_CACHE_DIR"
_warmed = False


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/dreamcut, else ~/.cache/dreamcut (a per-user folder, never the venv)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dreamcut"


def configure_numba_cache() -> Path | None:
    """Set NUMBA_CACHE_DIR to a per-user folder unless it is set already; returns the folder.

    Does nothing (returns the current setting) once numba is imported: numba reads it at import."""
    if os.environ.get(NUMBA_ENV):
        return Path(os.environ[NUMBA_ENV])
    if "numba" in sys.modules:
        return None
    for folder in (user_cache_dir() / "numba", Path(tempfile.gettempdir()) / f"dreamcut-{os.getuid()}" / "numba"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                os.environ[NUMBA_ENV] = str(folder)
                return folder
        except OSError:
            continue
    return None


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("numba", "librosa"):
        try:
            out.append(f"{dist}-{version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist}-none")
    return "_".join(out) + f"_py{sys.version_info[0]}{sys.version_info[1]}"


def _librosa_location() -> str:
    """The folder librosa is installed in, found without importing it ("" when it is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("librosa")
    return os.path.dirname(spec.origin) if spec is not None and spec.origin else ""


def warm_marker(versions: str, location: str) -> str:
    """The name of the file saying the cache holds librosa's compiled functions for this install.

    numba keys a cache entry by the source file's path, so a second virtualenv with the same
    versions (a fresh clone, a reinstall) has no entries yet: its marker must differ too, or its
    first processes skip the lock and compile into the shared folder together (two pytest-xdist
    workers of a fresh clone's `make test` did, and every later worker died with a segmentation
    fault in librosa's beat tracker)."""
    import hashlib

    return f".dreamcut-warm-{versions}-{hashlib.sha256(location.encode()).hexdigest()[:12]}"


def warm_librosa(warm: Callable[[], None]) -> None:
    """Run `warm` (a call that compiles every numba function dreamcut uses) once per cache folder,
    under an exclusive lock, so concurrent first runs never compile into the cache together."""
    global _warmed
    if _warmed:
        return
    _warmed = True  # before `warm` runs: it calls back into code that calls this
    folder = os.environ.get(NUMBA_ENV)
    if not folder:
        return
    d = Path(folder)
    marker = d / warm_marker(_versions(), _librosa_location())
    if marker.exists():
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        lock = open(d / ".dreamcut-compile.lock", "a+")
    except OSError:
        return
    with lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if not marker.exists():
                warm()
                marker.write_text("numba cache filled by dreamcut\n")
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def crash_line(returncode: int, what: str) -> str | None:
    """One line for a child process killed by a signal (a native crash), else None."""
    if returncode >= 0:
        return None
    import signal

    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"{what} crashed in native code ({name}); run it again, and report the command if it crashes again"
