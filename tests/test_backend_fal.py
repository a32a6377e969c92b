"""The fal backend through the official `fal-client` SDK against a local stand-in of fal's queue API."""

from __future__ import annotations

import base64

import pytest

from dreamcut.backends.base import JobState, ProviderError, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators.common import dedupe, not_an_image, png, request, walk
from simulators.fal import FalStandIn

KEY = "fal-key-id:fal-key-secret-0123456789"
VEO_FAST = "fal-ai/veo3/fast"
KLING = "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"


@pytest.fixture
def fal(monkeypatch):
    with FalStandIn(key=KEY) as server:
        monkeypatch.setenv("FAL_KEY", KEY)
        monkeypatch.setenv("DREAMCUT_FAL_BASE_URL", server.url)
        yield server


def backend(model: str = VEO_FAST):
    b = load_backend(f"fal:{model}")
    b.min_poll_interval = 0.01
    return b


def test_in_queue_in_progress_completed_then_a_probeable_take(fal, tmp_path):
    b = backend()
    job = b.submit(request(seconds=8), "k")
    assert dedupe(walk(b, job)) == [JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED]
    b.download(job, tmp_path / "t.mp4")
    assert probe(tmp_path / "t.mp4").video.width == 128
    sent = fal.calls("submit")[0]
    assert sent.path == "/fal-ai/veo3/fast" and sent.header("Authorization") == f"Key {KEY}"
    assert sent.json() == {"prompt": request().prompt, "duration": "8s", "aspect_ratio": "16:9",
                           "resolution": "720p", "seed": 7, "generate_audio": False, "enhance_prompt": False}
    assert fal.calls("status")[0].query.get("logs") == ["true"]


def test_an_image_goes_to_the_image_to_video_app_as_a_data_uri(fal, tmp_path):
    ref = png(tmp_path / "first.png")
    run_to_file(backend(KLING), request(refs=(str(ref),), seconds=10, width=1920, height=1080), tmp_path / "t.mp4",
                poll_interval=0.01, timeout=10)
    sent = fal.calls("submit")[0]
    assert sent.path == "/fal-ai/kling-video/v2.5-turbo/pro/image-to-video"
    args = sent.json()
    assert args["duration"] == "10" and args["aspect_ratio"] == "16:9"
    assert base64.b64decode(args["image_url"].split(",", 1)[1]) == ref.read_bytes()
    # status and result live under owner/alias for every path of an app
    assert fal.calls("status")[0].path.startswith("/fal-ai/kling-video/requests/")


def test_one_429_is_retried_inside_the_sdk_and_a_5xx_is_transient_with_retry_after(fal):
    fal.fault("submit", 429, {"detail": "Too many requests"})
    job = backend().submit(request(), "k")
    assert job and len(fal.jobs) == 1  # the refused attempt created nothing
    fal.fault("submit", 503, {"detail": "Service unavailable"}, headers={"Retry-After": "11"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient and e.value.retry_after == 11 and e.value.code == "http_503"


def test_a_rejected_argument_is_terminal_with_fals_detail(fal):
    fal.fault("submit", 422, {"detail": [{"loc": ["body", "duration"], "msg": "bad duration", "type": "enum"}]})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert not e.value.transient and e.value.code == "invalid_request" and "bad duration" in e.value.message


def test_content_policy_and_errors_after_completion_are_failures(fal, tmp_path):
    fal.plan("policy", "error")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=10)
    assert e.value.code == "content_policy" and "content checker" in e.value.message
    job = b.submit(request(seed=3), "k")
    walk(b, job)
    status = b.poll(job)
    assert status.state == JobState.FAILED and status.error_code == "internal_server_error"


def test_stuck_request_times_out_and_cancels(fal, tmp_path):
    fal.plan("stuck")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=0.3)
    assert e.value.code == "timeout"
    job = list(fal.jobs)[0]
    b.cancel(job)
    assert fal.calls("cancel") and b.poll(job).state == JobState.CANCELED


def test_bad_input_is_caught_before_money(fal, monkeypatch, tmp_path):
    with pytest.raises(BadInput) as e:
        load_backend("fal:fal-ai/some-image-model")
    assert VEO_FAST in e.value.message
    b = backend()
    assert any("12 s" in p for p in b.problems(request(seconds=12)))
    assert any("aspect" in p for p in b.problems(request(width=1024, height=1024)))
    with pytest.raises(BadInput) as e:
        b.submit(request(refs=(str(not_an_image(tmp_path / "r.webp")),)), "k")
    assert "not an image" in e.value.message
    monkeypatch.delenv("FAL_KEY")
    with pytest.raises(BadInput) as e:
        backend().submit(request(), "k")
    assert "FAL_KEY" in e.value.line() and "\n" not in e.value.line()
    assert not fal.calls("submit")


def test_preview_is_the_shortest_smallest_setting(fal):
    b = backend("fal-ai/veo3")
    app, args = b.build(request(preview=True, width=1920, height=1080, seconds=8))
    assert args["duration"] == "4s" and args["resolution"] == "720p"
    assert b.price(request(preview=True)) == pytest.approx(0.20 * 4)


def test_no_key_in_error_text(fal):
    fal.fault("submit", 400, {"detail": f"Authorization: Key {KEY} is malformed"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert KEY not in str(e.value) and "fal-key-secret" not in e.value.message
