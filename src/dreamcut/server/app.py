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
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import queue
import random
import re
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dreamcut.backends.base import GenerationRequest, LocalBackend
from dreamcut.media import atomic_path, write_text_atomic
from dreamcut.server import assets
from dreamcut.server.wire import (MAX_IMAGE_URL_CHARS, MAX_NAME_CHARS, MAX_PROMPT_CHARS, ApiError, Upload,
                                  fingerprint, obj, parse_body, text)

# The spec's enums (tests/data/openai-openapi-videos.yaml): VideoSize, VideoSeconds, VideoModel.
SPEC_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
SORA_SIZES = SPEC_SIZES[:2]
SORA_PRO_SIZES = SPEC_SIZES
SPEC_SECONDS = ("4", "8", "12")
# CreateVideoExtend*Body.seconds: "allowed values: 4, 8, 12, 16, 20" (its description; the enum
# it references lists 4, 8, 12: the longer three are accepted as the description says).
EXTENSION_SECONDS = ("4", "8", "12", "16", "20")
VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
DEFAULT_MAX_REQUEST_BYTES = 64 << 20
MAX_CHARACTER_REFS = 4
MIN_SECONDS = 0.1  # local models: shorter is not a clip


@dataclass(frozen=True)
class ServedModel:
    """A model name the server answers to, with the lengths and sizes it accepts."""

    id: str
    price_per_second: float
    seconds: tuple[str, ...] | None = None  # allowed values, or None = any number in (0, max_seconds]
    sizes: tuple[str, ...] | None = None  # allowed values, or None = any even WxH
    max_seconds: float = 20.0

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "object": "model", "created": 0, "owned_by": "dreamcut",
                # dreamcut extension: what a client needs to plan requests without guessing
                "dreamcut": {"seconds": list(self.seconds) if self.seconds else None,
                             "sizes": list(self.sizes) if self.sizes else None,
                             "max_seconds": self.max_seconds, "price_per_second": self.price_per_second,
                             "extend": True, "image_conditioning": True}}

    @property
    def spec(self) -> bool:
        """A model of the spec's enum: its requests and answers stay within the spec's values."""
        return self.sizes is not None


@dataclass
class Character:
    id: str
    name: str
    created_at: int
    still: Path

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at}


def characters_in(prompt: str, characters: list[Character]) -> list[Character]:
    """The characters a prompt names (`Mara`, `@mara`, or `char_...`), oldest first, at most four."""
    found = []
    for c in sorted(characters, key=lambda c: (c.created_at, c.id)):
        pattern = rf"(?<![\w@])@?{re.escape(c.name)}(?!\w)"
        if c.id in prompt or re.search(pattern, prompt, flags=re.IGNORECASE):
            found.append(c)
    return found[:MAX_CHARACTER_REFS]


@dataclass
class Video:
    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    created_at: int
    seq: int = 0
    status: str = "queued"
    progress: int = 0
    completed_at: int | None = None
    error: dict[str, str] | None = None
    remixed_from_video_id: str | None = None
    refs: tuple[Path, ...] = ()  # reference images the render is conditioned on
    condition_on: tuple[Path, float] | None = None  # (source video, time): its frame joins refs (remix, edit)
    extend_from: Path | None = None  # the video an extension continues
    stuck: bool = False
    canceled: bool = False
    path: Path | None = None
    billed_seconds: float = 0.0  # what this job costs when it completes
    price: float = 0.0
    started: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "object": "video", "model": self.model, "status": self.status,
                "progress": self.progress, "created_at": self.created_at, "completed_at": self.completed_at,
                "expires_at": None,  # nothing expires here: files stay until DELETE
                "prompt": self.prompt, "seconds": self.seconds, "size": self.size,
                "remixed_from_video_id": self.remixed_from_video_id, "error": self.error}


@dataclass
class Billing:
    creates: int = 0  # creates accepted (each is a paid job)
    idempotent_replays: int = 0  # creates answered from an earlier one with the same key
    completed: int = 0
    billed_usd: float = 0.0
    billed_seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)


def _error(status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
           param: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": type_, "param": param, "code": code}},
                        status_code=status, headers=headers)


def _key_reused() -> ApiError:
    return ApiError(409, "This Idempotency-Key was already used with a different request body. Use a new key for "
                    "a new request.", param="Idempotency-Key", code="idempotency_key_reused")


def _not_found(video_id: str, param: str | None = None) -> ApiError:
    return ApiError(404, f"Video with id '{video_id[:100]}' not found.", param=param, code="video_not_found")


class _Cancelled(Exception):
    """Raised from a render's progress callback once its job was cancelled."""


def _reason(e: Exception) -> str:
    """A failed job's message: ffmpeg's last error line, never the command (it names server paths)."""
    if isinstance(e, subprocess.CalledProcessError):
        lines = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        return f"rendering failed: {lines[-1][:200] if lines else f'exit code {e.returncode}'}"
    return f"rendering failed: {str(e)[:300] or type(e).__name__}"


def _seconds_text(seconds: float) -> str:
    return f"{round(seconds, 2):g}"


def _nearest_spec_size(w: int, h: int) -> str:
    """The spec size of an upload's orientation: landscape -> 1280x720, else 720x1280."""
    return "1280x720" if w > h else "720x1280"


def _even_size(w: int, h: int) -> str:
    return f"{max(16, w - w % 2)}x{max(16, h - h % 2)}"


class VideoServer:
    """The server's state: videos, characters, files, the job queue and its workers, billing, chaos.

    backend: the local backend that renders (animatic, testcard, a local model).
    latency: simulated generation time per job in seconds (on top of the real render).
    max_request_bytes: the largest request body accepted (413 past it).
    max_pending: queued + running jobs accepted before creates answer 429.
    fetch_urls: whether `input_reference.image_url` may be an http(s) URL the server downloads.
    """

    def __init__(self, backend: LocalBackend, *, storage: Path | None = None, api_key: str | None = None,
                 workers: int = 2, chaos: float = 0.0, chaos_seed: int | None = None, latency: float = 0.0,
                 price_per_second: float = 0.0, fps: int = 24, blocked_words: tuple[str, ...] = (),
                 poll_after_ms: int = 1000, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
                 max_pending: int = 1000, fetch_urls: bool = True):
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
        self.max_request_bytes = max_request_bytes
        self.max_pending = max_pending
        self.fetch_urls = fetch_urls
        own = backend.name
        sora = dict(price_per_second=price_per_second or 0.10, seconds=SPEC_SECONDS, sizes=SORA_SIZES, max_seconds=20.0)
        pro = dict(price_per_second=price_per_second or 0.30, seconds=SPEC_SECONDS, sizes=SORA_PRO_SIZES,
                   max_seconds=20.0)
        self.models = {m.id: m for m in (
            ServedModel(own, price_per_second, max_seconds=120.0),
            ServedModel("sora-2", **sora), ServedModel("sora-2-pro", **pro),
            # the dated snapshots of VideoModel's enum
            ServedModel("sora-2-2025-10-06", **sora), ServedModel("sora-2-2025-12-08", **sora),
            ServedModel("sora-2-pro-2025-10-06", **pro),
        )}
        self.videos: dict[str, Video] = {}
        self.order_keys: dict[str, tuple[int, int]] = {}  # every id ever listed, deleted ones too (cursors)
        self.characters: dict[str, Character] = {}
        self._load_characters()
        self.files: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, tuple[str, str]] = {}  # Idempotency-Key -> (fingerprint, object id)
        self.billing = Billing()
        self.lock = threading.Lock()
        self.queue: queue.Queue[str | None] = queue.Queue()
        self._counter = itertools.count()
        self.workers = [threading.Thread(target=self._work, name=f"serve-worker-{i}", daemon=True)
                        for i in range(max(1, workers))]
        for t in self.workers:
            t.start()

    # -- characters outlive the process when --storage is given ---------------------------
    @property
    def _characters_file(self) -> Path:
        return self.storage / "characters.json"

    def _load_characters(self) -> None:
        try:
            entries = json.loads(self._characters_file.read_text())
        except (OSError, ValueError):
            return  # none yet (or unreadable: started afresh, the stills stay on disk)
        for e in entries if isinstance(entries, list) else []:
            try:
                c = Character(id=e["id"], name=e["name"], created_at=int(e["created_at"]), still=Path(e["still"]))
            except (KeyError, TypeError, ValueError):
                continue
            if c.still.exists():
                self.characters[c.id] = c

    def _save_characters(self) -> None:
        """Caller holds the lock."""
        write_text_atomic(self._characters_file, json.dumps(
            [dict(c.to_dict(), still=str(c.still)) for c in self.characters.values()], indent=1))

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

    # -- lookups -------------------------------------------------------------------------
    def video(self, video_id: str, param: str | None = None) -> Video:
        video = self.videos.get(video_id)
        if video is None:
            raise _not_found(video_id, param)
        return video

    def completed(self, video_id: str, what: str, param: str | None = None) -> Video:
        video = self.video(video_id, param)
        if video.status != "completed" or video.path is None:
            raise ApiError(409, f"Only completed videos can be {what}; video '{video_id}' is {video.status}.",
                           param=param, code="invalid_video_state")
        return video

    def model(self, name: str | None) -> ServedModel:
        model = self.models.get(name or "sora-2")
        if model is None:
            raise ApiError(400, f"The model {name[:80]!r} does not exist. Available: {', '.join(self.models)} "
                           "(GET /v1/models).", param="model", code="model_not_found")
        return model

    def replay(self, key: str | None, fp: str) -> str | None:
        """The object an earlier request with this key made, or None; 409 when the body differs."""
        if not key:
            return None
        with self.lock:
            seen = self.by_key.get(key)
            if seen is None:
                return None
            if seen[0] != fp:
                raise _key_reused()
            self.billing.idempotent_replays += 1
            return seen[1]

    # -- jobs ----------------------------------------------------------------------------
    def new_video(self, *, model: ServedModel, prompt: str, seconds: str, size: str, billed_seconds: float,
                  idempotency: tuple[str, str] | None, refs: tuple[Path, ...] = (),
                  condition_on: tuple[Path, float] | None = None, extend_from: Path | None = None,
                  remixed_from: str | None = None) -> Video:
        """Accept a job and bill it; with an idempotency (key, fingerprint) seen before, the first job."""
        with self.lock:
            if idempotency and idempotency[0] in self.by_key:
                fp, vid = self.by_key[idempotency[0]]
                if fp != idempotency[1]:
                    raise _key_reused()
                self.billing.idempotent_replays += 1
                return self.videos.get(vid) or self._gone(vid)
            pending = sum(1 for v in self.videos.values() if v.status in ("queued", "in_progress"))
            if pending >= self.max_pending:
                raise ApiError(429, f"{pending} jobs are queued or running, this server's limit. Retry later.",
                               type_="requests", code="rate_limit_exceeded", headers={"Retry-After": "1"})
            characters = characters_in(prompt, list(self.characters.values()))
            video = Video(id=f"video_{uuid.uuid4().hex}", model=model.id, prompt=prompt, seconds=seconds, size=size,
                          created_at=int(time.time()), seq=next(self._counter),
                          refs=tuple(refs) + tuple(c.still for c in characters), condition_on=condition_on,
                          extend_from=extend_from, remixed_from_video_id=remixed_from, stuck=self._maybe_stuck(),
                          billed_seconds=billed_seconds, price=model.price_per_second)
            self.videos[video.id] = video
            self.order_keys[video.id] = (video.created_at, video.seq)
            if idempotency:
                self.by_key[idempotency[0]] = (idempotency[1], video.id)
            self.billing.creates += 1
        self.queue.put(video.id)
        return video

    @staticmethod
    def _gone(video_id: str) -> Video:
        raise ApiError(409, f"This Idempotency-Key made video '{video_id}', which has since been deleted.",
                       param="Idempotency-Key", code="idempotency_key_reused")

    def cancel(self, video: Video) -> Video:
        with self.lock:
            if video.status not in ("queued", "in_progress"):
                raise ApiError(409, f"Only queued or running videos can be cancelled; this one is {video.status}.",
                               code="invalid_video_state")
            video.canceled = True
            video.status = "failed"
            video.error = {"code": "cancelled", "message": "Cancelled by the client before it completed; not billed."}
        return video

    def delete(self, video: Video) -> None:
        with self.lock:
            if video.status not in ("completed", "failed"):
                raise ApiError(409, f"Only completed or failed videos can be deleted; this one is {video.status}. "
                               f"Cancel it first (POST /v1/videos/{video.id}/cancel).", code="invalid_video_state")
            self.videos.pop(video.id, None)
        for p in self.storage.glob(f"{video.id}*"):
            p.unlink(missing_ok=True)

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
            if video is None:
                continue
            try:  # a cancelled job returns at once (and its upload is still removed)
                self._run(video)
            except _Cancelled:
                (self.storage / f"{video.id}.segment.mp4").unlink(missing_ok=True)
            except Exception as e:  # a render failure is the job's failure, not the server's
                if not video.canceled:
                    video.status, video.error = "failed", {"code": "internal_error", "message": _reason(e)}
            finally:  # an uploaded source serves its one job
                for source in (video.extend_from, video.condition_on[0] if video.condition_on else None):
                    if source is not None and source.name.startswith("upload_"):
                        source.unlink(missing_ok=True)

    def _run(self, video: Video) -> None:
        with self.lock:  # a cancel may have come between the queue and here
            if video.canceled:
                return
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
            with self.lock:
                if not video.canceled:
                    video.status = "failed"
                    video.error = {"code": "moderation_blocked",
                                   "message": "Your request was blocked by the server's content policy."}
            return
        w, h = (int(x) for x in video.size.split("x"))
        refs = list(video.refs)
        if video.condition_on is not None:
            source, at = video.condition_on
            refs.insert(0, assets.still(source, self.storage / f"{video.id}.source.png", at))
        path = self.storage / f"{video.id}.mp4"
        if video.extend_from is not None:
            seg = self.storage / f"{video.id}.segment.mp4"
            self._render(video, video.prompt, video.billed_seconds, w, h, seg, refs)
            assets.stitch(video.extend_from, seg, path, w, h, self.fps)
            seg.unlink()
        else:
            with atomic_path(path) as tmp:
                self._render(video, video.prompt, float(video.seconds), w, h, tmp, refs)
        with self.lock:
            if video.canceled or video.id not in self.videos:
                path.unlink(missing_ok=True)
                return
            video.path = path
            video.status, video.progress, video.completed_at = "completed", 100, int(time.time())
            self.billing.completed += 1
            self.billing.billed_seconds += video.billed_seconds
            self.billing.billed_usd = round(self.billing.billed_usd + video.billed_seconds * video.price, 6)

    def _render(self, video: Video, prompt: str, seconds: float, w: int, h: int, dest: Path,
                refs: list[Path]) -> None:
        """One backend render; a cancel stops it at the backend's next progress report (if it reports)."""
        def progress(fraction: float) -> None:
            if video.canceled:
                raise _Cancelled()
        caps = self.backend.capabilities()
        request = GenerationRequest(shot_id="serve", prompt=prompt, seconds=seconds, width=w, height=h, fps=self.fps,
                                    seed=int(uuid.uuid5(uuid.NAMESPACE_URL, prompt).int % (2 ** 31)),
                                    refs=tuple(str(r) for r in refs) if caps.image_conditioning else ())
        self.backend.render(request, dest, progress)

    def asset(self, video: Video, variant: str) -> Path:
        assert video.path is not None
        if variant == "thumbnail":
            return assets.thumbnail_webp(video.path, self.storage / f"{video.id}.thumbnail.webp")
        if variant == "spritesheet":
            return assets.spritesheet_jpg(video.path, self.storage / f"{video.id}.spritesheet.jpg",
                                          float(video.seconds))
        return video.path

    # -- requests -> jobs ----------------------------------------------------------------
    async def input_reference(self, body: dict[str, Any]) -> Path | None:
        """`input_reference` as an uploaded image, `{image_url}` (http(s) or data URL) or `{file_id}`."""
        value = body.get("input_reference")
        if value is None:
            return None
        dest = self.storage / f"ref_{uuid.uuid4().hex}.png"
        if isinstance(value, Upload):
            return await asyncio.to_thread(assets.reference_png, value.data, dest, "input_reference")
        ref = obj(body, "input_reference")
        assert ref is not None
        given = [k for k in ("image_url", "file_id") if ref.get(k) is not None]
        if len(given) != 1:
            raise ApiError(400, "input_reference must have exactly one of 'image_url' or 'file_id'.",
                           param="input_reference", code="invalid_value")
        if given[0] == "file_id":
            file_id = text(ref, "file_id", required=True, param="input_reference.file_id")
            assert file_id is not None
            entry = self.files.get(file_id)
            if entry is None:
                raise ApiError(404, f"No file with id '{file_id[:100]}' (upload it with POST /v1/files).",
                               param="input_reference.file_id", code="file_not_found")
            return await asyncio.to_thread(assets.reference_png, entry["path"].read_bytes(), dest,
                                           "input_reference.file_id")
        url = text(ref, "image_url", required=True, max_chars=MAX_IMAGE_URL_CHARS, param="input_reference.image_url")
        assert url is not None
        if url.lower().startswith("data:"):
            data = assets.decode_data_url(url, "input_reference.image_url")
        elif url.lower().startswith(("http://", "https://")) and self.fetch_urls:
            data = await self._fetch(url)
        else:
            raise ApiError(400, "input_reference.image_url must be a base64 data URL"
                           + (" or an http(s) URL." if self.fetch_urls else " (this server does not fetch URLs)."),
                           param="input_reference.image_url", code="invalid_image_url")
        return await asyncio.to_thread(assets.reference_png, data, dest, "input_reference.image_url")

    async def _fetch(self, url: str) -> bytes:
        import httpx

        limit = min(self.max_request_bytes, 50 << 20)
        try:
            async with httpx.AsyncClient(timeout=10.0, follow_redirects=True) as client:
                async with client.stream("GET", url) as r:
                    if r.status_code != 200:
                        raise ApiError(400, f"Fetching input_reference.image_url answered HTTP {r.status_code}.",
                                       param="input_reference.image_url", code="image_url_unreachable")
                    chunks, got = [], 0
                    async for chunk in r.aiter_bytes():
                        got += len(chunk)
                        if got > limit:
                            raise ApiError(413, f"The image at input_reference.image_url is over {limit} bytes.",
                                           param="input_reference.image_url", code="image_too_large")
                        chunks.append(chunk)
                    return b"".join(chunks)
        except httpx.HTTPError as e:
            raise ApiError(400, f"input_reference.image_url could not be fetched ({type(e).__name__}).",
                           param="input_reference.image_url", code="image_url_unreachable") from None

    def source_video(self, body: dict[str, Any], what: str) -> tuple[Video | None, Path, int, int, float]:
        """`video` as `{id}` of a completed video (JSON, `video[id]`) or an uploaded file.

        Returns (source video or None for an upload, its file, width, height, seconds).
        """
        value = body.get("video")
        if value is None:
            raise ApiError(400, "Missing required parameter: 'video'.", param="video", code="missing_required_parameter")
        if isinstance(value, Upload):
            dest = self.storage / f"upload_{uuid.uuid4().hex}.mp4"
            w, h, seconds = assets.accept_video(value.data, dest, "video")
            return None, dest, w, h, seconds
        if isinstance(value, str) and not value.lstrip().startswith("{"):
            body = {"video": {"id": value}}  # a bare id in a form field: what it can only mean
        ref = obj(body, "video")
        assert ref is not None
        video_id = text(ref, "id", required=True, param="video.id")
        assert video_id is not None
        source = self.completed(video_id, what, param="video.id")
        assert source.path is not None
        w, h = (int(x) for x in source.size.split("x"))
        return source, source.path, w, h, float(source.seconds)

    def size_for_upload(self, model: ServedModel, w: int, h: int) -> str:
        return _nearest_spec_size(w, h) if model.spec else _even_size(w, h)

    def check_seconds(self, value: str | None, model: ServedModel, allowed: tuple[str, ...] | None,
                      default: str | None = "4") -> str:
        value = value if value is not None else default
        if value is None:
            raise ApiError(400, "Missing required parameter: 'seconds'.", param="seconds",
                           code="missing_required_parameter")
        if allowed is not None:
            if value not in allowed:
                raise ApiError(400, f"Invalid value for 'seconds': {value[:40]!r}. Supported values are: "
                               f"{', '.join(repr(s) for s in allowed)}.", param="seconds", code="invalid_value")
            return value
        try:
            s = float(value)
        except ValueError:
            s = -1.0
        if not MIN_SECONDS <= s <= model.max_seconds:
            raise ApiError(400, f"Invalid value for 'seconds': {value[:40]!r}. Use a number of seconds from "
                           f"{MIN_SECONDS:g} to {model.max_seconds:g} for {model.id}.", param="seconds",
                           code="invalid_value")
        return _seconds_text(s)

    @staticmethod
    def check_size(value: str | None, model: ServedModel) -> str:
        value = value if value is not None else "720x1280"
        if model.sizes is not None:
            if value not in model.sizes:
                raise ApiError(400, f"Invalid value for 'size': {value[:40]!r}. Supported values for {model.id} are: "
                               f"{', '.join(repr(s) for s in model.sizes)}.", param="size", code="invalid_value")
            return value
        m = re.fullmatch(r"(\d{2,4})x(\d{2,4})", value.strip())
        w, h = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        if not (16 <= w <= 4096 and 16 <= h <= 4096) or w % 2 or h % 2:
            raise ApiError(400, f"Invalid value for 'size': {value[:40]!r}. Use WIDTHxHEIGHT with even numbers "
                           "from 16 to 4096.", param="size", code="invalid_value")
        return f"{w}x{h}"

    def new_character(self, name: str, upload: Upload, idempotency: tuple[str, str] | None) -> Character:
        cid = f"char_{uuid.uuid4().hex}"
        clip = self.storage / f"{cid}.video"
        _, _, seconds = assets.accept_video(upload.data, clip, "video")
        try:
            still = assets.still(clip, self.storage / f"{cid}.png", seconds / 2)
        except subprocess.SubprocessError:
            raise ApiError(400, "No frame of the uploaded video could be decoded.", param="video",
                           code="invalid_video") from None
        finally:
            clip.unlink(missing_ok=True)
        with self.lock:
            if idempotency and idempotency[0] in self.by_key:  # a concurrent retry won the race
                still.unlink(missing_ok=True)
                fp, other = self.by_key[idempotency[0]]
                if fp != idempotency[1]:
                    raise _key_reused()
                return self.characters[other]
            if any(c.name.lower() == name.lower() for c in self.characters.values()):
                still.unlink(missing_ok=True)
                raise ApiError(409, f"A character named {name!r} exists already; prompts name characters, so "
                               "names are unique (any case).", param="name", code="character_name_taken")
            character = Character(id=cid, name=name, created_at=int(time.time()), still=still)
            self.characters[cid] = character
            self._save_characters()
            if idempotency:
                self.by_key[idempotency[0]] = (idempotency[1], cid)
        return character


def _idempotency(request: Request, body: dict[str, Any]) -> tuple[str, str] | None:
    key = request.headers.get("idempotency-key")
    if not key:
        return None
    if len(key) > 255:
        raise ApiError(400, "The Idempotency-Key header is longer than 255 characters.", param="Idempotency-Key",
                       code="invalid_value")
    return key, fingerprint(request.method, request.url.path, body)


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
    app.add_middleware(_AuthAndChaos, server=server)
    limit = server.max_request_bytes

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
    async def create_video(request: Request):
        body = await parse_body(request, limit)
        idem = _idempotency(request, body)
        replayed = server.replay(*idem) if idem else None
        if replayed:
            return (server.videos.get(replayed) or server._gone(replayed)).to_dict()
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
    async def remix_video(video_id: str, request: Request):
        body = await parse_body(request, limit)
        idem = _idempotency(request, body)
        replayed = server.replay(*idem) if idem else None
        if replayed:
            return (server.videos.get(replayed) or server._gone(replayed)).to_dict()
        source = server.completed(video_id, "remixed")
        prompt = text(body, "prompt", required=True, max_chars=MAX_PROMPT_CHARS)
        assert source.path is not None
        video = server.new_video(model=server.models[source.model], prompt=prompt or "", seconds=source.seconds,
                                 size=source.size, condition_on=(source.path, 0.0), remixed_from=source.id,
                                 billed_seconds=float(source.seconds), idempotency=idem)
        return video.to_dict()

    @app.post("/v1/videos/extensions")
    async def extend_video(request: Request):
        body = await parse_body(request, limit)
        idem = _idempotency(request, body)
        replayed = server.replay(*idem) if idem else None
        if replayed:
            return (server.videos.get(replayed) or server._gone(replayed)).to_dict()
        prompt = text(body, "prompt", required=True, max_chars=MAX_PROMPT_CHARS)
        seconds_text = text(body, "seconds", required=True)
        model_name = text(body, "model")  # dreamcut: the model for an uploaded source (default sora-2)
        source, path, w, h, length = await asyncio.to_thread(server.source_video, body, "extended")
        model = server.models[source.model] if source else server.model(model_name)
        seconds = server.check_seconds(seconds_text, model, EXTENSION_SECONDS if model.spec else None, default=None)
        size = source.size if source else server.size_for_upload(model, w, h)
        last_frame = max(0.0, length - 1.0 / server.fps)
        video = server.new_video(model=model, prompt=prompt or "", seconds=_seconds_text(length + float(seconds)),
                                 size=size, extend_from=path, condition_on=(path, last_frame),
                                 billed_seconds=float(seconds), idempotency=idem)
        return video.to_dict()

    @app.post("/v1/videos/edits")
    async def edit_video(request: Request):
        body = await parse_body(request, limit)
        idem = _idempotency(request, body)
        replayed = server.replay(*idem) if idem else None
        if replayed:
            return (server.videos.get(replayed) or server._gone(replayed)).to_dict()
        prompt = text(body, "prompt", required=True, max_chars=MAX_PROMPT_CHARS)
        model_name = text(body, "model")
        source, path, w, h, length = await asyncio.to_thread(server.source_video, body, "edited")
        model = server.models[source.model] if source else server.model(model_name)
        seconds = source.seconds if source else _seconds_text(length)
        size = source.size if source else server.size_for_upload(model, w, h)
        video = server.new_video(model=model, prompt=prompt or "", seconds=seconds, size=size,
                                 condition_on=(path, 0.0), billed_seconds=float(seconds), idempotency=idem)
        return video.to_dict()

    @app.post("/v1/videos/characters")
    async def create_character(request: Request):
        body = await parse_body(request, limit)
        idem = _idempotency(request, body)
        replayed = server.replay(*idem) if idem else None
        if replayed:
            return server.characters[replayed].to_dict()
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
