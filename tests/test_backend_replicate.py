"""The Replicate backend through the official `replicate` SDK against a local stand-in of Replicate's API."""

from __future__ import annotations

import pytest

from dreamcut.backends.base import JobState, ProviderError, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators.common import dedupe, not_an_image, png, request, walk
from simulators.replicate import ReplicateStandIn

KEY = "r8_secret_0123456789abcdefABCDEF"


@pytest.fixture
def rep(monkeypatch):
    with ReplicateStandIn(key=KEY) as server:
        monkeypatch.setenv("REPLICATE_API_TOKEN", KEY)
        monkeypatch.setenv("DREAMCUT_REPLICATE_BASE_URL", server.url)
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


def test_server_error_is_transient_and_invalid_input_terminal(rep):
    rep.fault("create", 500, {"title": "Internal Server Error", "status": 500})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient
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


def test_stuck_prediction_times_out_and_cancels(rep, tmp_path):
    rep.plan("stuck")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=0.3)
    assert e.value.code == "timeout"
    job = list(rep.jobs)[0]
    b.cancel(job)
    assert rep.calls("cancel") and b.poll(job).state == JobState.CANCELED


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
