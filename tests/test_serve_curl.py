"""A client that is not the Python SDK: `curl`, driving `dreamcut serve` (the animatic renders, tiny sizes).

create (with an uploaded reference) -> poll -> download (video, thumbnail) -> remix -> extend ->
edit (an uploaded file) -> character (from an uploaded video), then a prompt that names the
character renders differently from the same prompt before the character existed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from dreamcut.media import ffmpeg_exe, probe, read_frames
from openai_spec import check, schema_errors
from serve_helpers import Serve

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

TINY = ["-F", "model=animatic", "-F", "size=128x72", "-F", "seconds=1"]


@pytest.fixture(scope="module")
def serve_args():
    return ("--fps", "8", "--workers", "2", "--poll-after-ms", "50")  # no --backend: the animatic renders


@pytest.fixture(scope="module")
def serve_key_file():
    return True


def curl(serve: Serve, *args: str, out: Path | None = None) -> dict | None:
    cmd = ["curl", "-sS", "--fail-with-body", "--max-time", "60", "-H", f"Authorization: Bearer {serve.api_key}",
           *(["-o", str(out)] if out else []), *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=90)
    assert proc.returncode == 0, (cmd[7:], proc.stdout[:500], proc.stderr[:500])
    if out is not None:
        return None
    body = json.loads(proc.stdout)
    return body


def poll(serve: Serve, video_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        v = curl(serve, f"{serve.base_url}/videos/{video_id}")
        assert v is not None
        if v["status"] in ("completed", "failed") or time.monotonic() > deadline:
            assert v["status"] == "completed", v
            return v
        time.sleep(0.1)


def test_curl_create_poll_download_remix_extend_edit_character(serve, tmp_path):
    from PIL import Image

    ref = tmp_path / "ref.png"
    Image.new("RGB", (128, 72), (20, 60, 200)).save(ref)
    v = curl(serve, *TINY, "-F", "prompt=a 1980s school corridor, slow zoom", "-F", f"input_reference=@{ref}",
             f"{serve.base_url}/videos")
    assert v["object"] == "video" and v["status"] == "queued" and v["size"] == "128x72"
    v = poll(serve, v["id"])
    assert not schema_errors("VideoListResource", {"object": "list", "data": [dict(v, size="1280x720")],
                                                   "first_id": v["id"], "last_id": v["id"], "has_more": False})
    video = tmp_path / "v.mp4"
    curl(serve, f"{serve.base_url}/videos/{v['id']}/content", out=video)
    info = probe(video)
    assert (info.video.width, info.video.height) == (128, 72) and abs(info.duration - 1.0) < 0.2
    thumb = tmp_path / "t.webp"
    curl(serve, f"{serve.base_url}/videos/{v['id']}/content?variant=thumbnail", out=thumb)
    assert thumb.read_bytes()[8:12] == b"WEBP"

    remix = curl(serve, "-H", "Content-Type: application/json", "-d", json.dumps({"prompt": "the corridor at night"}),
                 f"{serve.base_url}/videos/{v['id']}/remix")
    assert remix["remixed_from_video_id"] == v["id"]
    remix = poll(serve, remix["id"])

    ext = curl(serve, "-F", f"video[id]={remix['id']}", "-F", "prompt=out onto the football field",
               "-F", "seconds=1", f"{serve.base_url}/videos/extensions")
    assert ext["seconds"] == "2"
    ext = poll(serve, ext["id"])
    ext_file = tmp_path / "ext.mp4"
    curl(serve, f"{serve.base_url}/videos/{ext['id']}/content", out=ext_file)
    assert abs(probe(ext_file).duration - 2.0) < 0.3

    edit = curl(serve, "-F", f"video=@{video};type=video/mp4", "-F", "prompt=the same corridor, in neon",
                "-F", "model=animatic", f"{serve.base_url}/videos/edits")
    assert edit["size"] == "128x72"
    poll(serve, edit["id"])

    # a character: before it exists, the prompt renders one way; once it does, its still conditions the render
    before = poll(serve, curl(serve, *TINY, "-F", "prompt=Mara walks down the corridor",
                              f"{serve.base_url}/videos")["id"])
    red = tmp_path / "mara.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=red:size=128x72:rate=8:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(red)],
                   check=True)
    char = curl(serve, "-F", f"video=@{red};type=video/mp4", "-F", "name=Mara", f"{serve.base_url}/videos/characters")
    assert char["name"] == "Mara" and char["id"].startswith("char_")
    assert curl(serve, f"{serve.base_url}/videos/characters/{char['id']}") == char
    after = poll(serve, curl(serve, *TINY, "-F", "prompt=Mara walks down the corridor",
                             f"{serve.base_url}/videos")["id"])
    frames = []
    for done in (before, after):
        path = tmp_path / f"{done['id']}.mp4"
        curl(serve, f"{serve.base_url}/videos/{done['id']}/content", out=path)
        frames.append(next(iter(read_frames(path)))[1].astype(np.int16))
    assert np.abs(frames[0] - frames[1]).mean() > 2.0  # the character's still changed the picture


def test_key_never_on_the_command_line(serve, start_serve):
    cmdline = Path(f"/proc/{serve.proc.pid}/cmdline").read_bytes().decode()
    assert serve.api_key not in cmdline and "--api-key-file" in cmdline
    env_served = start_serve("--backend", "testcard")  # DREAMCUT_API_KEY
    assert env_served.api_key not in Path(f"/proc/{env_served.proc.pid}/cmdline").read_bytes().decode()
    assert env_served.get("/_dreamcut/health") == {"ok": True}


def test_cancel_stops_a_running_render(start_serve):
    """A cancelled job is failed/cancelled at once, never completes, never bills, and leaves no file.

    Its own server, with 60 s of simulated generation before each render: the job is surely still
    running when it is cancelled (the animatic renders a 60 s take in well under a second)."""
    serve = start_serve("--fps", "8", "--workers", "2", "--poll-after-ms", "50", "--latency", "60")
    before = serve.billing()
    v = curl(serve, "-F", "model=animatic", "-F", "size=128x72", "-F", "seconds=60", "-F", "prompt=a long corridor",
             f"{serve.base_url}/videos")
    deadline = time.monotonic() + 60
    while curl(serve, f"{serve.base_url}/videos/{v['id']}")["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    running = httpx.delete(f"{serve.base_url}/videos/{v['id']}", headers={"Authorization": f"Bearer {serve.api_key}"})
    check("DeleteVideo", running)  # the spec deletes completed or failed videos: this one is running
    assert running.status_code == 409 and running.json()["error"]["code"] == "invalid_video_state"
    cancelled = curl(serve, "-X", "POST", f"{serve.base_url}/videos/{v['id']}/cancel")
    assert cancelled["status"] == "failed" and cancelled["error"]["code"] == "cancelled"
    storage = Path(serve.proc.args[serve.proc.args.index("--storage") + 1])
    while list(storage.glob(f".{v['id']}*")) and time.monotonic() < deadline:  # the render's temp file
        time.sleep(0.05)
    assert not list(storage.glob(f".{v['id']}*")) and not (storage / f"{v['id']}.mp4").exists()
    assert curl(serve, f"{serve.base_url}/videos/{v['id']}")["status"] == "failed"
    assert serve.billing()["completed"] == before["completed"]
    gone = curl(serve, "-X", "DELETE", f"{serve.base_url}/videos/{v['id']}")
    assert gone["deleted"] is True
