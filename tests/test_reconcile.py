"""Unknown create outcomes: parked, shown, never re-sent, resolved by `dreamcut reconcile`; billed failures charged.

Against the Runway simulator (Runway has no idempotency key and cannot list tasks, so a create
whose answer is lost can only be parked), through the real CLI.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import hear_song_once, make_project
from serve_helpers import cli_env
from simulators import PROVIDERS

SPEC = "runway:gen4.5"


@pytest.fixture
def sim():
    s = PROVIDERS["runway"].factory(key=PROVIDERS["runway"].key).start()
    yield s
    s.stop()


def _project(root: Path, shots: int = 1) -> Path:
    """A project whose silent song is heard once a session (`hear_song_once`): the subject is reconciling."""
    shot_list = [{"id": f"s{i}", "prompt": f"shot {i}, a paper boat on a puddle"} for i in range(shots)]
    return hear_song_once(make_project(root, shot_list, song_kind="silence", version=1, title="reconcile", fps=24,
                                       backend=SPEC, budget_usd=10, takes_per_shot=1, take_seconds=2, caption=False,
                                       render={"master": "1280x720", "resolution": "1280x720"}))


def _cli(root: Path, sim, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), *args], env=cli_env(**sim.env),
                          capture_output=True, text=True, timeout=120)


def _generate(root, sim):
    return subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), "generate", "--poll-interval", "0.05"],
                          env=cli_env(**sim.env, DREAMCUT_PROVIDER_TIME_SCALE="50"),  # Runway asks for 5 s polls
                          capture_output=True, text=True, timeout=120)


def _history(root: Path) -> list[str]:
    with sqlite3.connect(root / ".dreamcut" / "catalog.sqlite") as db:
        return [n for (n,) in db.execute("SELECT note FROM ledger WHERE kind='note' ORDER BY id")]


def _ledger(root: Path) -> tuple[float, float]:
    with sqlite3.connect(root / ".dreamcut" / "catalog.sqlite") as db:
        spent = db.execute("SELECT COALESCE(SUM(amount_usd),0) FROM ledger WHERE kind='charge'").fetchone()[0]
        held = db.execute("SELECT COALESCE(SUM(reserved_usd),0) FROM jobs WHERE state IN "
                          "('pending','submitting','submitted','running','downloading','needs_reconcile')").fetchone()[0]
    return round(spent, 6), round(held, 6)


def test_a_lost_create_is_parked_never_resent_and_adopted(tmp_path, sim):
    root = _project(tmp_path / "p")
    sim.inject("create", "accept_drop")  # Runway creates (and will bill) the task; the answer is lost
    r = _generate(root, sim)
    assert r.returncode == 1 and "parked 1" in r.stdout, r.stdout + r.stderr
    assert sim.books()["jobs_created"] == 1
    parked = json.loads(_cli(root, sim, "reconcile", "--json").stdout)
    assert len(parked) == 1 and parked[0]["worst_case_usd"] == pytest.approx(0.24)  # gen4.5 2 s at 12 credits/s
    assert "cannot list" in parked[0]["reason"]
    assert _ledger(root) == (0.0, 0.24)  # the worst case stays reserved: the budget counts it
    status = _cli(root, sim, "status")
    assert "1 parked" in status.stdout and parked[0]["key"][:12] in status.stdout, status.stdout
    # a re-run never sends the create again
    r = _generate(root, sim)
    assert r.returncode == 1 and "parked 1" in r.stdout
    assert sim.books()["jobs_created"] == 1
    # the director finds the task on the dashboard and adopts it
    task = sim.books()["jobs"][0]["id"]
    assert _cli(root, sim, "reconcile", "--adopt", parked[0]["key"][:10], "no-such-task").returncode == 2
    r = _cli(root, sim, "reconcile", "--adopt", parked[0]["key"][:10], task)
    assert r.returncode == 0, r.stderr
    r = _generate(root, sim)
    assert r.returncode == 0 and "made 1" in r.stdout, r.stdout + r.stderr
    sim.settle()
    assert sim.books()["jobs_created"] == 1
    assert _ledger(root) == (round(sim.books()["billed_usd"], 6), 0.0)


def test_abandon_keeps_the_worst_case_unless_not_billed(tmp_path, sim):
    root = _project(tmp_path / "p", shots=2)
    sim.inject("create", "accept_drop", times=2)
    r = _generate(root, sim)
    assert "parked 2" in r.stdout, r.stdout + r.stderr
    keys = [p["key"] for p in json.loads(_cli(root, sim, "reconcile", "--json").stdout)]
    r = _cli(root, sim, "reconcile", "--abandon", keys[0])
    assert r.returncode == 0 and "$0.24 kept as spent" in r.stdout, r.stdout + r.stderr
    assert _cli(root, sim, "reconcile", "--not-billed").returncode == 2  # only with --abandon
    r = _cli(root, sim, "reconcile", "--abandon", keys[1], "--not-billed")
    assert r.returncode == 0 and "nothing kept" in r.stdout
    assert _ledger(root) == (0.24, 0.0)
    assert json.loads(_cli(root, sim, "reconcile", "--json").stdout) == []
    r = _generate(root, sim)  # abandoned jobs are failed with their reason, never re-sent
    assert "failed 2" in r.stdout and sim.books()["jobs_created"] == 2


def test_resubmit_only_on_the_explicit_flag(tmp_path, sim):
    root = _project(tmp_path / "p")
    sim.inject("create", "drop")  # closed before Runway handled it: to the client, the same as a lost answer
    r = _generate(root, sim)
    assert "parked 1" in r.stdout, r.stdout + r.stderr
    assert sim.books()["jobs_created"] == 0  # nothing on the dashboard: the director may resubmit
    (p,) = json.loads(_cli(root, sim, "reconcile", "--json").stdout)
    r = _cli(root, sim, "reconcile", "--resubmit", p["key"])
    assert r.returncode == 0 and "pays twice" in r.stdout, r.stdout + r.stderr
    assert sim.books()["jobs_created"] == 1  # the director's choice, said out loud
    r = _generate(root, sim)
    assert r.returncode == 0 and "made 1" in r.stdout


def test_a_billed_failure_is_charged(tmp_path, sim):
    """Runway bills SAFETY.INPUT.* failures: the ledger records it, the reservation is not simply released."""
    root = _project(tmp_path / "p", shots=2)
    sim.plan("policy")
    r = _generate(root, sim)
    assert "failed 1" in r.stdout, r.stdout + r.stderr
    sim.settle()
    books = sim.books()
    assert books["billed_usd"] == pytest.approx(0.48)  # the refused one is billed too
    assert _ledger(root) == (round(books["billed_usd"], 6), 0.0)


def test_a_job_given_up_where_cancel_is_impossible_stays_spent(tmp_path):
    """Luma cannot cancel: a generation timed out here finishes and bills there, so its price stays spent."""
    sim = PROVIDERS["luma"].factory(key=PROVIDERS["luma"].key).start()
    try:
        root = hear_song_once(make_project(
            tmp_path / "p", [{"id": "s0", "prompt": "a kite over dunes"}], song_kind="silence", version=1, title="t",
            fps=24, backend="luma:ray-flash-2", budget_usd=10, takes_per_shot=1, take_seconds=5, caption=False,
            render={"master": "1280x720", "resolution": "1280x720"}))
        r = _cli(root, sim, "generate", "--poll-interval", "0.05", "--job-timeout", "0.5")
        assert "failed 1" in r.stdout and "cannot cancel" in r.stdout + r.stderr, r.stdout + r.stderr
        spent, held = _ledger(root)
        assert spent > 0.2 and held == 0.0
        sim.settle()  # Luma renders on and bills
        assert round(sim.books()["billed_usd"], 6) == spent
    finally:
        sim.stop()


def test_a_retryable_failure_gets_a_new_counted_create(tmp_path, sim):
    """Runway documents INTERNAL failures as retryable: the orchestrator sends a new (paid) create,
    says so in the job's history, and charges the failed task as Runway bills it (refunded: $0)."""
    root = _project(tmp_path / "p")
    sim.plan("internal")  # the first task fails INTERNAL; the second succeeds
    r = _generate(root, sim)
    assert r.returncode == 0 and "made 1" in r.stdout and "retried 1" in r.stdout, r.stdout + r.stderr
    sim.settle()
    books = sim.books()
    assert books["jobs_created"] == 2 and [j["state"] for j in books["jobs"]] == ["FAILED", "SUCCEEDED"]
    assert _ledger(root) == (round(books["billed_usd"], 6), 0.0) == (0.24, 0.0)
    (note,) = [n for n in _history(root) if n.startswith("retry ")]
    assert "retry 1 of 2" in note and books["jobs"][0]["id"] in note and "INTERNAL" in note


def test_retries_of_a_retryable_failure_are_bounded(tmp_path, sim):
    root = _project(tmp_path / "p")
    sim.plan("internal", "error", "internal", "internal")  # INTERNAL, INTERNAL.BAD_OUTPUT, INTERNAL...
    r = _generate(root, sim)
    assert r.returncode == 1 and "failed 1" in r.stdout and "INTERNAL" in r.stdout, r.stdout + r.stderr
    assert sim.books()["jobs_created"] == 3  # the create and 2 retries, then failed with Runway's reason
    assert len([n for n in _history(root) if n.startswith("retry ")]) == 2
    r = _generate(root, sim)  # a re-run does not start over
    assert "failed 1" in r.stdout and sim.books()["jobs_created"] == 3
    sim.settle()
    assert _ledger(root) == (round(sim.books()["billed_usd"], 6), 0.0) == (0.0, 0.0)


def test_a_task_cancelled_while_queued_is_charged_as_runway_bills_it_with_the_worst_case_kept(tmp_path, sim):
    """Runway refunds a task its cancel check sees PENDING/THROTTLED, but "a prior GET response reporting
    PENDING or THROTTLED does not guarantee a refund" (runwayml 5.24.0 tasks.delete): the ledger charges
    what Runway bills (nothing), and the price stays reserved as the worst case, counted by the budget."""
    root = _project(tmp_path / "p")
    sim.plan("throttled")  # never leaves the queue: the job times out here and is cancelled while queued
    r = subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), "generate", "--poll-interval", "0.05",
                        "--job-timeout", "0.5"], env=cli_env(**sim.env, DREAMCUT_PROVIDER_TIME_SCALE="50"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "failed 1" in r.stdout, r.stdout + r.stderr
    assert "stays reserved as the worst case" in r.stdout, r.stdout
    assert sim.calls("delete")
    sim.settle()
    assert sim.books()["billed_usd"] == 0  # refunded: cancelled while queued
    spent, _ = _ledger(root)
    assert spent == 0.0  # the ledger equals Runway's bill
    est = json.loads(_cli(root, sim, "estimate", "--json").stdout)
    assert est["reserved_usd"] == pytest.approx(0.24)  # the worst case still counts against the budget


def _strays(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.part*") if p.is_file())


def test_part_files_left_by_a_kill_are_swept_by_the_next_generate_and_by_reconcile(tmp_path, sim):
    """kill -9 during signing or a download leaves `.part` files under takes/ and .dreamcut/downloads/;
    the next `generate` (and a `reconcile` that writes) removes those of dead processes, not a live one's."""
    root = _project(tmp_path / "p", shots=2)
    sim.inject("create", "accept_drop")  # the first take is parked; the second is made
    r = _generate(root, sim)
    assert "made 1" in r.stdout and "parked 1" in r.stdout, r.stdout + r.stderr
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid names a process that is gone, like a generate killed with -9
    folder = next((root / "takes").iterdir())

    def leave_strays() -> None:
        (folder / f".{folder.name}-t01-abc123.pid{dead.pid}.x1.part.mp4").write_bytes(b"half a signed take")
        (root / ".dreamcut" / "downloads").mkdir(exist_ok=True)
        (root / ".dreamcut" / "downloads" / f"0123abcd.{dead.pid}.part.mp4").write_bytes(b"half a download")

    import os

    alive = folder / f".{folder.name}-t01-abc123.pid{os.getpid()}.x2.part.mp4"  # a running process's file
    alive.write_bytes(b"being written")
    leave_strays()
    assert len(_strays(root)) == 3
    (parked,) = json.loads(_cli(root, sim, "reconcile", "--json").stdout)
    assert len(_strays(root)) == 3  # listing is a read
    r = _cli(root, sim, "reconcile", "--abandon", parked["key"])
    assert r.returncode == 0, r.stderr
    assert _strays(root) == [str(alive.relative_to(root))]
    leave_strays()
    r = _generate(root, sim)
    assert _strays(root) == [str(alive.relative_to(root))], r.stdout + r.stderr
