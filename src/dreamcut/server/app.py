"""`dreamcut serve`: an OpenAI-compatible `/v1/videos` server backed by a local backend.

The wire format follows OpenAI's videos API so that the official `openai` SDK works
unchanged: `POST /v1/videos` (multipart: prompt, model, seconds, size, input_reference),
`GET /v1/videos` (cursor page: data, first_id, last_id, has_more), `GET /v1/videos/{id}`,
`GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet`, `DELETE /v1/videos/{id}`,
`POST /v1/videos/{id}/remix`, `POST /v1/videos/extensions`, and `GET /v1/models`. Video
objects carry `object: "video"`, `status` (queued | in_progress | completed | failed),
`progress`, `created_at`, `seconds` (a string), `size`, `error {code, message}`; retrieves
send the `openai-poll-after-ms` header.

Beyond the official API (all under names OpenAI does not use):
- `Idempotency-Key` header on creates: a retried create returns the first job and is
  billed once.
- `GET /_dreamcut/billing`: every create accepted and what completed videos cost, for
  checking that a client never paid twice.
- chaos (`--chaos RATE`): at that rate a request meets a 429 with Retry-After, a 500, a
  dropped connection, a malformed body, or (creates) a job that never finishes. Faults
  that hit a create after it was accepted still count it, as a real provider would.

This module never reads an API key from anywhere but its constructor, never echoes it,
and binds 127.0.0.1 unless told otherwise (see `dreamcut.server.run`).
"""

from __future__ import annotations

import hmac
import itertools
import json
import queue
import random
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from dreamcut.backends.base import GenerationRequest, LocalBackend
from dreamcut.media import atomic_path, ffmpeg_exe

SORA_SIZES = ("720x1280", "1280x720")
SORA_PRO_SIZES = SORA_SIZES + ("1024x1792", "1792x1024")
EXTENSION_SECONDS = ("4", "8", "12", "16", "20")


@dataclass(frozen=True)
class ServedModel:
    """A model name the server answers to, with the lengths and sizes it accepts."""

    id: str
    price_per_second: float
    seconds: tuple[str, ...] | None = None  # allowed values, or None = any number in (0, max_seconds]
    sizes: tuple[str, ...] | None = None  # allowed values, or None = any WxH
    max_seconds: float = 20.0

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "object": "model", "created": 0, "owned_by": "dreamcut",
                # dreamcut extension: what a client needs to plan requests without guessing
                "dreamcut": {"seconds": list(self.seconds) if self.seconds else None,
                             "sizes": list(self.sizes) if self.sizes else None,
                             "max_seconds": self.max_seconds, "price_per_second": self.price_per_second,
                             "extend": True, "image_conditioning": True}}


@dataclass
class Video:
    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    created_at: int
    status: str = "queued"
    progress: int = 0
    completed_at: int | None = None
    error: dict[str, str] | None = None
    remixed_from_video_id: str | None = None
    extends: str | None = None  # source video of an extension
    reference: Path | None = None
    stuck: bool = False
    canceled: bool = False
    path: Path | None = None
    billed_seconds: float = 0.0  # what this job costs when it completes
    price: float = 0.0
    started: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "object": "video", "model": self.model, "status": self.status,
                "progress": self.progress, "created_at": self.created_at, "completed_at": self.completed_at,
                "expires_at": (self.completed_at + 3600) if self.completed_at else None, "prompt": self.prompt,
                "seconds": self.seconds, "size": self.size, "remixed_from_video_id": self.remixed_from_video_id,
                "error": self.error}


@dataclass
class Billing:
    creates: int = 0  # creates accepted (each is a paid job)
    idempotent_replays: int = 0  # creates answered from an earlier one with the same key
    completed: int = 0
    billed_usd: float = 0.0
    billed_seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)


class _Fault(Exception):
    def __init__(self, kind: str):
        self.kind = kind


def _error(status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
           param: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": type_, "param": param, "code": code}},
                        status_code=status, headers=headers)


class VideoServer:
    """The server's state: videos, the job queue and its workers, billing, chaos.

    backend: the local backend that renders (animatic, testcard, a local model).
    latency: simulated generation time per job in seconds (on top of the real render).
    """

    def __init__(self, backend: LocalBackend, *, storage: Path | None = None, api_key: str | None = None,
                 workers: int = 2, chaos: float = 0.0, chaos_seed: int | None = None, latency: float = 0.0,
                 price_per_second: float = 0.0, fps: int = 24, blocked_words: tuple[str, ...] = (),
                 poll_after_ms: int = 1000):
        self.backend = backend
        self._tmp = None
        if storage is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dreamcut-serve-")
            storage = Path(self._tmp.name)
        self.storage = Path(storage)
        self.storage.mkdir(parents=True, exist_ok=True)
        self._api_key = api_key or None
        self.chaos = chaos
        self.rng = random.Random(chaos_seed)
        self.latency = latency
        self.fps = fps
        self.blocked_words = tuple(w.lower() for w in blocked_words if w)
        self.poll_after_ms = poll_after_ms
        own = backend.name
        self.models = {m.id: m for m in (
            ServedModel(own, price_per_second, max_seconds=120.0),
            ServedModel("sora-2", price_per_second or 0.10, seconds=("4", "8", "12"), sizes=SORA_SIZES),
            ServedModel("sora-2-pro", price_per_second or 0.30, seconds=("4", "8", "12"), sizes=SORA_PRO_SIZES),
        )}
        self.videos: dict[str, Video] = {}
        self.by_key: dict[str, str] = {}
        self.billing = Billing()
        self.lock = threading.Lock()
        self.queue: queue.Queue[str | None] = queue.Queue()
        self._counter = itertools.count()
        self.workers = [threading.Thread(target=self._work, name=f"serve-worker-{i}", daemon=True)
                        for i in range(max(1, workers))]
        for t in self.workers:
            t.start()

    def close(self) -> None:
        for _ in self.workers:
            self.queue.put(None)
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- chaos ---------------------------------------------------------------------------
    def maybe_fault(self, kinds: tuple[str, ...]) -> str | None:
        if self.chaos <= 0:
            return None
        with self.lock:
            if self.rng.random() >= self.chaos:
                return None
            kind = self.rng.choice(kinds)
            self.billing.faults[kind] = self.billing.faults.get(kind, 0) + 1
            return kind

    def _maybe_stuck(self) -> bool:
        """Chaos for new jobs (caller holds the lock): a fifth of the fault rate never finishes."""
        if self.chaos <= 0 or self.rng.random() >= self.chaos / 5:
            return False
        self.billing.faults["stuck"] = self.billing.faults.get("stuck", 0) + 1
        return True

    # -- jobs ----------------------------------------------------------------------------
    def new_video(self, *, model: ServedModel, prompt: str, seconds: str, size: str, reference: Path | None = None,
                  remixed_from: str | None = None, extends: str | None = None, billed_seconds: float,
                  idempotency_key: str | None) -> tuple[Video, bool]:
        """Accept a job (and bill it) unless the idempotency key was seen: then return the first one."""
        with self.lock:
            if idempotency_key and idempotency_key in self.by_key:
                self.billing.idempotent_replays += 1
                return self.videos[self.by_key[idempotency_key]], False
            video = Video(id=f"video_{uuid.uuid4().hex}", model=model.id, prompt=prompt, seconds=seconds, size=size,
                          created_at=int(time.time()), reference=reference, remixed_from_video_id=remixed_from,
                          extends=extends, stuck=self._maybe_stuck(), billed_seconds=billed_seconds,
                          price=model.price_per_second)
            self.videos[video.id] = video
            if idempotency_key:
                self.by_key[idempotency_key] = video.id
            self.billing.creates += 1
        self.queue.put(video.id)
        return video, True

    def poll_after(self, video: Video) -> int:
        """Ask the client to come back when the job should be done (at most `poll_after_ms`)."""
        if video.status in ("queued", "in_progress") and video.started is not None and not video.stuck:
            left_ms = (self.latency - (time.monotonic() - video.started)) * 1000
            return int(max(20, min(self.poll_after_ms, left_ms + 25)))  # + the render after the wait
        return self.poll_after_ms

    def _work(self) -> None:
        while True:
            vid = self.queue.get()
            if vid is None:
                return
            video = self.videos.get(vid)
            if video is None or video.canceled:
                continue
            try:
                self._run(video)
            except Exception as e:  # a render failure is the job's failure, not the server's
                video.status, video.error = "failed", {"code": "internal_error", "message": str(e)[:300]}

    def _run(self, video: Video) -> None:
        video.status, video.started = "in_progress", time.monotonic()
        if video.stuck:
            video.progress = 37
            return  # chaos: this job never finishes
        steps = max(1, int(self.latency / 0.1))
        for i in range(steps):
            if video.canceled:
                return
            time.sleep(self.latency / steps)
            video.progress = min(95, int(100 * (i + 1) / (steps + 1)))
        if any(w in video.prompt.lower() for w in self.blocked_words):
            video.status = "failed"
            video.error = {"code": "moderation_blocked",
                           "message": "Your request was blocked by the server's content policy."}
            return
        w, h = (int(x) for x in video.size.split("x"))
        path = self.storage / f"{video.id}.mp4"
        if video.extends:
            source = self.videos[video.extends]
            seg_seconds = video.billed_seconds
            with atomic_path(path) as tmp:
                seg = self.storage / f"{video.id}.segment.mp4"
                self._render(video.prompt, seg_seconds, w, h, seg, refs=())
                _concat([source.path, seg], tmp)
                seg.unlink()
        else:
            with atomic_path(path) as tmp:
                refs = (str(video.reference),) if video.reference else ()
                self._render(video.prompt, float(video.seconds), w, h, tmp, refs=refs)
        if video.canceled:
            return
        with self.lock:
            video.path = path
            video.status, video.progress, video.completed_at = "completed", 100, int(time.time())
            self.billing.completed += 1
            self.billing.billed_seconds += video.billed_seconds
            self.billing.billed_usd = round(self.billing.billed_usd + video.billed_seconds * video.price, 6)

    def _render(self, prompt: str, seconds: float, w: int, h: int, dest: Path, refs: tuple[str, ...]) -> None:
        caps = self.backend.capabilities()
        request = GenerationRequest(shot_id="serve", prompt=prompt, seconds=seconds, width=w, height=h, fps=self.fps,
                                    seed=int(uuid.uuid5(uuid.NAMESPACE_URL, prompt).int % (2 ** 31)),
                                    refs=refs if caps.image_conditioning else ())
        self.backend.render(request, dest, None)

    def assets(self, video: Video, variant: str) -> tuple[Path, str]:
        if variant == "video":
            assert video.path is not None
            return video.path, "video/mp4"
        out = self.storage / f"{video.id}.{variant}.jpg"
        if not out.exists():
            vf = "scale=160:-2" if variant == "thumbnail" else "fps=2,scale=128:-2,tile=4x4"
            with atomic_path(out) as tmp:
                subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(video.path),
                                "-vf", vf, "-frames:v", "1", str(tmp)], check=True, capture_output=True)
        return out, "image/jpeg"


def _concat(parts: list[Path | None], dest: Path) -> None:
    listing = dest.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in parts if p is not None))
    try:
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
                        "-i", str(listing), "-c", "copy", "-f", "mp4", str(dest)], check=True, capture_output=True)
    finally:
        listing.unlink(missing_ok=True)


def _parse_seconds(value: str | None, model: ServedModel, *, allowed: tuple[str, ...] | None = None) -> str | JSONResponse:
    value = (value or "4").strip()
    allowed = allowed or model.seconds
    if allowed is not None:
        if value not in allowed:
            return _error(400, f"Invalid value for 'seconds': {value!r}. Supported values are: "
                          f"{', '.join(repr(s) for s in allowed)}.", param="seconds", code="invalid_value")
        return value
    try:
        s = float(value)
    except ValueError:
        s = -1.0
    if not 0 < s <= model.max_seconds:
        return _error(400, f"Invalid value for 'seconds': {value!r}. Use a number of seconds up to "
                      f"{model.max_seconds:g}.", param="seconds", code="invalid_value")
    return value


def _parse_size(value: str | None, model: ServedModel) -> str | JSONResponse:
    value = (value or "720x1280").strip()
    if model.sizes is not None and value not in model.sizes:
        return _error(400, f"Invalid value for 'size': {value!r}. Supported values are: "
                      f"{', '.join(repr(s) for s in model.sizes)}.", param="size", code="invalid_value")
    try:
        w, h = (int(x) for x in value.split("x"))
        if not (16 <= w <= 4096 and 16 <= h <= 4096) or w % 2 or h % 2:
            raise ValueError
    except ValueError:
        return _error(400, f"Invalid value for 'size': {value!r}. Use WIDTHxHEIGHT with even numbers.",
                      param="size", code="invalid_value")
    return value


async def _form(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        body = await request.json()
        return body if isinstance(body, dict) else {}
    form = await request.form()
    return {k: v for k, v in form.items()}


def create_app(server: VideoServer) -> FastAPI:
    app = FastAPI(title="dreamcut serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = server
    app.add_middleware(_AuthAndChaos, server=server)

    @app.get("/v1/models")
    def list_models():
        return {"object": "list", "data": [m.describe() for m in server.models.values()]}

    @app.post("/v1/videos")
    async def create_video(request: Request):
        form = await _form(request)
        prompt = str(form.get("prompt") or "").strip()
        if not prompt:
            return _error(400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
        model = server.models.get(str(form.get("model") or "sora-2"))
        if model is None:
            return _error(400, f"The model {form.get('model')!r} does not exist. Available: "
                          f"{', '.join(server.models)}.", param="model", code="model_not_found")
        seconds = _parse_seconds(form.get("seconds"), model)
        if isinstance(seconds, JSONResponse):
            return seconds
        size = _parse_size(form.get("size"), model)
        if isinstance(size, JSONResponse):
            return size
        reference = None
        upload = form.get("input_reference")
        if upload is not None and hasattr(upload, "read"):
            data = await upload.read()
            if not _looks_like_image(data):
                return _error(400, "input_reference must be an image (PNG, JPEG or WebP).", param="input_reference",
                              code="invalid_image")
            reference = server.storage / f"ref_{uuid.uuid4().hex}{Path(upload.filename or 'x.png').suffix or '.png'}"
            reference.write_bytes(data)
        video, _ = server.new_video(model=model, prompt=prompt, seconds=seconds, size=size, reference=reference,
                                    billed_seconds=float(seconds), idempotency_key=request.headers.get("idempotency-key"))
        return video.to_dict()

    @app.get("/v1/videos")
    def list_videos(after: str | None = None, limit: int = 20, order: str = "desc"):
        limit = max(1, min(100, limit))
        videos = sorted(server.videos.values(), key=lambda v: (v.created_at, v.id), reverse=(order != "asc"))
        if after:
            ids = [v.id for v in videos]
            videos = videos[ids.index(after) + 1:] if after in ids else []
        page = videos[:limit]
        return {"object": "list", "data": [v.to_dict() for v in page],
                "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None,
                "has_more": len(videos) > limit}

    @app.get("/v1/videos/{video_id}")
    def retrieve_video(video_id: str):
        video = server.videos.get(video_id)
        if video is None:
            return _error(404, f"Video with id '{video_id}' not found.", code="video_not_found")
        return JSONResponse(video.to_dict(), headers={"openai-poll-after-ms": str(server.poll_after(video))})

    @app.get("/v1/videos/{video_id}/content")
    def download_video(video_id: str, variant: str = "video"):
        video = server.videos.get(video_id)
        if video is None:
            return _error(404, f"Video with id '{video_id}' not found.", code="video_not_found")
        if variant not in ("video", "thumbnail", "spritesheet"):
            return _error(400, f"Invalid variant {variant!r}: use video, thumbnail or spritesheet.", param="variant")
        if video.status != "completed" or video.path is None:
            return _error(400, f"Video is not ready yet (status {video.status}).", code="video_not_ready")
        path, media_type = server.assets(video, variant)
        return FileResponse(path, media_type=media_type)

    @app.delete("/v1/videos/{video_id}")
    def delete_video(video_id: str):
        with server.lock:
            video = server.videos.pop(video_id, None)
        if video is None:
            return _error(404, f"Video with id '{video_id}' not found.", code="video_not_found")
        video.canceled = True  # a queued or running job stops and is never billed
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    @app.post("/v1/videos/{video_id}/remix")
    async def remix_video(video_id: str, request: Request):
        form = await _form(request)
        source = server.videos.get(video_id)
        if source is None:
            return _error(404, f"Video with id '{video_id}' not found.", code="video_not_found")
        if source.status != "completed":
            return _error(400, "Only completed videos can be remixed.", code="invalid_video_state")
        prompt = str(form.get("prompt") or "").strip()
        if not prompt:
            return _error(400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
        video, _ = server.new_video(model=server.models[source.model], prompt=prompt, seconds=source.seconds,
                                    size=source.size, remixed_from=source.id, billed_seconds=float(source.seconds),
                                    idempotency_key=request.headers.get("idempotency-key"))
        return video.to_dict()

    @app.post("/v1/videos/extensions")
    async def extend_video(request: Request):
        form = await _form(request)
        prompt = str(form.get("prompt") or "").strip()
        ref = form.get("video")
        if isinstance(ref, str):
            try:
                ref = json.loads(ref)
            except ValueError:
                ref = {"id": ref}
        source_id = ref.get("id") if isinstance(ref, dict) else form.get("video[id]")
        source = server.videos.get(str(source_id)) if source_id else None
        if source is None:
            return _error(404, f"Video with id '{source_id}' not found.", param="video", code="video_not_found")
        if source.status != "completed":
            return _error(400, "Only completed videos can be extended.", param="video", code="invalid_video_state")
        if not prompt:
            return _error(400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
        model = server.models[source.model]
        allowed = EXTENSION_SECONDS if model.seconds else None
        seconds = _parse_seconds(form.get("seconds"), model, allowed=allowed)
        if isinstance(seconds, JSONResponse):
            return seconds
        total = float(source.seconds) + float(seconds)
        video, _ = server.new_video(model=model, prompt=prompt, seconds=f"{total:g}", size=source.size,
                                    extends=source.id, billed_seconds=float(seconds),
                                    idempotency_key=request.headers.get("idempotency-key"))
        return video.to_dict()

    @app.get("/_dreamcut/billing")
    def billing():
        b = server.billing
        return {"creates": b.creates, "idempotent_replays": b.idempotent_replays, "completed": b.completed,
                "billed_usd": b.billed_usd, "billed_seconds": b.billed_seconds, "faults": dict(b.faults),
                "videos": len(server.videos)}

    @app.get("/_dreamcut/health")
    def health():
        return {"ok": True}

    return app


def _looks_like_image(data: bytes) -> bool:
    return (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"))


class _AuthAndChaos:
    """Pure ASGI middleware: Bearer-key check, then chaos around the videos endpoints."""

    def __init__(self, app, server: VideoServer):
        self.app = app
        self.server = server

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        server = self.server
        if server._api_key:
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not hmac.compare_digest(given, f"Bearer {server._api_key}".encode()):
                return await _error(401, "Incorrect API key provided. Send `Authorization: Bearer KEY` with the "
                                    "server's key.", code="invalid_api_key")(scope, receive, send)
        if not (scope["path"].startswith("/v1/videos") and server.chaos > 0):
            return await self.app(scope, receive, send)
        # Faults before the request is handled: the server did nothing, the client must retry.
        kind = server.maybe_fault(("rate_limit", "server_error", "drop_before"))
        if kind == "rate_limit":
            return await _error(429, "Rate limit reached for requests. Please try again shortly.", type_="requests",
                                code="rate_limit_exceeded", headers={"Retry-After": "1", "retry-after-ms": "200"}
                                )(scope, receive, send)
        if kind == "server_error":
            return await _error(500, "The server had an error while processing your request.", type_="server_error",
                                code="server_error")(scope, receive, send)
        if kind == "drop_before":
            return await _drop(send)
        # Faults after the request was handled (a create was accepted and billed): the client
        # never learns the answer and must retry with the same idempotency key.
        kind = server.maybe_fault(("drop_after", "malformed"))
        if kind is None:
            return await self.app(scope, receive, send)
        messages: list[dict] = []

        async def capture(message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = messages[0] if messages else {}
        headers = dict(start.get("headers") or ())
        if kind == "malformed" and headers.get(b"content-type", b"").startswith(b"application/json"):
            body = b'{"id": "video_'
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await _drop(send)


async def _drop(send) -> None:
    """Start a response and break the connection mid-body: the client sees a dropped connection."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
    await send({"type": "http.response.body", "body": b'{"id": "vid', "more_body": True})
    raise _ChaosDrop()


class _ChaosDrop(Exception):
    """Raised on purpose after a partial response: uvicorn closes the connection."""
