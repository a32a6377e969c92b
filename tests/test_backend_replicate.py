"""The Replicate backend through the official `replicate` SDK against the Replicate API simulator."""

from __future__ import annotations

import pytest

import time

from dreamcut.backends.base import CancelBilling, JobState, OutcomeUnknown, ProviderError, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators.common import dedupe, not_an_image, png, request, wait_refusing, walk
from simulators.replicate import ReplicateSim

KEY = "r8_secret_0123456789abcdefABCDEF"


@pytest.fixture
def rep(monkeypatch):
    with ReplicateSim(key=KEY) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        yield server


def backend(model: str = "bytedance/seedance-1-lite"):
    b = load_backend(f"replicate:{model}")
    b.min_poll_interval = 0.01
    return b


def test_starting_processing_succeeded_then_a_probeable_take(rep, tmp_path):
    b = backend()
    job = b.submit(request(), "k")
    assert dedupe(walk(b, job)) == [JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED]
    b.download(job, tmp_path / "t.mp4")
    assert probe(tmp_path / "t.mp4").video.width == 128
    sent = rep.calls("create")[0]
    assert sent.path == "/v1/models/bytedance/seedance-1-lite/predictions"
    assert sent.json()["input"] == {"prompt": request().prompt, "duration": 5, "resolution": "720p",
                                    "aspect_ratio": "16:9", "fps": 24, "seed": 7}


def test_progress_comes_from_the_models_progress_bar(rep):
    b = backend()
    job = b.submit(request(), "k")
    statuses = [b.poll(job) for _ in range(3)]
    running = [s for s in statuses if s.state == JobState.RUNNING]
    assert running and running[0].progress == pytest.approx(0.4)


def test_a_pinned_version_uses_the_predictions_endpoint(rep, tmp_path):
    b = backend("minimax/hailuo-02:5e1fd8ab")
    run_to_file(b, request(width=1366, height=768, seconds=6), tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
    sent = rep.calls("create")[0]
    assert sent.path == "/v1/predictions" and sent.json()["version"] == "5e1fd8ab"
    assert sent.json()["input"]["resolution"] == "768p"


def test_reference_images_are_uploaded_through_the_files_api(rep, tmp_path):
    ref = png(tmp_path / "start.png")
    b = backend("kwaivgi/kling-v2.1")
    run_to_file(b, request(refs=(str(ref),), seconds=10), tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
    (file_id, (name, data)), = rep.uploads.items()
    assert data == ref.read_bytes() and name == "start.png"
    inputs = rep.calls("create")[0].json()["input"]
    assert inputs["start_image"] == f"{rep.url}/v1/files/{file_id}" and inputs["mode"] == "standard"
    assert inputs["duration"] == 10


def test_throttled_create_is_transient_with_retry_after_and_sent_once(rep):
    rep.fault("create", 429, {"title": "Request was throttled", "status": 429,
                              "detail": "Request was throttled. Expected available in 9 seconds."})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient and e.value.retry_after == 9 and e.value.code == "rate_limited"
    rep.fault("create", 429, {"detail": "slow down", "status": 429}, headers={"Retry-After": "4"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.retry_after == 4
    assert len(rep.calls("create")) == 2  # the SDK never retries a POST


def test_server_error_on_create_is_outcome_unknown_and_invalid_input_terminal(rep):
    rep.fault("create", 500, {"title": "Internal Server Error", "status": 500})
    with pytest.raises(OutcomeUnknown):
        backend().submit(request(), "k")
    rep.fault("create", 422, {"title": "Input validation failed", "status": 422,
                              "detail": "- input.duration: duration must be one of the following: 5, 10"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert not e.value.transient and e.value.code == "invalid_request" and "duration" in e.value.message


def test_a_throttled_poll_is_absorbed_by_the_sdks_retry(rep):
    b = backend()
    job = b.submit(request(), "k")
    rep.fault("get", 429, {"detail": "throttled", "status": 429}, headers={"Retry-After": "0"})
    assert walk(b, job)[-1] == JobState.COMPLETED


def test_flagged_output_is_a_terminal_content_policy_failure(rep, tmp_path):
    rep.plan("policy", "error")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=10)
    assert e.value.code == "content_policy" and "E005" in e.value.message
    job = b.submit(request(seed=1), "k")
    walk(b, job)
    status = b.poll(job)
    assert status.error_code == "failed" and "out of memory" in status.error_message


def test_stuck_prediction_times_out_and_a_cancel_is_billed(rep, tmp_path):
    rep.plan("stuck")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=0.3)
    assert e.value.code == "timeout"
    job = list(rep.jobs)[0]
    b.cancel(job)
    status = b.poll(job)
    assert rep.calls("cancel") and status.state == JobState.CANCELED and b.cancel_billing == CancelBilling.BILLED
    assert b.charged(request(), status) == pytest.approx(rep.books()["billed_usd"]) == pytest.approx(0.18)


def test_an_aborted_prediction_is_read_and_not_billed(rep):
    b = backend()
    job = b.submit(request(), "k")
    rep.jobs[job].extra["deadline"] = rep.clock.now()  # as if sent with Cancel-After and never started
    status = b.poll(job)  # replicate 1.0.7's Prediction model would refuse the "aborted" status
    assert status.state == JobState.CANCELED and status.error_code == "aborted"
    assert rep.books()["jobs"][0]["state"] == "aborted"
    assert b.charged(request(), status) == rep.books()["billed_usd"] == 0


def test_aspect_ratio_is_the_nearest_allowed_value_not_the_raw_size(rep):
    from dreamcut.backends.replicate import nearest_aspect

    assert nearest_aspect(1366, 768) == "16:9" and nearest_aspect(1248, 704) == "16:9"
    assert nearest_aspect(704, 1248) == "9:16" and nearest_aspect(704, 704) == "1:1"
    assert nearest_aspect(2560, 1080) == "21:9" and nearest_aspect(1024, 768) == "4:3"
    b = backend()
    job = b.submit(request(width=1248, height=704), "k")  # 1248x704 reduces to 39:22
    assert rep.calls("create")[-1].json()["input"]["aspect_ratio"] == "16:9" and walk(b, job)[-1] == JobState.COMPLETED


def test_an_output_not_fetched_within_the_hour_is_a_billed_failure_with_its_reason(rep, tmp_path):
    b = backend()
    job = b.submit(request(), "k")
    status = JobState.QUEUED
    for _ in range(10):
        status = b.poll(job).state
        if status.terminal:
            break
    assert status == JobState.COMPLETED
    rep.clock.advance(3601)  # Replicate deletes API outputs after an hour
    with pytest.raises(ProviderError) as e:
        b.download(job, tmp_path / "late.mp4")
    assert e.value.code == "output_expired" and not e.value.transient and "paid for and is lost" in e.value.message
    assert not (tmp_path / "late.mp4").exists()
    assert rep.books()["billed_usd"] == pytest.approx(0.18) == b.charged(request(), b.poll(job))


@pytest.mark.parametrize("kind", ["accept_drop", "accept_5xx", "html", "slow"])
def test_a_lost_create_is_outcome_unknown_and_found_again_by_listing(rep, kind, monkeypatch):
    rep.client_timeout = 0.5
    rep.slow_seconds = 1.0
    monkeypatch.setenv("DREAMCUT_HTTP_TIMEOUT", rep.env["DREAMCUT_HTTP_TIMEOUT"])
    rep.inject("create", kind)
    b = backend()
    since = time.time() - 1
    with pytest.raises(OutcomeUnknown):
        b.submit(request(), "k")
    assert len(rep.calls("create")) == 1
    b.submit(request(seed=8), "k2")  # another take: a different input, must not match
    found = b.find_jobs(request(), "k", since)
    assert [j.job_id for j in found] == [list(rep.jobs)[0]]
    assert b.find_jobs(request(), "k", time.time() + 60) == []


def test_a_refused_connection_or_throttle_on_create_is_transient_and_creates_nothing(rep):
    rep.refuse_seconds = 60.0  # outlasts a slow client start on a loaded machine; reopened below
    rep.inject("create", "refused")
    backend().submit(request(seed=1), "first")
    wait_refusing(rep)
    with pytest.raises(ProviderError) as e:
        backend().submit(request(seed=2), "second")
    assert e.value.transient and not isinstance(e.value, OutcomeUnknown) and e.value.code == "network"
    rep.reopen()
    rep.inject("create", "rate_limit")
    with pytest.raises(ProviderError) as e:
        backend().submit(request(seed=3), "third")
    assert e.value.code == "rate_limited" and e.value.retry_after == 1
    assert rep.books()["jobs_created"] == 1


def test_bad_input_is_caught_before_money(rep, monkeypatch, tmp_path):
    with pytest.raises(BadInput) as e:
        load_backend("replicate:someone/video-model")
    assert "bytedance/seedance-1-lite" in e.value.message
    assert any("image" in p for p in backend("kwaivgi/kling-v2.1").problems(request()))
    assert any("12 s" in p for p in backend().problems(request(seconds=12)))
    assert any("1080p only 6 s" in p for p in backend("minimax/hailuo-02").problems(
        request(width=1920, height=1080, seconds=10)))
    with pytest.raises(BadInput) as e:
        backend().submit(request(refs=(str(not_an_image(tmp_path / "a.png")),)), "k")
    assert "not an image" in e.value.message
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    with pytest.raises(BadInput) as e:
        backend().submit(request(), "k")
    assert "REPLICATE_API_TOKEN" in e.value.line() and "\n" not in e.value.line()
    assert not rep.calls("create") and not rep.uploads


def test_preview_is_the_cheapest_tier_and_length(rep):
    b = backend()
    assert b.build(request(preview=True, seconds=10))["resolution"] == "480p"
    assert b.price(request(preview=True, seconds=10)) == pytest.approx(0.018 * 5)
    assert b.price(request(seconds=10)) == pytest.approx(0.036 * 10)


def test_no_key_in_error_text(rep):
    rep.fault("create", 400, {"title": "Bad", "status": 400, "detail": f"Authorization: Bearer {KEY}"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert KEY not in str(e.value) and KEY not in e.value.message


def test_find_jobs_follows_the_cursor_past_the_first_page(rep):
    b = backend()
    since = time.time() - 1
    target = b.submit(request(), "k")
    for i in range(120):  # newer predictions of other takes push ours onto the second page
        rep.new_job({"model": "bytedance/seedance-1-lite", "input": {"prompt": f"other {i}", "duration": 5,
                                                                     "resolution": "720p"}})
    assert [j.job_id for j in b.find_jobs(request(), "k", since)] == [target]
    assert len(rep.calls("list")) == 2
