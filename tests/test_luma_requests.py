"""How many requests a Luma take costs, against the Dream Machine API simulator: the download uses
the `assets.video` URL the completing poll read (one GET of the generation per poll, none more),
keeps it across a transient failure, and reads the generation again after any other."""

from __future__ import annotations

import pytest

from dreamcut.backends.base import JobState, ProviderError
from dreamcut.media import probe
from simulators.common import request, walk
from test_backend_luma import backend, luma  # noqa: F401 (the provider's simulator fixture, one home)


def test_the_download_reuses_the_completing_polls_video_url(luma, tmp_path):
    b = backend()
    job = b.submit(request(), "k")
    polls = len(walk(b, job))
    assert len(luma.calls("get")) == polls
    luma.inject("media", "5xx")
    with pytest.raises(ProviderError) as e:
        b.download(job, tmp_path / "take.mp4")
    assert e.value.transient
    b.download(job, tmp_path / "take.mp4")
    assert probe(tmp_path / "take.mp4").video is not None
    assert len(luma.calls("get")) == polls and len(luma.calls("media")) == 2  # the CDN again, not the API


def test_a_download_without_a_poll_reads_the_generation(luma, tmp_path):
    b = backend()
    job = b.submit(request(), "k")
    assert walk(b, job)[-1] == JobState.COMPLETED
    gets = len(luma.calls("get"))
    other = backend()  # another process (a resumed run): it never polled this generation
    other.download(job, tmp_path / "take.mp4")
    assert probe(tmp_path / "take.mp4").video is not None
    assert len(luma.calls("get")) == gets + 1
