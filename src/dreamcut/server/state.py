"""The state of `dreamcut serve`: videos, characters, files, idempotency keys, billing and chaos.

`VideoServer` accepts jobs (`new_video`, `new_character`) and hands them to its `jobs.JobRunner`;
it turns request fields into checked values (`check_seconds`, `check_size`, `input_reference`,
`source_video`). Every change of shared state happens under `lock`. The HTTP routes are in `app`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import subprocess
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from dreamcut.backends.base import LocalBackend
from dreamcut.media import write_text_atomic
from dreamcut.server import assets
from dreamcut.server.jobs import JobRunner
from dreamcut.server.objects import (DEFAULT_MAX_REQUEST_BYTES, MIN_SECONDS, SORA_PRO_SIZES, SORA_SIZES, SPEC_SECONDS,
                                     Billing, Character, ServedModel, Video, characters_in, key_reused, not_found,
                                     seconds_text)
from dreamcut.server.wire import MAX_IMAGE_URL_CHARS, ApiError, Upload, obj, text


def nearest_spec_size(w: int, h: int) -> str:
    """The spec size of an upload's orientation: landscape -> 1280x720, else 720x1280."""
    return "1280x720" if w > h else "720x1280"


def even_size(w: int, h: int) -> str:
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
        self._counter = itertools.count()
        self.jobs = JobRunner(self, workers)

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
        self.jobs.close()
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
            raise not_found(video_id, param)
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

    def replay(self, idempotency: tuple[str, str] | None) -> str | None:
        """The id of the object an earlier request with this (key, fingerprint) made, or None; 409
        when the same key came with a different body."""
        with self.lock:
            return self._earlier(idempotency)

    def _earlier(self, idempotency: tuple[str, str] | None) -> str | None:
        """`replay` for a caller that holds the lock (a concurrent retry may have won the race)."""
        seen = self.by_key.get(idempotency[0]) if idempotency else None
        if seen is None:
            return None
        assert idempotency is not None
        if seen[0] != idempotency[1]:
            raise key_reused()
        self.billing.idempotent_replays += 1
        return seen[1]

    def replayed_video(self, video_id: str) -> Video:
        """The video a replayed create made; 409 once it has been deleted."""
        video = self.videos.get(video_id)
        if video is None:
            raise ApiError(409, f"This Idempotency-Key made video '{video_id}', which has since been deleted.",
                           param="Idempotency-Key", code="idempotency_key_reused")
        return video

    # -- jobs ----------------------------------------------------------------------------
    def new_video(self, *, model: ServedModel, prompt: str, seconds: str, size: str, billed_seconds: float,
                  idempotency: tuple[str, str] | None, refs: tuple[Path, ...] = (),
                  condition_on: tuple[Path, float] | None = None, extend_from: Path | None = None,
                  remixed_from: str | None = None) -> Video:
        """Accept a job and bill it; with an idempotency (key, fingerprint) seen before, the first job."""
        with self.lock:
            earlier = self._earlier(idempotency)
            if earlier is not None:
                return self.replayed_video(earlier)
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
        self.jobs.submit(video.id)
        return video

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
        return nearest_spec_size(w, h) if model.spec else even_size(w, h)

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
        return seconds_text(s)

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
            earlier = self._earlier(idempotency)  # a concurrent retry won the race
            if earlier is not None:
                still.unlink(missing_ok=True)
                return self.characters[earlier]
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

