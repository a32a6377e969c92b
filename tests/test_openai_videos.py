"""The openai-videos backend through the official SDK: against a real `dreamcut serve` subprocess, and
against the simulator of OpenAI's own /v1/videos API (no idempotency key, no cancel)."""

from __future__ import annotations

import time

import pytest

from dreamcut.backends.base import CancelBilling, GenerationRequest, JobState, OutcomeUnknown, ProviderError
from dreamcut.backends.openai_videos import OpenAIVideosBackend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators.common import wait_refusing
from simulators.openai_videos import OpenAISim

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def serve_args():
    return ("--backend", "testcard", "--latency", "0.4", "--workers", "4", "--poll-after-ms", "300",
            "--blocked-words", "forbidden", "--price", "0.02", "--fps", "12")


@pytest.fixture
def backend(serve, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", serve.api_key)
    monkeypatch.setenv("DREAMCUT_OPENAI_BASE_URL", serve.base_url)
    return OpenAIVideosBackend(model="sora-2")


def _request(**kw) -> GenerationRequest:
    base = dict(shot_id="a", prompt="a corridor into a classroom", seconds=4, width=1280, height=720, fps=12, seed=1)
    return GenerationRequest(**(base | kw))


def _wait(backend, job_id, polls: int = 400):
    """Poll until the job ends, as the server asks (openai-poll-after-ms); fail after `polls` polls."""
    for _ in range(polls):
        status = backend.poll(job_id)
        if status.state.terminal:
            return status
        assert status.poll_after is not None and 0 < status.poll_after <= 0.3  # from openai-poll-after-ms
        time.sleep(status.poll_after)
    pytest.fail(f"job {job_id} still {status.state} after {polls} polls")


def test_submit_poll_download_and_idempotency(backend, serve, tmp_path):
    before = serve.billing()["creates"]
    request = _request()
    job = backend.submit(request, "key-one")
    assert backend.submit(request, "key-one") == job  # a retried create is the same job, billed once
    assert serve.billing()["creates"] == before + 1
    assert _wait(backend, job).state == JobState.COMPLETED
    dest = tmp_path / "take.mp4"
    backend.download(job, dest)
    info = probe(dest)
    assert (info.video.width, info.video.height) == (1280, 720) and abs(info.duration - 4) < 0.2
    thumb = tmp_path / "thumb.webp"
    backend.download_variant(job, thumb, "thumbnail")
    assert thumb.read_bytes()[8:12] == b"WEBP"  # the spec documents the thumbnail as image/webp


def test_extend_and_remix(backend, tmp_path):
    first = backend.submit(_request(), "ext-0")
    assert _wait(backend, first).state == JobState.COMPLETED
    longer = backend.extend(first, _request(seconds=8, prompt="out onto the field"), "ext-1")
    assert _wait(backend, longer).state == JobState.COMPLETED
    backend.download(longer, tmp_path / "long.mp4")
    assert abs(probe(tmp_path / "long.mp4").duration - 12) < 0.3  # the provider stitched 4 + 8 s
    remix = backend.remix(first, "the same corridor, in winter", "remix-0")
    assert _wait(backend, remix).state == JobState.COMPLETED


def test_terminal_and_invalid_requests(backend):
    blocked = backend.submit(_request(prompt="something forbidden"), "blocked")
    status = _wait(backend, blocked)
    assert status.state == JobState.FAILED and status.error_code == "moderation_blocked" and status.error_message
    with pytest.raises(ProviderError) as e:
        backend.submit(_request(seconds=5), "bad-seconds")
    assert not e.value.transient and e.value.code == "invalid_value"
    with pytest.raises(ProviderError) as e:
        backend.poll("video_missing")
    assert not e.value.transient and e.value.code == "not_found"
    backend.cancel("video_missing")  # cancelling what is gone is fine


def test_capabilities_problems_and_prices(backend, serve, monkeypatch):
    caps = backend.capabilities()
    assert caps.durations == (4, 8, 12) and caps.extend and caps.price_per_second == 0.10 and "2025" in caps.price_source
    assert backend.price(_request(seconds=8)) == pytest.approx(0.8)
    pro = OpenAIVideosBackend(model="sora-2-pro")
    assert pro.price(_request(seconds=4, width=1792, height=1024)) == pytest.approx(2.0)
    assert any("not a length" in p for p in backend.problems(_request(seconds=6)))
    assert any("makes 720x1280" in p for p in backend.problems(_request(width=640, height=480)))
    served = OpenAIVideosBackend(model="testcard")  # the server's own model, described by its /v1/models
    caps = served.capabilities()
    assert caps.durations is None and caps.price_per_second == 0.02 and caps.max_seconds == 120
    with pytest.raises(BadInput, match="unknown model 'nope'"):
        OpenAIVideosBackend(model="nope").capabilities()
    monkeypatch.delenv("OPENAI_API_KEY")
    keyless = OpenAIVideosBackend(model="sora-2")
    assert "OPENAI_API_KEY is not set" in keyless.problems(_request())
    with pytest.raises(BadInput, match="OPENAI_API_KEY"):
        keyless.submit(_request(), "k")


def test_the_key_never_shows(serve, monkeypatch):
    secret = "sk-test-very-secret-123"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_BASE_URL", serve.base_url)
    backend = OpenAIVideosBackend(model="sora-2")
    assert secret not in repr(backend)
    with pytest.raises(ProviderError) as e:
        backend.submit(_request(), "k")
    assert e.value.code == "auth" and not e.value.transient and secret not in str(e.value)


def test_chaos_faults_are_transient_with_retry_after(start_serve, monkeypatch):
    s = start_serve("--backend", "testcard", "--chaos", "0.7", "--chaos-seed", "1")
    monkeypatch.setenv("OPENAI_API_KEY", s.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", s.base_url)
    backend = OpenAIVideosBackend(model="sora-2")
    for _ in range(30):  # learn, through the chaos, that this is dreamcut serve (it honours Idempotency-Key)
        if backend.honours_idempotency():
            break
    assert backend.honours_idempotency()
    codes, waits = set(), set()
    for i in range(60):
        try:
            backend.submit(_request(), "same-key")
        except ProviderError as e:
            assert e.transient, e.code
            codes.add(e.code)
            if e.retry_after is not None:
                waits.add(e.retry_after)
    assert {"rate_limit_exceeded", "server_error", "connection", "malformed"} <= codes
    assert waits == {0.2}  # retry-after-ms wins over Retry-After
    assert s.billing()["creates"] <= 1


def test_dreamcut_serve_honours_idempotency_and_cancels_unbilled(backend, serve):
    assert backend.honours_idempotency() and backend.cancel_billing == CancelBilling.REFUNDED
    before = serve.billing()
    job = backend.submit(_request(prompt="to be cancelled"), "cancel-me")
    backend.cancel(job)  # dreamcut serve's POST /videos/{id}/cancel stops a queued or running job, then DELETE
    backend.cancel(job)  # a second cancel (the first one's answer lost) finds it gone: nothing to do
    with pytest.raises(ProviderError) as e:
        backend.poll(job)
    assert e.value.code == "not_found"
    assert serve.billing()["billed_usd"] == before["billed_usd"]


def test_a_cancel_that_comes_after_the_video_completed_keeps_it(backend, serve, tmp_path):
    """A job given up just as it completed is billed: the cancel neither deletes nor refunds it, so
    the orchestrator can take it (the DELETE it used first removed a paid video)."""
    before = serve.billing()["billed_usd"]
    job = backend.submit(_request(prompt="finished before the cancel"), "late-cancel")
    assert _wait(backend, job).state == JobState.COMPLETED
    backend.cancel(job)
    assert backend.poll(job).state == JobState.COMPLETED
    backend.download(job, tmp_path / "kept.mp4")
    assert probe(tmp_path / "kept.mp4").video is not None
    assert serve.billing()["billed_usd"] == pytest.approx(before + 4 * 0.02)


# -- OpenAI's own API, as documented: retired, no idempotency key, no cancel ------------------------------


@pytest.fixture
def sim(monkeypatch):
    with OpenAISim(key="sk-sim-0123456789abcdef") as server:
        server.slow_seconds = 1.0
        for name, value in (server.env | {"DREAMCUT_HTTP_TIMEOUT": "0.5"}).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        yield server


def test_sora_on_api_openai_com_is_refused_naming_the_fix(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    for name in ("DREAMCUT_OPENAI_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for b in (OpenAIVideosBackend(model="sora-2"), OpenAIVideosBackend(model="sora-2-pro",
                                                                       base_url="https://api.openai.com/v1")):
        with pytest.raises(BadInput) as e:
            b.price(_request())
        assert "2026-09-24" in e.value.message and "DREAMCUT_OPENAI_BASE_URL" in e.value.line()
        with pytest.raises(BadInput):
            b.submit(_request(), "k")


@pytest.mark.parametrize("kind", ["accept_drop", "slow", "accept_5xx", "html"])
def test_a_lost_create_answer_is_an_unknown_outcome_where_the_server_has_no_idempotency(sim, kind):
    b = OpenAIVideosBackend(model="sora-2")
    assert not b.honours_idempotency()  # OpenAI's /v1/models: owned_by system
    sim.inject("create", kind)
    with pytest.raises(OutcomeUnknown):
        b.submit(_request(), "k")
    assert len(sim.calls("create")) == 1 and sim.books()["jobs_created"] == 1


def test_a_lost_create_is_found_again_by_prompt_in_the_video_list(sim):
    b = OpenAIVideosBackend(model="sora-2")
    b.submit(_request(prompt="another shot"), "k0")
    sent_at = time.time()
    sim.inject("create", "accept_drop")
    with pytest.raises(OutcomeUnknown):
        b.submit(_request(prompt="the lost one"), "k1")
    found = b.find_jobs(_request(prompt="the lost one"), "k1", sent_at)
    lost = [j for j in sim.books()["jobs"] if j["prompt"] == "the lost one"]
    assert [j.job_id for j in found] == [lost[0]["id"]] and found[0].prompt == "the lost one"


def test_a_refused_connection_is_transient_and_sends_nothing(sim):
    b = OpenAIVideosBackend(model="sora-2")
    job = b.submit(_request(), "k1")
    sim.refuse_seconds = 60.0  # outlasts a slow client start on a loaded machine; the fixture's stop ends it
    sim.inject("retrieve", "refused")
    b.poll(job)
    wait_refusing(sim)
    with pytest.raises(ProviderError) as e:
        OpenAIVideosBackend(model="sora-2").submit(_request(seed=2), "k2")  # a new client: no pooled connection
    assert type(e.value) is not OutcomeUnknown and e.value.transient
    assert sim.books()["jobs_created"] == 1


def test_delete_is_never_used_as_a_cancel_and_the_ledger_matches_the_bill(sim, tmp_path):
    b = OpenAIVideosBackend(model="sora-2")
    assert b.cancel_billing == CancelBilling.IMPOSSIBLE
    sim.plan("ok", "policy")
    jobs = [b.submit(_request(seconds=8), "k1"), b.submit(_request(seconds=8, prompt="blocked"), "k2")]
    with pytest.raises(ProviderError) as e:
        b.cancel(jobs[0])
    assert e.value.code == "cancel_unsupported" and not sim.calls("delete")
    charged = 0.0
    for job, prompt in zip(jobs, ("a corridor into a classroom", "blocked")):
        status = _wait(b, job)
        charged += b.charged(_request(seconds=8, prompt=prompt), status)
    assert [j["state"] for j in sim.books()["jobs"]] == ["completed", "failed"]
    assert charged == pytest.approx(sim.books()["billed_usd"]) == pytest.approx(0.80)
    b.download(jobs[0], tmp_path / "t.mp4")
    sim.clock.advance(3601)  # the assets expire: a take not downloaded in time is paid for and lost
    with pytest.raises(ProviderError) as e:
        b.download(jobs[0], tmp_path / "late.mp4")
    assert not e.value.transient
