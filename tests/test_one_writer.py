"""One writer per project: two `dreamcut generate`s at once against a provider WITHOUT idempotency
(the Luma simulator) create each job once; the second is refused naming the first, or queues with --wait."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _luma_project import KEY, luma_env, luma_project
from conftest import NO_FLOCK, REPO, make_project
from simulators.luma import LumaSim


def _generate(root: Path, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dreamcut", "-p", str(root), *extra, "generate",
                             "--poll-interval", "0.05"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _holder_pid(root: Path) -> int | None:
    import json

    try:
        return json.loads((root / ".dreamcut" / "writer.lock").read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return None


def test_two_generates_at_once_create_each_job_once(tmp_path):
    root = luma_project(tmp_path / "p")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = root / ".dreamcut" / "downloads" / f"0123456789abcdef01234567.{dead.pid}.part.mp4"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a download from a process killed with -9")
    with LumaSim(key=KEY) as server:
        env = luma_env(server)
        first = _generate(root, env)
        for _ in range(600):  # bounded: until the first one holds the lock (or has exited)
            if _holder_pid(root) == first.pid or first.poll() is not None:
                break
            time.sleep(0.05)
        assert _holder_pid(root) == first.pid
        refused = subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), "generate"], env=env,
                                 capture_output=True, text=True, timeout=120)
        queued = _generate(root, env, "--wait")
        out1, err1 = first.communicate(timeout=180)
        out3, err3 = queued.communicate(timeout=180)
        creates = len(server.calls("create"))
    assert first.returncode == 0, out1 + err1
    assert refused.returncode == 2
    lines = [ln for ln in refused.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in refused.stderr
    assert f"pid {first.pid}" in lines[0] and "dreamcut generate" in lines[0] and "--wait" in lines[0]
    assert queued.returncode == 0, out3 + err3
    assert "waiting for" in err3 and f"pid {first.pid}" in err3
    assert "already there 4" in out3.replace("\n", " ")
    db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    jobs = db.execute("SELECT COUNT(*), COUNT(DISTINCT provider_job_id) FROM jobs WHERE state='completed'").fetchone()
    charges = db.execute("SELECT COUNT(*) FROM ledger WHERE kind='charge'").fetchone()[0]
    db.close()
    assert creates == 4 and jobs == (4, 4) and charges == 4
    leftovers = [p.name for p in (root / ".dreamcut" / "downloads").iterdir() if ".part" in p.name]
    assert leftovers == []


def test_reads_are_never_blocked_by_a_writer(tmp_path, cli):
    from dreamcut import lock

    root = luma_project(tmp_path / "p")
    lock.acquire(root / ".dreamcut", "render")  # this test process is the writer
    try:
        status = cli("-p", str(root), "status")
        assert status.returncode == 0, status.stderr
        edit = cli("-p", str(root), "export")
        assert edit.returncode == 2 and f"pid {os.getpid()}" in edit.stderr and "dreamcut render" in edit.stderr
    finally:
        lock.release(root / ".dreamcut")


@pytest.mark.parametrize("flock", sorted(NO_FLOCK))
def test_a_project_folder_that_cannot_lock_is_refused_with_one_line(tmp_path, flock):
    """Without the writer lock two commands could create the same jobs (and pay twice), so a folder
    whose flock fails or excludes nothing is refused before anything is written; the slower numba cache
    such a machine gets (a private one per process) is said too."""
    root = make_project(tmp_path / "p", shots=1)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_FLOCK[flock])
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # dreamcut chooses it, and cannot lock it
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(REPO / "src")]), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    proc = subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), "generate"], env=env,
                          capture_output=True, text=True, timeout=300)
    note, error = proc.stderr.strip().splitlines()  # numba's cache could not be locked either: said first
    assert proc.returncode == 2, proc.stderr
    assert note.startswith("note: no folder for numba's cache could be locked") and "NUMBA_CACHE_DIR" in note
    assert "cannot be locked" in error and "writer.lock" in error and "local disk" in error
    after = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert set(after) - set(before) <= {Path(".dreamcut"), Path(".dreamcut/writer.lock")}
