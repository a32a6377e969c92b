"""How many requests a Replicate take costs, against the Replicate API simulator: the download uses
the output URL the succeeding poll read (one GET of the prediction per poll, none more), keeps it
across a transient failure, and reads the prediction again after any other."""

from __future__ import annotations

import pytest

from dreamcut.backends.base import JobState, ProviderError
from dreamcut.backends.registry import load_backend
from dreamcut.media import probe
from simulators.common import request, walk
from simulators.replicate import ReplicateSim

KEY = "r8_secret_0123456789abcdefABCDEF"


@pytest.fixture
def rep(monkeypatch):
    with ReplicateSim(key=KEY) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        yield server


def _backend():
    b = load_backend("replicate:bytedance/seedance-1-lite")
    b.min_poll_interval = 0.01
    return b


def test_the_download_reuses_the_succeeding_polls_output_url(rep, tmp_path):
    b = _backend()
    job = b.submit(request(), "k")
    polls = len(walk(b, job))
    assert len(rep.calls("get")) == polls
    rep.inject("media", "5xx")
    with pytest.raises(ProviderError) as e:
        b.download(job, tmp_path / "take.mp4")
    assert e.value.transient
    b.download(job, tmp_path / "take.mp4")
    assert probe(tmp_path / "take.mp4").video is not None
    assert len(rep.calls("get")) == polls and len(rep.calls("media")) == 2  # the CDN again, not the API


def test_a_download_without_a_poll_reads_the_prediction(rep, tmp_path):
    b = _backend()
    job = b.submit(request(), "k")
    assert walk(b, job)[-1] == JobState.COMPLETED
    gets = len(rep.calls("get"))
    other = _backend()  # another process (a resumed run): it never polled this prediction
    other.download(job, tmp_path / "take.mp4")
    assert probe(tmp_path / "take.mp4").video is not None
    assert len(rep.calls("get")) == gets + 1
