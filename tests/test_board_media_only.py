"""The board serves media and nothing else: never the signing key, the catalog, the spec or a
sidecar, whether a catalog row or a symlink points there; every error a 4xx without a traceback."""

from __future__ import annotations

import json
import os

import pytest
from fastapi.testclient import TestClient

from _takes import make_project
from dreamcut.catalog import Catalog, Take
from dreamcut.errors import BadInput
from dreamcut.web import create_app, serve

H = {"X-Dreamcut": "1"}
SECRET = b"-----BEGIN PRIVATE KEY----- very secret"


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("media-only") / "proj", shots=2, takes_per_shot=1)
    keys = root / ".dreamcut" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "signer.key").write_bytes(SECRET)
    (root / "takes" / "s01" / "media000.json").write_text('{"request": "very secret"}')
    (root / "takes" / "s01" / "not-a-video.mp4").write_text("very secret words, not a video")
    links = {"key-link.mp4": keys / "signer.key", "catalog-link.mp4": root / ".dreamcut" / "catalog.sqlite",
             "spec-link.mp4": root / "dreamcut.yaml"}
    for name, target in links.items():
        os.symlink(target, root / "takes" / "s01" / name)
    rows = {"row-key": ".dreamcut/keys/signer.key", "row-catalog": ".dreamcut/catalog.sqlite",
            "row-spec": "dreamcut.yaml", "row-sidecar": "takes/s01/media000.json", "row-song": "song.wav",
            "row-key-dots": "takes/../.dreamcut/keys/signer.key", "link-key": "takes/s01/key-link.mp4",
            "link-catalog": "takes/s01/catalog-link.mp4", "link-spec": "takes/s01/spec-link.mp4",
            "not-video": "takes/s01/not-a-video.mp4"}
    with Catalog(root / ".dreamcut" / "catalog.sqlite") as cat:
        for tid, path in rows.items():
            cat.add_take(Take(id=tid, shot_id="s01", path=path, seconds=2, width=256, height=144, fps=24,
                              backend="animatic"))
    return TestClient(create_app(root), raise_server_exceptions=False)


@pytest.mark.parametrize("tid", ["row-key", "row-catalog", "row-spec", "row-sidecar", "row-song", "row-key-dots",
                                 "link-key", "link-catalog", "link-spec"])
def test_signing_key_catalog_and_spec_refused_by_row_and_by_symlink(board, tid):
    for url in (f"/media/take/{tid}", f"/thumb/{tid}.jpg", f"/proxy/{tid}.mp4"):
        r = board.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert b"secret" not in r.content and b"SQLite" not in r.content


def test_files_route_serves_media_folders_only(board):
    assert board.get("/media/take/s01-t001").status_code == 200
    assert board.get("/files/takes/s01/media000.mp4").status_code == 200
    for url in ("/files/takes/s01/key-link.mp4", "/files/.dreamcut/keys/signer.key", "/files/takes/s01/media000.json",
                "/files/takes/%2E%2E/.dreamcut/keys/signer.key", "/files/edits/cut.otio", "/files/refs/a.png"):
        r = board.get(url)
        assert r.status_code == 404 and b"secret" not in r.content, url


@pytest.mark.parametrize("url", ["/files/takes/s01/media000.mp4%00.png", "/media/take/s01-t001%00",
                                 "/thumb/%00.jpg", "/proxy/a%00b.mp4", "/files/%00"])
def test_nul_in_a_path_is_a_4xx(board, url):
    r = board.get(url)
    assert 400 <= r.status_code < 500, (url, r.status_code)
    assert b"Traceback" not in r.content


def test_thumb_and_proxy_of_a_non_video_are_a_4xx_without_traceback(board):
    for url in ("/thumb/not-video.jpg", "/proxy/not-video.mp4"):
        r = board.get(url)
        assert r.status_code == 422, (url, r.status_code, r.content[:200])
        detail = r.json()["detail"]
        assert "Traceback" not in detail and "\n" not in detail and "secret" not in detail


def test_body_size_and_json_depth_limits(board):
    big = b'{"note": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = board.post("/api/review/s01-t001", content=big, headers={**H, "Content-Type": "application/json"})
    assert r.status_code == 413
    deep = ("[" * 1000 + "]" * 1000).encode()
    r = board.post("/api/review/s01-t001", content=b'{"tags": ' + deep + b"}",
                   headers={**H, "Content-Type": "application/json"})
    assert r.status_code == 422 and "nested" in r.json()["detail"]
    r = board.post("/api/jobs", content=b'{"a": ' + deep + b"}", headers={**H, "Content-Type": "application/json"})
    assert r.status_code == 422
    ok = board.post("/api/review/s01-t001", content=json.dumps({"rating": 4}).encode(),
                    headers={**H, "Content-Type": "application/json"})
    assert ok.status_code == 200 and ok.json()["rating"] == 4


def test_listening_beyond_loopback_needs_allowed_hosts(tmp_path, cli):
    root = make_project(tmp_path / "p", shots=1, takes_per_shot=1)
    with pytest.raises(BadInput) as e:
        serve(root, host="0.0.0.0", port=1, open_browser=False)
    assert "--allowed-host" in e.value.fix
    proc = cli("-p", str(root), "review", "--host", "0.0.0.0", "--no-open", timeout=60)
    assert proc.returncode == 2 and "--allowed-host" in proc.stderr
    app = create_app(root, allowed_hosts=["studio.lan"])
    c = TestClient(app)
    assert c.get("/api/board", headers={"Host": "studio.lan"}).status_code == 200
    assert c.get("/api/board", headers={"Host": "evil.example"}).status_code == 400
