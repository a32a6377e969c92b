"""The Runway backend through the official `runwayml` SDK against the Runway API simulator."""

from __future__ import annotations

import base64

import pytest

from dreamcut.backends.base import CancelBilling, JobState, OutcomeUnknown, ProviderError, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators.common import dedupe, not_an_image, png, request, wait_refusing, walk
from simulators.runway import RunwaySim

KEY = "rw-secret-key-0123456789abcdef"


@pytest.fixture
def runway(monkeypatch):
    with RunwaySim(key=KEY) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
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


@pytest.mark.parametrize("kind", ["accept_drop", "accept_5xx", "html", "slow"])
def test_a_create_whose_answer_is_lost_is_outcome_unknown_and_sent_once(runway, kind):
    runway.slow_seconds = float(runway.env["DREAMCUT_HTTP_TIMEOUT"]) + 1
    runway.inject("create", kind)
    with pytest.raises(OutcomeUnknown) as e:
        backend().submit(request(), "k")
    assert not e.value.transient and "reconcile" in e.value.message
    assert len(runway.calls("create")) == 1  # never re-sent: Runway has no idempotency key
    runway.settle()
    books = runway.books()
    assert books["jobs_created"] == 1 and books["billed_usd"] == pytest.approx(0.60)  # made and billed


@pytest.mark.parametrize("kind", ["refused", "rate_limit", "5xx"])
def test_a_create_refused_at_the_door_is_transient_and_created_nothing(runway, kind):
    runway.refuse_seconds = 60.0  # outlasts a slow client start on a loaded machine; the fixture's stop ends it
    if kind == "refused":
        runway.inject("create", "refused")
        backend().submit(request(), "first")  # answered; the listener is gone for refuse_seconds after it
        wait_refusing(runway)
    else:
        runway.inject("create", kind)
    before = runway.books()["jobs_created"]
    b = backend()
    if kind == "5xx":  # a 503 from the front door is indistinguishable from one after accepting: unknown
        with pytest.raises(OutcomeUnknown):
            b.submit(request(seed=99), "k")
    else:
        with pytest.raises(ProviderError) as e:
            b.submit(request(seed=99), "k")
        assert e.value.transient and not isinstance(e.value, OutcomeUnknown)
        assert e.value.code == ("network" if kind == "refused" else "rate_limited")
    assert runway.books()["jobs_created"] == before


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


def test_a_stuck_task_times_out_and_a_cancel_while_running_is_billed_and_gone(runway, tmp_path):
    runway.plan("stuck")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=0.3)
    assert e.value.code == "timeout" and e.value.transient
    job = list(runway.jobs)[0]
    b.cancel(job)
    status = b.poll(job)  # an aborted task answers 404 from now on
    assert runway.calls("delete") and status.state == JobState.CANCELED and status.error_code == "gone"
    assert b.cancel_billing == CancelBilling.BILLED_IF_RUNNING
    assert runway.books()["billed_usd"] == pytest.approx(0.60) == b.charged(request(), status)


def test_a_cancel_before_running_is_refunded_by_runway_but_counted_as_worst_case(runway):
    b = backend()
    job = b.submit(request(), "k")
    b.cancel(job)  # still PENDING on the server: refunded
    assert runway.books()["billed_usd"] == 0
    # dreamcut cannot tell (a PENDING answer "does not guarantee a refund"): it counts the worst case
    assert b.charged(request(), b.poll(job)) == pytest.approx(0.60)


def test_safety_failures_are_billed_and_internal_ones_refunded_and_retryable(runway):
    runway.plan("policy", "internal", "error")
    b = backend()
    policy, internal, bad = (b.submit(request(seed=s), "k") for s in (1, 2, 3))
    for job in (policy, internal, bad):
        walk(b, job)
    p, i, x = b.poll(policy), b.poll(internal), b.poll(bad)
    assert p.error_code == "content_policy" and not p.retryable and p.cost_usd == pytest.approx(0.60)
    assert i.error_code == "INTERNAL" and i.retryable and i.cost_usd == 0
    assert x.error_code == "INTERNAL.BAD_OUTPUT.CODE01" and x.retryable and x.cost_usd == 0
    assert sum(b.charged(request(), s) for s in (p, i, x)) == pytest.approx(runway.books()["billed_usd"]) == 0.60


def test_gen45_makes_whole_seconds_rounded_up_and_prices_what_it_makes(runway, tmp_path):
    b = backend("gen4.5")
    wish = request(seconds=3.7)
    assert b.build(wish)["duration"] == 4  # int() would have made 3 s
    assert b.price(wish) == pytest.approx(4 * 12 * 0.01)
    run_to_file(b, wish, tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
    assert runway.books()["billed_usd"] == pytest.approx(b.price(wish))
    assert b.price(request(seconds=2)) == pytest.approx(0.24) and b.build(request(seconds=10))["duration"] == 10


def test_reference_urls_must_be_https_on_a_domain_before_any_money(runway):
    b = backend("gen4_turbo")
    for url in ("http://cdn.example.com/ref.png", "https://203.0.113.7/ref.png"):
        assert any("https" in p or "domain" in p for p in b.problems(request(refs=(url,), seconds=5)))
        with pytest.raises(BadInput):
            b.submit(request(refs=(url,), seconds=5), "k")
    assert not b.problems(request(refs=("https://cdn.example.com/ref.png",), seconds=5))
    assert not runway.calls("create")
    # and the simulator refuses them the way Runway documents (400 with the issue), without creating a task
    import httpx

    r = httpx.post(f"{runway.url}/v1/image_to_video", headers={"Authorization": f"Bearer {KEY}",
                   "X-Runway-Version": "2024-11-06"}, json={"model": "gen4_turbo", "ratio": "1280:720",
                   "duration": 5, "promptImage": "http://cdn.example.com/ref.png"})
    assert r.status_code == 400 and "HTTPS" in str(r.json()["issues"]) and not runway.jobs


def test_runway_cannot_list_tasks_so_lost_creates_are_parked(runway):
    assert backend().find_jobs(request(), "k", 0.0) is None




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


def test_a_download_days_later_signs_a_fresh_url_instead_of_using_an_expired_one(runway, tmp_path):
    b = backend()
    job = b.submit(request(), "k")
    walk(b, job)
    runway.clock.advance(49 * 3600)  # every URL handed out so far has expired
    import httpx

    stale = httpx.get(f"{runway.url}/media/{job}.mp4?expires={int(runway.clock.now()) - 3600}")
    assert stale.status_code == 403
    b.download(job, tmp_path / "late.mp4")  # retrieves the task again: a fresh URL
    assert probe(tmp_path / "late.mp4").video.width == 128

