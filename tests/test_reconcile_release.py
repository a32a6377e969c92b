"""`dreamcut reconcile --release KEY` settles a hold a cancel kept by asking the provider first.

A cancel of a Runway task its check sees queued keeps the price reserved (a refund Runway does
not guarantee). If the cancel never took (the DELETE failed) Runway starts the task later by
itself and bills it: `--release` must then turn the hold into a charge of Runway's amount, never
free it (before the fix it freed it on the director's word: the ledger said $0 spent while the
provider's books said $0.25). Real project and SQLite catalog, the CLI in a subprocess (--json),
the Runway simulator over HTTP with the official SDK; the ledger must equal the provider's books.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from _ledger import ledger_lines, reserved, spent
from conftest import make_project, point_at
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.orchestrator import Orchestrator
from dreamcut.project import Project

KEY = "rw-secret-key-0123456789abcdef"


@pytest.fixture
def runway(monkeypatch):
    from simulators.runway import RunwaySim

    with RunwaySim(key=KEY) as server:
        yield point_at(monkeypatch, server)


def _held_after_a_cancel_that_never_took(root: Path, runway, cli) -> tuple[str, str]:
    """A 5 s gen4_turbo take ($0.25) queued at Runway, cancelled by `dreamcut cancel` while queued, whose
    DELETE Runway refused: the hold is kept, the task lives on. (job key, Runway's task id)"""
    root.mkdir(parents=True)
    Image.new("RGB", (64, 48), (200, 120, 40)).save(root / "dusk.png", "PNG")
    make_project(root, [{"id": "s1", "prompt": "a lighthouse at dusk", "seconds": 5, "refs": ["dusk.png"]}],
                 song_kind="silence", song_seconds=5, title="release", fps=24, backend="runway:gen4_turbo",
                 budget_usd=50, takes_per_shot=1, caption=False)
    runway.plan("throttled")   # queued at Runway until something changes
    project = Project.open(root)
    planned = plan_takes(project.spec, root=str(root))
    key = planned[0].key
    runner = threading.Thread(target=Orchestrator(project, poll_interval=0.01, sign_takes=False).run,
                              args=(planned,), daemon=True)
    runner.start()
    for _ in range(600):  # 30 s at most
        row = project.catalog.job(key)
        if row is not None and row["state"] == "running":
            break
        time.sleep(0.05)
    assert row is not None and row["state"] == "running"
    runway.fault("delete", 400, {"error": "Task cannot be deleted right now."})
    doc = json.loads(cli("cancel", "--json", cwd=root, check=True).stdout)
    runner.join(60)
    assert not runner.is_alive()
    assert [(c["key"], c["held_usd"]) for c in doc["cancelled"]] == [(key, 0.25)]
    assert reserved(root) == pytest.approx(0.25) and spent(root) == 0.0
    return key, Project.open(root).catalog.job(key)["provider_job_id"]


def _runway_finishes_it(runway, task_id: str, plan: str) -> None:
    """Runway starts a throttled task later by itself ([sdk-task] THROTTLED) and it ends as `plan`."""
    runway.jobs[task_id].plan = plan
    runway.clock.advance(3600)


@pytest.mark.parametrize("plan", ["ok", "policy"])  # completed; a moderated failure (billed in full)
def test_a_hold_the_provider_billed_becomes_its_charge(tmp_path, runway, cli, plan):
    root = tmp_path / "p"
    key, task = _held_after_a_cancel_that_never_took(root, runway, cli)
    _runway_finishes_it(runway, task, plan)
    assert runway.books()["billed_usd"] == pytest.approx(0.25)

    done = cli("reconcile", "--release", key[:10], "--json", cwd=root, check=True)
    doc = json.loads(done.stdout)
    assert (doc["key"], doc["charged_usd"], doc["released_usd"], doc["reserved_usd"]) == (key, 0.25, 0.0, 0.0)
    assert "bills $0.25" in doc["note"]
    assert spent(root) == pytest.approx(runway.books()["billed_usd"], abs=1e-9)   # the ledger = the provider's books
    assert reserved(root) == pytest.approx(0.0, abs=1e-9)
    assert [line for line in ledger_lines(root) if line[2] == key][-2:] == [("charge", 0.25, key),
                                                                             ("release", -0.25, key)]
    assert Project.open(root).catalog.job(key)["cost_usd"] == pytest.approx(0.25)
    again = cli("reconcile", "--release", key, cwd=root)   # settled: no longer a hold
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1


def test_a_hold_the_provider_did_not_bill_is_released_on_its_word(tmp_path, runway, cli):
    root = tmp_path / "p"
    key, task = _held_after_a_cancel_that_never_took(root, runway, cli)
    _runway_finishes_it(runway, task, "error")   # a generation error: refunded, cost 0
    doc = json.loads(cli("reconcile", "--release", key, "--json", cwd=root, check=True).stdout)
    assert (doc["charged_usd"], doc["released_usd"], doc["reserved_usd"]) == (0.0, 0.25, 0.0)
    assert "not billed" in doc["note"]
    assert spent(root) == runway.books()["billed_usd"] == 0.0


def test_a_hold_on_a_job_still_queued_there_is_kept(tmp_path, runway, cli):
    root = tmp_path / "p"
    key, _task = _held_after_a_cancel_that_never_took(root, runway, cli)
    before = ledger_lines(root)
    out = cli("reconcile", "--release", key, "--json", cwd=root)
    assert out.returncode == 1 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "still reports the job queued" in lines[0] and "stays held" in lines[0], out.stderr
    assert ledger_lines(root) == before and reserved(root) == pytest.approx(0.25)
