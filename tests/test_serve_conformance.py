"""`dreamcut serve` against OpenAI's published `/videos` spec, as a real process over HTTP.

Every operation of the spec (tests/data/openai-openapi-videos.yaml) is called in the request
forms the spec gives (JSON and multipart, with bracket keys for objects as the SDKs send them),
and every response is checked by `openai_spec.check`: no 5xx, 2xx bodies valid against the
operation's response schema in a documented media type, 4xx bodies in OpenAI's error shape.
Then each operation's inputs are fuzzed (hypothesis, bodies drawn from the spec's request
schemas, with wrong types, unknown fields, NULs and garbage mixed in) under the same check.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import threading
import time
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import openai_spec
from dreamcut.media import ffmpeg_exe
from openai_spec import check
from serve_helpers import Serve

# 40 examples per case keeps the suite at seconds; DREAMCUT_FUZZ_EXAMPLES=500 (random seeds) digs deeper.
_DEEP = int(os.environ.get("DREAMCUT_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_DEEP or 40, deadline=None, database=None, derandomize=not _DEEP,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large])


def _png(colour=(200, 40, 40), size=(64, 36)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def _mp4(path: Path, size: str = "128x72", seconds: float = 1.0) -> bytes:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size={size}:rate=8:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(path)], check=True, capture_output=True)
    return path.read_bytes()


class Api:
    """httpx against the server, with the key; `op` names the spec operation each call is checked as."""

    def __init__(self, serve: Serve):
        self.serve = serve
        self.http = httpx.Client(base_url=serve.base_url, headers={"Authorization": f"Bearer {serve.api_key}"},
                                 timeout=60)

    def call(self, op: str, method: str, path: str, **kw) -> httpx.Response:
        r = self.http.request(method, path, **kw)
        check(op, r)
        return r

    def wait(self, video_id: str, limit_s: float = 60) -> dict:
        deadline = time.monotonic() + limit_s
        while True:
            v = self.call("GetVideo", "GET", f"/videos/{video_id}").json()
            if v["status"] in ("completed", "failed") or time.monotonic() > deadline:
                return v
            time.sleep(0.05)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    return {"png": _png(), "mp4": _mp4(root / "clip.mp4")}


@pytest.fixture(scope="module")
def serve_args():
    return ("--backend", "testcard", "--fps", "4", "--workers", "2", "--poll-after-ms", "50",
            "--max-request-mb", "2", "--blocked-words", "forbidden")


@pytest.fixture(scope="module")
def api(serve):
    a = Api(serve)
    yield a
    a.http.close()


@pytest.fixture(scope="module")
def done(api) -> dict:
    """A completed sora-2 video the other operations work from."""
    v = api.call("createVideo", "POST", "/videos", json={"prompt": "a corridor, slow zoom", "model": "sora-2",
                                                         "seconds": "4", "size": "1280x720"}).json()
    v = api.wait(v["id"])
    assert v["status"] == "completed", v
    return v


# -- every operation, in the spec's request forms ----------------------------------------------------

def test_create_in_every_request_form(api, media, done, tmp_path):
    data_url = "data:image/png;base64," + base64.b64encode(media["png"]).decode()
    file_id = api.http.post("/files", files={"file": ("ref.png", media["png"], "image/png"),
                                             "purpose": (None, "vision")}).json()["id"]
    # an http(s) image URL: a plain local web server serves the picture
    (tmp_path / "ref.png").write_bytes(media["png"])
    web = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    http_url = f"http://127.0.0.1:{web.server_address[1]}/ref.png"
    try:
        forms = [
            {"files": {"prompt": (None, "multipart, no reference"), "model": (None, "sora-2")}},
            {"files": {"prompt": (None, "multipart, uploaded image"), "seconds": (None, "8"),
                       "size": (None, "720x1280"), "input_reference": ("ref.png", media["png"], "image/png")}},
            {"files": {"prompt": (None, "multipart, file id"), "input_reference[file_id]": (None, file_id)}},
            {"files": {"prompt": (None, "multipart, data URL"), "input_reference[image_url]": (None, data_url)}},
            {"json": {"prompt": "json, data URL", "input_reference": {"image_url": data_url}}},
            {"json": {"prompt": "json, http URL", "input_reference": {"image_url": http_url}}},
            {"json": {"prompt": "json, file id", "model": "sora-2-pro", "size": "1792x1024", "seconds": "12",
                      "input_reference": {"file_id": file_id}}},
            {"json": {"prompt": "json, dated snapshot", "model": "sora-2-2025-12-08"}},
        ]
        made = [api.call("createVideo", "POST", "/videos", **form).json() for form in forms]
    finally:
        web.shutdown()
    assert [v["status"] for v in made] == ["queued"] * len(made)
    assert made[1]["seconds"] == "8" and made[6]["size"] == "1792x1024" and made[6]["model"] == "sora-2-pro"
    assert made[0]["size"] == "720x1280" and made[0]["seconds"] == "4"  # the spec's defaults
    for v in made:
        assert api.wait(v["id"])["status"] == "completed"


def test_input_reference_object_is_not_ignored(api):
    """A reference that cannot be used is refused, never silently dropped (a text-only video billed)."""
    cases = [({"image_url": "data:image/png;base64,bm90IGFuIGltYWdl"}, "input_reference.image_url", 400),
             ({"file_id": "file-nope"}, "input_reference.file_id", 404),
             ({"image_url": "ftp://example.invalid/x.png"}, "input_reference.image_url", 400),
             ({}, "input_reference", 400),
             ({"image_url": "data:,x", "file_id": "file-x"}, "input_reference", 400)]
    for ref, param, status in cases:
        r = api.call("createVideo", "POST", "/videos", json={"prompt": "p", "input_reference": ref})
        assert (r.status_code, r.json()["error"]["param"]) == (status, param), ref
        if not ref:
            continue  # in multipart an empty object is no field at all
        r = api.call("createVideo", "POST", "/videos",
                     files={"prompt": (None, "p"), **{f"input_reference[{k}]": (None, v) for k, v in ref.items()}})
        assert r.status_code == status, ref


def test_list_pages_with_cursors_both_orders(api):
    ids = [api.call("createVideo", "POST", "/videos", json={"prompt": f"page {i}"}).json()["id"] for i in range(3)]
    for order in ("asc", "desc"):
        seen, after = [], None
        for _ in range(200):  # bounded walk
            params = {"limit": 2, "order": order, **({"after": after} if after else {})}
            page = api.call("ListVideos", "GET", "/videos", params=params).json()
            seen += [v["id"] for v in page["data"]]
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert len(seen) == len(set(seen)) and set(ids) <= set(seen)
        positions = [seen.index(i) for i in ids]
        assert positions == sorted(positions, reverse=(order == "desc"))
    empty = api.call("ListVideos", "GET", "/videos", params={"limit": 0}).json()
    assert empty["data"] == [] and empty["has_more"] is True and empty["first_id"] is None


def test_content_variants_in_their_media_types(api, done):
    expected = {"video": ("video/mp4", lambda b: b[4:8] == b"ftyp"),
                "thumbnail": ("image/webp", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
                "spritesheet": ("image/jpeg", lambda b: b[:3] == b"\xff\xd8\xff")}
    for variant, (ctype, magic) in expected.items():
        r = api.call("RetrieveVideoContent", "GET", f"/videos/{done['id']}/content", params={"variant": variant})
        assert r.headers["content-type"] == ctype and magic(r.content), variant
    assert api.call("RetrieveVideoContent", "GET", f"/videos/{done['id']}/content").content[4:8] == b"ftyp"
    bad = api.call("RetrieveVideoContent", "GET", f"/videos/{done['id']}/content", params={"variant": "gif"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "variant"


def test_remix_extend_edit_by_id_and_by_upload(api, done, media):
    vid = done["id"]
    remix = api.call("CreateVideoRemix", "POST", f"/videos/{vid}/remix", json={"prompt": "in winter"}).json()
    remix_mp = api.call("CreateVideoRemix", "POST", f"/videos/{vid}/remix", files={"prompt": (None, "in spring")})
    assert remix["remixed_from_video_id"] == vid and remix_mp.json()["remixed_from_video_id"] == vid
    ext = api.call("CreateVideoExtend", "POST", "/videos/extensions",
                   json={"video": {"id": vid}, "prompt": "further", "seconds": "4"}).json()
    ext_mp = api.call("CreateVideoExtend", "POST", "/videos/extensions",
                      files={"video[id]": (None, vid), "prompt": (None, "further"), "seconds": (None, "8")}).json()
    ext_up = api.call("CreateVideoExtend", "POST", "/videos/extensions",
                      files={"video": ("clip.mp4", media["mp4"], "video/mp4"), "prompt": (None, "on and on"),
                             "seconds": (None, "4")}).json()
    assert (ext["seconds"], ext_mp["seconds"], ext["size"]) == ("8", "12", done["size"])
    assert ext_up["seconds"] == "5" and ext_up["size"] == "1280x720"  # a 1 s landscape upload + 4 s, spec size
    edit = api.call("CreateVideoEdit", "POST", "/videos/edits", json={"video": {"id": vid}, "prompt": "neon"}).json()
    edit_up = api.call("CreateVideoEdit", "POST", "/videos/edits",
                       files={"video": ("clip.mp4", media["mp4"], "video/mp4"), "prompt": (None, "neon")}).json()
    assert (edit["seconds"], edit["size"]) == (done["seconds"], done["size"]) and edit_up["size"] == "1280x720"
    for v in (remix, remix_mp.json(), ext, ext_mp, ext_up, edit, edit_up):
        assert api.wait(v["id"])["status"] == "completed", v
    got = api.call("RetrieveVideoContent", "GET", f"/videos/{ext_up['id']}/content").content
    from dreamcut.media import probe

    path = Path(api.serve.log.name).with_suffix(".ext.mp4")
    path.write_bytes(got)
    try:
        assert abs(probe(path).duration - 5.0) < 0.3  # the upload, stitched with the new 4 s
    finally:
        path.unlink()
    # sources that are not completed (a failed one), or missing, or not videos
    failed = api.wait(api.call("createVideo", "POST", "/videos", json={"prompt": "something forbidden"}).json()["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "moderation_blocked"
    for op, method, path_, kw in [
        ("CreateVideoRemix", "POST", f"/videos/{failed['id']}/remix", {"json": {"prompt": "x"}}),
        ("CreateVideoExtend", "POST", "/videos/extensions", {"json": {"video": {"id": failed["id"]}, "prompt": "x",
                                                                     "seconds": "4"}}),
        ("CreateVideoEdit", "POST", "/videos/edits", {"json": {"video": {"id": failed["id"]}, "prompt": "x"}})]:
        r = api.call(op, method, path_, **kw)
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_video_state", path_
    r = api.call("CreateVideoExtend", "POST", "/videos/extensions",
                 files={"video": ("x.mp4", b"not a video", "video/mp4"), "prompt": (None, "x"), "seconds": (None, "4")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "video"
    r = api.call("CreateVideoEdit", "POST", "/videos/edits", json={"video": {"id": "video_missing"}, "prompt": "x"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "video.id"


def test_characters_create_retrieve_and_use(api, media):
    made = api.call("CreateVideoCharacter", "POST", "/videos/characters",
                    files={"video": ("mara.mp4", media["mp4"], "video/mp4"), "name": (None, "Mara")}).json()
    assert made["id"].startswith("char_") and made["name"] == "Mara"
    assert api.call("GetVideoCharacter", "GET", f"/videos/characters/{made['id']}").json() == made
    assert api.call("GetVideoCharacter", "GET", "/videos/characters/char_missing").status_code == 404
    again = api.call("CreateVideoCharacter", "POST", "/videos/characters",
                     files={"video": ("m.mp4", media["mp4"], "video/mp4"), "name": (None, "mara")})
    assert again.status_code == 409 and again.json()["error"]["param"] == "name"
    for files, param in [({"name": (None, "NoVideo")}, "video"),
                         ({"video": ("x.mp4", b"garbage", "video/mp4"), "name": (None, "Junk")}, "video"),
                         ({"video": ("x.mp4", media["mp4"], "video/mp4"), "name": (None, "x" * 81)}, "name")]:
        r = api.call("CreateVideoCharacter", "POST", "/videos/characters", files=files)
        assert r.status_code == 400 and r.json()["error"]["param"] == param
    v = api.call("createVideo", "POST", "/videos", json={"prompt": "@Mara walks through the corridor"}).json()
    assert api.wait(v["id"])["status"] == "completed"


def test_delete_completed_and_failed_videos(api):
    """The spec deletes completed or failed videos (a running one: see test_serve_curl's cancel test)."""
    ok = api.call("createVideo", "POST", "/videos", json={"prompt": "to be deleted"}).json()
    bad = api.call("createVideo", "POST", "/videos", json={"prompt": "forbidden, to be deleted"}).json()
    assert (api.wait(ok["id"])["status"], api.wait(bad["id"])["status"]) == ("completed", "failed")
    for v in (ok, bad):
        r = api.call("DeleteVideo", "DELETE", f"/videos/{v['id']}")
        assert r.json() == {"id": v["id"], "object": "video.deleted", "deleted": True}
        assert api.call("GetVideo", "GET", f"/videos/{v['id']}").status_code == 404
        assert api.call("DeleteVideo", "DELETE", f"/videos/{v['id']}").status_code == 404
    gone = api.call("RetrieveVideoContent", "GET", f"/videos/{ok['id']}/content")
    assert gone.status_code == 404


def test_client_mistakes_are_4xx_in_openais_shape(api, serve, done):
    vid = done["id"]
    raw = [
        ("createVideo", "POST", "/videos", {"content": b"{not json", "headers": {"content-type": "application/json"}},
         400),
        ("CreateVideoRemix", "POST", f"/videos/{vid}/remix",
         {"content": b"\x00", "headers": {"content-type": "application/json"}}, 400),
        ("createVideo", "POST", "/videos", {"json": {"prompt": "x", "size": ["1280x720"]}}, 400),
        ("createVideo", "POST", "/videos", {"json": ["prompt"]}, 400),
        ("createVideo", "POST", "/videos", {"json": {"prompt": "x", "seconds": 4}}, 400),
        ("createVideo", "POST", "/videos", {"json": {"prompt": "x", "size": "256x144"}}, 400),
        ("createVideo", "POST", "/videos", {"json": {"prompt": ""}}, 400),
        ("createVideo", "POST", "/videos", {"json": {"prompt": "x" * 32001}}, 400),
        ("createVideo", "POST", "/videos", {"content": b"[" * 50000 + b"]" * 50000,
                                            "headers": {"content-type": "application/json"}}, 400),
        ("createVideo", "POST", "/videos", {"json": {"prompt": "x", "a": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}}, 400),
        ("createVideo", "POST", "/videos", {"json": {"prompt": "x", "input_reference": "abc"}}, 400),
        ("createVideo", "POST", "/videos", {"files": {"prompt": ("p.txt", b"a prompt", "text/plain")}}, 400),
        ("createVideo", "POST", "/videos", {"files": {"prompt": (None, "x"), "input_reference": (None, "abc")}}, 400),
        ("createVideo", "POST", "/videos", {"content": b"prompt=x", "headers": {"content-type": "text/csv"}}, 415),
        ("ListVideos", "GET", "/videos?limit=abc", {}, 400),
        ("ListVideos", "GET", "/videos?limit=101", {}, 400),
        ("ListVideos", "GET", "/videos?order=AAA", {}, 400),
        ("ListVideos", "GET", "/videos?after=video_never", {}, 400),
        ("CreateVideoExtend", "POST", "/videos/extensions", {"json": {"video": {"id": vid}, "prompt": "x",
                                                                      "seconds": "5"}}, 400),
        ("CreateVideoExtend", "POST", "/videos/extensions", {"json": {"prompt": "x", "seconds": "4"}}, 400),
        ("GetVideo", "GET", "/videos/nope", {}, 404),
        ("GetVideo", "GET", "/no/such/route", {}, 404),
        ("createVideo", "POST", "/videos/", {"json": {"prompt": "x"}}, 404),
        ("GetVideo", "PATCH", f"/videos/{vid}", {}, 405),
        ("createVideo", "POST", "/videos", {"content": b"x" * (3 << 20),
                                            "headers": {"content-type": "application/json"}}, 413),
    ]
    for op, method, path, kw, status in raw:
        r = api.call(op, method, path, **kw)
        assert r.status_code == status, (path, kw.get("json"), r.text[:200])
    anon = httpx.get(f"{serve.base_url}/videos")
    check("ListVideos", anon)
    assert anon.status_code == 401


def test_idempotency_key_reuse_with_another_body_is_409(api, serve):
    before = serve.billing()["creates"]
    h = {"Idempotency-Key": "conf-1"}
    a = api.call("createVideo", "POST", "/videos", json={"prompt": "once"}, headers=h).json()
    b = api.call("createVideo", "POST", "/videos", files={"prompt": (None, "once")}, headers=h).json()
    assert a["id"] == b["id"] and serve.billing()["creates"] == before + 1  # JSON or multipart: same fields
    c = api.call("createVideo", "POST", "/videos", json={"prompt": "something else"}, headers=h)
    assert c.status_code == 409 and c.json()["error"]["code"] == "idempotency_key_reused"


# -- property-based fuzzing of every operation's inputs --------------------------------------------

_BINARY = object()  # where the spec has `format: binary`: a file part


def _wild() -> st.SearchStrategy:
    """Any JSON value, NULs and long strings included: what a careless client might send anywhere."""
    scalars = st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False, allow_infinity=False) \
        | st.text(max_size=30) | st.just("\x00") | st.sampled_from(["", "4", "1280x720", "sora-2", "asc"])
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _from_schema(schema: dict, ids: list[str]) -> st.SearchStrategy:
    """Values valid for a schema of the spec ($ref, anyOf/oneOf, enum, string, object), ids mixed in."""
    if "$ref" in schema:
        return _from_schema(openai_spec.spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], ids)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([_from_schema(s, ids) for s in schema[key]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        if schema.get("format") == "binary":
            return st.just(_BINARY)
        if schema.get("format") == "uri":
            return st.sampled_from(["data:image/png;base64," + base64.b64encode(_png()).decode(),
                                    "data:image/png;base64,!!", "https://127.0.0.1:9/none.png", "not a url"])
        text = st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40))
        return text | st.sampled_from(ids) if ids else text
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries({k: _from_schema(v, ids) for k, v in props.items() if k in required},
                                     optional={k: _from_schema(v, ids) for k, v in props.items() if k not in required})
    if kind == "null":
        return st.none()
    return _wild()


def _body(schema_name: str, ids: list[str]) -> st.SearchStrategy:
    """A request body: valid per the spec, then perhaps one field replaced by a wild value or added."""
    valid = _from_schema({"$ref": f"#/components/schemas/{schema_name}"}, ids)

    @st.composite
    def mutate(draw):
        body = dict(draw(valid))
        how = draw(st.sampled_from(["valid", "valid", "wild_field", "drop", "extra"]))
        if how == "wild_field" and body:
            body[draw(st.sampled_from(sorted(body)))] = draw(_wild())
        elif how == "drop" and body:
            body.pop(draw(st.sampled_from(sorted(body))))
        elif how == "extra":
            body[draw(st.text(min_size=1, max_size=10))] = draw(_wild())
        return body
    return mutate()


def _multipart(body: dict, media: dict, pick: int) -> list:
    """A body as the SDKs send multipart: objects as `key[sub]`, files as parts, the rest as text."""
    files = [("clip.mp4", media["mp4"], "video/mp4"), ("ref.png", media["png"], "image/png"),
             ("junk.bin", b"\x00\x01junk", "application/octet-stream")]
    parts = []
    for key, value in body.items():
        if value is _BINARY:
            parts.append((key, files[pick % len(files)]))
        elif isinstance(value, dict):
            parts += [(f"{key}[{k}]", (None, v if isinstance(v, str) else json.dumps(v))) for k, v in value.items()
                      if v is not _BINARY]
        else:
            parts.append((key, (None, value if isinstance(value, str) else json.dumps(value))))
    return parts or [("_", (None, ""))]


def _json(body: dict) -> dict:
    return {k: (None if v is _BINARY else v) for k, v in body.items()}


@pytest.fixture(scope="module")
def ids(api, done, media) -> list[str]:
    char = api.call("CreateVideoCharacter", "POST", "/videos/characters",
                    files={"video": ("c.mp4", media["mp4"], "video/mp4"), "name": (None, "Fuzzy")}).json()
    return [done["id"], char["id"], "video_123", "char_123", "file-123", "sora-2", "sora-2-pro"]


BODY_CASES = [
    ("createVideo", "CreateVideoJsonBody", "json"), ("createVideo", "CreateVideoMultipartBody", "multipart"),
    ("CreateVideoExtend", "CreateVideoExtendJsonBody", "json"),
    ("CreateVideoExtend", "CreateVideoExtendMultipartBody", "multipart"),
    ("CreateVideoEdit", "CreateVideoEditJsonBody", "json"),
    ("CreateVideoEdit", "CreateVideoEditMultipartBody", "multipart"),
    ("CreateVideoCharacter", "CreateVideoCharacterBody", "multipart"),
    ("CreateVideoRemix", "CreateVideoRemixBody", "json"), ("CreateVideoRemix", "CreateVideoRemixBody", "multipart"),
]


def test_every_operation_and_request_form_of_the_spec_is_covered():
    """The spec file decides what is fuzzed: each operation, and each (operation, body schema, form) pair."""
    paths = openai_spec.spec()["paths"]
    in_spec = {op["operationId"]: (method, path) for path, item in paths.items() for method, op in item.items()}
    assert in_spec == openai_spec.OPERATIONS
    forms = {"application/json": "json", "multipart/form-data": "multipart"}
    bodies = {(op["operationId"], c["schema"]["$ref"].rsplit("/", 1)[1], forms[ctype])
              for item in paths.values() for op in item.values()
              for ctype, c in op.get("requestBody", {}).get("content", {}).items()}
    assert bodies == set(BODY_CASES)


@pytest.mark.parametrize("op,schema,form", BODY_CASES)
def test_fuzz_request_bodies(api, media, ids, op, schema, form):
    method, path = openai_spec.OPERATIONS[op]

    @FUZZ
    @given(body=_body(schema, ids), pick=st.integers(0, 2), vid=st.sampled_from(ids) | st.text(max_size=20))
    def run(body, pick, vid):
        url = path.replace("{video_id}", quote(vid, safe="") or "x")
        kw = {"json": _json(body)} if form == "json" else {"files": _multipart(body, media, pick)}
        api.call(op, method.upper(), url, **kw)
    run()


def test_fuzz_raw_bodies(api, ids):
    posts = [p for op, (m, p) in openai_spec.OPERATIONS.items() if m == "post"]

    @FUZZ
    @given(path=st.sampled_from(posts), raw=st.binary(max_size=64) | st.text(max_size=64).map(str.encode),
           ctype=st.sampled_from(["application/json", "multipart/form-data", "multipart/form-data; boundary=x",
                                  "application/x-www-form-urlencoded", "text/plain", ""]))
    def run(path, raw, ctype):
        op = next(o for o, (m, p) in openai_spec.OPERATIONS.items() if p == path and m == "post")
        api.call(op, "POST", path.replace("{video_id}", ids[0]), content=raw,
                 headers={"content-type": ctype} if ctype else {})
    run()


def test_fuzz_paths_and_queries(api, ids):
    gets = ["GetVideo", "RetrieveVideoContent", "GetVideoCharacter", "ListVideos", "DeleteVideo"]

    @FUZZ
    @given(op=st.sampled_from(gets), pid=st.sampled_from(ids) | st.text(max_size=30),
           query=st.dictionaries(st.sampled_from(["limit", "order", "after", "variant"]),
                                 st.sampled_from(["0", "1", "100", "-1", "abc", "asc", "desc", "AAA", "video",
                                                  "thumbnail", "spritesheet", ""]) | st.text(max_size=10),
                                 max_size=4))
    def run(op, pid, query):
        if op == "DeleteVideo" and pid == ids[0]:
            pid = "video_kept"  # the completed video the other cases work from stays
        method, path = openai_spec.OPERATIONS[op]
        url = path.replace("{video_id}", quote(pid, safe="") or "x").replace("{character_id}",
                                                                             quote(pid, safe="") or "x")
        api.call(op, method.upper(), url, params=query)
    run()


def test_fuzz_idempotency_keys(api, serve):
    """Any sequence of creates over a few keys and bodies: a key keeps its first body's video, is
    refused (409) with another body, and the server accepts exactly one paid job per key."""

    @FUZZ
    @given(calls=st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["p1", "p2"]),
                                    st.sampled_from(["json", "multipart"])), min_size=1, max_size=6))
    def run(calls):
        run_id = uuid.uuid4().hex  # fresh keys per example (drawn ones would repeat across examples)
        before = serve.billing()["creates"]
        first: dict[str, tuple[str, str]] = {}
        for key, prompt, form in calls:
            kw = {"json": {"prompt": prompt}} if form == "json" else {"files": {"prompt": (None, prompt)}}
            r = api.call("createVideo", "POST", "/videos", headers={"Idempotency-Key": f"{run_id}-{key}"}, **kw)
            if key not in first:
                first[key] = (prompt, r.json()["id"])
            elif first[key][0] == prompt:
                assert r.json()["id"] == first[key][1]
            else:
                assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_key_reused"
        assert serve.billing()["creates"] == before + len(first)
    run()
