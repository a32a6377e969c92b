"""The Runway backend through the official `runwayml` SDK against a local stand-in of the Runway API."""

from __future__ import annotations

import base64

import pytest

from dreamcut.backends.base import JobState, ProviderError, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators.common import dedupe, not_an_image, png, request, walk
from simulators.runway import RunwayStandIn

KEY = "rw-secret-key-0123456789abcdef"


@pytest.fixture
def runway(monkeypatch):
    with RunwayStandIn(key=KEY) as server:
        monkeypatch.setenv("RUNWAYML_API_SECRET", KEY)
        monkeypatch.setenv("DREAMCUT_RUNWAY_BASE_URL", server.url)
        yield server


def backend(model: str = "gen4.5"):
    b = load_backend(f"runway:{model}")
    b.min_poll_interval = 0.01
    return b


def test_text_to_video_goes_from_pending_to_a_probeable_take(runway, tmp_path):
    b = backend("gen4.5")
    job = b.submit(request(), "k1")
    states = dedupe(walk(b, job))
    # PENDING, THROTTLED -> queued; RUNNING -> running; SUCCEEDED -> completed
    assert states == [JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED]
    assert b.poll(job).cost_usd == pytest.approx(12 * 5 * 0.01)
    b.download(job, tmp_path / "take.mp4")
    info = probe(tmp_path / "take.mp4")
    assert info.video and info.video.width == 128 and info.duration > 1.5
    sent = runway.calls("create")[0]
    assert sent.path == "/v1/text_to_video"
    assert sent.header("X-Runway-Version") == "2024-11-06"
    assert sent.json() == {"model": "gen4.5", "promptText": request().prompt, "ratio": "1280:720",
                           "duration": 5, "seed": 7}


def test_run_to_file_and_throttled_is_polled_not_failed(runway, tmp_path):
    runway.throttled_polls = 3
    b = backend("gen4.5")
    run_to_file(b, request(), tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
    assert probe(tmp_path / "t.mp4").video.height == 72
    assert len(runway.calls("create")) == 1


def test_gen4_turbo_sends_the_reference_image_inline(runway, tmp_path):
    ref = png(tmp_path / "ref.png")
    b = backend("gen4_turbo")
    run_to_file(b, request(refs=(str(ref),), seconds=10), tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
    sent = runway.calls("create")[0]
    assert sent.path == "/v1/image_to_video"
    body = sent.json()
    assert body["duration"] == 10 and body["model"] == "gen4_turbo"
    prefix = "data:image/png;base64,"
    assert body["promptImage"].startswith(prefix)
    assert base64.b64decode(body["promptImage"][len(prefix):]) == ref.read_bytes()


def test_veo_models_get_first_and_last_frames_and_no_audio(runway, tmp_path):
    first, last = png(tmp_path / "a.png"), png(tmp_path / "b.png", (36, 64))
    b = backend("veo3.1_fast")
    job = b.submit(request(refs=(str(first), str(last)), seconds=6, negative_prompt="text"), "k")
    body = runway.calls("create")[0].json()
    assert [p["position"] for p in body["promptImage"]] == ["first", "last"]
    assert body["audio"] is False and body["negativePrompt"] == "text" and body["duration"] == 6
    assert walk(b, job)[-1] == JobState.COMPLETED


def test_rate_limit_on_create_is_transient_with_retry_after_and_not_retried_blindly(runway):
    runway.fault("create", 429, {"error": "Too many requests"}, headers={"Retry-After": "7"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient and e.value.retry_after == 7 and e.value.code == "rate_limited"
    assert len(runway.calls("create")) == 1  # the SDK did not silently pay twice


def test_server_error_on_create_is_transient(runway):
    runway.fault("create", 502, {"error": "Bad gateway"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient and e.value.code == "http_502"


def test_a_dropped_connection_is_transient(runway):
    runway.fault("create", 0, drop=True)
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient and e.value.code == "network"


def test_content_policy_failure_is_terminal_with_the_reason(runway, tmp_path):
    runway.plan("policy")
    b = backend()
    job = b.submit(request(), "k")
    states = walk(b, job)
    status = b.poll(job)
    assert states[-1] == JobState.FAILED and status.error_code == "content_policy"
    assert "SAFETY.INPUT.TEXT" in status.error_message and "moderation" in status.error_message
    runway.plan("policy")
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(seed=8), tmp_path / "x.mp4", poll_interval=0.01)
    assert e.value.code == "content_policy" and not e.value.transient


def test_invalid_request_is_terminal_with_the_providers_issues(runway):
    runway.fault("create", 400, {"error": "Validation of body failed",
                                 "issues": [{"path": ["promptText"], "message": "Too long"}]})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert not e.value.transient and e.value.code == "invalid_request" and "Too long" in e.value.message


def test_a_5xx_while_polling_is_absorbed_by_the_sdks_retry(runway):
    b = backend()
    job = b.submit(request(), "k")
    runway.fault("task", 500, {"error": "oops"})
    assert walk(b, job)[-1] == JobState.COMPLETED


def test_a_stuck_task_times_out_and_can_be_canceled(runway, tmp_path):
    runway.plan("stuck")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=0.3)
    assert e.value.code == "timeout" and e.value.transient
    job = list(runway.jobs)[0]
    b.cancel(job)
    assert runway.calls("delete") and b.poll(job).state == JobState.CANCELED


def test_missing_key_is_one_clear_line(runway, monkeypatch):
    monkeypatch.delenv("RUNWAYML_API_SECRET")
    with pytest.raises(BadInput) as e:
        backend().submit(request(), "k")
    assert "RUNWAYML_API_SECRET" in e.value.line() and "\n" not in e.value.line()
    assert not runway.received


def test_unknown_model_names_the_allowed_ones():
    with pytest.raises(BadInput) as e:
        load_backend("runway:gen9_ultra")
    assert "gen4_turbo" in e.value.message and "gen4.5" in e.value.message


def test_unsupported_duration_size_and_refs_are_problems_before_money(runway, tmp_path):
    b = backend("gen4_turbo")
    assert any("30 s" in p for p in b.problems(request(seconds=30, refs=(str(png(tmp_path / "r.png")),))))
    assert any("image" in p for p in b.problems(request()))  # gen4_turbo needs an image
    assert any("aspect" in p for p in backend("gen4.5").problems(request(width=1024, height=768)))
    with pytest.raises(BadInput):
        b.submit(request(seconds=30), "k")
    with pytest.raises(BadInput) as e:
        b.submit(request(refs=(str(not_an_image(tmp_path / "shots.png")),)), "k")
    assert "not an image" in e.value.message
    assert not runway.calls("create")


def test_preview_asks_for_the_cheapest_setting(runway):
    b = backend("gen4_turbo")
    req = request(preview=True, seconds=10, refs=())
    assert b.price(req) == pytest.approx(5 * 5 * 0.01)  # 5 s at 5 credits/s
    assert backend("gen4.5").build(request(preview=True))["duration"] == 2


def test_no_key_in_any_error_text(runway):
    # A provider that echoes the request headers back in its error body.
    runway.fault("create", 400, {"error": f"bad header Authorization: Bearer {KEY}"})
    runway.fault("create", 500, {"error": f"token={KEY}"})
    messages = []
    for _ in range(2):
        with pytest.raises(ProviderError) as e:
            backend().submit(request(), "k")
        messages.append(str(e.value) + e.value.message)
    assert all(KEY not in m for m in messages), messages
