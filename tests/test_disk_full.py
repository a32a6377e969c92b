"""Disk full: the batch stops with "the disk is full" (never "make the folder writable"), no job is
marked failed for it, no take file is left without its catalog row, and once space is freed the
next `generate` finishes every job, fetching a finished provider job again rather than paying again.

Runs on a small tmpfs (needs root to mount; skipped otherwise)."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from _luma_project import KEY, luma_env, luma_project, source_env
from conftest import hear_song_once
from simulators.luma import LumaSim


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill `disk` to the last byte (then give back `leave` bytes); returns the filler file."""
    filler = disk / "filler.bin"
    with open(filler, "ab", buffering=0) as f:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def _run(root: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), *args, *(
        ["--poll-interval", "0.05"] if args[0] == "generate" else [])], env=env, capture_output=True, text=True,
        timeout=300)


def _no_orphans(root: Path) -> None:
    """Every take file on disk has its catalog row (and the other way round)."""
    files = sorted(str(p.relative_to(root)) for p in (root / "takes").rglob("*.mp4") if not p.name.startswith(".")) \
        if (root / "takes").is_dir() else []
    db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    rows = sorted(r[0] for r in db.execute("SELECT path FROM takes"))
    failed = db.execute("SELECT COUNT(*) FROM jobs WHERE state='failed'").fetchone()[0]
    db.close()
    assert files == rows
    assert failed == 0  # a full disk is never the job's fault


def test_local_batch_on_a_full_disk_finishes_after_space_is_freed(small_disk):
    env = source_env()
    root = hear_song_once(luma_project(small_disk / "p", shots=3, takes=2))  # the song is heard once a session
    text = (root / "dreamcut.yaml").read_text().replace("luma:ray-flash-2", "animatic")
    (root / "dreamcut.yaml").write_text(text)
    assert _run(root, env, "check").returncode == 0
    filler = fill(small_disk)
    at_zero = _run(root, env, "generate")
    assert at_zero.returncode != 0
    lines = [ln for ln in at_zero.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "the disk is full" in lines[0] and "writable" not in lines[0], at_zero.stderr
    assert "Traceback" not in at_zero.stderr
    assert _run(root, env, "check").returncode == 0  # reading needs no space
    status = _run(root, env, "status")
    assert status.returncode == 0 or ("the disk is full" in status.stderr and "writable" not in status.stderr)
    filler.unlink()
    fill(small_disk, leave=700_000)  # room for the catalog and a few takes, not all six
    partial = _run(root, env, "generate")
    assert partial.returncode != 0 and "Traceback" not in partial.stderr
    assert "disk is full" in partial.stderr, partial.stdout + partial.stderr
    _no_orphans(root)
    filler.unlink()
    done = _run(root, env, "generate")
    assert done.returncode == 0, done.stdout + done.stderr
    _no_orphans(root)
    db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    assert db.execute("SELECT COUNT(*) FROM jobs WHERE state='completed' AND kind='take'").fetchone()[0] == 6
    db.close()


class _FillsDiskOnDownload(LumaSim):
    """Fills the disk the first time a finished video is fetched: the provider has done (and billed) the work."""

    disk: Path | None = None

    def _media(self, req):
        if self.disk is not None:
            fill(self.disk)
            self.disk = None
        return super()._media(req)


def test_cloud_batch_on_a_full_disk_fetches_again_never_pays_again(small_disk):
    root = hear_song_once(luma_project(small_disk / "p", shots=2, takes=2))  # the song is heard once a session
    with _FillsDiskOnDownload(key=KEY) as server:
        env = luma_env(server)
        server.disk = small_disk
        full = _run(root, env, "generate")
        assert full.returncode != 0 and "Traceback" not in full.stderr
        assert "disk is full" in full.stderr, full.stdout + full.stderr
        assert len(server.calls("create")) == 4
        (small_disk / "filler.bin").unlink()
        _no_orphans(root)
        done = _run(root, env, "generate")
        assert done.returncode == 0, done.stdout + done.stderr
        assert len(server.calls("create")) == 4  # fetched again, not paid again
    _no_orphans(root)
    db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    assert db.execute("SELECT COUNT(*) FROM takes").fetchone()[0] == 4
    assert db.execute("SELECT COUNT(*) FROM ledger WHERE kind='charge'").fetchone()[0] == 4
    db.close()
    leftovers = [p.name for p in (root / ".dreamcut" / "downloads").iterdir() if ".part" in p.name]
    assert leftovers == []
