"""How many requests a fal take costs, against the simulator of fal's queue API: one result read
per take (the download uses the URL the completing poll read), a retried poll or download sends
only what failed, and a stalled poll gives up after DREAMCUT_HTTP_TIMEOUT, not fal-client's 120 s."""

from __future__ import annotations

import pytest

from dreamcut.backends.base import JobState, ProviderError
from dreamcut.backends.registry import load_backend
from dreamcut.media import probe
from simulators.common import request, walk
from simulators.fal import FalSim

KEY = "fal-key-id:fal-key-secret-0123456789"


@pytest.fixture
def fal(monkeypatch):
    with FalSim(key=KEY) as server:
        monkeypatch.setenv("FAL_KEY", KEY)
        monkeypatch.setenv("DREAMCUT_FAL_BASE_URL", server.url)
        monkeypatch.setenv("DREAMCUT_HTTP_TIMEOUT", "0.5")
        server.slow_seconds = 1.5
        yield server


def _backend():
    b = load_backend("fal:fal-ai/veo3/fast")
    b.min_poll_interval = 0.01
    return b


def test_a_take_reads_its_result_once(fal, tmp_path):
    b = _backend()
    job = b.submit(request(seconds=8), "k")
    assert walk(b, job)[-1] == JobState.COMPLETED
    b.download(job, tmp_path / "take.mp4")
    assert probe(tmp_path / "take.mp4").video is not None
    # IN_QUEUE, IN_PROGRESS, COMPLETED: three statuses (fal-client's result() would poll it twice more)
    assert len(fal.calls("status")) == 3
    assert len(fal.calls("result")) == 1 and len(fal.calls("media")) == 1


def test_a_failed_result_read_is_retried_without_asking_the_status_again(fal):
    b = _backend()
    job = b.submit(request(seconds=8), "k")
    fal.inject("result", "5xx")
    statuses = []
    with pytest.raises(ProviderError) as e:
        for _ in range(10):  # bounded: the job completes at the third status
            statuses.append(b.poll(job).state)
    assert e.value.transient and statuses == [JobState.QUEUED, JobState.RUNNING]
    polls = len(fal.calls("status"))
    assert b.poll(job).state == JobState.COMPLETED
    assert len(fal.calls("status")) == polls and len(fal.calls("result")) == 2


def test_a_failed_download_keeps_the_url_unless_the_file_is_gone(fal, tmp_path):
    b = _backend()
    job = b.submit(request(seconds=8), "k")
    assert walk(b, job)[-1] == JobState.COMPLETED
    fal.inject("media", "5xx")
    with pytest.raises(ProviderError) as e:
        b.download(job, tmp_path / "take.mp4")
    assert e.value.transient
    b.download(job, tmp_path / "take.mp4")
    assert len(fal.calls("result")) == 1 and len(fal.calls("media")) == 2  # the CDN again, not the queue
    job2 = b.submit(request(seconds=8, prompt="a second take"), "k2")
    assert walk(b, job2)[-1] == JobState.COMPLETED
    fal.fault("media", 404, {"detail": "gone"})
    with pytest.raises(ProviderError) as e:
        b.download(job2, tmp_path / "take2.mp4")
    assert not e.value.transient
    b.download(job2, tmp_path / "take2.mp4")  # after a 404 the result is read afresh
    assert len(fal.calls("result")) == 3


def test_a_stalled_poll_gives_up_after_the_client_timeout(fal):
    import time

    b = _backend()
    job = b.submit(request(seconds=8), "k")
    fal.inject("status", "slow")
    t0 = time.monotonic()
    with pytest.raises(ProviderError) as e:
        b.poll(job)
    assert e.value.transient and e.value.code == "network"
    assert time.monotonic() - t0 < fal.slow_seconds  # fal-client alone would have waited for the answer
