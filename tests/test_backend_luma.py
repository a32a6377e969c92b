"""The Luma backend through the official `lumaai` SDK against the Dream Machine API simulator."""

from __future__ import annotations

import time

import pytest

from dreamcut.backends.base import CancelBilling, JobState, OutcomeUnknown, ProviderError, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from dreamcut.media import probe
from simulators.common import dedupe, not_an_image, png, request, wait_refusing, walk
from simulators.luma import LumaSim

KEY = "luma-secret-0123456789abcdef"


@pytest.fixture
def luma(monkeypatch):
    with LumaSim(key=KEY) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        yield server


def backend(model: str = "ray-2"):
    b = load_backend(f"luma:{model}")
    b.min_poll_interval = 0.01
    return b


def test_queued_dreaming_completed_then_a_probeable_take(luma, tmp_path):
    b = backend()
    job = b.submit(request(seconds=9), "k")
    assert dedupe(walk(b, job)) == [JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED]
    b.download(job, tmp_path / "t.mp4")
    assert probe(tmp_path / "t.mp4").video.width == 128
    assert luma.calls("create")[0].json() == {"model": "ray-2", "prompt": request().prompt, "duration": "9s",
                                              "resolution": "720p", "aspect_ratio": "16:9", "loop": False}


def test_hosted_reference_images_become_first_and_last_keyframes(luma, tmp_path):
    first, last = "https://cdn.example.com/a.png", "https://cdn.example.com/b.png"
    run_to_file(backend("ray-flash-2"), request(refs=(first, last)), tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
    keyframes = luma.calls("create")[0].json()["keyframes"]
    assert keyframes == {"frame0": {"type": "image", "url": first}, "frame1": {"type": "image", "url": last}}


def test_local_reference_images_are_refused_before_money_with_one_line(luma, tmp_path):
    ref = png(tmp_path / "hero.png")
    b = backend()
    assert any("hosted URLs" in p and "hero.png" in p for p in b.problems(request(refs=(str(ref),))))
    with pytest.raises(BadInput) as e:
        b.submit(request(refs=(str(ref),)), "k")
    assert "https://" in e.value.line() and "\n" not in e.value.line()
    assert not luma.calls("create")


def test_the_simulator_refuses_data_uris_like_luma(luma):
    import httpx

    r = httpx.post(f"{luma.base_url}/generations/video", headers={"Authorization": f"Bearer {KEY}"},
                   json={"model": "ray-2", "prompt": "x", "duration": "5s", "aspect_ratio": "16:9",
                         "resolution": "720p",
                         "keyframes": {"frame0": {"type": "image", "url": "data:image/png;base64,iVBORw0KGgo="}}})
    assert r.status_code == 400 and "URL" in r.json()["detail"] and not luma.jobs


@pytest.mark.parametrize("kind", ["accept_drop", "accept_5xx", "html", "slow"])
def test_a_lost_create_is_outcome_unknown_and_found_again_by_listing(luma, kind, monkeypatch):
    luma.client_timeout = 0.5
    luma.slow_seconds = 1.0
    monkeypatch.setenv("DREAMCUT_HTTP_TIMEOUT", luma.env["DREAMCUT_HTTP_TIMEOUT"])
    luma.inject("create", kind)
    b = backend()
    since = time.time() - 1
    with pytest.raises(OutcomeUnknown):
        b.submit(request(), "k")
    assert len(luma.calls("create")) == 1
    b.submit(request(prompt="another shot entirely"), "k2")  # not this take: must not match
    found = b.find_jobs(request(), "k", since)
    assert [j.job_id for j in found] == [list(luma.jobs)[0]] and found[0].prompt == request().prompt
    assert b.find_jobs(request(), "k", time.time() + 60) == []  # created before the window: not ours


def test_refused_and_throttled_creates_are_transient_and_create_nothing(luma):
    luma.inject("create", "rate_limit")
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient and not isinstance(e.value, OutcomeUnknown) and not luma.jobs
    luma.refuse_seconds = 60.0  # outlasts a slow client start on a loaded machine; the fixture's stop ends it
    luma.inject("create", "refused")
    backend().submit(request(seed=1), "first")  # answered; then the listener is gone for a while
    wait_refusing(luma)
    with pytest.raises(ProviderError) as e:
        backend().submit(request(seed=2), "second")
    assert e.value.transient and e.value.code == "network" and not isinstance(e.value, OutcomeUnknown)
    assert len(luma.jobs) == 1


def test_luma_cannot_cancel_so_a_timed_out_generation_is_still_billed(luma):
    b = backend()
    assert b.cancel_billing == CancelBilling.IMPOSSIBLE
    job = b.submit(request(), "k")
    with pytest.raises(ProviderError):
        b.cancel(job)
    luma.settle()  # nobody polls: Luma renders it anyway
    assert luma.books()["jobs"][0]["state"] == "completed"
    assert luma.books()["billed_usd"] == pytest.approx(b.price(request()))
    assert b.charged(request(), b.poll(job)) == pytest.approx(luma.books()["billed_usd"])


def test_extend_continues_the_previous_generation(luma, tmp_path):
    b = backend()
    assert b.capabilities().extend
    first = b.submit(request(), "k1")
    walk(b, first)
    second = b.extend(first, request(prompt="and out onto the football field"), "k2")
    assert second != first and walk(b, second)[-1] == JobState.COMPLETED
    body = luma.calls("create")[1].json()
    assert body["keyframes"]["frame0"] == {"type": "generation", "id": first}
    b.download(second, tmp_path / "ext.mp4")
    assert probe(tmp_path / "ext.mp4").duration > 1.5


def test_rate_limit_is_transient_with_retry_after(luma):
    luma.fault("create", 429, {"detail": "Too many requests"}, headers={"Retry-After": "12"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert e.value.transient and e.value.retry_after == 12
    assert len(luma.calls("create")) == 1


def test_a_server_error_on_create_is_outcome_unknown(luma):
    luma.fault("create", 503, {"detail": "overloaded"})
    with pytest.raises(OutcomeUnknown) as e:
        backend().submit(request(), "k")
    assert "503" in e.value.message


def test_moderation_refusal_at_create_is_terminal(luma):
    luma.fault("create", 400, {"detail": "Prompt not allowed because advanced moderation failed"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert not e.value.transient and e.value.code == "content_policy" and "moderation" in e.value.message


def test_failed_generation_carries_the_failure_reason(luma, tmp_path):
    luma.plan("policy", "error")
    b = backend()
    job = b.submit(request(), "k")
    walk(b, job)
    status = b.poll(job)
    assert status.state == JobState.FAILED and status.error_code == "content_policy"
    assert "moderation" in status.error_message
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(seed=9), tmp_path / "x.mp4", poll_interval=0.01, timeout=10)
    assert e.value.code == "failed" and "internal error" in e.value.message
    luma.settle()
    assert luma.books()["billed_usd"] == 0 == b.charged(request(), status)  # failures: not billed (assumed)


def test_stuck_generation_times_out_and_cancel_says_luma_cannot(luma, tmp_path):
    luma.plan("stuck")
    b = backend()
    with pytest.raises(ProviderError) as e:
        run_to_file(b, request(), tmp_path / "x.mp4", poll_interval=0.01, timeout=0.3)
    assert e.value.code == "timeout"
    with pytest.raises(ProviderError) as e:
        b.cancel(list(luma.jobs)[0])
    assert e.value.code == "cancel_unsupported"


def test_missing_key_unknown_model_bad_duration_size_and_ref(luma, monkeypatch, tmp_path):
    with pytest.raises(BadInput) as e:
        load_backend("luma:ray-1")
    assert "ray-2" in e.value.message and "ray-flash-2" in e.value.message
    b = backend()
    assert any("12 s" in p for p in b.problems(request(seconds=12)))
    assert any("aspect" in p for p in b.problems(request(width=2000, height=800)))
    with pytest.raises(BadInput) as e:
        b.submit(request(refs=(str(not_an_image(tmp_path / "x.jpg")),)), "k")
    assert "not an image" in e.value.message
    monkeypatch.delenv("LUMAAI_API_KEY")
    with pytest.raises(BadInput) as e:
        backend().submit(request(), "k")
    assert "LUMAAI_API_KEY" in e.value.line() and "\n" not in e.value.line()
    assert not luma.calls("create")


def test_preview_is_540p_5s_and_prices_follow_pixels(luma):
    b = backend()
    preview = b.build(request(preview=True, seconds=9))
    assert preview["resolution"] == "540p" and preview["duration"] == "5s"
    assert b.price(request(preview=True)) < b.price(request()) < b.price(request(width=1920, height=1080))
    assert b.price(request()) == pytest.approx(0.0064 * 1280 * 720 * 24 * 5 / 1e6)


def test_no_key_in_error_text(luma):
    luma.fault("create", 400, {"detail": f"header was Bearer {KEY}"})
    with pytest.raises(ProviderError) as e:
        backend().submit(request(), "k")
    assert KEY not in str(e.value) and KEY not in e.value.message


def test_find_jobs_pages_past_the_first_hundred(luma):
    b = backend()
    since = time.time() - 1
    target = b.submit(request(), "k")
    for i in range(120):  # newer generations of other takes push ours onto the second page
        luma.new_job({"model": "ray-2", "prompt": f"other {i}", "duration": "5s", "aspect_ratio": "16:9",
                      "resolution": "720p"})
    assert [j.job_id for j in b.find_jobs(request(), "k", since)] == [target]
    assert len(luma.calls("list")) == 2
