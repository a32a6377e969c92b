"""One API call's retries: rate limits (429) and other transient failures have budgets of their own.

They shared one counter: two 429s and two dropped connections on the polls of one job spent the
three tries a call had, and the job was left for the next run although neither kind had run out.
Real path: `Orchestrator` driving the fal backend (fal-client, which dreamcut sets to send every
request once, so each fault reaches the job runner) against the fal simulator, the faults injected
on the status route the job runner polls.
"""

from __future__ import annotations

import pytest

from conftest import make_project, point_at
from dreamcut.backends.base import ProviderError
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.jobs import Limits
from dreamcut.generate.orchestrator import Orchestrator
from dreamcut.generate.pacing import RetryBudget
from dreamcut.project import Project

KEY = "fal-key-id:fal-key-secret-0123456789"
LIMITS = Limits(concurrency=1, max_attempts=3, rate_limit_attempts=4, backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture
def fal(monkeypatch):
    from simulators.fal import FalSim

    with FalSim(key=KEY) as server:
        yield point_at(monkeypatch, server)


def _generate(root, fal, faults: list[str]):
    make_project(root, [{"id": "s1", "prompt": "a lighthouse at dusk, waves below", "seconds": 8}],
                 song_kind="silence", song_seconds=8, title="retries", fps=24, backend="fal:fal-ai/veo3/fast",
                 budget_usd=50, takes_per_shot=1, caption=False)
    for kind in faults:
        fal.inject("status", kind)
    project = Project.open(root)
    summary = Orchestrator(project, poll_interval=0.01, sign_takes=False, default_limits=LIMITS).run(
        plan_takes(project.spec, root=str(root)))
    return summary, project


@pytest.mark.parametrize("faults", [["rate_limit", "rate_limit", "drop", "drop"],
                                    ["drop", "5xx", "rate_limit", "rate_limit", "rate_limit"]])
def test_rate_limits_do_not_spend_the_tries_a_dropped_connection_needs(tmp_path, fal, faults):
    summary, project = _generate(tmp_path / "p", fal, faults)
    fired = [kind for route, kind in fal.faults_fired if route == "status"]
    assert fired == faults                       # all met the same job's polls, one call after another
    assert (summary.made, summary.pending, summary.failed) == (1, 0, 0)
    assert fal.books()["jobs_created"] == 1   # one create: retries of a poll are not new creates


def test_each_budget_is_still_bounded(tmp_path, fal):
    summary, project = _generate(tmp_path / "p", fal, ["rate_limit"] * 4)
    assert (summary.made, summary.pending) == (0, 1)   # left in flight for the next run, not failed
    job = [r for r in project.catalog.jobs() if r["provider_job_id"]][0]
    assert job["state"] not in ("failed", "done")


def test_the_budget_counts_each_kind_apart():
    budget = RetryBudget(Limits(max_attempts=2, rate_limit_attempts=3, backoff_base=0.01, backoff_cap=0.02))
    limited = ProviderError("429", code="rate_limited", transient=True, retry_after=0.5, rate_limited=True)
    dropped = ProviderError("gone", code="network", transient=True)
    assert budget.wait(limited, 0.5) >= 0.5                  # the provider's word, plus a little jitter
    assert 0.005 <= budget.wait(dropped, None) <= 0.01       # backoff from its own first step
    assert budget.wait(limited, 0.5) is not None
    assert budget.wait(dropped, None) is None                # 2 transient tries spent
    assert budget.wait(limited, 0.5) is None                 # 3 rate-limited tries spent
    assert budget.failed == {"rate_limit": 3, "transient": 2}
