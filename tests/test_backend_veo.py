"""The Veo backend through the official `google-genai` SDK against the simulator of Vertex AI's Veo API."""

from __future__ import annotations

import base64

import pytest

from dreamcut.backends.base import CancelBilling, JobState, OutcomeUnknown, ProviderError, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators.common import dedupe, not_an_image, png, request, wait_refusing, walk
from simulators.veo import VeoSim, clip, google_error

KEY = "AIzaSy-veo-secret-0123456789abcdef"
FAST = "veo-3.1-fast-generate-001"


@pytest.fixture
def veo(monkeypatch):
    with VeoSim(key=KEY) as server:
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        monkeypatch.setenv("DREAMCUT_VEO_BASE_URL", server.url)
        monkeypatch.setenv("DREAMCUT_HTTP_TIMEOUT", "0.5")
        server.slow_seconds = 1.0
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
    assert job == list(veo.jobs)[0] and job.startswith("projects/") and "/operations/" in job
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
    assert base64.b64decode(body["instances"][0]["video"]["bytesBase64Encoded"]) == clip(6)  # the 5 s wish was made as 6 s
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


def test_server_errors_on_a_create_are_unknown_outcomes_and_bad_arguments_terminal(veo):
    veo.fault("create", 503, google_error(503, "UNAVAILABLE", "The service is currently unavailable."))
    with pytest.raises(OutcomeUnknown) as e:  # a 5xx may come after Google accepted the job
        backend().submit(request(), "k")
    assert not e.value.transient and "reconcile" in e.value.message
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


# -- money: unknown outcomes, refused connections, billing --------------------------------------------


def test_a_dropped_answer_after_google_accepted_is_an_unknown_outcome_never_resent(veo):
    veo.inject("create", "accept_drop")
    with pytest.raises(OutcomeUnknown):
        backend().submit(request(), "k")
    assert len(veo.calls("create")) == 1 and veo.books()["jobs_created"] == 1
    veo.settle()
    assert veo.books()["billed_usd"] == pytest.approx(0.10 * 6)  # Google finished and billed it anyway


def test_timeouts_5xx_after_accept_and_html_answers_to_a_create_are_unknown_outcomes(veo):
    for kind in ("slow", "accept_5xx", "html"):
        veo.inject("create", kind)
        with pytest.raises(OutcomeUnknown):
            backend().submit(request(), "k")
    assert veo.books()["jobs_created"] == 3 and len(veo.calls("create")) == 3


def test_a_refused_connection_is_transient_and_sends_nothing(veo):
    """google-genai 3.6 raises httpx2.ConnectError, which is not an httpx error: it must not fail the job."""
    b = backend()
    job = b.submit(request(), "k1")
    veo.refuse_seconds = 60.0  # outlasts a slow client start on a loaded machine; the fixture's stop ends it
    veo.inject("fetch", "refused")
    assert b.poll(job).state == JobState.RUNNING  # the poll that trips the outage is answered
    wait_refusing(veo)
    with pytest.raises(ProviderError) as e:
        backend().submit(request(seed=2), "k2")  # a new client: no pooled connection to reuse
    assert type(e.value) is ProviderError and e.value.transient and e.value.code == "network"
    assert veo.books()["jobs_created"] == 1


def test_html_and_dropped_answers_while_polling_are_transient(veo):
    b = backend()
    job = b.submit(request(), "k")
    veo.inject("fetch", "html")
    veo.inject("fetch", "drop")
    for _ in range(2):
        with pytest.raises(ProviderError) as e:
            b.poll(job)
        assert e.value.transient and type(e.value) is ProviderError
    assert walk(b, job)[-1] == JobState.COMPLETED


def test_rate_limits_create_nothing_and_wait_as_google_says(veo):
    veo.inject("create", "rate_limit")
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert type(e.value) is ProviderError and e.value.transient and e.value.retry_after == 1
    assert veo.books()["jobs_created"] == 0


def test_what_the_ledger_charges_is_what_google_bills(veo):
    b = backend()
    assert b.cancel_billing == CancelBilling.IMPOSSIBLE  # no cancel: a job given up on is still billed
    assert b.find_jobs(request(), "k", 0.0) is None  # google-genai cannot list video operations
    veo.plan("ok", "policy", "error")
    charged = 0.0
    for seed in range(3):
        r = request(seed=seed, seconds=8)
        job = b.submit(r, f"k{seed}")
        walk(b, job)
        charged += b.charged(r, b.poll(job))
    veo.settle()
    assert charged == pytest.approx(veo.books()["billed_usd"]) == pytest.approx(0.10 * 8)


def test_a_long_take_is_planned_priced_and_made_in_7_s_extension_steps(veo, tmp_path):
    b = backend()
    r = request(seconds=12)
    assert b.segment_plan(12) == [6.0, 7.0]  # not 8 + 4: every extension is 7 s
    assert b.made_seconds(r) == 13 and b.price(r) == pytest.approx(0.10 * 13)
    assert "13 s" in b.take_notes(r)[0]
    first = b.submit(request(seconds=6), "k0")
    walk(b, first)
    second = b.extend(first, request(seconds=7), "k1")
    walk(b, second)
    b.download(second, tmp_path / "take.mp4")
    assert abs(probe(tmp_path / "take.mp4").duration - 13) < 0.2  # the extension holds the whole take
    assert b.price(request(seconds=6)) + b.extend_price(request(seconds=7)) == pytest.approx(b.price(r))
    veo.settle()
    assert veo.books()["billed_usd"] == pytest.approx(b.price(r))
    assert [p for p in b.problems(request(seconds=36)) if "extending" in p] == []
    assert any("at most 36 s" in p for p in b.problems(request(seconds=37)))


def test_extensions_are_720p_and_start_from_at_most_30_s(veo):
    b = backend()
    assert any("720p only" in p for p in b.problems(request(seconds=12, width=1920, height=1080)))
    assert not any("720p" in p for p in b.problems(request(seconds=8, width=1920, height=1080)))
    job = b.submit(request(seconds=8), "k0")
    for i in range(4):  # 8 -> 15 -> 22 -> 29 -> 36 s
        walk(b, job)
        job = b.extend(job, request(seconds=7), f"k{i + 1}")
    walk(b, job)
    with pytest.raises(ProviderError) as e:
        b.extend(job, request(seconds=7), "k5")
    assert e.value.code == "extend_input_too_long" and "36.0 s" in e.value.message
    assert len(veo.calls("create")) == 5  # the sixth was refused here, before any money


def test_many_threads_starting_at_once_share_one_open_client(veo, monkeypatch):
    """google-genai's Client.__del__ closes its transport: a second Client made by a racing thread and
    dropped used to fail that thread's job for good ("the client has been closed") while Google billed it."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("DREAMCUT_HTTP_TIMEOUT", "20")  # a loaded machine is slow to connect 8 at once
    b = backend()
    with ThreadPoolExecutor(8) as pool:
        jobs = list(pool.map(lambda i: b.submit(request(seed=i), f"k{i}"), range(16)))
    assert len(set(jobs)) == 16 and veo.books()["jobs_created"] == 16
    assert all(b.poll(job).state in (JobState.RUNNING, JobState.COMPLETED) for job in jobs)
