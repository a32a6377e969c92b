"""`dreamcut serve`: OpenAI's videos API, all of it, backed by a local backend.

The routes and bodies follow the `/videos` operations of OpenAI's published OpenAPI spec (the
part kept in tests/data/openai-openapi-videos.yaml) so that the official SDKs, `curl`, and
clients generated from the spec work unchanged:

  POST   /v1/videos                      create (multipart or JSON; input_reference as an uploaded
                                         image, `{image_url}` (http(s) or data URL) or `{file_id}`)
  GET    /v1/videos                      list (after, limit 0..100, order asc|desc; cursor page)
  GET    /v1/videos/{id}                 retrieve (with the `openai-poll-after-ms` header)
  DELETE /v1/videos/{id}                 delete a completed or failed video and its files
  GET    /v1/videos/{id}/content         variant=video (video/mp4) | thumbnail (image/webp) |
                                         spritesheet (image/jpeg)
  POST   /v1/videos/{id}/remix           a new video from a completed one and a new prompt
  POST   /v1/videos/extensions           a completed video (by id) or an uploaded one, continued
  POST   /v1/videos/edits                a completed video (by id) or an uploaded one, edited
  POST   /v1/videos/characters           a character from an uploaded video and a name
  GET    /v1/videos/characters/{id}      retrieve a character

A character is a name with a still taken from its video; a later prompt that names it (`Mara`
or `@Mara`, any case, or its id) conditions the render on that still, exactly as a shot's
reference images do (`GenerationRequest.refs`), so one backend serves both.

Beyond the spec (under names OpenAI does not use, see docs/generation.md):
- `GET /v1/models`, `GET /v1/models/{id}`: the models served, with a `dreamcut` block (lengths,
  sizes, price); local models (the backend's own name) accept any even WxH and any length.
- `POST /v1/videos/{id}/cancel`: stops a queued or running job (status `failed`, error code
  `cancelled`, never billed); a render inside the backend stops at its next progress report.
- `POST /v1/files`, `GET /v1/files/{id}`: enough of the Files API for `input_reference.file_id`.
- `Idempotency-Key` on every create: a retry with the same body returns the first object and is
  billed once; the same key with a different body is refused with 409.
- `GET /_dreamcut/billing`, `GET /_dreamcut/health`, and `--chaos RATE` fault injection (429 with
  Retry-After, 500, dropped connections, malformed bodies, jobs that never finish).

Every refusal is `{"error": {"message", "type", "param", "code"}}` with a 4xx status; request
bodies are limited (`max_request_bytes`, 413 past it). This module never reads an API key from
anywhere but its constructor, never echoes it, and binds 127.0.0.1 unless told otherwise.

This module holds the routes; the parts they use live beside it: `state` (VideoServer: videos,
characters, files, billing), `jobs` (the worker threads that render), `idempotency` (the one
Idempotency-Key check every create goes through), `chaos` (API key and fault injection),
`objects` (the served records and the spec's enums), `wire` (request bodies), `assets` (media).
"""

from __future__ import annotations

import asyncio
import time
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dreamcut.server.chaos import AuthAndChaos
from dreamcut.server.idempotency import Create, Replayed, idempotent_create
from dreamcut.server.objects import EXTENSION_SECONDS, VARIANTS, seconds_text
from dreamcut.server.objects import error_response as _error
from dreamcut.server.state import VideoServer
from dreamcut.server.wire import MAX_NAME_CHARS, MAX_PROMPT_CHARS, ApiError, Upload, parse_body, text

__all__ = ["VideoServer", "create_app"]

# What a create answers when its Idempotency-Key was seen with the same body: the first object.
VIDEO_CREATE = idempotent_create(lambda server, video_id: server.replayed_video(video_id).to_dict())
CHARACTER_CREATE = idempotent_create(lambda server, character_id: server.characters[character_id].to_dict())


def _query(request: Request) -> tuple[str | None, int, str]:
    """ListVideos' query: after, limit (0..100, default 20), order (asc | desc, default desc)."""
    q = request.query_params
    limit_text = q.get("limit")
    limit = 20
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            raise ApiError(400, f"Invalid 'limit': {limit_text[:40]!r} is not an integer.", param="limit",
                           code="invalid_type") from None
        if not 0 <= limit <= 100:
            raise ApiError(400, f"Invalid 'limit': {limit}. Expected an integer from 0 to 100.", param="limit",
                           code="invalid_value")
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, f"Invalid 'order': {order[:40]!r}. Supported values are: 'asc', 'desc'.", param="order",
                       code="invalid_value")
    return q.get("after") or None, limit, order  # `after=` (empty) is no cursor


def create_app(server: VideoServer) -> FastAPI:
    app = FastAPI(title="dreamcut serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.router.redirect_slashes = False  # `/v1/videos/` is an unknown URL (404 in OpenAI's shape), not a 307
    app.state.server = server
    app.add_middleware(AuthAndChaos, server=server)
    limit = server.max_request_bytes

    @app.exception_handler(Replayed)
    async def replayed(request: Request, e: Replayed):
        return JSONResponse(e.answer)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        return JSONResponse(e.body(), status_code=e.status, headers=e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        if e.status_code == 404:
            return _error(404, f"Invalid URL ({request.method} {request.url.path[:200]}).", code="unknown_url")
        if e.status_code == 405:
            return _error(405, f"Method {request.method} is not allowed on {request.url.path[:200]}.",
                          code="method_not_allowed", headers=dict(e.headers or {}))
        return _error(e.status_code, str(e.detail)[:300], code=f"http_{e.status_code}")

    @app.exception_handler(Exception)
    async def server_error(request: Request, e: Exception):  # a bug of ours, still in OpenAI's shape
        return _error(500, "The server had an error while processing your request.", type_="server_error",
                      code="server_error")

    @app.get("/v1/models")
    def list_models():
        return {"object": "list", "data": [m.describe() for m in server.models.values()]}

    @app.get("/v1/models/{model_id}")
    def retrieve_model(model_id: str):
        model = server.models.get(model_id)
        if model is None:
            raise ApiError(404, f"The model '{model_id[:100]}' does not exist.", param="model", code="model_not_found")
        return model.describe()

    @app.post("/v1/videos")
    async def create_video(create: Create = VIDEO_CREATE):
        body, idem = create.body, create.idempotency
        prompt = text(body, "prompt", required=True, max_chars=MAX_PROMPT_CHARS)
        model = server.model(text(body, "model"))
        seconds = server.check_seconds(text(body, "seconds"), model, model.seconds)
        size = server.check_size(text(body, "size"), model)
        reference = await server.input_reference(body)
        video = server.new_video(model=model, prompt=prompt or "", seconds=seconds, size=size,
                                 refs=(reference,) if reference else (), billed_seconds=float(seconds),
                                 idempotency=idem)
        return video.to_dict()

    @app.get("/v1/videos")
    def list_videos(request: Request):
        after, count, order = _query(request)
        with server.lock:
            videos = sorted(server.videos.values(), key=lambda v: (v.created_at, v.seq), reverse=(order == "desc"))
            if after is not None:
                key = server.order_keys.get(after)
                if key is None:
                    raise ApiError(400, f"Invalid 'after': no video with id '{after[:100]}' was ever listed here.",
                                   param="after", code="invalid_value")
                videos = [v for v in videos if ((v.created_at, v.seq) > key if order == "asc"
                                                else (v.created_at, v.seq) < key)]
            page = videos[:count]
            return {"object": "list", "data": [v.to_dict() for v in page],
                    "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None,
                    "has_more": len(videos) > len(page)}

    @app.get("/v1/videos/{video_id}")
    def retrieve_video(video_id: str):
        video = server.video(video_id)
        return JSONResponse(video.to_dict(), headers={"openai-poll-after-ms": str(server.poll_after(video))})

    @app.delete("/v1/videos/{video_id}")
    def delete_video(video_id: str):
        server.delete(server.video(video_id))
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    @app.post("/v1/videos/{video_id}/cancel")
    def cancel_video(video_id: str):
        return server.cancel(server.video(video_id)).to_dict()

    @app.get("/v1/videos/{video_id}/content")
    def download_video(video_id: str, request: Request):
        video = server.video(video_id)
        variant = text(dict(request.query_params), "variant", enum=tuple(VARIANTS)) or "video"
        if video.status != "completed" or video.path is None:
            raise ApiError(409, f"Video '{video_id}' is {video.status}; content is ready once it is completed.",
                           code="video_not_ready")
        return FileResponse(server.asset(video, variant), media_type=VARIANTS[variant])

    @app.post("/v1/videos/{video_id}/remix")
    async def remix_video(video_id: str, create: Create = VIDEO_CREATE):
        body, idem = create.body, create.idempotency
        source = server.completed(video_id, "remixed")
        prompt = text(body, "prompt", required=True, max_chars=MAX_PROMPT_CHARS)
        assert source.path is not None
        video = server.new_video(model=server.models[source.model], prompt=prompt or "", seconds=source.seconds,
                                 size=source.size, condition_on=(source.path, 0.0), remixed_from=source.id,
                                 billed_seconds=float(source.seconds), idempotency=idem)
        return video.to_dict()

    @app.post("/v1/videos/extensions")
    async def extend_video(create: Create = VIDEO_CREATE):
        body, idem = create.body, create.idempotency
        prompt = text(body, "prompt", required=True, max_chars=MAX_PROMPT_CHARS)
        seconds_asked = text(body, "seconds", required=True)
        model_name = text(body, "model")  # dreamcut: the model for an uploaded source (default sora-2)
        source, path, w, h, length = await asyncio.to_thread(server.source_video, body, "extended")
        model = server.models[source.model] if source else server.model(model_name)
        seconds = server.check_seconds(seconds_asked, model, EXTENSION_SECONDS if model.spec else None, default=None)
        size = source.size if source else server.size_for_upload(model, w, h)
        last_frame = max(0.0, length - 1.0 / server.fps)
        video = server.new_video(model=model, prompt=prompt or "", seconds=seconds_text(length + float(seconds)),
                                 size=size, extend_from=path, condition_on=(path, last_frame),
                                 billed_seconds=float(seconds), idempotency=idem)
        return video.to_dict()

    @app.post("/v1/videos/edits")
    async def edit_video(create: Create = VIDEO_CREATE):
        body, idem = create.body, create.idempotency
        prompt = text(body, "prompt", required=True, max_chars=MAX_PROMPT_CHARS)
        model_name = text(body, "model")
        source, path, w, h, length = await asyncio.to_thread(server.source_video, body, "edited")
        model = server.models[source.model] if source else server.model(model_name)
        seconds = source.seconds if source else seconds_text(length)
        size = source.size if source else server.size_for_upload(model, w, h)
        video = server.new_video(model=model, prompt=prompt or "", seconds=seconds, size=size,
                                 condition_on=(path, 0.0), billed_seconds=float(seconds), idempotency=idem)
        return video.to_dict()

    @app.post("/v1/videos/characters")
    async def create_character(create: Create = CHARACTER_CREATE):
        body, idem = create.body, create.idempotency
        name = text(body, "name", required=True, max_chars=MAX_NAME_CHARS)
        upload = body.get("video")
        if upload is None:
            raise ApiError(400, "Missing required parameter: 'video'.", param="video", code="missing_required_parameter")
        if not isinstance(upload, Upload):
            raise ApiError(400, "Invalid 'video': upload the character's video as a file (multipart/form-data).",
                           param="video", code="invalid_type")
        character = await asyncio.to_thread(server.new_character, (name or "").strip(), upload, idem)
        return character.to_dict()

    @app.get("/v1/videos/characters/{character_id}")
    def retrieve_character(character_id: str):
        character = server.characters.get(character_id)
        if character is None:
            raise ApiError(404, f"Character with id '{character_id[:100]}' not found.", code="character_not_found")
        return character.to_dict()

    @app.post("/v1/files")
    async def upload_file(request: Request):
        body = await parse_body(request, limit)
        upload = body.get("file")
        if not isinstance(upload, Upload):
            raise ApiError(400, "Missing required parameter: 'file' (a multipart file part).", param="file",
                           code="missing_required_parameter")
        purpose = text(body, "purpose", required=True, max_chars=64)
        fid = f"file-{uuid.uuid4().hex[:24]}"
        path = server.storage / f"{fid}.bin"
        path.write_bytes(upload.data)
        entry = {"id": fid, "object": "file", "bytes": len(upload.data), "created_at": int(time.time()),
                 "filename": upload.filename[:255], "purpose": purpose, "status": "processed", "path": path}
        server.files[fid] = entry
        return {k: v for k, v in entry.items() if k != "path"}

    @app.get("/v1/files/{file_id}")
    def retrieve_file(file_id: str):
        entry = server.files.get(file_id)
        if entry is None:
            raise ApiError(404, f"No such File object: {file_id[:100]}", param="id", code="file_not_found")
        return {k: v for k, v in entry.items() if k != "path"}

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

