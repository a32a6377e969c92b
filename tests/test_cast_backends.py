"""A cast member's reference pictures reach each backend's request in the form its API documents,
checked through each provider simulator (and a real `dreamcut serve` for the OpenAI-compatible
characters); what cannot go is dropped with a reason, and a local picture Luma cannot fetch is
refused before any money is spent."""

from __future__ import annotations

import base64

import pytest

from dreamcut.backends.base import CastMember, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.errors import BadInput
from simulators.common import png, request

KEYS = {"runway": "rw-secret-key-0123456789abcdef", "veo": "AIza-test-key-0123456789",
        "luma": "luma-secret-0123456789", "replicate": "r8_secret_0123456789abcdefABCDEF",
        "fal": "fal-key-id:fal-key-secret-0123456789"}


def sim(monkeypatch, cls, key):
    server = cls(key=key).start()
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    return server


def members(tmp_path, n_refs=(1, 1)):
    """mia (red) and leo (blue), each with pictures in the project."""
    out = []
    for (name, colour), n in zip((("mia", (200, 30, 40)), ("leo", (30, 40, 200))), n_refs):
        refs = []
        for i in range(n):
            from PIL import Image

            path = tmp_path / f"{name}{i}.png"
            Image.new("RGB", (48, 64), colour).save(path, "PNG")
            refs.append(str(path))
        out.append(CastMember(name, f"{name} in a coat", tuple(refs)))
    return tuple(out)


def fast(b):
    b.min_poll_interval = 0.01
    return b


def test_runway_first_cast_picture_is_the_prompt_image(monkeypatch, tmp_path):
    from simulators.runway import RunwaySim

    server = sim(monkeypatch, RunwaySim, KEYS["runway"])
    try:
        cast = members(tmp_path)
        b = fast(load_backend("runway:gen4_turbo"))  # an image-to-video model: the cast's picture is its image
        run_to_file(b, request(cast=cast, seconds=10), tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
        body = server.calls("create")[0].json()
        assert server.calls("create")[0].path == "/v1/image_to_video"
        assert base64.b64decode(body["promptImage"].split(",", 1)[1]) == open(cast[0].refs[0], "rb").read()
        routing = b.cast_routing(request(cast=cast))
        assert [(r.member, r.field) for r in routing.sent] == [("mia", "first frame (promptImage)")]
        assert [(m, why.split(",")[0]) for m, _, why in routing.dropped] == [
            ("leo", "Runway's video models take one image")]
        # the shot's own picture keeps the image input; the cast is then said, not sent
        own = png(tmp_path / "own.png")
        server.received.clear()
        run_to_file(b, request(cast=cast, refs=(str(own),), seconds=10), tmp_path / "u.mp4", poll_interval=0.01,
                    timeout=10)
        sent = server.calls("create")[0].json()["promptImage"]
        assert base64.b64decode(sent.split(",", 1)[1]) == own.read_bytes()
    finally:
        server.stop()


def test_veo_takes_the_cast_as_asset_reference_images(monkeypatch, tmp_path):
    from simulators.veo import VeoSim

    server = sim(monkeypatch, VeoSim, KEYS["veo"])
    try:
        cast = members(tmp_path, (2, 2))  # four pictures: Veo takes three
        b = fast(load_backend("veo:veo-3.1-fast-generate-001"))
        run_to_file(b, request(cast=cast, seconds=8), tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
        instance = server.calls("create")[0].json()["instances"][0]
        assert "image" not in instance and "lastFrame" not in instance
        refs = instance["referenceImages"]
        assert [r["referenceType"] for r in refs] == ["ASSET"] * 3
        wanted = [open(p, "rb").read() for p in (*cast[0].refs, cast[1].refs[0])]
        assert [base64.b64decode(r["image"]["bytesBase64Encoded"]) for r in refs] == wanted
        routing = b.cast_routing(request(cast=cast, seconds=8))
        assert routing.dropped == (("leo", cast[1].refs[1], "Veo takes at most 3 asset reference images"),)
        # a 4 s take is not one Veo makes from references: dropped with the reason, not sent
        four = b.cast_routing(request(cast=cast, seconds=4))
        assert not four.sent and "8 s only" in four.dropped[0][2]
        # Veo 3.0 has no reference images: the first picture is the first frame
        old = load_backend("veo:veo-3.0-generate-001").cast_routing(request(cast=cast, seconds=8))
        assert [r.field for r in old.sent] == ["first frame (image)"]
    finally:
        server.stop()


def test_luma_takes_hosted_cast_pictures_as_keyframes_and_refuses_local_ones_before_money(monkeypatch, tmp_path):
    from simulators.luma import LumaSim

    server = sim(monkeypatch, LumaSim, KEYS["luma"])
    try:
        url = "https://cdn.example.com/cast/mia.png"
        b = fast(load_backend("luma:ray-2"))
        run_to_file(b, request(cast=(CastMember("mia", "a woman", (url,)),)), tmp_path / "t.mp4", poll_interval=0.01,
                    timeout=10)
        body = server.calls("create")[0].json()
        assert body["keyframes"] == {"frame0": {"type": "image", "url": url}}
        local = request(cast=members(tmp_path))
        problems = b.problems(local)
        assert any("hosted URLs only" in p and "mia0.png" in p for p in problems), problems
        server.received.clear()
        with pytest.raises(BadInput):
            b.submit(local, "k2")
        assert server.calls("create") == []  # nothing sent, nothing billed
    finally:
        server.stop()


def test_replicate_seedance_gets_reference_images_and_kling_a_start_image(monkeypatch, tmp_path):
    from simulators.replicate import ReplicateSim

    server = sim(monkeypatch, ReplicateSim, KEYS["replicate"])
    try:
        cast = members(tmp_path)
        b = fast(load_backend("replicate:bytedance/seedance-1-lite"))
        run_to_file(b, request(cast=cast), tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
        inputs = server.calls("create")[0].json()["input"]
        uploads = {name: fid for fid, (name, _) in server.uploads.items()}
        assert inputs["reference_images"] == [f"{server.url}/v1/files/{uploads['mia0.png']}",
                                              f"{server.url}/v1/files/{uploads['leo0.png']}"]
        assert "image" not in inputs
        # 1080p: Seedance takes no reference images there; the first picture is the first frame
        hd = b.cast_routing(request(cast=cast, width=1920, height=1080))
        assert [r.field for r in hd.sent] == ["first frame (image)"] and "1080p" in hd.dropped[0][2]
        server.received.clear()
        kling = fast(load_backend("replicate:kwaivgi/kling-v2.1"))  # needs an image: the cast's picture serves
        run_to_file(kling, request(cast=cast, seconds=10), tmp_path / "k.mp4", poll_interval=0.01, timeout=10)
        assert server.calls("create")[0].json()["input"]["start_image"].startswith(f"{server.url}/v1/files/")
    finally:
        server.stop()


def test_fal_sends_the_first_cast_picture_to_the_image_to_video_app(monkeypatch, tmp_path):
    from simulators.fal import FalSim

    server = sim(monkeypatch, FalSim, KEYS["fal"])
    monkeypatch.setenv("FAL_KEY", KEYS["fal"])
    monkeypatch.setenv("DREAMCUT_FAL_BASE_URL", server.url)
    try:
        cast = members(tmp_path)
        b = fast(load_backend("fal:fal-ai/veo3/fast"))
        run_to_file(b, request(cast=cast, seconds=8), tmp_path / "t.mp4", poll_interval=0.01, timeout=10)
        sent = server.calls("submit")[0]
        assert sent.path == "/fal-ai/veo3/fast/image-to-video"
        assert base64.b64decode(sent.json()["image_url"].split(",", 1)[1]) == open(cast[0].refs[0], "rb").read()
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_openai_compatible_server_gets_the_cast_as_characters_the_prompt_names(monkeypatch, tmp_path):
    import httpx

    from dreamcut.backends.openai_videos import OpenAIVideosBackend
    from serve_helpers import Serve

    s = Serve("--backend", "testcard", "--latency", "0.2", "--workers", "2", "--fps", "12",
              storage=tmp_path / "serve")
    try:
        monkeypatch.setenv("OPENAI_API_KEY", s.api_key)
        monkeypatch.setenv("DREAMCUT_OPENAI_BASE_URL", s.base_url)
        cast = members(tmp_path)
        b = OpenAIVideosBackend(model="sora-2")
        req = request(cast=cast, prompt="Mia and Leo walk along a wall. Mia is mia in a coat; Leo is leo in a coat.",
                      seconds=4, fps=12)
        ids = b.ensure_characters(req)
        assert len(ids) == 2 and all(i.startswith("char_") for i in ids)
        headers = {"Authorization": f"Bearer {s.api_key}"}
        names = [httpx.get(f"{s.base_url}/videos/characters/{i}", headers=headers).json()["name"] for i in ids]
        assert names == ["Mia", "Leo"]
        assert b.ensure_characters(req) == ids  # once per member and picture
        fresh = OpenAIVideosBackend(model="sora-2")  # a new process: the server answers the same key with the same
        assert fresh.ensure_characters(req) == ids
        job = b.submit(req, "cast-key-1")
        assert job.startswith("video_")
        routing = b.cast_routing(req)
        assert [r.member for r in routing.sent] == ["mia", "leo"]
    finally:
        s.close()


def test_diffusers_conditions_on_the_cast_picture_where_the_family_can(tmp_path):
    """A tiny random LTX-Video renders the same take from the cast's picture as from the same picture
    given as the shot's ref (the conditioning image); CogVideoX text-to-video has no image input."""
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    import numpy as np
    import tiny_models

    from dreamcut.backends import diffusers_local
    from dreamcut.media import read_frames

    ltx = load_backend(f"diffusers:{tiny_models.build_ltx(tmp_path / 'ltx')}")
    cast = members(tmp_path)
    base = dict(shot_id="s1", prompt="a woman walks", seconds=1.0, width=32, height=32, fps=8, seed=7,
                options=(("steps", 2),))
    outs = {}
    for name, extra in (("cast", {"cast": cast}), ("ref", {"refs": (cast[0].refs[0],)}), ("none", {})):
        run_to_file(ltx, request(**base, **extra), tmp_path / f"{name}.mp4", poll_interval=0)
        outs[name] = np.stack([f for _, f in read_frames(tmp_path / f"{name}.mp4")]).astype(np.float32)
    assert np.abs(outs["cast"] - outs["ref"]).mean() < 0.5  # the cast picture is the conditioning image
    assert np.abs(outs["cast"] - outs["none"]).mean() > 1.0  # and it changes the take
    cog = diffusers_local.cast_routing(str(tiny_models.build_cogvideox(tmp_path / "cog")), cast, [])
    assert not cog.sent and all("no image input" in why for _, _, why in cog.dropped)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_openai_server_without_characters_gets_the_first_cast_picture_as_input_reference(monkeypatch, tmp_path,
                                                                                         caplog):
    from dreamcut.backends.openai_videos import OpenAIVideosBackend
    from simulators._http import parse_multipart
    from simulators.openai_videos import OpenAISim

    server = sim(monkeypatch, OpenAISim, "sk-test-0123456789abcdef0123456789")
    try:
        cast = members(tmp_path)
        b = OpenAIVideosBackend(model="sora-2")
        b.submit(request(cast=cast, seconds=4, width=1280, height=720), "k1")
        b.submit(request(cast=cast, seconds=4, width=1280, height=720), "k2")
        parts = parse_multipart(server.calls("create")[0])
        filename, data = parts["input_reference"]
        assert filename == "mia0.png" and data == open(cast[0].refs[0], "rb").read()
        # the server said 404 once; the backend does not ask again for every take, and says it once
        assert len(server.calls("create")) == 2
        assert sum("has no /videos/characters" in r.message for r in caplog.records) == 1
    finally:
        server.stop()
