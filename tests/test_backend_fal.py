"""The fal backend through the official `fal-client` SDK against the simulator of fal's queue API."""

from __future__ import annotations

import base64

import pytest

from dreamcut.backends.base import CancelBilling, JobState, OutcomeUnknown, ProviderError, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators.common import dedupe, not_an_image, png, request, wait_refusing, walk
from simulators.fal import FalSim

KEY = "fal-key-id:fal-key-secret-0123456789"
VEO_FAST = "fal-ai/veo3/fast"
KLING = "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"


@pytest.fixture
def fal(monkeypatch):
    with FalSim(key=KEY) as server:
        monkeypatch.setenv("FAL_KEY", KEY)
        monkeypatch.setenv("DREAMCUT_FAL_BASE_URL", server.url)
        monkeypatch.setenv("DREAMCUT_HTTP_TIMEOUT", "0.5")
        server.slow_seconds = 1.0
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


def test_a_429_reaches_us_at_once_and_a_5xx_on_submit_is_an_unknown_outcome(fal):
    fal.fault("submit", 429, {"detail": "Too many requests"}, headers={"Retry-After": "11"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert type(e.value) is ProviderError and e.value.transient and e.value.retry_after == 11
    assert len(fal.calls("submit")) == 1 and not fal.jobs  # fal-client did not re-send it by itself
    fal.fault("submit", 503, {"detail": "Service unavailable"})
    with pytest.raises(OutcomeUnknown):  # the request may be queued behind that 503
        backend().submit(request(), "k")


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
    b.cancel(job)  # a running request only gets a signal: it runs on
    assert fal.calls("cancel") and b.poll(job).state == JobState.RUNNING


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


# -- money: a create is sent once, unknown outcomes, what fal bills ------------------------------------


@pytest.mark.parametrize("kind", ["accept_drop", "slow", "accept_5xx", "html"])
def test_a_submit_whose_answer_is_lost_is_sent_once_and_is_an_unknown_outcome(fal, kind):
    """fal-client re-sends a dropped or timed-out POST up to 10 times by itself: each one a paid request."""
    fal.inject("submit", kind)
    with pytest.raises(OutcomeUnknown):
        backend().submit(request(), "k")
    assert len(fal.calls("submit")) == 1 and fal.books()["jobs_created"] == 1


def test_a_refused_connection_is_transient_and_sends_nothing(fal):
    b = backend()
    job = b.submit(request(), "k1")
    fal.refuse_seconds = 60.0  # outlasts a slow client start on a loaded machine; the fixture's stop ends it
    fal.inject("status", "refused")
    b.poll(job)
    wait_refusing(fal)
    with pytest.raises(ProviderError) as e:
        backend().submit(request(seed=2), "k2")  # a new client: no pooled connection to reuse
    assert type(e.value) is ProviderError and e.value.transient and e.value.code == "network"
    assert fal.books()["jobs_created"] == 1


def test_html_while_polling_is_transient(fal):
    b = backend()
    job = b.submit(request(), "k")
    fal.inject("status", "html")
    with pytest.raises(ProviderError) as e:
        b.poll(job)
    assert e.value.transient and type(e.value) is ProviderError


def test_cancel_removes_a_queued_request_but_only_signals_a_running_one_and_the_ledger_matches(fal):
    b = backend()
    assert b.cancel_billing == CancelBilling.IMPOSSIBLE and b.find_jobs(request(), "k", 0.0) is None
    fal.plan("ok", "ok", "policy", "error")
    queued = b.submit(request(seed=1, seconds=8), "k1")
    b.cancel(queued)  # still IN_QUEUE: removed, nothing billed
    running = b.submit(request(seed=2, seconds=8), "k2")
    b.poll(running)
    assert b.poll(running).state == JobState.RUNNING
    b.cancel(running)  # IN_PROGRESS: a signal only; it completes and bills
    policy = b.submit(request(seed=3, seconds=8), "k3")
    error = b.submit(request(seed=4, seconds=8), "k4")
    charged = 0.0
    for job, seed in ((queued, 1), (running, 2), (policy, 3), (error, 4)):
        walk(b, job)
        charged += b.charged(request(seed=seed, seconds=8), b.poll(job))
    assert b.poll(queued).state == JobState.CANCELED and b.poll(running).state == JobState.COMPLETED
    books = fal.books()
    assert [j["billed_usd"] for j in books["jobs"]] == [0, pytest.approx(0.8), pytest.approx(0.8), 0]
    assert charged == pytest.approx(books["billed_usd"])  # the content-policy refusal is billed too
