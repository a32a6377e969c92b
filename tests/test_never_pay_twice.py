"""Never pay twice, never past the budget, a ledger equal to the bill: against every provider simulator.

For each provider in `simulators.PROVIDERS` (the provider's documented status flow, errors and
billing, with faults at 20%: accept-then-drop, 5xx after accept, slow answers, HTML bodies,
rate limits...): 100 takes, the real `dreamcut generate` process kill -9'ed 10 times and
resumed, then run to the end. Provider time runs SPEED times faster than ours on both sides (the
simulator's clock, and DREAMCUT_PROVIDER_TIME_SCALE for the waits the provider asks of generate),
and each kill lands after a random number of job steps read from the catalog: no idle sleeps. Creates whose outcome is unknown are reconciled or parked, never
re-sent; the director then resolves the parked ones with `dreamcut reconcile` the way the docs
say (look the take up in the provider's books: adopt the job that is there, resubmit only when
there is none). Then, from the provider's own books:
- every job ended completed or failed with a reason (parked ones were resolved, and counted);
- no take was billed twice (before reconciling, any take with two provider jobs must be parked);
- the ledger equals the provider's billing to the cent, and the billing is within budget_usd;
- every completed take is on disk once, whole.
"""

from __future__ import annotations

import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from dreamcut.errors import WorkFailed
from dreamcut.generate.orchestrator import Orchestrator
from dreamcut.media import probe
from dreamcut.project import Project
from conftest import hear_song_once, make_project
from serve_helpers import cli_env
from simulators import PROVIDERS

TAKES = 100
KILLS = 10
SPEED = 10  # provider time runs this many times faster than the wall clock (simulator and generate agree)
MARK = re.compile(r"K(\d{4})Z")  # each take's prompt carries its own marker: the books name the take by it


def _project(root: Path, spec: str, seconds: float, budget: float) -> Path:
    """The batch's project; its silent song heard once for all providers (`hear_song_once`)."""
    return hear_song_once(make_project(root, TAKES, song_kind="silence", prompt="K{i:04d}Z a slow dolly through a corridor of lanterns",
                        version=1, title="never pay twice", fps=24, backend=spec, budget_usd=round(budget, 2),
                        takes_per_shot=1, take_seconds=seconds, caption=False,
                        render={"master": "1280x720", "resolution": "1280x720"}))


def _cli(root: Path, env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def _jobs(root: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    db.row_factory = sqlite3.Row
    rows = list(db.execute("SELECT * FROM jobs"))
    db.close()
    return rows


# How far along its life a job row is: a run's progress is the sum over rows (a new row counts too).
_STEP = {"pending": 1, "submitting": 2, "needs_reconcile": 3, "submitted": 3, "running": 4, "downloading": 5,
         "completed": 6, "failed": 6, "canceled": 6}


def _progress(root: Path) -> int:
    """How much work the runs have done: job rows weighted by how far each has come (0 before the catalog)."""
    if not (root / ".dreamcut" / "catalog.sqlite").exists():
        return 0
    try:
        return sum(_STEP.get(j["state"], 1) for j in _jobs(root))
    except sqlite3.OperationalError:  # the schema is not created yet, or a writer holds a lock
        return 0


def _take_of(job: dict) -> int | None:
    m = MARK.search(job.get("prompt") or "")
    return int(m.group(1)) if m else None


def _books_by_take(books: dict, root: Path) -> dict[int, list[dict]]:
    """The provider's jobs by take, less those a take gave up for a documented retry (Runway INTERNAL:
    a new paid create the catalog's history names, "retry N of M: provider job ID failed ...")."""
    retried = _retried(root)
    out: dict[int, list[dict]] = {}
    for job in books["jobs"]:
        if job["id"] in retried:
            continue
        out.setdefault(_take_of(job), []).append(job)
    return out


def _retried(root: Path) -> set[str]:
    if not (root / ".dreamcut" / "catalog.sqlite").exists():
        return set()
    db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    notes = [n for (n,) in db.execute("SELECT note FROM ledger WHERE kind='note' AND note LIKE 'retry %'")]
    db.close()
    return {m.group(1) for n in notes if (m := re.match(r"retry \d+ of \d+: provider job (\S+) failed", n))}


def _settings(spec: str, env: dict, monkeypatch) -> tuple[float, float]:
    """(seconds of one take, its price) for the provider's model: one segment, no chain."""
    from dreamcut.backends.base import GenerationRequest
    from dreamcut.backends.registry import load_backend
    from dreamcut.generate.cost import take_price

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    backend = load_backend(spec)
    caps = backend.capabilities()
    seconds = min(caps.durations) if caps.durations else max(caps.min_seconds, min(4.0, caps.max_seconds))
    request = GenerationRequest(shot_id="s", prompt="p", seconds=seconds, width=1280, height=720, fps=24, seed=1)
    return seconds, take_price(backend, request)


@pytest.mark.slow  # 100 takes, 10 kills, real processes: most of the time is 20+ CLI starts
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_never_pay_twice(provider, tmp_path, monkeypatch):
    ps = PROVIDERS[provider]
    sim = ps.start(faults=0.2, seed=20 + len(provider))
    rng = random.Random(7)
    try:
        seconds, price = _settings(ps.spec, sim.env, monkeypatch)
        budget = round(TAKES * price + 0.005, 2)  # exactly the batch: any second payment would pass it
        root = _project(tmp_path / "p", ps.spec, seconds, budget)
        env = cli_env(**sim.env)
        args = ("generate", "--concurrency", "24", "--poll-interval", "0.05")
        speed = _Accelerate(sim)  # provider time runs 10x: renders take a fraction of a second here
        env["DREAMCUT_PROVIDER_TIME_SCALE"] = str(SPEED)  # ...and the waits the provider asks for shrink alike
        t0 = time.monotonic()

        # -- 10 kill -9s mid-batch, each run resuming the last ---------------------------------
        kills, runs = 0, 0
        while kills < KILLS and runs < 3 * KILLS:
            runs += 1
            # The kill lands after a random number of job steps of this run (a row reserved, a create
            # sent, a job seen running, downloaded, recorded): anywhere among the jobs in flight.
            target = _progress(root) + rng.randint(1, 60)
            proc = subprocess.Popen([sys.executable, "-m", "dreamcut", "-p", str(root), *args], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while proc.poll() is None and _progress(root) < target and time.monotonic() < deadline:
                time.sleep(0.01)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        assert kills == KILLS, f"only {kills} of {runs} runs were killed mid-batch"
        t_kills = time.monotonic() - t0
        print(f"\n{provider}: kills done after {t_kills:.0f} s: {Counter(j['state'] for j in _jobs(root))}")

        # -- resume to the end: nothing left in flight ---------------------------------------------
        for _ in range(6):
            out = _cli(root, env, *args)
            if not [j for j in _jobs(root) if j["state"] in ("pending", "submitting", "submitted", "running",
                                                                 "downloading")]:
                break
        states = Counter(j["state"] for j in _jobs(root) if j["kind"] == "take")
        assert sum(states.values()) == TAKES and set(states) <= {"completed", "failed", "needs_reconcile"}, (
            states, out.stdout[-2000:], out.stderr[-2000:])

        t_resume = time.monotonic() - t0
        print(f"{provider}: resumed after {t_resume:.0f} s: {states}")
        # -- no take billed twice unless it is parked (a possible duplicate is never silent) ---------
        parked = json.loads(_cli(root, env, "reconcile", "--json").stdout)
        parked_takes = {int(MARK.search(p["prompt"]).group(1)) for p in parked}
        for take, jobs in _books_by_take(sim.books(), root).items():
            assert take is not None
            assert len(jobs) == 1 or take in parked_takes, (take, jobs)
        status = _cli(root, env, "status")
        assert (f"{len(parked)} parked" in status.stdout) if parked else ("parked" not in status.stdout.split("\n")[-2])

        # -- the director resolves each parked job from the provider's books ------------------------
        # (`dreamcut reconcile --adopt/--resubmit` call these same Orchestrator methods, one job per
        # process; test_reconcile.py drives the commands themselves)
        first_parked = len(parked)
        for _ in range(4):
            if not parked:
                break
            claimed = {j["provider_job_id"] for j in _jobs(root) if j["provider_job_id"]}
            books = _books_by_take(sim.books(), root)
            for k, v in env.items():
                monkeypatch.setenv(k, v)
            project = Project.open(root)
            try:
                director = Orchestrator(project)
                for p in parked:
                    there = [j for j in books.get(int(MARK.search(p["prompt"]).group(1)), [])
                             if j["id"] not in claimed]
                    assert len(there) <= 1, there  # never two creates for one take
                    if there:
                        director.adopt(p["key"], there[0]["id"])
                    else:
                        try:
                            director.resubmit(p["key"])
                        except WorkFailed:  # the resubmit's own outcome was unknown: parked again
                            pass
            finally:
                project.catalog.close()
            for _ in range(4):
                _cli(root, env, *args)
                if not [j for j in _jobs(root) if j["state"] in ("pending", "submitting", "submitted", "running",
                                                                     "downloading")]:
                    break
            parked = json.loads(_cli(root, env, "reconcile", "--json").stdout)
        assert not parked, parked
        t_reconcile = time.monotonic() - t0
        speed.stop()
        sim.settle()  # provider time passes: everything that will bill has billed

        # -- the checks ------------------------------------------------------------------------------
        jobs = [j for j in _jobs(root) if j["kind"] == "take"]
        completed = [j for j in jobs if j["state"] == "completed"]
        failed = [j for j in jobs if j["state"] == "failed"]
        assert len(completed) + len(failed) == TAKES
        assert all(j["error_code"] and j["error_message"] for j in failed)
        books = sim.books()
        per_take = _books_by_take(books, root)
        assert all(len(v) == 1 for v in per_take.values()), "a take was created twice at the provider"
        retried = _retried(root)
        assert all(j["state"] == "FAILED" for j in books["jobs"] if j["id"] in retried)  # only failures are retried
        assert books["jobs_created"] <= TAKES + len(retried)
        db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
        spent = db.execute("SELECT COALESCE(SUM(amount_usd),0) FROM ledger WHERE kind='charge'").fetchone()[0]
        held = db.execute("SELECT COALESCE(SUM(amount_usd),0) FROM ledger WHERE kind IN ('reserve','release')"
                          ).fetchone()[0]
        takes = list(db.execute("SELECT job_key, path FROM takes"))
        db.close()
        failed_there = [(j["shot_id"], j["error_code"], j["error_message"], per_take.get(int(j["shot_id"][1:])))
                        for j in failed]
        assert round(spent, 2) == round(books["billed_usd"], 2), (spent, books["billed_usd"], failed_there)  # to the cent
        assert abs(held) < 1e-6  # nothing left reserved
        assert books["billed_usd"] <= budget + 1e-9
        assert sorted(k for k, _ in takes) == sorted(j["key"] for j in completed)
        # a kill -9 can leave a hidden temporary file of an unfinished write; the next run sweeps it
        assert not [p for p in (root / "takes").rglob("*") if p.is_file() and ".part" in p.name]
        files = sorted(str(p.relative_to(root)) for p in (root / "takes").rglob("*.mp4"))
        assert files == sorted(path for _, path in takes)
        for path in files:
            info = probe(root / path)
            assert info.video is not None and info.duration > 0
        print(f"\n{provider}: {kills} kills, {len(completed)} completed, {len(failed)} failed, "
              f"{first_parked} parked then reconciled; {books['jobs_created']} provider jobs ({len(retried)} retried), "
              f"${books['billed_usd']:.2f} billed = ledger ${spent:.2f} <= budget ${budget:.2f}; "
              f"faults {dict(Counter(k for _, k in sim.faults_fired))}; "
              f"wall: kills {t_kills:.0f} s, resumed {t_resume:.0f} s, reconciled {t_reconcile:.0f} s")
    finally:
        sim.stop()


class _Accelerate:
    """Provider time runs 10x faster than the wall clock while the batch runs (a background thread)."""

    def __init__(self, sim) -> None:
        import threading

        self.sim = sim
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(0.05):
            self.sim.clock.advance(0.05 * (SPEED - 1))

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)
