"""The review board over HTTP: the API, persistence across restarts, tabs, and no path traversal."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from _takes import make_project
from dreamcut.catalog import Catalog, Take
from dreamcut.media import probe
from dreamcut.web import create_app

H = {"X-Dreamcut": "1"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("board") / "proj", shots=3, takes_per_shot=3)


@pytest.fixture
def client(project):
    return TestClient(create_app(project))


def test_board_lists_every_take_without_loading_full_videos(client, project):
    html = client.get("/").text
    ids = re.findall(r'id="t-([^"]+)"', html)
    assert len(ids) == 9 and "s02-t003" in ids
    assert "/media/take/" not in html and ".mp4" not in html  # only posters; proxies come later, on scroll
    assert html.count('loading="lazy"') == 9


def test_review_is_stored_at_once_and_survives_a_restart(project):
    c = TestClient(create_app(project))
    r = c.post("/api/review/s01-t002", json={"rating": 4, "note": "nice dolly", "tags": ["keeper", "dusk"]}, headers=H)
    assert r.status_code == 200 and r.json()["rating"] == 4
    # another process (the catalog on disk), then a fresh app, see it
    with Catalog(project / ".dreamcut" / "catalog.sqlite") as cat:
        assert cat.review("s01-t002")["note"] == "nice dolly"
    c2 = TestClient(create_app(project))
    takes = {t["id"]: t for t in c2.get("/api/board").json()["takes"]}
    assert takes["s01-t002"]["rating"] == 4 and takes["s01-t002"]["tags"] == ["dusk", "keeper"]
    html = c2.get("/").text
    card = html[html.index('id="t-s01-t002"'):]
    card = card[:card.index("</div>\n")]
    assert 'data-rating="4"' in card and 'data-tags="dusk,keeper"' in card


def test_one_selected_take_per_shot(client, project):
    assert client.post("/api/review/s02-t001", json={"status": "selected"}, headers=H).status_code == 200
    assert client.post("/api/review/s02-t002", json={"status": "selected"}, headers=H).status_code == 200
    board = client.get("/api/board").json()
    assert board["selections"]["s02"] == "s02-t002"
    status = {t["id"]: t["status"] for t in board["takes"]}
    assert status["s02-t001"] is None and status["s02-t002"] == "selected"
    # rejecting the selected take removes the selection
    client.post("/api/review/s02-t002", json={"status": "rejected"}, headers=H)
    assert "s02" not in client.get("/api/board").json()["selections"]


def test_two_tabs_see_each_others_changes(project):
    tab_a, tab_b = TestClient(create_app(project)), TestClient(create_app(project))
    since = tab_b.get("/api/changes").json()["now"]
    tab_a.post("/api/review/s03-t001", json={"rating": 2}, headers=H)
    ch = tab_b.get(f"/api/changes?since={since}").json()
    assert [r["take_id"] for r in ch["reviews"]] == ["s03-t001"] and ch["reviews"][0]["rating"] == 2
    assert tab_b.get(f"/api/changes?since={ch['now']}").json()["reviews"] == []


@pytest.mark.parametrize("body", [{"rating": 9}, {"rating": "5"}, {"status": "maybe"}, {"tags": "x"},
                                  {"note": 3}, [1, 2]])
def test_bad_reviews_are_refused(client, body):
    assert client.post("/api/review/s01-t001", json=body, headers=H).status_code == 422


def test_writes_need_the_header_and_a_known_take_and_host(client):
    assert client.post("/api/review/s01-t001", json={"rating": 3}).status_code == 403
    assert client.post("/api/review/nope", json={"rating": 3}, headers=H).status_code == 404
    assert client.get("/", headers={"Host": "evil.example:8765"}).status_code == 400


def test_posters_and_proxies_are_small_and_cached(client, project):
    r = client.get("/proxy/s01-t001.mp4")
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    proxies = list((project / ".dreamcut" / "cache" / "proxies").glob("s01-t001-*.mp4"))
    assert len(proxies) == 1
    info = probe(proxies[0])
    assert info.video.width == 240 and info.duration <= 6.1
    mtime = proxies[0].stat().st_mtime_ns
    assert client.get("/proxy/s01-t001.mp4").content == r.content
    assert proxies[0].stat().st_mtime_ns == mtime
    jpg = client.get("/thumb/s01-t001.jpg")
    assert jpg.status_code == 200 and jpg.content[:3] == b"\xff\xd8\xff"
    # the full take is served (compare view), with range requests for seeking
    part = client.get("/media/take/s01-t001", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100


def test_no_path_traversal(project, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG secret")
    (project / "previews" / "s01").mkdir(parents=True, exist_ok=True)
    (project / "previews" / "s01" / "contact_sheet.png").write_bytes(b"\x89PNG sheet")
    link = project / "previews" / "s01" / "link.png"
    if not link.exists():
        os.symlink(outside, link)
    # a take row pointing outside, and one whose file is a symlink to outside
    outside_mp4 = tmp_path / "outside.mp4"
    outside_mp4.write_bytes((project / "takes" / "s01" / "media000.mp4").read_bytes())
    os.symlink(outside_mp4, project / "takes" / "s01" / "evil.mp4")
    with Catalog(project / ".dreamcut" / "catalog.sqlite") as cat:
        for tid, path in (("s01-evil1", os.path.relpath(outside_mp4, project)), ("s01-evil2", "takes/s01/evil.mp4")):
            cat.add_take(Take(id=tid, shot_id="s01", path=path, seconds=2, width=256, height=144, fps=24,
                              backend="animatic"))
    c = TestClient(create_app(project))
    assert c.get("/files/previews/s01/contact_sheet.png").content == b"\x89PNG sheet"
    refused = ["/files/previews/s01/link.png", "/files/..%2F" + outside.name, "/files/previews/..%2F..%2Fsecret.png",
               "/files/%2E%2E/%2E%2E/etc/passwd", "/files/dreamcut.yaml", "/files/.dreamcut/catalog.sqlite",
               "/files/song.wav", "/files/" + str(outside), "/media/take/s01-evil1", "/media/take/s01-evil2",
               "/proxy/s01-evil1.mp4", "/thumb/s01-evil2.jpg", "/static/..%2Fapp.py",
               "/files/takes/s01/sidecar.json"]
    (project / "takes" / "s01" / "sidecar.json").write_text('{"secret": 1}')
    for url in refused:
        r = c.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert b"secret" not in r.content
    with Catalog(project / ".dreamcut" / "catalog.sqlite") as cat:
        cat.db.execute("DELETE FROM takes WHERE id LIKE 's01-evil%'")


def test_cut_strip_reads_the_cut_and_the_song(project):
    import opentimelineio as otio

    tl = otio.schema.Timeline(name="Test Video")
    v1 = otio.schema.Track(name="V1")
    t = 0.0
    for shot, take, dur, reason in (("s01", "s01-t001", 2.0, "downbeat 1; best score"),
                                    ("s02", "s02-t003", 3.0, "chorus starts")):
        clip = otio.schema.Clip(name=take, media_reference=otio.schema.ExternalReference(target_url=f"takes/{shot}/x.mp4"),
                                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24),
                                                                     otio.opentime.RationalTime(dur * 24, 24)))
        clip.metadata["dreamcut"] = {"shot": shot, "take": take, "speed": 1.0, "reason": reason, "score": None,
                                     "record_start": t, "record_end": t + dur}
        v1.append(clip)
        t += dur
    tl.tracks.append(v1)
    (project / "edits").mkdir(exist_ok=True)
    otio.adapters.write_to_file(tl, str(project / "edits" / "cut.otio"))
    cut = TestClient(create_app(project)).get("/api/cut").json()
    assert [(c["take"], c["start"], c["end"], c["reason"]) for c in cut["clips"]] == [
        ("s01-t001", 0.0, 2.0, "downbeat 1; best score"), ("s02-t003", 2.0, 5.0, "chorus starts")]
    assert len(cut["peaks"]) == 1200 and max(cut["peaks"]) == 1.0 and cut["seconds"] >= 5.0
    assert list((project / ".dreamcut" / "cache" / "waveform").glob("*.json"))


def test_jobs_validate_their_input(client):
    assert client.post("/api/jobs", json={"action": "explode"}, headers=H).status_code == 422
    assert client.post("/api/jobs", json={"action": "preview", "shot": "s01", "variants": 7}, headers=H).status_code == 422
    assert client.post("/api/jobs", json={"action": "preview", "shot": "nope", "variants": 8},
                       headers=H).status_code == 404
    assert client.get("/api/jobs").json() == []


def test_production_size_first_paint(tmp_path):
    """700 takes across 55 shots: the first page is one server-rendered HTML document whose size
    stays bounded, every poster is lazy, and no full-size video URL is in it."""
    root = make_project(tmp_path / "big", shots=55, takes_per_shot=13, media=4)
    c = TestClient(create_app(root))
    r = c.get("/", headers={"Accept-Encoding": "gzip"})
    html = r.text
    assert html.count('class="take') == 715
    assert len(html.encode()) < 1200 * 715  # ~0.8 kB a card today
    assert r.headers.get("content-encoding") == "gzip"
    assert "/media/take/" not in html and "/proxy/" not in html and ".mp4" not in html
    assert len(re.findall(r'<img loading="lazy"', html)) == 715
    # no video loads at first paint: the edit room's monitor and the compare view start empty
    assert not re.search(r"<(video|audio)[^>]*\ssrc=", html)


def test_review_command_serves_the_board(project, tmp_path):
    """`dreamcut review --no-open` as a real process: listens on 127.0.0.1 and shows every take."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from conftest import REPO

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "dreamcut", "--project", str(project), "review", "--no-open",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline, html = time.time() + 30, None
        while time.time() < deadline and html is None:
            try:
                html = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text
            except httpx.TransportError:
                time.sleep(0.2)
        assert html is not None, proc.stderr.read1().decode() if proc.poll() is not None else "no answer"
        assert len(re.findall(r'class="take', html)) == len(re.findall(r'id="t-', html)) >= 9
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_demo_project_is_reviewable(tmp_path):
    """The short demo, generated and cut by the real pipeline: the board shows every take, and the
    cut strip shows the planner's clips with their reasons over the song."""
    from dreamcut import pipeline
    from dreamcut.demo.project import write_demo_project
    from dreamcut.demo.song import synthesize_song
    from dreamcut.project import Project

    root = tmp_path / "demo"
    write_demo_project(root, short=True)
    synthesize_song(root / "song.wav", structure=[("intro", 2), ("verse", 2), ("chorus", 2), ("outro", 1)])
    project = Project.open(root)
    pipeline.generate(project)
    pipeline.make_edit(project)
    takes = project.catalog.takes()
    assert takes
    c = TestClient(create_app(root))
    html = c.get("/").text
    assert set(re.findall(r'id="t-([^"]+)"', html)) == {t.id for t in takes}
    cut = c.get("/api/cut").json()
    assert cut["clips"] and all(c_["reason"] for c_ in cut["clips"])
    assert {c_["take"] for c_ in cut["clips"]} <= {t.id for t in takes}
    assert cut["peaks"] and cut["seconds"] > 10


def test_board_preview_job_runs_the_cli(tmp_path):
    """The board's "preview 8" button: a background `dreamcut preview` that lands previews in the catalog."""
    import time

    root = make_project(tmp_path / "jobs", shots=2, takes_per_shot=1, take_seconds=1.0)
    c = TestClient(create_app(root))
    job = c.post("/api/jobs", json={"action": "preview", "shot": "s01", "variants": 4}, headers=H).json()
    deadline = time.time() + 120
    while time.time() < deadline:
        state = next(j for j in c.get("/api/jobs").json() if j["id"] == job["id"])
        if state["state"] != "running":
            break
        time.sleep(0.3)
    assert state["state"] == "done", state["log"]
    with Catalog(root / ".dreamcut" / "catalog.sqlite") as cat:
        previews = cat.takes("s01", kind="preview")
    assert len(previews) == 4 and (root / "previews" / "s01" / "contact_sheet.png").is_file()
    html = c.get("/").text
    assert html.count('data-kind="preview"') == 4 and "contact_sheet.png" in html
    assert str(Path.home()) not in state["log"]
