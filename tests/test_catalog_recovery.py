"""The catalog is never silently lost: an emptied or deleted catalog beside takes is refused and
restored from the automatic backups; `catalog rebuild` recovers takes, jobs and the ledger from
the take sidecars; damage mid-page is reported as damage."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from _luma_project import KEY, luma_env, luma_project
from conftest import hear_song_once
from simulators.luma import LumaSim


def _one_error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr and "unexpected" not in proc.stderr, proc.stderr
    return lines[0]


def _facts(root: Path) -> tuple:
    db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    takes = sorted(db.execute("SELECT id, job_key, path, cost_usd FROM takes"))
    jobs = sorted(db.execute("SELECT key, state, provider_job_id FROM jobs WHERE kind='take'"))
    spent = round(db.execute("SELECT COALESCE(SUM(amount_usd),0) FROM ledger WHERE kind='charge'").fetchone()[0], 6)
    db.close()
    return takes, jobs, spent


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A cloud project with 4 paid takes made through the Luma simulator."""
    root = hear_song_once(luma_project(tmp_path_factory.mktemp("catalog") / "p"))  # its song heard once a session
    with LumaSim(key=KEY) as server:
        env = luma_env(server)
        proc = subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), "generate", "--poll-interval",
                               "0.05"], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert len(server.calls("create")) == 4
    return root, _facts(root)


@pytest.mark.parametrize("how", ["emptied", "deleted"])
def test_a_lost_catalog_is_refused_then_restored(generated, how, cli, tmp_path):
    import shutil

    src, facts = generated
    root = tmp_path / "p"
    shutil.copytree(src, root)
    catalog = root / ".dreamcut" / "catalog.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    if how == "emptied":
        catalog.write_bytes(b"")
    else:
        catalog.unlink()
    for cmd in (("status",), ("estimate",)):
        proc = cli("-p", str(root), *cmd)
        assert proc.returncode == 2
        line = _one_error_line(proc)
        assert "catalog is" in line and "dreamcut catalog restore" in line and "rebuild" in line
    assert not catalog.exists() or catalog.stat().st_size == 0  # never recreated empty
    restored = cli("-p", str(root), "catalog", "restore")
    assert restored.returncode == 0, restored.stderr
    assert _facts(root) == facts
    assert cli("-p", str(root), "status").returncode == 0


def test_rebuild_recovers_takes_and_ledger_from_sidecars(generated, tmp_path):
    import shutil

    src, (takes, jobs, spent) = generated
    root = tmp_path / "p"
    shutil.copytree(src, root)
    shutil.rmtree(root / ".dreamcut")  # catalog and backups gone: only the takes and sidecars are left
    assert spent > 0
    with LumaSim(key=KEY) as server:
        env = luma_env(server)

        def run(*args):
            return subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), *args], env=env,
                                  capture_output=True, text=True, timeout=300)

        assert run("status").returncode == 2
        rebuilt = run("catalog", "rebuild")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "rebuilt" in rebuilt.stdout and "4 takes" in rebuilt.stdout
        new_takes, new_jobs, new_spent = _facts(root)
        assert new_takes == takes and new_jobs == jobs and new_spent == pytest.approx(spent)
        again = run("generate", "--poll-interval", "0.05")
        assert again.returncode == 0, again.stderr
        assert "already there 4" in " ".join(again.stdout.split())
        assert server.calls("create") == []  # nothing paid twice after the rebuild


def test_damage_mid_page_is_reported_as_damage(generated, cli, tmp_path):
    import shutil

    src, _ = generated
    root = tmp_path / "p"
    shutil.copytree(src, root)
    catalog = root / ".dreamcut" / "catalog.sqlite"
    db = sqlite3.connect(catalog)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("PRAGMA page_size").fetchone()[0]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    assert pages >= 4
    with open(catalog, "r+b") as f:  # garbage over every page but the header page
        for n in range(1, pages):
            f.seek(n * page)
            f.write(os.urandom(page))
    proc = cli("-p", str(root), "status")
    assert proc.returncode == 1
    line = _one_error_line(proc)
    assert "catalog is damaged" in line and "dreamcut catalog restore" in line


def test_rebuild_recovers_imported_takes(tmp_path, cli):
    import shutil

    from simulators._http import tiny_mp4

    root = luma_project(tmp_path / "p")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(tiny_mp4())
    imported = cli("-p", str(root), "import", "s1", str(clip), "--prompt", "a lighthouse, shot on a phone")
    assert imported.returncode == 0, imported.stderr
    before = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    want = sorted(before.execute("SELECT id, shot_id, source, path, prompt, content_hash FROM takes"))
    before.close()
    assert len(want) == 1
    shutil.rmtree(root / ".dreamcut")
    rebuilt = cli("-p", str(root), "catalog", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    assert sorted(after.execute("SELECT id, shot_id, source, path, prompt, content_hash FROM takes")) == want
    after.close()
