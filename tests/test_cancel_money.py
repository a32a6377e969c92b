"""What `dreamcut cancel` leaves in the ledger for jobs paid out of a take's reservation (chain segments),
and Runway's queued-cancel hold that `dreamcut reconcile --release` frees. Real projects, the Runway
simulator over HTTP, the real SDK: the ledger must equal what the provider bills."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from _ledger import ledger_lines as _ledger, reserved as _reserved, spent as _spent
from conftest import make_project
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.orchestrator import Orchestrator
from dreamcut.project import Project

KEY = "rw-secret-key-0123456789abcdef"
SPEED = 500  # provider time runs this much faster than ours


def _sim(monkeypatch):
    from simulators.runway import RunwaySim

    server = RunwaySim(key=KEY).start()
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DREAMCUT_PROVIDER_TIME_SCALE", str(SPEED))
    return server


def _project(root: Path, seconds: float) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 120, 40)).save(root / "dusk.png", "PNG")  # gen4_turbo starts from an image
    shot = {"id": "s1", "prompt": "a lighthouse at dusk, waves below", "seconds": seconds, "refs": ["dusk.png"]}
    return make_project(root, [shot], song_kind="silence", song_seconds=seconds, title="cancel", fps=24,
                        backend="runway:gen4_turbo", budget_usd=50, takes_per_shot=1, caption=False,
                        render={"master": "1280x720", "resolution": "1280x720"})


def _run_until(root: Path, key: str, state: str):
    """Start `generate` on a thread; return (thread, result, project, planned) once job `key` is in `state`."""
    project = Project.open(root)
    planned = plan_takes(project.spec, root=str(root))
    orch = Orchestrator(project, poll_interval=0.01, sign_takes=False)
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(summary=orch.run(planned)), daemon=True)
    runner.start()
    row = None
    for _ in range(600):  # 30 s at most
        row = project.catalog.job(key(planned) if callable(key) else key) if runner.is_alive() else None
        if row is not None and row["state"] == state:
            break
        time.sleep(0.05)
    assert row is not None and row["state"] == state
    return runner, result, project, planned


def test_a_chain_segment_cancelled_while_running_is_charged_as_runway_bills_it(monkeypatch, tmp_path, cli):
    """A 15 s take at gen4_turbo is a 10 s + 5 s chain. `dreamcut cancel` while the first segment renders:
    Runway bills a task its cancel check sees RUNNING, so the segment's $0.50 is charged on its own line
    (before the fix, nothing: the segment's row reserves nothing) and the take's reservation is released."""
    server = _sim(monkeypatch)
    try:
        server.plan("stuck")  # the first segment renders until it is cancelled
        root = _project(tmp_path / "p", 15)
        runner, result, project, planned = _run_until(root, lambda ps: ps[0].key + ".s0", "running")
        seg = planned[0].key + ".s0"
        doc = json.loads(cli("cancel", "--json", cwd=root, check=True).stdout)
        assert doc["command"] == "cancel" and doc["reserved_usd"] == 0.0
        assert sorted((c["key"], c["billed_usd"], c["held_usd"]) for c in doc["cancelled"]) == \
            [(planned[0].key, 0.0, 0.0), (seg, 0.50, 0.0)]  # the take and its segment
        runner.join(60)
        assert not runner.is_alive() and result["summary"].canceled == 1
        assert len(server.calls("create")) == 1  # the second segment was never asked for
        assert [(k, a, j) for k, a, j in _ledger(root) if k == "charge"] == [("charge", 0.50, seg)]
        assert _spent(root) == pytest.approx(server.books()["billed_usd"], abs=1e-9) == pytest.approx(0.50)
        assert _reserved(root) == pytest.approx(0.0, abs=1e-9)
    finally:
        server.stop()


def test_a_queued_runway_cancel_says_what_stays_reserved_and_release_frees_it(monkeypatch, tmp_path, cli):
    """Cancelled while Runway still queues it: the SDK's tasks.delete refunds only what its own check sees
    queued, so the price stays reserved as the worst case; `cancel` says so in one line naming the command,
    and `reconcile --release JOB` frees it (a ledger line; --json), refusing any job that is not such a hold."""
    server = _sim(monkeypatch)
    try:
        server.plan("throttled")  # Runway keeps the task queued (THROTTLED) until it is cancelled
        root = _project(tmp_path / "p", 5)
        runner, result, project, planned = _run_until(root, lambda ps: ps[0].key, "running")
        key = planned[0].key
        out = cli("cancel", cwd=root, check=True)
        runner.join(60)
        assert not runner.is_alive()
        held = [line.strip() for line in out.stdout.splitlines() if "stays reserved" in line]
        assert held == [f"{key}: $0.25 stays reserved: Runway may bill a task that started before the cancel; "
                        f"release it with `dreamcut reconcile --release {key}` once your invoice shows no charge"]
        assert _reserved(root) == pytest.approx(0.25) and _spent(root) == 0.0
        assert server.books()["billed_usd"] == 0.0  # the simulator refunded it: the invoice shows no charge

        listed = cli("reconcile", cwd=root, check=True).stdout
        assert f"{key}: $0.25 held since it was cancelled (runway:gen4_turbo); `dreamcut reconcile --release {key}`" \
            in listed
        done = cli("reconcile", "--release", key[:10], "--json", cwd=root, check=True)
        assert {k: v for k, v in json.loads(done.stdout).items() if k != "note"} == {
            "command": "reconcile", "version": 1, "key": key, "released_usd": 0.25, "charged_usd": 0.0,
            "reserved_usd": 0.0}
        assert _ledger(root)[-1] == ("release", -0.25, key)
        assert _reserved(root) == pytest.approx(0.0, abs=1e-9)

        again = cli("reconcile", "--release", key, cwd=root)  # no longer a hold: refused, nothing written
        assert again.returncode == 2 and "no job with money held after a cancel" in again.stderr
        assert len(again.stderr.strip().splitlines()) == 1
        assert "held since" not in cli("reconcile", cwd=root, check=True).stdout
        assert _ledger(root)[-1] == ("release", -0.25, key)
    finally:
        server.stop()


def test_a_job_given_up_while_queued_says_how_to_release_its_hold(monkeypatch, tmp_path, cli):
    """`generate` gives up on a task Runway keeps queued (its job timeout) and cancels it: the failure line
    says the worst case stays reserved and where to free it; `reconcile` lists it; `--release` frees it."""
    server = _sim(monkeypatch)
    try:
        server.plan("throttled")
        root = _project(tmp_path / "p", 5)
        r = cli("generate", "--poll-interval", "0.05", "--job-timeout", "0.5", cwd=root,
                env={"DREAMCUT_PROVIDER_TIME_SCALE": "50"}, timeout=120)
        said = " ".join(r.stdout.split())
        assert r.returncode == 1 and "stays reserved as the worst case" in said, r.stdout + r.stderr
        assert "`dreamcut reconcile` lists it, `--release KEY` frees it once your invoice shows no charge" in said
        key = Project.open(root).catalog.jobs("failed")[0]["key"]
        assert f"{key}: $0.25 held since it was cancelled" in cli("reconcile", cwd=root, check=True).stdout
        cli("reconcile", "--release", key, cwd=root, check=True)
        assert _reserved(root) == pytest.approx(0.0, abs=1e-9) and _spent(root) == server.books()["billed_usd"] == 0
    finally:
        server.stop()
