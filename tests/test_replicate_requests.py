"""How many requests a Replicate take costs, against the Replicate API simulator: the download uses
the output URL the succeeding poll read (one GET of the prediction per poll, none more), keeps it
across a transient failure, and reads the prediction again after any other."""

from __future__ import annotations

import pytest

from dreamcut.backends.base import JobState, ProviderError
from dreamcut.media import probe
from simulators.common import request, walk
from test_backend_replicate import backend, rep  # noqa: F401 (the provider's simulator fixture, one home)


def test_the_download_reuses_the_succeeding_polls_output_url(rep, tmp_path):
    b = backend()
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
    b = backend()
    job = b.submit(request(), "k")
    assert walk(b, job)[-1] == JobState.COMPLETED
    gets = len(rep.calls("get"))
    other = backend()  # another process (a resumed run): it never polled this prediction
    other.download(job, tmp_path / "take.mp4")
    assert probe(tmp_path / "take.mp4").video is not None
    assert len(rep.calls("get")) == gets + 1
