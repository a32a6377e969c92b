"""`dreamcut serve` as a real subprocess, driven by the official openai SDK, unchanged."""

from __future__ import annotations

import time
import warnings

import httpx
import openai
import pytest

from dreamcut.media import probe

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def serve_args():
    return ("--backend", "testcard", "--latency", "0.6", "--workers", "4", "--poll-after-ms", "150",
            "--blocked-words", "forbidden", "--fps", "12")


@pytest.fixture
def client(serve):
    return openai.OpenAI(base_url=serve.base_url, api_key=serve.api_key, max_retries=0)


def test_status_flow_polling_and_fields(client):
    video = client.videos.create(prompt="a neon corridor, slow zoom", model="sora-2", seconds="4", size="1280x720")
    assert video.object == "video" and video.status == "queued" and video.seconds == "4"
    assert video.size == "1280x720" and isinstance(video.created_at, int) and video.progress == 0
    raw = client.videos.with_raw_response.retrieve(video.id)
    assert int(raw.headers["openai-poll-after-ms"]) > 0
    seen = {raw.parse().status}
    for _ in range(600):  # 0.6 s of latency plus the render; 60 s at most
        v = client.videos.retrieve(video.id)
        seen.add(v.status)
        if v.status == "completed":
            break
        assert 0 <= v.progress < 100
        time.sleep(0.1)
    else:
        pytest.fail(f"video {video.id} not completed after 600 polls (last status {v.status}, seen {sorted(seen)})")
    assert "in_progress" in seen and v.progress == 100 and v.completed_at is not None
    done = client.videos.poll(video.id)  # the SDK's own poll helper honours openai-poll-after-ms
    assert done.status == "completed"


def test_download_variants(client, tmp_path):
    v = client.videos.create_and_poll(prompt="a football field at dusk", model="sora-2", seconds="4",
                                      size="720x1280")
    assert v.status == "completed"
    path = tmp_path / "v.mp4"
    client.videos.download_content(v.id).write_to_file(path)
    info = probe(path)
    assert (info.video.width, info.video.height) == (720, 1280) and abs(info.duration - 4.0) < 0.2
    thumb = client.videos.with_raw_response.download_content(v.id, variant="thumbnail")
    assert thumb.headers["content-type"] == "image/webp"
    assert thumb.content[:4] == b"RIFF" and thumb.content[8:12] == b"WEBP"  # the spec: thumbnail is webp
    sheet = client.videos.with_raw_response.download_content(v.id, variant="spritesheet")
    assert sheet.headers["content-type"] == "image/jpeg" and sheet.content[:3] == b"\xff\xd8\xff"


def test_list_paginates_like_the_official_api(client):
    ids = {client.videos.create(prompt=f"page test {i}", model="sora-2").id for i in range(3)}
    page = client.videos.list(limit=2, order="asc")
    assert len(page.data) == 2 and page.has_more is True
    listed = {v.id for v in client.videos.list(limit=2)}  # auto-pagination follows last_id
    assert ids <= listed


def test_errors_have_official_shapes(client, serve, tmp_path):
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.create(prompt="x", model="sora-2", seconds="5")
    assert e.value.code == "invalid_value" and "seconds" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.create(prompt="x", model="sora-2", size="640x480")
    assert e.value.code == "invalid_value"
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.create(prompt="x", model="no-such-model")
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_does_not_exist")
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is text, not a picture")
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.create(prompt="x", model="sora-2", input_reference=not_image)
    assert e.value.code == "invalid_image"
    blocked = client.videos.create_and_poll(prompt="something forbidden", model="sora-2")
    assert blocked.status == "failed" and blocked.error.code == "moderation_blocked" and blocked.error.message


def test_bearer_key_is_required(serve):
    bad = openai.OpenAI(base_url=serve.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.videos.list()
    assert "wrong" not in str(e.value)
    assert httpx.get(f"{serve.base_url}/videos").status_code == 401


def test_image_reference_remix_extend_delete(client, tmp_path):
    import numpy as np
    from PIL import Image

    ref = tmp_path / "ref.png"
    Image.fromarray(np.full((72, 128, 3), 90, np.uint8)).save(ref)
    v = client.videos.create_and_poll(prompt="from a still", model="sora-2", seconds="4", size="1280x720",
                                      input_reference=ref)
    assert v.status == "completed"
    remix = client.videos.remix(v.id, prompt="the same, in winter")
    assert remix.remixed_from_video_id == v.id and remix.seconds == "4"
    ext = client.videos.extend(prompt="and further", seconds="4", video=openai.omit,
                               extra_body={"video": {"id": v.id}})
    assert ext.seconds == "8"
    ext = client.videos.poll(ext.id)
    assert ext.status == "completed"
    path = tmp_path / "ext.mp4"
    client.videos.download_content(ext.id).write_to_file(path)
    assert abs(probe(path).duration - 8.0) < 0.3
    running = client.videos.create(prompt="still rendering", model="sora-2")
    with pytest.raises(openai.ConflictError):  # the spec: DELETE is for completed or failed videos
        client.videos.delete(running.id)
    remix = client.videos.poll(remix.id)
    gone = client.videos.delete(remix.id)
    assert gone.deleted and gone.object == "video.deleted"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(remix.id)


def test_idempotency_key_bills_once(client, serve):
    before = serve.billing()
    a = client.videos.create(prompt="once", model="sora-2", extra_headers={"Idempotency-Key": "k-123"})
    b = client.videos.create(prompt="once", model="sora-2", extra_headers={"Idempotency-Key": "k-123"})
    after = serve.billing()
    assert a.id == b.id
    assert after["creates"] == before["creates"] + 1
    assert after["idempotent_replays"] == before["idempotent_replays"] + 1


def test_chaos_injects_every_fault_kind(start_serve):
    s = start_serve("--backend", "testcard", "--chaos", "0.6", "--chaos-seed", "3")
    headers = {"Authorization": f"Bearer {s.api_key}"}
    statuses, broken, malformed, retry_after = [], 0, 0, []
    for i in range(60):
        try:
            r = httpx.post(f"{s.base_url}/videos", headers={**headers, "Idempotency-Key": f"c{i % 5}"},
                           files={"prompt": (None, f"chaos {i % 5}"), "model": (None, "sora-2")}, timeout=5)
        except httpx.HTTPError:
            broken += 1
            continue
        statuses.append(r.status_code)
        if r.status_code == 429:
            retry_after.append(r.headers.get("retry-after"))
        if r.status_code == 200:
            try:
                r.json()
            except ValueError:
                malformed += 1
    assert 429 in statuses and 500 in statuses and broken and malformed
    assert all(ra == "1" for ra in retry_after)
    billing = s.billing()
    assert billing["creates"] <= 5  # five idempotency keys: never more than five paid jobs


def test_default_backend_is_the_animatic(start_serve, tmp_path):
    s = start_serve("--fps", "12")  # no --backend: the animatic renders
    client = openai.OpenAI(base_url=s.base_url, api_key=s.api_key, max_retries=0)
    assert "animatic" in {m.id for m in client.models.list()}
    v = client.videos.create_and_poll(prompt="a 1980s school corridor, slow zoom", model="animatic",
                                      seconds="1", size="256x144")
    assert v.status == "completed", v.error
    path = tmp_path / "a.mp4"
    client.videos.download_content(v.id).write_to_file(path)
    info = probe(path)
    assert (info.video.width, info.video.height) == (256, 144) and abs(info.duration - 1.0) < 0.1


def test_api_key_flag_is_deprecated_and_key_file_checked(start_serve, tmp_path, cli):
    s = start_serve("--backend", "testcard", "--api-key", "flag-key", api_key="flag-key")
    assert s.get("/_dreamcut/health") == {"ok": True}
    assert "--api-key is deprecated" in s.log_text() and "flag-key" not in s.log_text()
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    for key_file in (tmp_path / "missing.txt", empty):
        proc = cli("serve", "--api-key-file", str(key_file), "--port", "0")
        assert proc.returncode == 2 and key_file.name in proc.stderr, proc.stderr
    both = cli("serve", "--api-key", "k", "--api-key-file", str(empty))
    assert both.returncode == 2 and "--api-key-file" in both.stderr


def test_sdk_edit_characters_and_reference_objects(client, tmp_path):
    import base64
    import subprocess

    from dreamcut.media import ffmpeg_exe

    clip = tmp_path / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=128x72:rate=8:duration=1", "-pix_fmt", "yuv420p", str(clip)], check=True)
    char = client.videos.create_character(name="Rook", video=clip)
    assert char.name == "Rook" and client.videos.get_character(char.id).id == char.id
    edit = client.videos.edit(prompt="Rook, in neon", video=clip)  # an uploaded source video
    assert edit.size == "1280x720" and client.videos.poll(edit.id).status == "completed"
    ext = client.videos.extend(prompt="Rook walks on", seconds="4", video=clip)  # an uploaded source video
    assert ext.seconds == "5" and client.videos.poll(ext.id).status == "completed"
    from PIL import Image

    png = tmp_path / "ref.png"
    Image.new("RGB", (64, 36), (10, 200, 10)).save(png)
    data_url = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    # the SDK's file extraction refuses a dict for input_reference: extra_body sends it as input_reference[...]
    v = client.videos.create(prompt="from a data URL", model="sora-2",
                             extra_body={"input_reference": {"image_url": data_url}})
    assert client.videos.poll(v.id).status == "completed"
    with pytest.raises(openai.NotFoundError) as e:  # a reference object is used or refused, never ignored
        client.videos.create(prompt="x", model="sora-2", extra_body={"input_reference": {"file_id": "file-missing"}})
    assert e.value.body["param"] == "input_reference.file_id"


def test_characters_outlive_a_restart(start_serve, tmp_path):
    import subprocess

    from dreamcut.media import ffmpeg_exe

    clip = tmp_path / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=blue:size=64x36:rate=8:duration=1", "-pix_fmt", "yuv420p", str(clip)], check=True)
    made = None
    for _ in range(2):
        s = start_serve("--backend", "testcard", storage=tmp_path / "store")  # the same storage each time
        client = openai.OpenAI(base_url=s.base_url, api_key=s.api_key, max_retries=0)
        if made is None:
            made = client.videos.create_character(name="Ada", video=clip)
        assert client.videos.get_character(made.id).name == "Ada"
        s.close()


def test_a_full_queue_answers_429_with_retry_after(start_serve):
    s = start_serve("--backend", "testcard", "--max-pending", "1", "--latency", "30")
    headers = {"Authorization": f"Bearer {s.api_key}"}
    first = httpx.post(f"{s.base_url}/videos", headers=headers, json={"prompt": "one"})
    second = httpx.post(f"{s.base_url}/videos", headers=headers, json={"prompt": "two"})
    assert first.status_code == 200 and second.status_code == 429
    assert second.headers["retry-after"] == "1" and second.json()["error"]["code"] == "rate_limit_exceeded"
    httpx.post(f"{s.base_url}/videos/{first.json()['id']}/cancel", headers=headers).raise_for_status()
    assert httpx.post(f"{s.base_url}/videos", headers=headers, json={"prompt": "two"}).status_code == 200
