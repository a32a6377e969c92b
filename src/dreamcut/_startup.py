"""Process start-up that must happen before heavy libraries load: numba's cache and crash reports.

librosa compiles its numba functions with `cache=True`, and numba writes that cache beside
librosa's own files (inside the virtualenv) unless NUMBA_CACHE_DIR says otherwise. numba's
cache is not safe across processes: two processes compiling at once can each number a new
entry's data file the same (`IndexDataCacheFile.save`), and a gufunc's kernel and its wrapper
(two files) can come from two processes whose symbol names differ (numba/numba#10128, open as
of 2026-12; librosa/librosa#1998). The next process to load such entries dies with a
segmentation fault, and so does every one after it: three bare `import librosa; onset_detect;
beat_track` processes started together on an empty cache did so in three trials of three, and
CI's two pytest-xdist workers did on a clean machine. So:

- `configure_numba_cache()` (called from `dreamcut/__init__`, before anything imports numba)
  points NUMBA_CACHE_DIR at a folder of this install (`<sys.prefix>/var/cache/dreamcut/numba`:
  inside the virtualenv, as numba's own default is), unless the user set it, and
- makes numba's own compiler lock (a threading lock around every compile, cache load and cache
  save: `numba/core/compiler_lock.py`) hold an exclusive `flock` on that folder too, so that
  across every process that imported dreamcut first, one compiles at a time and each reads the
  cache as the one before it left it. A process that finds a function compiled loads it, which
  takes the lock for milliseconds.

A shared folder is only chosen where `flock` really excludes (`flock_excludes`: a second open of
the lock file is refused while the first holds it): a file system whose flock fails (ENOLCK on
some NFS mounts) or succeeds without excluding (some FUSE and network mounts) would let processes
compile into one cache together, which is the crash above. The install's folder comes first,
then (an install this user cannot write) one per user and one under the temp dir, each named by
the install; where none locks, each process compiles into a private folder of its own
(`dreamcut-numba-private-*` under the temp dir, removed at exit; a child makes its own): slower first runs, never a
shared cache without its lock.

One cache per install, never per user alone: sessions 18 and 19 kept one per user
(`~/.cache/dreamcut/numba`) and CI, where every run's clone has the same path, died in numba
both times (session 17's CI, with numba's cache inside the virtualenv, passed); two checkouts
or two runs that share a home never share a cache this way, and deleting the virtualenv deletes
its cache.

It must never import numba or librosa itself, and never fail a command: a folder it cannot
create is skipped, and a lock file it cannot open leaves numba as it was.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import hashlib
import importlib.abc
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

NUMBA_ENV = "NUMBA_CACHE_DIR"


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/dreamcut, else ~/.cache/dreamcut (a per-user folder, never the venv)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dreamcut"


def configure_numba_cache() -> Path | None:
    """Set NUMBA_CACHE_DIR to a per-user folder unless it is set already, and make numba's compiles
    take that folder's lock (`lock_compiles`); returns the folder.

    Sets nothing (returns None) when numba is imported already without NUMBA_CACHE_DIR: numba reads
    it at import."""
    folder = _cache_folder()
    if folder is not None:
        _lock_compiles_when_numba_loads(folder)
    return folder


PRIVATE_PREFIX = "dreamcut-numba-private-"  # a folder one process made for itself: a child makes its own


def _cache_folder() -> Path | None:
    """The user's NUMBA_CACHE_DIR (made if missing, so its lock file can be), else the first writable
    shared folder whose flock excludes, else a private one; put in NUMBA_CACHE_DIR. None when numba
    already runs without one."""
    chosen = os.environ.get(NUMBA_ENV)
    if "numba" in sys.modules:  # numba read its folder as it loaded: lock that one, if any
        return Path(chosen) if chosen else None
    if chosen and not Path(chosen).name.startswith(PRIVATE_PREFIX):
        folder = Path(chosen)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # numba says why when it caches; the lock file then cannot be opened: no lock
        return folder
    for folder in shared_folders():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK) and flock_excludes(folder / LOCK_NAME):
            os.environ[NUMBA_ENV] = str(folder)
            return folder
    return _private_folder()


def private_cache_note() -> str | None:
    """The line the CLI says when this process compiles into a private numba cache (no folder here
    could be locked): every run then compiles librosa's functions anew."""
    if not Path(os.environ.get(NUMBA_ENV, "")).name.startswith(PRIVATE_PREFIX):
        return None
    return ("no folder for numba's cache could be locked here (flock fails or keeps no second holder out), so "
            "this run compiles librosa's functions anew, tens of seconds; set NUMBA_CACHE_DIR to a folder on a "
            "local disk")


def shared_folders() -> tuple[Path, Path, Path]:
    """Where this install's processes share numba's cache, in order: inside the install, then per user
    and under the temp dir, named by the install (older dreamcuts compiled into the per-user `numba`
    folder with no lock: a cache there may hold a kernel and its wrapper from two processes)."""
    prefix = os.path.realpath(sys.prefix)
    install = hashlib.sha256(prefix.encode()).hexdigest()[:16]
    return (Path(prefix) / "var" / "cache" / "dreamcut" / "numba",
            user_cache_dir() / "numba-installs" / install,
            Path(tempfile.gettempdir()) / f"dreamcut-{os.getuid()}" / "numba-installs" / install)


def flock_excludes(path: Path) -> bool:
    """True when an exclusive flock on the file at `path` (made if missing) keeps a second holder out.

    flock locks belong to an open file description, so two opens in this process are two holders:
    the second's non-blocking lock must be refused while the first holds it. A first lock refused
    at once means another process (or this one, elsewhere) holds it: that, too, shows flock excludes.
    numba's cache folders here, and the project's writer lock (`dreamcut.lock`), ask it."""
    try:
        first = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(first, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False  # ENOLCK, EOPNOTSUPP: no flock on this file system
        second = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as refused:
            return refused.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
        finally:
            os.close(second)
        return False  # both held at once: a flock that excludes nothing
    except OSError:
        return False
    finally:
        os.close(first)  # closing the last descriptor of an open file description drops its lock


def _private_folder() -> Path:
    """A numba cache for this process alone (no folder here can be locked): made under the temp dir,
    named by this process's id, removed when this process exits; a child process, seeing its name,
    makes its own. Those a killed process left behind (atexit never ran) are removed first."""
    _remove_orphaned_private_folders()
    folder = Path(tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{os.getpid()}-"))
    os.environ[NUMBA_ENV] = str(folder)
    pid = os.getpid()

    def remove() -> None:
        if os.getpid() == pid:  # not from a forked child's exit
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    return folder


def _remove_orphaned_private_folders() -> None:
    """Remove this user's private numba folders whose process is gone (killed, so atexit never ran):
    on a machine where no folder can be locked every run makes one, and a killed one would stay."""
    for folder in Path(tempfile.gettempdir()).glob(PRIVATE_PREFIX + "*"):
        pid = folder.name[len(PRIVATE_PREFIX):].split("-")[0]
        try:
            if not pid.isdigit() or folder.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)  # its process is gone
        except OSError:
            continue  # alive under another user, or the folder just went: not ours to remove


LOCK_NAME = ".dreamcut-compile.lock"


class _CompileLock:
    """numba's compiler lock (`global_compiler_lock._lock`, a threading.RLock) that also holds an
    exclusive `flock` on the cache folder's lock file while its outermost holder is inside.

    numba takes its lock re-entrantly (a compile calls into compiles), so the file is locked on the
    first acquire and unlocked on the matching last release; the depth is only touched by the thread
    holding the inner lock. The file is opened once per process (a forked child opens its own: an
    inherited descriptor would share the parent's lock instead of waiting for it)."""

    def __init__(self, inner, path: Path):
        self._inner = inner
        self._path = path
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def acquire(self, *args, **kwargs) -> bool:
        got = self._inner.acquire(*args, **kwargs)
        if got:
            self._depth += 1
            if self._depth == 1:
                self._lock_file()
        return got

    def release(self) -> None:
        if self._depth == 1:
            self._unlock_file()
        self._depth -= 1
        self._inner.release()

    def _is_owned(self) -> bool:  # numba's `is_locked` asks the inner lock this
        return self._inner._is_owned()

    def _lock_file(self) -> None:
        if self._pid != os.getpid():
            self._fd, self._pid = None, os.getpid()
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:
                return
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError:
                # a file system without flock (some NFS mounts: ENOLCK): compile as numba would
                # alone rather than fail every analysis; this process stops trying
                os.close(self._fd)
                self._fd = None

    def _unlock_file(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError:
                pass


def lock_compiles(compiler_lock_module, folder: Path) -> bool:
    """Make numba's compiler lock (in `numba.core.compiler_lock`) hold across processes sharing
    `folder`; True when it does (once: a second call changes nothing)."""
    lock = getattr(compiler_lock_module, "global_compiler_lock", None)
    inner = getattr(lock, "_lock", None)
    if inner is None or not hasattr(inner, "_is_owned"):
        return False  # a numba whose lock is not the one read here: leave it as it is
    if not isinstance(inner, _CompileLock):
        lock._lock = _CompileLock(inner, folder / LOCK_NAME)
    return True


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls `then(module)` right after the module `name` is first executed: a finder ahead of the
    others that hands back the real spec with its loader's `exec_module` wrapped (Python's import
    system: importlib.abc.MetaPathFinder, importlib.abc.Loader.exec_module)."""

    def __init__(self, name: str, then: Callable[[object], object]):
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once; and the real search below must not find this finder
        spec = importlib.util.find_spec(fullname)
        loader = getattr(spec, "loader", None)
        if loader is not None and hasattr(loader, "exec_module"):
            run = loader.exec_module

            def exec_module(module):
                run(module)
                self.then(module)

            loader.exec_module = exec_module
        return spec


def _lock_compiles_when_numba_loads(folder: Path) -> None:
    name = "numba.core.compiler_lock"
    if name in sys.modules:
        lock_compiles(sys.modules[name], folder)
    elif not any(isinstance(f, _AfterImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(name, lambda module: lock_compiles(module, folder)))


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
