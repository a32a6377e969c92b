"""The simulator framework itself: each fault kind does what it says, books add up, the registry works."""

from __future__ import annotations

import httpx
import pytest

from simulators import FAULT_KINDS, PROVIDERS
from simulators.common import wait_refusing
from simulators.runway import RunwaySim

KEY = "rw-sim-key-0123456789abcdef"
BODY = {"model": "gen4.5", "promptText": "a corridor", "ratio": "1280:720", "duration": 5}


def post(sim, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(f"{sim.url}/v1/text_to_video", json=BODY, timeout=timeout,
                      headers={"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"})


@pytest.fixture
def sim():
    with RunwaySim(key=KEY) as s:
        yield s


def test_accept_then_drop_creates_and_bills_the_job_but_answers_nothing(sim):
    sim.inject("create", "accept_drop")
    with pytest.raises(httpx.RemoteProtocolError):
        post(sim)
    assert sim.books()["jobs_created"] == 1
    assert sim.books()["billed_usd"] == 0  # not finished yet: billed when it succeeds
    sim.settle()
    books = sim.books()
    assert books["jobs"][0]["state"] == "SUCCEEDED" and books["billed_usd"] == pytest.approx(0.60)


def test_front_door_faults_create_nothing(sim):
    sim.inject("create", "rate_limit")
    sim.inject("create", "5xx")
    sim.inject("create", "drop")
    r = post(sim)
    assert r.status_code == 429
    assert post(sim).status_code == 503
    with pytest.raises(httpx.RemoteProtocolError):
        post(sim)
    assert sim.books()["jobs_created"] == 0


def test_after_accept_faults_create_the_job(sim):
    sim.inject("create", "accept_5xx")
    sim.inject("create", "html")
    assert post(sim).status_code == 500
    r = post(sim)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert sim.books()["jobs_created"] == 2


def test_slow_answers_come_after_the_client_gave_up(sim):
    sim.slow_seconds = 0.6
    sim.inject("create", "slow")
    with pytest.raises(httpx.ReadTimeout):
        post(sim, timeout=0.2)
    assert sim.books()["jobs_created"] == 1


def test_refused_makes_new_connections_fail_before_sending(sim):
    sim.refuse_seconds = 60.0  # outlasts a slow client on a loaded machine; reopened below
    sim.inject("create", "refused")
    assert post(sim).status_code == 200  # the request that trips it is answered
    wait_refusing(sim)
    with pytest.raises(httpx.ConnectError):
        post(sim)
    assert sim.books()["jobs_created"] == 1
    sim.reopen()
    for _ in range(100):  # bounded: the listener comes back after refuse_seconds
        try:
            assert post(sim).status_code == 200
            break
        except httpx.ConnectError:
            import time

            time.sleep(0.05)
    else:
        raise AssertionError("the simulator did not come back")


def test_random_faults_follow_the_seed_and_the_rate():
    def fired(seed: int) -> list:
        mix = {k: 1.0 for k in FAULT_KINDS if k not in ("refused", "slow")}  # both depend on timing
        with RunwaySim(key=KEY, faults=0.5, seed=seed, mix=mix) as s:
            for _ in range(30):
                try:
                    post(s, timeout=2)
                except httpx.HTTPError:
                    pass
            return [k for _, k in s.faults_fired]

    a, b = fired(3), fired(3)
    assert a == b and 5 < len(a) < 28 and set(a) <= set(FAULT_KINDS)


def test_every_registered_provider_starts_with_env_books_and_a_clock():
    for name, provider in PROVIDERS.items():
        sim = provider.start(faults=0.0, seed=1)
        try:
            assert provider.spec.startswith(name + ":")
            assert any(v.startswith(sim.url) for v in sim.env.values())
            assert sim.books() == {"jobs_created": 0, "billed_usd": 0.0, "jobs": []}
            before = sim.clock.now()
            sim.clock.advance(3600)
            assert sim.clock.now() - before >= 3600
        finally:
            sim.stop()


def _drive(provider, monkeypatch, tmp_path, *, takes: int, faults: float, seed: int) -> dict:
    """Make `takes` takes through the real backend against its simulator under random faults, the way
    a careful client must: retry only transient errors, never re-send a create whose outcome is
    unknown (find it by listing where the provider can list; otherwise park it)."""
    import time

    from dreamcut.backends.base import JobState, OutcomeUnknown, ProviderError
    from dreamcut.backends.registry import load_backend
    from simulators.common import request

    sim = provider.start(faults=faults, seed=seed)
    sim.slow_seconds = 1.5
    sim.client_timeout = 1.0
    sim.inject("create", "accept_drop")  # the first create is accepted, billed and its answer lost, for sure
    try:
        for name, value in sim.env.items():
            monkeypatch.setenv(name, value)
        backend = load_backend(provider.spec)
        backend.min_poll_interval = 0.0
        caps = backend.capabilities()
        seconds = min(caps.durations) if caps.durations else max(caps.min_seconds, min(5.0, caps.max_seconds))

        def retry(fn, tries: int = 40):
            last = None
            for _ in range(tries):
                try:
                    return fn()
                except OutcomeUnknown:
                    raise
                except ProviderError as e:
                    if not e.transient:
                        raise
                    last = e
                    time.sleep(0.05)  # 40 tries outlast a `refused` outage (refuse_seconds)
            e = last
            raise AssertionError(f"a transient error did not clear in 40 tries: {e.code} {e.message}")

        outcome = {"made": [], "failed": [], "parked": []}
        for i in range(takes):
            req = request(prompt=f"take {i}: a corridor, a classroom, a football field", seed=i, seconds=seconds)
            job = None
            for _ in range(40):
                sent_at = time.time() - 1
                try:
                    job = retry(lambda: backend.submit(req, f"key{i}"))
                    break
                except OutcomeUnknown:
                    found = retry(lambda: backend.find_jobs(req, f"key{i}", sent_at))
                    if found is None:
                        break  # cannot list: parked, never re-sent
                    if found:
                        job = found[0].job_id
                        break
                    # listed and absent: the provider never created it, so sending again is safe
            if job is None:
                outcome["parked"].append(i)
                continue
            for _ in range(200):
                status = retry(lambda: backend.poll(job))
                if status.state.terminal:
                    break
            if status.state == JobState.COMPLETED:
                retry(lambda: backend.download(job, tmp_path / f"{i}.mp4"))
                outcome["made"].append(i)
            else:
                assert status.error_message, status
                outcome["failed"].append(i)
        sim.settle()
        outcome["books"] = sim.books()
        outcome["fired"] = [k for _, k in sim.faults_fired]
        return outcome
    finally:
        sim.stop()


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_the_real_backend_never_pays_twice_for_a_take_under_random_faults(name, monkeypatch, tmp_path):
    from collections import Counter

    out = _drive(PROVIDERS[name], monkeypatch, tmp_path, takes=8, faults=0.15, seed=10)
    per_take = Counter(j["prompt"] for j in out["books"]["jobs"])
    assert max(per_take.values()) == 1, per_take  # no take created (and billed) twice
    assert len(out["made"]) + len(out["failed"]) + len(out["parked"]) == 8 and len(out["made"]) >= 4
    assert per_take["take 0: a corridor, a classroom, a football field"] == 1  # the lost create, made once
    for i in out["made"]:
        assert (tmp_path / f"{i}.mp4").stat().st_size > 1000
