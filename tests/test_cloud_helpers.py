"""The shared cloud-backend plumbing (backends/_cloud.py) and the five backends' common promises."""

from __future__ import annotations

import re
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from dreamcut.backends._cloud import (http_status_error, load_ref, pick_seconds, pick_size, retry_after_seconds,
                                      scrub)
from dreamcut.backends.base import Backend, Capabilities
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from simulators.common import png, request

ONE_PER_BACKEND = ["runway:gen4.5", "luma:ray-2", "veo:veo-3.1-fast-generate-001", "fal:fal-ai/veo3/fast",
                   "replicate:bytedance/seedance-1-lite"]


@pytest.mark.parametrize("ref", ONE_PER_BACKEND)
def test_each_backend_keeps_the_protocol_and_dates_its_prices(ref, monkeypatch):
    for name in ("RUNWAYML_API_SECRET", "LUMAAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "FAL_KEY",
                 "REPLICATE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    b = load_backend(ref)  # constructing needs no key: estimates work offline
    assert isinstance(b, Backend)
    caps = b.capabilities()
    assert caps.price_per_second > 0 and re.search(r"20\d\d-\d\d", caps.price_source)
    assert "check" in caps.price_source
    assert b.price(request(preview=True)) < b.price(request(seconds=caps.max_seconds))
    assert b.problems(request(seconds=min(caps.durations or (5,)))) == []


def test_scrub_removes_secrets_and_auth_headers():
    text = "failed: Authorization: Bearer sk-abcdefghijklmnop0123 ?api_key=zzz9 raw=s3cr3t-value"
    out = scrub(text, ["s3cr3t-value"])
    assert "sk-abcdefghijklmnop0123" not in out and "zzz9" not in out and "s3cr3t-value" not in out
    assert "the key component of this shot" in scrub("the key component of this shot")


def test_retry_after_reads_seconds_dates_and_milliseconds():
    assert retry_after_seconds({"Retry-After": "7"}) == 7
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds({"Retry-After": later}) <= 30
    assert retry_after_seconds({}) is None and retry_after_seconds({"Retry-After": "soon"}) is None


def test_http_status_mapping():
    assert http_status_error("p", 429, "slow", {"Retry-After": "2"}, []).retry_after == 2
    assert http_status_error("p", 504, "x", {}, []).transient
    assert http_status_error("p", 400, "prompt violates our usage guidelines", {}, []).code == "content_policy"
    assert http_status_error("p", 401, "no", {}, []).code == "auth"
    assert not http_status_error("p", 422, "bad", {}, []).transient


def test_size_and_length_choice():
    caps = Capabilities(durations=(5.0, 10.0), sizes=((1280, 720), (1920, 1080), (720, 1280)))
    assert pick_size(caps, request(width=1920, height=1080)) == (1920, 1080)
    assert pick_size(caps, request(width=1920, height=1080, preview=True)) == (1280, 720)
    assert pick_size(caps, request(width=1080, height=1920)) == (720, 1280)
    assert pick_size(caps, request(width=1000, height=1000)) is None
    assert pick_seconds(caps, request(seconds=6)) == 10 and pick_seconds(caps, request(preview=True)) == 5


def test_large_reference_images_are_reencoded_to_fit_inline(tmp_path):
    import numpy as np
    from PIL import Image

    noisy = np.random.default_rng(0).integers(0, 255, (1200, 1600, 3), dtype=np.uint8)
    Image.fromarray(noisy).save(tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size > 3_000_000
    ref = load_ref(str(tmp_path / "big.png"), where="s01", max_bytes=1_000_000)
    assert len(ref.data) <= 1_000_000 and ref.mime == "image/jpeg"
    small = load_ref(str(png(tmp_path / "s.png")), where="s01", max_bytes=1_000_000)
    assert small.mime == "image/png" and small.data == (tmp_path / "s.png").read_bytes()
    with pytest.raises(BadInput):
        load_ref(str(tmp_path / "missing.png"), where="s01")
