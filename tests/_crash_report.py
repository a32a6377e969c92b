"""When a pytest-xdist worker dies in native code, say where and in what setting at the end of the run.

xdist reports only "worker 'gw0' crashed while running ...", and the Python stack faulthandler writes
goes to a stderr whose lines a CI log may not keep. So each worker writes faulthandler's report to a
file of its own, and the controller prints, in the terminal summary (the last lines of a log), the
signal and innermost frames of each distinct crash with the numba cache's setting: the folder, its
file system, whether flock excludes there, and the CPU numba compiles for (that line alone when
nothing crashed).

Loaded by tests/conftest.py; `pytest -p _crash_report` loads it alone (tests/test_startup.py).
"""

from __future__ import annotations

import faulthandler
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest

CRASH_DIR_ENV = "DREAMCUT_TEST_CRASH_DIR"
FRAMES = 8  # innermost frames shown per crash


def crash_folder() -> Path:
    """The run's folder for worker crash reports: made by the controller as this module loads, before
    xdist starts the workers, which inherit its name."""
    folder = os.environ.get(CRASH_DIR_ENV)
    if not folder:
        folder = tempfile.mkdtemp(prefix="dreamcut-test-crashes-")
        os.environ[CRASH_DIR_ENV] = folder
    return Path(folder)


crash_folder()
_report_file = None  # the worker's open report file (faulthandler keeps only its descriptor)


@pytest.hookimpl(trylast=True)  # after pytest's faulthandler plugin pointed it at stderr
def pytest_configure(config):
    global _report_file
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is None:
        return
    _report_file = open(crash_folder() / f"{worker}-{os.getpid()}.log", "w")  # noqa: SIM115
    faulthandler.enable(file=_report_file, all_threads=True)


def crash_stacks(folder: Path) -> list[tuple[str, list[str]]]:
    """(what killed it, innermost frames of the thread that crashed) for each report in the folder."""
    crashes = []
    for log in sorted(folder.glob("*.log")):
        text = log.read_text(errors="replace")
        fatal = re.search(r"^Fatal Python error: (.+)$", text, re.M)
        if not fatal:
            continue
        current = re.search(r"^Current thread [^\n]*\n((?:  File [^\n]*\n?)+)", text, re.M)
        frames = [line.strip() for line in (current.group(1).splitlines() if current else [])]
        crashes.append((fatal.group(1).strip(), frames[:FRAMES]))
    return crashes


def numba_setting() -> str:
    """One line: numba's cache folder, its file system, whether flock excludes there, the host CPU."""
    from importlib import metadata

    from dreamcut._startup import LOCK_NAME, NUMBA_ENV, PRIVATE_PREFIX, flock_excludes

    folder = os.environ.get(NUMBA_ENV, "")
    parts = [f"NUMBA_CACHE_DIR={folder or '(unset)'}"]
    if folder:
        parts.append(f"file system {_file_system(Path(folder))}")
        parts.append("flock excludes" if flock_excludes(Path(folder) / LOCK_NAME) else "flock DOES NOT exclude")
        if Path(folder).name.startswith(PRIVATE_PREFIX):
            parts.append("private")
    try:
        import llvmlite.binding as llvm

        parts.append(f"cpu {llvm.get_host_cpu_name()}")
        parts.append(f"numba {metadata.version('numba')}, llvmlite {metadata.version('llvmlite')}")
    except Exception as e:  # the summary must never fail the run
        parts.append(f"numba: {type(e).__name__}: {e}")
    return "; ".join(parts)


def _file_system(path: Path) -> str:
    """The type of the mount holding `path` (the longest mount point above it in /proc/self/mounts)."""
    best = ("", "unknown")
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and path.is_relative_to(fields[1]) and len(fields[1]) >= len(best[0]):
                best = (fields[1], f"{fields[2]} at {fields[1]}")
    except OSError:
        pass
    return best[1]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return
    crashes = crash_stacks(crash_folder())
    if not crashes:
        terminalreporter.write_line(f"numba's cache: {numba_setting()}")  # one line, for a log read later
        return
    seen = Counter((what, tuple(frames)) for what, frames in crashes)
    terminalreporter.write_sep("=", f"native crashes in pytest workers: {len(crashes)}")
    terminalreporter.write_line(numba_setting())
    for (what, frames), times in seen.items():
        terminalreporter.write_line(f"{what} (in {times} worker{'s' if times > 1 else ''}), innermost first:")
        for frame in frames:
            terminalreporter.write_line(f"  {frame}")


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):  # the workers are gone; their reports were summarised
        import shutil

        shutil.rmtree(crash_folder(), ignore_errors=True)
