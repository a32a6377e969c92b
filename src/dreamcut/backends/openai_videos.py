"""OpenAI-compatible `/v1/videos` backend, through the official `openai` SDK.

build request -> `videos.create` (multipart, with our idempotency key) -> `videos.retrieve`
(honouring `openai-poll-after-ms`) -> `videos.download_content` (video | thumbnail |
spritesheet). Also `remix` and `extend` (the provider stitches an extension onto the source
video, so the extension's download is the whole take so far).

OpenAI shut down its own Sora API (sora-2, sora-2-pro, /v1/videos on api.openai.com) on
2026-09-24 (developers.openai.com/api/docs/guides/video-generation, read 2026-11-29). This
backend is for compatible servers, `dreamcut serve` included, given by an explicit base URL:
`base_url=`, `DREAMCUT_OPENAI_BASE_URL` or `OPENAI_BASE_URL`. Without one, or pointed at
api.openai.com, it refuses with one line naming the fix, before anything is priced or sent.
The key comes from `OPENAI_API_KEY` only and lives in memory: it is never written anywhere and
never appears in an error message (provider messages are scrubbed).

Money, by what each server documents:
- the official /videos API has no Idempotency-Key and no cancel (DELETE removes a completed or
  failed video; platform.openai.com/docs/api-reference/videos, read 2026-11-29). So against any
  server but `dreamcut serve`, a create whose answer is lost (dropped or timed out after sending,
  5xx, an unreadable body) is `OutcomeUnknown`, `cancel` refuses (`cancel_billing` IMPOSSIBLE),
  and `find_jobs` looks for the job in GET /videos by prompt, model and creation time.
- `dreamcut serve` (recognised by its /v1/models listing: `owned_by: dreamcut`) honours
  `Idempotency-Key`, so a lost create is retried with the same key, and a queued or running job is
  stopped unbilled by its `POST /videos/{id}/cancel`, then deleted (`cancel_billing` REFUNDED).

Quirks kept here and nowhere else:
- the SDK's own retries are off (`max_retries=0`): the orchestrator decides what is re-sent;
- `videos.extend(video={"id": ...})` fails inside SDK 2.x/3.x's multipart file extraction, so the
  reference goes in `extra_body` (sent as the form field `video[id]`, as the API expects);
- `client.videos` needs openai >= 2.2.0 and `videos.extend` >= 2.27.0 (the SDK's CHANGELOG).
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pydantic

from dreamcut.backends._cloud import client_timeout, never_sent, outcome_unknown
from dreamcut.backends._prompt import Draft, fit, seconds_label, timed_draft
from dreamcut.backends.base import (CancelBilling, Capabilities, GenerationRequest, JobState, JobStatus, Progress,
                                    ProviderError, ProviderJob, price_seconds)
from dreamcut.backends._cast import CastRef, CastRouting, all_refs
from dreamcut.errors import BadInput
from dreamcut.media import copy_chunks

# -- the prompt ------------------------------------------------------------------------

PROMPT_CHARS = 4000  # not published in the openai SDK; conservative
REFUSES_REAL_PEOPLE = True  # its published usage policy refuses prompts depicting real, identifiable people


def prompt_draft(request: GenerationRequest) -> Draft:
    """Sora's prompt guide: the scene, then the camera ("Camera: ..."), then the look; several scenes
    are one continuous shot with a "0–4 s:" line each."""
    return timed_draft(request, seconds_label)


def format_prompt(request: GenerationRequest, max_chars: int = PROMPT_CHARS) -> str:
    """The text an OpenAI /v1/videos server receives for `request`, within `max_chars` (see `_prompt.fit`)."""
    return fit(prompt_draft(request), max_chars)


DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETIRED_HOST = "api.openai.com"  # its Sora /v1/videos API was shut down on 2026-09-24
FIND_WINDOW_S = 120.0  # a lost create is looked for among videos made this long before it was sent
_PRICE_SOURCE = "OpenAI API pricing, platform.openai.com/docs/pricing (Sora video), checked 2025-10-07"
_SORA_SIZES = ((720, 1280), (1280, 720))
_SORA_PRO_SIZES = _SORA_SIZES + ((1024, 1792), (1792, 1024))

# model -> capabilities. Extensions add 4..20 s per call (OpenAI's /videos/extensions).
KNOWN_MODELS: dict[str, Capabilities] = {
    "sora-2": Capabilities(min_seconds=4, max_seconds=12, durations=(4, 8, 12), sizes=_SORA_SIZES,
                           image_conditioning=True, extend=True, price_per_second=0.10,
                           price_source=f"{_PRICE_SOURCE}: sora-2 $0.10/s (720p)", preview_mode="cheapest"),
    "sora-2-pro": Capabilities(min_seconds=4, max_seconds=12, durations=(4, 8, 12), sizes=_SORA_PRO_SIZES,
                               image_conditioning=True, extend=True, price_per_second=0.30,
                               price_source=f"{_PRICE_SOURCE}: sora-2-pro $0.30/s (720p), $0.50/s (1024p)",
                               preview_mode="cheapest"),
}
for _snapshot, _base in (("sora-2-2025-10-06", "sora-2"), ("sora-2-2025-12-08", "sora-2"),
                         ("sora-2-pro-2025-10-06", "sora-2-pro")):
    KNOWN_MODELS[_snapshot] = KNOWN_MODELS[_base]

# The SDK marks every videos method deprecated (OpenAI's own Sora API shut down 2026-09-24);
# this backend is for compatible servers too, so the warning says nothing to our users.
warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)

_SDK_LOCK = threading.Lock()
log = logging.getLogger(__name__)
_KEY_LIKE = re.compile(r"(sk-|Bearer\s+)[A-Za-z0-9*_\-.]+")


@dataclass
class OpenAIVideosBackend:
    """model: the server's model name (sora-2, sora-2-pro, or what a compatible server lists).
    base_url: the API root (".../v1"); default from the environment, then OpenAI's.
    timeout: seconds per HTTP request.
    """

    model: str = "sora-2"
    base_url: str | None = None
    timeout: float | None = None
    name: str = "openai-videos"
    _client_obj: Any = field(default=None, repr=False)
    _caps: Capabilities | None = field(default=None, repr=False)
    _key: str | None = field(default=None, repr=False)
    _dreamcut_server: bool | None = field(default=None, repr=False)
    _characters: dict[str, str] = field(default_factory=dict, repr=False)  # cast key -> the server's character id
    _no_characters: bool = field(default=False, repr=False)  # the server answered 404 to /videos/characters

    def __post_init__(self) -> None:
        self.base_url = (self.base_url or os.environ.get("DREAMCUT_OPENAI_BASE_URL")
                         or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self._key = os.environ.get("OPENAI_API_KEY") or None
        if self.timeout is None:
            self.timeout = client_timeout(120.0)

    # -- set-up ----------------------------------------------------------------------------
    def _check_live(self) -> None:
        """BadInput when the base URL is OpenAI's own: its Sora video API no longer exists."""
        if urlsplit(self.base_url).hostname == RETIRED_HOST:
            raise BadInput(f"OpenAI shut down its Sora video API (sora-2, sora-2-pro, /v1/videos) on 2026-09-24; "
                           f"{self.name} needs a compatible server", where=f"{self.name}:{self.model}",
                           fix="set DREAMCUT_OPENAI_BASE_URL to a compatible server's /v1 URL (e.g. `dreamcut serve`), "
                               "or pick another backend")

    def _client(self):
        self._check_live()
        if self._key is None:
            raise BadInput("OPENAI_API_KEY is not set", where=f"{self.name}:{self.model}",
                           fix="export OPENAI_API_KEY=... (the key of the server at the base URL)")
        with _SDK_LOCK:  # one client per backend: a dropped second one closes its transport when collected
            if self._client_obj is None:
                import openai  # the SDK loads with the first client (`dreamcut check` explains the cast without it)

                self._client_obj = openai.OpenAI(api_key=self._key, base_url=self.base_url, max_retries=0,
                                                 timeout=self.timeout)
            return self._client_obj

    def capabilities(self) -> Capabilities:
        self._check_live()
        if self._caps is None:
            self._caps = KNOWN_MODELS.get(self.model) or self._served_capabilities()
        return self._caps

    def _served_capabilities(self) -> Capabilities:
        """A compatible server's own model (e.g. `dreamcut serve`'s `animatic`): ask its /v1/models."""
        where = f"{self.name}:{self.model}"
        if self._key is None:
            raise BadInput(f"unknown model {self.model!r} (and no OPENAI_API_KEY to ask the server)", where=where,
                           fix="use sora-2 or sora-2-pro, or set OPENAI_API_KEY for the server that serves it")
        try:
            served = {m.id: m for m in self._client().models.list()}
        except Exception as e:
            raise _map_error(e, self._key).as_bad_input(where) from None
        m = served.get(self.model)
        if m is None:
            known = ", ".join(sorted(served)[:10]) or "none"
            raise BadInput(f"unknown model {self.model!r}: the server offers {known}", where=where,
                           fix="pick one of the server's models")
        extra = (m.model_extra or {}).get("dreamcut") or {}
        durations = tuple(float(s) for s in extra["seconds"]) if extra.get("seconds") else None
        sizes = tuple(tuple(int(x) for x in s.split("x")) for s in extra["sizes"]) if extra.get("sizes") else None
        return Capabilities(min_seconds=min(durations) if durations else 0.1,
                            max_seconds=max(durations) if durations else float(extra.get("max_seconds", 20.0)),
                            durations=durations, sizes=sizes,  # type: ignore[arg-type]
                            image_conditioning=bool(extra.get("image_conditioning", True)),
                            extend=bool(extra.get("extend", True)),
                            price_per_second=float(extra.get("price_per_second", 0.0)),
                            price_source=f"the server's /v1/models listing ({self.base_url})")

    @property
    def honours_idempotency_key(self) -> bool:
        """For the orchestrator: True for `dreamcut serve`, which answers a repeated create with the first job."""
        return self.honours_idempotency()

    # -- planning ----------------------------------------------------------------------------
    def price(self, request: GenerationRequest) -> float:
        caps = self.capabilities()
        per_second = caps.price_per_second
        if self.model.startswith("sora-2-pro") and max(request.width, request.height) >= 1792:
            per_second = 0.50
        return round(per_second * price_seconds(caps, request), 6)

    def problems(self, request: GenerationRequest) -> list[str]:
        caps = self.capabilities()
        out = []
        if self._key is None:
            out.append("OPENAI_API_KEY is not set")
        if caps.sizes and (request.width, request.height) not in caps.sizes:
            sizes = ", ".join(f"{w}x{h}" for w, h in caps.sizes)
            out.append(f"{self.model} makes {sizes}, not {request.width}x{request.height}")
        if caps.durations and request.seconds - max(caps.durations) <= 1e-6 \
                and not any(abs(request.seconds - d) < 1e-6 for d in caps.durations):
            allowed = ", ".join(f"{d:g}" for d in caps.durations)
            out.append(f"{request.seconds:g} s is not a length {self.model} makes ({allowed} s)")
        if len(request.prompt) > caps.max_prompt_chars:
            out.append(f"the prompt is {len(request.prompt)} characters; {self.model} takes {caps.max_prompt_chars}")
        return out

    # -- the job ------------------------------------------------------------------------------
    def cast_routing(self, request: GenerationRequest) -> CastRouting:
        return cast_routing(self.model, request.cast, request.refs)

    def ensure_characters(self, request: GenerationRequest) -> list[str]:
        """Make the shot's cast known to the server as characters (POST /videos/characters: a name and a
        short video, here one second of the member's picture), once per member and picture: the
        Idempotency-Key is the member's name and the picture's content, so a server that honours it
        (dreamcut serve) answers a repeat with the first character. The prompt names each member
        ("Mia is ..."), which is how a character is used. Returns the character ids."""
        import hashlib
        import tempfile

        from dreamcut.cast import display_name

        ids = []
        for sent in self.cast_routing(request).sent:
            data = Path(sent.ref).read_bytes()
            key = "dreamcut-cast-" + hashlib.sha256(sent.member.encode() + b"\0" + data).hexdigest()[:40]
            if key not in self._characters:
                with tempfile.TemporaryDirectory(prefix="dreamcut-cast-") as tmp:
                    clip = still_video(Path(sent.ref), Path(tmp) / f"{sent.member}.mp4")
                    upload = (clip.name, clip.read_bytes(), "video/mp4")
                character = self._call(lambda c: c.videos.create_character(
                    name=display_name(sent.member), video=upload, extra_headers={"Idempotency-Key": key}))
                self._characters[key] = character.id
            ids.append(self._characters[key])
        return ids

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        refs = request.refs
        if request.cast and not self._no_characters:
            try:
                self.ensure_characters(request)
            except ProviderError as e:
                if e.code != "not_found":
                    raise
                self._no_characters = True  # a server without /videos/characters (said once per backend)
                log.warning("%s: the server has no /videos/characters; the first cast picture goes as "
                            "input_reference where a shot gives none", self.base_url)
        if request.cast and self._no_characters and not refs:
            refs = tuple(r.ref for r in self.cast_routing(request).sent[:1])
        kwargs: dict[str, Any] = {"prompt": request.prompt, "model": self.model,
                                  "seconds": _seconds(request.seconds), "size": f"{request.width}x{request.height}"}
        if refs:
            ref = Path(refs[0])
            mime = mimetypes.guess_type(ref.name)[0] or "image/png"
            kwargs["input_reference"] = (ref.name, ref.read_bytes(), mime)
        video = self._create(lambda c: c.videos.create(**kwargs, extra_headers={"Idempotency-Key": idempotency_key}))
        return video.id

    def extend(self, provider_job_id: str, request: GenerationRequest, idempotency_key: str) -> str:
        """Add `request.seconds` to a completed video; the new job's download is the whole, stitched video."""
        from openai import omit

        video = self._create(lambda c: c.videos.extend(
            prompt=request.prompt, seconds=_seconds(request.seconds), video=omit,
            extra_body={"video": {"id": provider_job_id}}, extra_headers={"Idempotency-Key": idempotency_key}))
        return video.id

    def remix(self, provider_job_id: str, prompt: str, idempotency_key: str) -> str:
        video = self._create(lambda c: c.videos.remix(provider_job_id, prompt=prompt,
                                                    extra_headers={"Idempotency-Key": idempotency_key}))
        return video.id

    def poll(self, job_id: str) -> JobStatus:
        raw = self._call(lambda c: c.videos.with_raw_response.retrieve(job_id))
        video = self._call(lambda c: raw.parse())
        if not isinstance(getattr(video, "status", None), str):
            raise ProviderError(f"{self.name}: the server answered with something that is not a video object",
                                code="malformed", transient=True)
        after = raw.headers.get("openai-poll-after-ms")
        poll_after = float(after) / 1000.0 if after and after.isdigit() else None
        state = _STATES.get(video.status, JobState.RUNNING)
        status = JobStatus(state, progress=(video.progress or 0) / 100.0, poll_after=poll_after)
        if state == JobState.FAILED:
            err = video.error
            status.error_code = (err.code if err else None) or "failed"
            status.error_message = _scrub((err.message if err else None) or "the provider failed the job", self._key)
        return status

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        self.download_variant(job_id, dest, "video", progress)

    def download_variant(self, job_id: str, dest: Path, variant: str = "video", progress: Progress | None = None) -> None:
        """Stream one asset (video | thumbnail | spritesheet) into `dest`; a short body is an error."""
        def fetch(c):
            with c.videos.with_streaming_response.download_content(job_id, variant=variant) as response:
                total = int(response.headers.get("content-length") or 0)
                with open(dest, "wb") as f:
                    got = copy_chunks(response.iter_bytes(1 << 16), f, total, progress)
                if total and got != total:
                    raise ProviderError(f"download cut short ({got} of {total} bytes)", code="short_download",
                                        transient=True)
        self._call(fetch)

    # -- money ------------------------------------------------------------------------------
    def honours_idempotency(self) -> bool:
        """Whether the server is `dreamcut serve`, the one server known to honour Idempotency-Key and
        to stop a job on DELETE (its /v1/models says `owned_by: dreamcut`). Asked once; a failed
        listing answers False (assume the official API's rules) without being remembered."""
        if self._dreamcut_server is None:
            try:
                models = list(self._client().models.list())
            except Exception:  # noqa: BLE001 - unknown server: the official API's rules
                return False
            self._dreamcut_server = any(getattr(m, "owned_by", None) == "dreamcut" for m in models)
        return self._dreamcut_server

    @property
    def cancel_billing(self) -> CancelBilling:
        """`dreamcut serve` stops a cancelled job unbilled; the official API has no cancel at all."""
        return CancelBilling.REFUNDED if self.honours_idempotency() else CancelBilling.IMPOSSIBLE

    def cancel(self, job_id: str) -> None:
        """`dreamcut serve` only (the official API has no cancel): stop a queued or running job with
        serve's `POST /videos/{id}/cancel`, then DELETE it. A job that is neither any more (409
        invalid_video_state: a cancel before this one got through, or it ended) is deleted only when
        it failed: a video that completed is billed, so it stays for the caller to take."""
        if not self.honours_idempotency():
            raise ProviderError(f"{self.name}: the /videos API has no cancel (DELETE only removes completed or failed "
                                f"videos); the job runs on and is billed", code="cancel_unsupported")
        import openai

        try:
            self._call(lambda c: c.post(f"/videos/{job_id}/cancel", cast_to=openai.types.Video))
        except ProviderError as e:
            if e.code == "not_found":  # already deleted (a try before this one got through)
                return
            if e.code != "invalid_video_state":
                raise
            if self.poll(job_id).state == JobState.COMPLETED:
                return
        try:
            self._call(lambda c: c.videos.delete(job_id))  # failed (cancelled): deletable
        except ProviderError as e:
            if e.code != "not_found":
                raise

    def charged(self, request: GenerationRequest, status: JobStatus) -> float:
        """Dollars billed for a job that ended in `status`: a completed video costs its price (per
        second generated); a failed one delivered nothing and is counted as unbilled."""
        if status.cost_usd is not None:
            return status.cost_usd
        return self.price(request) if status.state == JobState.COMPLETED else 0.0

    def find_jobs(self, request: GenerationRequest, idempotency_key: str,
                  created_after: float) -> list[ProviderJob] | None:
        """Videos in GET /videos (newest first) with this prompt and model, made since `created_after`
        (less a clock-skew window); None when the server cannot list videos."""
        since = created_after - FIND_WINDOW_S

        def recent(c) -> list:  # inside one `_call`: the SDK fetches further pages while we iterate
            out = []
            for video in c.videos.list(limit=100, order="desc"):
                if video.created_at < since:
                    break
                out.append(video)
            return out

        try:
            videos = self._call(recent)
        except ProviderError as e:
            if e.code in ("not_found", "http_404", "http_405"):
                return None
            raise
        return [ProviderJob(v.id, _STATES.get(v.status, JobState.RUNNING), created_at=float(v.created_at),
                            prompt=v.prompt)
                for v in videos if v.prompt == request.prompt and v.model == self.model]

    def _create(self, fn):
        """A paid create. A lost answer is retried with the same key only on a server that honours it."""
        try:
            video = self._call(fn)
            if not isinstance(getattr(video, "id", None), str):  # e.g. an HTML page, which the SDK returns as text
                malformed = _Mapped("the server answered with something that is not a video object",
                                    code="malformed", transient=True)
                malformed.ambiguous = True
                raise malformed
            return video
        except _Mapped as e:
            if e.ambiguous and not self.honours_idempotency():
                raise outcome_unknown(self.name, e.message, [self._key]) from None
            raise

    # -- errors -------------------------------------------------------------------------------
    def _call(self, fn):
        client = self._client()
        try:
            return fn(client)
        except ProviderError:
            raise
        except Exception as e:
            raise _map_error(e, self._key) from None


_STATES = {"queued": JobState.QUEUED, "in_progress": JobState.RUNNING, "completed": JobState.COMPLETED,
           "failed": JobState.FAILED}


def _seconds(seconds: float) -> str:
    return f"{seconds:g}"


def _scrub(text: str, key: str | None) -> str:
    if key:
        text = text.replace(key, "***")
    return _KEY_LIKE.sub(lambda m: m.group(1) + "***", text)


class _Mapped(ProviderError):
    ambiguous = False  # the request may have reached the server and been acted on (a lost answer)

    def as_bad_input(self, where: str) -> BadInput:
        return BadInput(f"the server refused: {self.message}", where=where,
                        fix="check the base URL, the key and the model")


def _map_error(e: Exception, key: str | None) -> _Mapped:
    """SDK exception -> ProviderError: 429/5xx/network/garbled bodies are transient, other 4xx terminal."""
    import openai

    if isinstance(e, openai.APIStatusError):
        status = e.status_code
        body = e.body if isinstance(e.body, dict) else {}
        err = body.get("error", body) if isinstance(body, dict) else {}
        code = (err.get("code") if isinstance(err, dict) else None) or getattr(e, "code", None) or f"http_{status}"
        message = (err.get("message") if isinstance(err, dict) else None) or f"HTTP {status}"
        if status in (401, 403):
            return _Mapped("the server refused the API key (OPENAI_API_KEY)", code="auth", transient=False)
        if status == 429 or status == 408 or status == 409 or status >= 500:
            mapped = _Mapped(_scrub(message, key), code=str(code), transient=True, retry_after=_retry_after(e.response),
                             rate_limited=status == 429)
            mapped.ambiguous = status == 408 or status >= 500
            return mapped
        if status == 404:
            return _Mapped(_scrub(message, key), code="not_found", transient=False)
        if code in ("moderation_blocked", "content_policy_violation") or "policy" in message.lower():
            return _Mapped(_scrub(message, key), code="content_policy", transient=False)
        return _Mapped(_scrub(message, key), code=str(code or "invalid_request"), transient=False)
    if isinstance(e, (openai.APIConnectionError, openai.APITimeoutError)):
        mapped = _Mapped(f"cannot reach the server ({type(e).__name__})", code="connection", transient=True)
        mapped.ambiguous = not never_sent(e)
        return mapped
    if isinstance(e, (openai.APIResponseValidationError, pydantic.ValidationError, ValueError)):
        mapped = _Mapped(f"the server sent a malformed response ({type(e).__name__})", code="malformed",
                         transient=True)
        mapped.ambiguous = True
        return mapped
    # Errors while streaming a body are not wrapped by the SDK; it ships its own httpx fork
    # (`httpx2`) in recent versions, so match by module rather than by one package's classes.
    if isinstance(e, (httpx.HTTPError, ConnectionError, TimeoutError)) or \
            type(e).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2", "h11"):
        mapped = _Mapped(f"the connection failed ({type(e).__name__})", code="connection", transient=True)
        mapped.ambiguous = not never_sent(e)
        return mapped
    raise e


def _retry_after(response) -> float | None:
    if response is None:
        return None
    ms = response.headers.get("retry-after-ms")
    try:
        if ms is not None:
            return float(ms) / 1000.0
        s = response.headers.get("retry-after")
        return float(s) if s is not None else None
    except ValueError:
        return None


CHARACTER_FIELD = "character (POST /videos/characters; the prompt names it)"
MAX_CHARACTERS = 4  # characters one video is conditioned on (dreamcut serve's limit)


def cast_routing(model: str | None, cast, own_refs) -> CastRouting:
    """Each cast member with a local picture becomes a character on the server (`/videos/characters`,
    from a one-second video of its first picture) that the prompt names; `input_reference` stays the
    shot's own first frame. A member's further pictures, web URLs and members past four are dropped."""
    sent: list[CastRef] = []
    dropped: list[tuple[str, str, str]] = []
    for member, ref in all_refs(cast):
        if "://" in ref:
            dropped.append((member, ref, "a web URL: a character is made from a local picture"))
        elif any(s.member == member for s in sent):
            dropped.append((member, ref, "a character is made from one picture (its first)"))
        elif len(sent) >= MAX_CHARACTERS:
            dropped.append((member, ref, f"at most {MAX_CHARACTERS} characters condition one video"))
        else:
            sent.append(CastRef(member, ref, CHARACTER_FIELD))
    how = ("cast members as characters named in the prompt" + ("; the shot's refs as input_reference" if own_refs
           else "; a server without /videos/characters gets the first picture as input_reference")
           if sent else "descriptions in the prompt only")
    return CastRouting(f"openai-videos:{model}", tuple(sent), tuple(dropped), how)


def still_video(picture: Path, dest: Path, *, seconds: float = 1.0, fps: int = 24) -> Path:
    """A short H.264 video of one picture (a character is created from a video)."""
    import numpy as np
    from PIL import Image

    from dreamcut.media import FrameWriter

    with Image.open(picture) as im:
        rgb = im.convert("RGB")
        w, h = rgb.size
        scale = min(1.0, 1280 / max(w, h))
        w2, h2 = max(16, int(w * scale) // 2 * 2), max(16, int(h * scale) // 2 * 2)
        frame = np.asarray(rgb.resize((w2, h2)), dtype=np.uint8)
    with FrameWriter(dest, w2, h2, fps) as writer:
        for _ in range(max(1, int(round(seconds * fps)))):
            writer.write(frame)
    return dest
