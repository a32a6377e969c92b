"""How many requests a Veo take costs, against the simulator of Vertex AI's Veo API: the finished
operation carries the video inline, so the download writes the bytes the poll that saw it done
already read (one fetchPredictOperation per poll, none more); a download tried again, or made by
another process, reads the operation again."""

from __future__ import annotations

import pytest

from dreamcut.backends.base import JobState
from dreamcut.backends.registry import load_backend
from dreamcut.media import probe
from simulators.common import request, walk
from simulators.veo import VeoSim

KEY = "AIzaSy-veo-secret-0123456789abcdef"


@pytest.fixture
def veo(monkeypatch):
    with VeoSim(key=KEY) as server:
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        monkeypatch.setenv("DREAMCUT_VEO_BASE_URL", server.url)
        monkeypatch.setenv("DREAMCUT_HTTP_TIMEOUT", "0.5")
        for name in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GENAI_USE_VERTEXAI"):
            monkeypatch.delenv(name, raising=False)
        yield server


def _backend():
    b = load_backend("veo:veo-3.1-fast-generate-001")
    b.min_poll_interval = 0.01
    return b


def test_the_download_writes_the_video_the_completing_poll_read(veo, tmp_path):
    b = _backend()
    job = b.submit(request(seconds=8), "k")
    polls = len(walk(b, job))
    assert len(veo.calls("fetch")) == polls
    b.download(job, tmp_path / "take.mp4")
    assert probe(tmp_path / "take.mp4").video is not None
    assert len(veo.calls("fetch")) == polls
    b.download(job, tmp_path / "again.mp4")  # tried again (say its file failed to verify): read afresh
    assert probe(tmp_path / "again.mp4").video is not None
    assert len(veo.calls("fetch")) == polls + 1


def test_a_download_without_a_poll_reads_the_operation(veo, tmp_path):
    b = _backend()
    job = b.submit(request(seconds=8), "k")
    assert walk(b, job)[-1] == JobState.COMPLETED
    fetches = len(veo.calls("fetch"))
    _backend().download(job, tmp_path / "take.mp4")  # another process (a resumed run): it never polled
    assert probe(tmp_path / "take.mp4").video is not None
    assert len(veo.calls("fetch")) == fetches + 1
