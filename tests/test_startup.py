"""Start-up robustness: concurrent first runs share numba's cache without corrupting it (numba's
compiles take a lock across processes), and a native crash of a board job reads as one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NO_FLOCK, REPO
from _takes import make_project
from dreamcut._startup import crash_line


BARE_LIBROSA = """
import dreamcut  # first: its import makes numba's compiles take the cache folder's lock
import numpy as np, librosa
y = np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32)
envelope = librosa.onset.onset_strength(y=y, sr=22050)
print(len(librosa.onset.onset_detect(onset_envelope=envelope, sr=22050)),
      float(np.atleast_1d(librosa.beat.beat_track(onset_envelope=envelope, sr=22050)[0])[0]))
"""


@pytest.mark.slow
def test_edits_and_bare_librosa_at_once_on_a_fresh_numba_cache_then_later_runs(tmp_path):
    """Two `dreamcut edit` (each hears its song with librosa) and two processes that only import
    dreamcut and then call librosa (as the test workers and `dreamcut serve`'s jobs do) start together
    on an empty cache; then two more runs read that cache. Without the lock, three such bare
    processes left a cache that killed every later run with a segmentation fault (three trials of
    three, 2026-12-02), and so did CI's two pytest-xdist workers."""
    cache = tmp_path / "numba-cache"  # fresh: every numba function of librosa must be compiled
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(REPO / "src"))
    roots = [make_project(tmp_path / f"p{i}", shots=3, takes_per_shot=2) for i in range(2)]
    edits = [[sys.executable, "-m", "dreamcut", "--project", str(r), "edit"] for r in roots]
    bare = [sys.executable, "-c", BARE_LIBROSA]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd in edits + [bare, bare]]
    results = [(p, *p.communicate(timeout=500)) for p in procs]
    for p, out, err in results:
        assert p.returncode == 0, (p.returncode, out[-500:], err[-1500:])
    assert (cache / ".dreamcut-compile.lock").is_file()
    for r in roots:
        assert (r / "edits" / "cut.otio").is_file()
    heard = {results[2][1], results[3][1]}
    for _ in range(2):
        later = subprocess.run(bare, env=env, capture_output=True, text=True, timeout=300)
        assert later.returncode == 0, (later.returncode, later.stderr[-1500:])
        heard.add(later.stdout)
    assert len(heard) == 1, heard  # every run hears the same onsets and tempo


HOLD_THE_COMPILER = """
import sys, time
import dreamcut, numba
from numba.core.compiler_lock import global_compiler_lock
with global_compiler_lock:
    with global_compiler_lock:  # numba re-enters its lock: the file stays locked until the outer exit
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
    time.sleep(float(sys.argv[1]))
    print(time.time(), flush=True)
"""

COMPILE_ONE = """
import time
import dreamcut, numba

@numba.njit(cache=True)
def twice(x):
    return 2 * x

assert twice(21) == 42
print(time.time(), flush=True)
"""


def test_a_compile_waits_while_another_process_holds_numbas_compiler_lock(tmp_path):
    """The mechanism itself: while one process is inside numba's compiler lock (held twice, as numba
    re-enters it), another that must compile waits until the outer release, then compiles."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO / "src"))
    (tmp_path / "compile_one.py").write_text(COMPILE_ONE)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_COMPILER, "1.5"], env=env, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    waiter = subprocess.run([sys.executable, str(tmp_path / "compile_one.py")], env=env, capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    released = float(holder.communicate(timeout=60)[0].strip())
    assert holder.returncode == 0 and waiter.returncode == 0, waiter.stderr[-1500:]
    assert float(waiter.stdout.strip()) >= released
    assert (tmp_path / "cache" / ".dreamcut-compile.lock").is_file()


def test_numbas_lock_in_this_process_is_the_cross_process_one():
    """dreamcut is imported before numba here (tests/conftest.py), so numba's lock was replaced as
    numba loaded; replacing it again changes nothing."""
    import numba.core.compiler_lock as compiler_lock

    from dreamcut import _startup

    lock = compiler_lock.global_compiler_lock._lock
    assert isinstance(lock, _startup._CompileLock)
    assert _startup.lock_compiles(compiler_lock, Path("/elsewhere")) and compiler_lock.global_compiler_lock._lock is lock
    assert not compiler_lock.global_compiler_lock.is_locked()
    with compiler_lock.global_compiler_lock:
        assert compiler_lock.global_compiler_lock.is_locked()


def test_a_folder_without_flock_leaves_numba_compiling_as_before(tmp_path, monkeypatch):
    """Where the cache folder cannot be locked (flock failing with ENOLCK, as on some NFS mounts) the
    lock still works within the process and never fails a compile; this process stops trying."""
    import errno
    import threading

    from dreamcut import _startup

    calls = []

    def no_flock(fd, op):
        calls.append(op)
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(_startup.fcntl, "flock", no_flock)
    lock = _startup._CompileLock(threading.RLock(), tmp_path / _startup.LOCK_NAME)
    for _ in range(2):
        assert lock.acquire()
        assert lock.acquire() and lock._is_owned()  # re-entered, as numba does
        lock.release()
        lock.release()
        assert not lock._is_owned()
    assert calls == [_startup.fcntl.LOCK_EX]  # tried once, then compiled without it


def test_flock_excludes_on_a_local_folder_even_while_another_holder_compiles(tmp_path):
    import fcntl

    from dreamcut._startup import LOCK_NAME, flock_excludes

    assert flock_excludes(tmp_path / LOCK_NAME)
    holder = os.open(tmp_path / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process compiling, as far as the probe can tell
        assert flock_excludes(tmp_path / LOCK_NAME)
    finally:
        os.close(holder)


@pytest.mark.parametrize("flock", sorted(NO_FLOCK))
def test_where_no_folder_can_be_locked_each_process_compiles_into_a_private_cache(tmp_path, flock):
    """Sharing numba's cache without a lock is the crash (numba/numba#10128), so where flock fails or
    excludes nothing in every shared folder, a process and its child each get a folder of their own,
    removed when each exits."""
    child = NO_FLOCK[flock] + "import dreamcut, os\nprint(os.environ['NUMBA_CACHE_DIR'])\n"
    parent = (NO_FLOCK[flock] + "import dreamcut, os, subprocess, sys\n"
              "print(os.environ['NUMBA_CACHE_DIR'])\n"
              f"print(subprocess.run([sys.executable, '-c', {child!r}], capture_output=True, text=True,"
              " check=True).stdout.strip())\n")
    out = subprocess.run([sys.executable, "-c", parent], env=_unset_cache_env(tmp_path), capture_output=True,
                         text=True, check=True)
    mine, childs = map(Path, out.stdout.split())
    assert mine != childs
    assert all(f.name.startswith("dreamcut-numba-private-") and not f.exists() for f in (mine, childs))


def test_a_private_cache_a_killed_process_left_is_removed_by_the_next_run(tmp_path):
    """A process killed (SIGKILL, the crash tests' way) never runs atexit: its private folder stays, and
    on a machine where no folder can be locked every run makes one. The next run removes those whose
    process is gone, and keeps a living process's."""
    env = dict(_unset_cache_env(tmp_path), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    living = tmp_path / "tmp" / f"dreamcut-numba-private-{os.getpid()}-abc"  # this test's own process
    living.mkdir()
    code = NO_FLOCK["excludes nothing"] + "import dreamcut, os, signal\nprint(os.environ['NUMBA_CACHE_DIR'], flush=True)\n"
    killed = subprocess.run([sys.executable, "-c", code + "os.kill(os.getpid(), signal.SIGKILL)\n"], env=env,
                            capture_output=True, text=True)
    assert killed.returncode == -9
    orphan = Path(killed.stdout.strip())
    assert orphan.is_dir() and orphan.parent == tmp_path / "tmp"
    later = Path(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout.strip())
    assert later.parent == orphan.parent and later != orphan
    assert not orphan.exists() and living.is_dir() and not later.exists()


WHERE = "import sys\n{prefix}import dreamcut, os\nprint(os.environ['NUMBA_CACHE_DIR'])\n"


def _unset_cache_env(tmp_path: Path) -> dict:
    """This environment with no NUMBA_CACHE_DIR (dreamcut chooses) and a per-user cache under tmp_path."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(REPO / "src"))
    return env


def _numba_cache_dir(tmp_path: Path, prefix: Path | None = None) -> Path:
    code = WHERE.format(prefix=f"sys.prefix = {str(prefix)!r}\n" if prefix else "")
    return Path(subprocess.run([sys.executable, "-c", code], env=_unset_cache_env(tmp_path), capture_output=True,
                               text=True, check=True).stdout.strip())


def test_numba_cache_is_the_installs_own(tmp_path):
    """Inside the virtualenv (as numba's default is), so two checkouts or two CI runs sharing a home
    never share a cache; sessions 18 and 19 kept one per user and CI died in numba both times."""
    assert _numba_cache_dir(tmp_path) == Path(os.path.realpath(sys.prefix)) / "var" / "cache" / "dreamcut" / "numba"


def test_an_install_this_user_cannot_write_gets_a_per_user_cache_named_by_the_install(tmp_path):
    folders = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "var").write_text("a file where the install's var/ would be: no folder can go there")
        folders.append(_numba_cache_dir(tmp_path, tmp_path / name))
    assert all(f.parent == tmp_path / "xdg" / "dreamcut" / "numba-installs" for f in folders)
    assert folders[0] != folders[1]  # and never `numba`: older dreamcuts compiled there with no lock


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


DIES = """
import ctypes


def test_lives():
    pass


def test_dies_in_native_code():
    ctypes.string_at(0)  # reads address 0: a segmentation fault, as numba's mismatched cache gives
"""


def test_a_pytest_worker_that_dies_in_native_code_is_reported_with_its_stack(tmp_path):
    """xdist says only that a worker crashed; the summary says with what signal, where, and how numba's
    cache was set (tests/_crash_report.py, which tests/conftest.py loads)."""
    (tmp_path / "test_dies.py").write_text(DIES)
    env = {k: v for k, v in os.environ.items() if k != "DREAMCUT_TEST_CRASH_DIR"}  # its own run, its own folder
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(REPO / "src")])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "_crash_report", "-p", "no:cacheprovider", "-n", "1",
                           "--rootdir", str(tmp_path), "test_dies.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    summary = proc.stdout[proc.stdout.index("native crashes in pytest workers: 1"):]
    assert proc.returncode == 1 and "1 passed" in proc.stdout
    assert "Segmentation fault (in 1 worker), innermost first:" in summary
    assert re.search(r'File ".*test_dies.py", line \d+ in test_dies_in_native_code', summary)
    assert "NUMBA_CACHE_DIR=" in summary and "flock excludes" in summary
