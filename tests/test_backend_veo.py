"""The Veo backend through the official `google-genai` SDK against a local stand-in of Vertex AI's Veo API."""

from __future__ import annotations

import base64

import pytest

from dreamcut.backends.base import JobState, ProviderError, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators._http import tiny_mp4
from simulators.common import dedupe, not_an_image, png, request, walk
from simulators.veo import VeoStandIn, google_error

KEY = "AIzaSy-veo-secret-0123456789abcdef"
FAST = "veo-3.1-fast-generate-001"


@pytest.fixture
def veo(monkeypatch):
    with VeoStandIn(key=KEY) as server:
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        monkeypatch.setenv("DREAMCUT_VEO_BASE_URL", server.url)
        for name in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GENAI_USE_VERTEXAI"):
            monkeypatch.delenv(name, raising=False)
        yield server


def backend(model: str = FAST):
    b = load_backend(f"veo:{model}")
    b.min_poll_interval = 0.01
    return b


def test_operation_runs_to_a_probeable_take(veo, tmp_path):
    b = backend()
    job = b.submit(request(seconds=8, negative_prompt="captions"), "k")
    assert job.endswith("/operations/" + list(veo.jobs)[0]) and job.startswith("projects/")
    assert dedupe(walk(b, job)) == [JobState.RUNNING, JobState.COMPLETED]
    b.download(job, tmp_path / "t.mp4")
    assert probe(tmp_path / "t.mp4").video.width == 128
    sent = veo.calls("create")[0]
    assert sent.path == f"/v1beta1/publishers/google/models/{FAST}:predictLongRunning"
    assert sent.header("x-goog-api-key") == KEY
    assert sent.json() == {"instances": [{"prompt": request().prompt}], "parameters": {
        "sampleCount": 1, "durationSeconds": 8, "seed": 7, "aspectRatio": "16:9", "resolution": "720p",
        "negativePrompt": "captions", "generateAudio": False}}
    assert veo.calls("fetch")[0].json() == {"operationName": job}


def test_first_and_last_frame_images_are_sent_inline(veo, tmp_path):
    first, last = png(tmp_path / "a.png"), png(tmp_path / "b.png", (36, 64))
    run_to_file(backend(), request(refs=(str(first), str(last)), seconds=4), tmp_path / "t.mp4",
                poll_interval=0.01, timeout=10)
    instance = veo.calls("create")[0].json()["instances"][0]
    assert base64.b64decode(instance["image"]["bytesBase64Encoded"]) == first.read_bytes()
    assert instance["image"]["mimeType"] == "image/png"
    assert base64.b64decode(instance["lastFrame"]["bytesBase64Encoded"]) == last.read_bytes()


def test_extend_sends_the_previous_take_as_the_source_video(veo, tmp_path):
    b = backend()
    assert b.capabilities().extend and not backend("veo-3.0-generate-001").capabilities().extend
    first = b.submit(request(), "k1")
    walk(b, first)
    second = b.extend(first, request(prompt="out onto the football field", seconds=7), "k2")
    assert walk(b, second)[-1] == JobState.COMPLETED
    body = veo.calls("create")[1].json()
    assert base64.b64decode(body["instances"][0]["video"]["bytesBase64Encoded"]) == tiny_mp4()
    assert body["parameters"]["durationSeconds"] == 7 and "image" not in body["instances"][0]


def test_quota_errors_are_transient_and_honour_retry_info_or_retry_after(veo):
    veo.fault("create", 429, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for veo requests", [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]))
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient and e.value.retry_after == 17 and e.value.code == "rate_limited"
    veo.fault("create", 429, google_error(429, "RESOURCE_EXHAUSTED", "slow down"), headers={"Retry-After": "3"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.retry_after == 3
    assert len(veo.calls("create")) == 2 and not veo.jobs


def test_server_errors_are_transient_and_bad_arguments_terminal(veo):
    veo.fault("create", 503, google_error(503, "UNAVAILABLE", "The service is currently unavailable."))
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient and e.value.code == "http_503"
    veo.fault("fetch", 500, google_error(500, "INTERNAL", "oops"))
    job = backend().submit(request(), "k")
    with pytest.raises(ProviderError) as e:
        backend().poll(job)
    assert e.value.transient
    veo.fault("create", 400, google_error(400, "INVALID_ARGUMENT", "Unsupported aspect ratio"))
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert not e.value.transient and e.value.code == "invalid_request" and "aspect" in e.value.message


def test_safety_filter_and_failed_operations_are_terminal_with_reasons(veo, tmp_path):
    veo.plan("policy", "error")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=10)
    assert e.value.code == "content_policy" and "usage guidelines" in e.value.message
    job = b.submit(request(seed=2), "k")
    walk(b, job)
    status = b.poll(job)
    assert status.state == JobState.FAILED and status.error_code == "google_13" and "Internal" in status.error_message


def test_stuck_operation_times_out_and_cancel_is_unsupported(veo, tmp_path):
    veo.plan("stuck")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=0.3)
    assert e.value.code == "timeout"
    with pytest.raises(ProviderError) as e:
        b.cancel("projects/x/operations/y")
    assert e.value.code == "cancel_unsupported"


def test_bad_input_is_caught_before_money(veo, monkeypatch, tmp_path):
    with pytest.raises(BadInput) as e:
        load_backend("veo:veo-9")
    assert FAST in e.value.message and "veo-2.0-generate-001" in e.value.message
    b = backend()
    assert any("12 s" in p for p in b.problems(request(seconds=12)))
    assert any("aspect" in p for p in b.problems(request(width=1024, height=1024)))
    assert any("http" in p for p in b.problems(request(refs=("https://example.com/a.png",))))
    with pytest.raises(BadInput) as e:
        b.submit(request(refs=(str(not_an_image(tmp_path / "a.jpg")),)), "k")
    assert "not an image" in e.value.message
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(BadInput) as e:
        backend().submit(request(), "k")
    assert "GOOGLE_API_KEY" in e.value.line() and "GEMINI_API_KEY" in e.value.line()
    assert not veo.calls("create")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    assert backend().submit(request(), "k")


def test_preview_is_the_shortest_smallest_setting(veo):
    b = backend("veo-3.1-generate-001")
    params = b.build(request(preview=True, width=1920, height=1080))["config"]
    assert params.duration_seconds == 4 and params.resolution == "720p"
    assert b.price(request(preview=True)) == pytest.approx(0.20 * 4)
    assert backend("veo-2.0-generate-001").build(request(seconds=5))["config"].generate_audio is None


def test_no_key_in_error_text(veo):
    veo.fault("create", 400, google_error(400, "INVALID_ARGUMENT", f"bad key={KEY}"))
    veo.fault("create", 403, google_error(403, "PERMISSION_DENIED", f"key {KEY} has no access"))
    for _ in range(2):
        with pytest.raises(ProviderError) as e:
            backend().submit(request(), "k")
        assert KEY not in str(e.value) and KEY not in e.value.message
