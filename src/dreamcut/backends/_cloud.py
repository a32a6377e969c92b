"""Plumbing shared by the cloud backends (runway, luma, veo, fal, replicate).

What every paid-API backend needs and nothing more: reading a key from the environment,
a per-provider base-URL override (so tests point the real SDK at a local stand-in),
scrubbing keys out of text before it leaves a backend, checking reference images,
choosing a size / duration a model can make, and streaming a result to disk atomically.

This module never decides anything about a provider's wire format: each backend file
keeps its provider's quirks. It must never write, log or return a key.
"""

from __future__ import annotations

import base64
import io
import mimetypes
import os
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from dreamcut.backends.base import Capabilities, GenerationRequest, OutcomeUnknown, ProviderError, Progress
from dreamcut.errors import BadInput
from dreamcut.media import atomic_path, copy_chunks

# -- keys and URLs ---------------------------------------------------------------------------


def env_key(names: Iterable[str], *, provider: str, signup: str) -> str:
    """The first non-empty environment variable of `names`; BadInput naming them if none is set."""
    names = list(names)
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    wanted = " or ".join(names)
    raise BadInput(f"{provider} needs an API key in the environment ({wanted} is not set)",
                   where=provider, fix=f"export {names[0]}=... (get one at {signup})")


def env_base_url(name: str) -> str | None:
    """An http(s) base URL from `name`, or None: tests and self-hosted gateways use it."""
    value = os.environ.get(name, "").strip()
    return value.rstrip("/") or None


def client_timeout(default: float = 120.0) -> float:
    """Seconds an SDK waits for one HTTP answer: DREAMCUT_HTTP_TIMEOUT (tests, slow links) or `default`."""
    try:
        value = float(os.environ.get("DREAMCUT_HTTP_TIMEOUT", "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


def never_sent(error: BaseException) -> bool:
    """True when `error` (or what caused it) shows the request never left this machine:
    the connection was refused or could not be opened in time. Anything else after a paid
    create was sent (dropped connection, read timeout, a reset) leaves its outcome unknown."""
    seen: set[int] = set()
    cur: BaseException | None = error
    while cur is not None and id(cur) not in seen:
        # By class name, so httpx's fork httpx2 (google-genai >= 3.6, openai 3.x) counts too:
        # its ConnectError is not an httpx.ConnectError.
        if is_transport_error(cur) and any(c.__name__ in _NOT_SENT for c in type(cur).__mro__):
            return True
        if isinstance(cur, ConnectionRefusedError):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


# Transport failures before any byte of the request left: no connection (refused, DNS, TLS,
# connect timeout) or no free pooled connection.
_NOT_SENT = ("ConnectError", "ConnectTimeout", "PoolTimeout")
_TRANSPORT_MODULES = ("httpx", "httpx2", "httpcore", "httpcore2", "h11", "h2")


def is_transport_error(error: BaseException) -> bool:
    """An exception of the HTTP transport (httpx, its fork httpx2, the layers under them) or of
    the socket: the exchange broke, as opposed to an answer the provider gave."""
    return type(error).__module__.split(".")[0] in _TRANSPORT_MODULES or isinstance(error, (ConnectionError,
                                                                                            TimeoutError))


def outcome_unknown(provider: str, what: str, secrets: Iterable[str | None] = ()) -> OutcomeUnknown:
    """The one wording of a paid create whose answer was lost (`what` says how)."""
    return OutcomeUnknown(f"{provider}: the create may have been accepted, but {scrub(what, secrets)}; "
                          f"not re-sent (it could be billed twice): run `dreamcut reconcile`")


def connection_failed(provider: str, error: BaseException, *, create: bool,
                      secrets: Iterable[str | None] = ()) -> ProviderError:
    """The error for a connection that failed: on a paid create that may have been sent,
    `OutcomeUnknown`; otherwise a transient network error (retried)."""
    if create and not never_sent(error):
        return outcome_unknown(provider, f"the connection failed ({type(error).__name__})", secrets)
    return ProviderError(f"{provider}: network error ({scrub(error, secrets)})", code="network", transient=True)


def unreadable_answer(provider: str, error: BaseException, *, create: bool,
                      secrets: Iterable[str | None] = ()) -> ProviderError:
    """The error for an answer the SDK could not read: `OutcomeUnknown` on a paid create (it may have
    been accepted), otherwise a transient `bad_answer`."""
    if create:
        return outcome_unknown(provider, f"the answer could not be read ({type(error).__name__})", secrets)
    return ProviderError(f"{provider}: unreadable answer ({type(error).__name__}: {scrub(error, secrets)})",
                         code="bad_answer", transient=True)


def sdk_error(provider: str, sdk: Any, error: Exception, *, create: bool, secrets: Iterable[str | None],
              message_of: Callable[[dict, str], object]) -> Exception:
    """The ProviderError for a failure inside a Stainless-generated SDK (lumaai, runwayml: the same
    `APIStatusError` / `APIConnectionError` classes); on a paid create, anything that may have reached
    the provider without a clear answer is `OutcomeUnknown`. `message_of(body, default)` is the
    provider's own reading of an error body."""
    if isinstance(error, (BadInput, ProviderError)):
        return error
    if isinstance(error, sdk.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        mapping = create_status_error if create else http_status_error
        return mapping(provider, error.status_code, str(message_of(body, error.message)), error.response.headers,
                       secrets)
    if isinstance(error, sdk.APIConnectionError):
        return connection_failed(provider, error, create=create, secrets=secrets)
    return unreadable_answer(provider, error, create=create, secrets=secrets)


_AUTH_PATTERNS = [
    re.compile(r"\b(Bearer|Key|Token|bearer|token)\s+[A-Za-z0-9._:\-]{16,}"),
    re.compile(r"(?i)(api[_-]?key|token|secret|key)=([^&\s\"']+)"),
]


def scrub(text: object, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every secret value and anything that looks like an auth header removed."""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, "***")
    for pattern in _AUTH_PATTERNS:
        out = pattern.sub(lambda m: f"{m.group(1)} ***" if m.lastindex == 1 else f"{m.group(1)}=***", out)
    out = " ".join(out.split())
    return out[:500]


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from `Retry-After` (delta or HTTP date) or `retry-after-ms`; None when absent."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in dict(headers).items()}
    ms = lower.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = (lower.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import datetime as _dt

        when = parsedate_to_datetime(value)
        return max(0.0, (when - _dt.datetime.now(when.tzinfo)).total_seconds())
    except (TypeError, ValueError):
        return None


_POLICY_WORDS = ("content policy", "content_policy", "moderation", "safety", "unsafe", "flagged", "(e005)",
                 "violat", "usage guidelines", "nsfw", "prohibited", "sensitive")


def looks_like_policy(text: str | None) -> bool:
    low = (text or "").lower()
    return any(w in low for w in _POLICY_WORDS)


def http_status_error(provider: str, status: int, message: str, headers: Mapping[str, str] | None,
                      secrets: Iterable[str | None]) -> ProviderError:
    """The house mapping of an HTTP failure: 408/409/429/5xx are transient, the rest terminal."""
    text = scrub(message, secrets)
    retry_after = retry_after_seconds(headers)
    if status == 429:
        return ProviderError(f"{provider}: rate limited ({text})", code="rate_limited", transient=True,
                             retry_after=retry_after, rate_limited=True)
    if status in (408, 409) or status >= 500:
        return ProviderError(f"{provider}: server error {status} ({text})", code=f"http_{status}", transient=True,
                             retry_after=retry_after)
    if status in (401, 403):
        return ProviderError(f"{provider}: the API key was refused ({status}: {text})", code="auth")
    if looks_like_policy(text):
        return ProviderError(f"{provider}: refused by content policy: {text}", code="content_policy")
    return ProviderError(f"{provider}: invalid request ({status}: {text})", code="invalid_request")


def create_status_error(provider: str, status: int, message: str, headers: Mapping[str, str] | None,
                        secrets: Iterable[str | None]) -> ProviderError:
    """An HTTP failure answering a paid create (no idempotency key): a 5xx or 408 may come after
    the provider accepted the job, so its outcome is unknown; a 429 is the provider refusing
    before it created anything (transient); the rest are the house mapping."""
    if status == 408 or status >= 500:
        return outcome_unknown(provider, f"the answer was HTTP {status} ({scrub(message, secrets)[:200]})", secrets)
    return http_status_error(provider, status, message, headers, secrets)


# -- reference images -------------------------------------------------------------------------


@dataclass(frozen=True)
class RefImage:
    """A reference image checked to be an image: its bytes, MIME type and size in pixels."""

    path: str
    data: bytes
    mime: str
    width: int
    height: int

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def is_remote(ref: str) -> bool:
    return ref.startswith("https://") or ref.startswith("http://")


def load_ref(ref: str, *, where: str, max_bytes: int | None = None) -> RefImage:
    """Read a reference image; BadInput (before any money is spent) when it is not an image.

    Over `max_bytes` (a provider's inline limit) the image is re-encoded as JPEG, halving its
    size until it fits, so a large PNG still goes inline instead of failing at the provider.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(ref)
    if not path.is_file():
        raise BadInput(f"reference image {path.name!r} does not exist", where=where, fix="check the shot's refs:")
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        with Image.open(io.BytesIO(data)) as im:
            fmt = (im.format or "").upper()
            width, height = im.size
            if max_bytes is not None and len(data) > max_bytes:
                rgb = im.convert("RGB")
                while True:
                    buf = io.BytesIO()
                    rgb.save(buf, "JPEG", quality=90)
                    if buf.tell() <= max_bytes or max(rgb.size) < 256:
                        break
                    rgb = rgb.resize((max(1, rgb.width // 2), max(1, rgb.height // 2)))
                data, fmt = buf.getvalue(), "JPEG"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise BadInput(f"reference {path.name!r} is not an image", where=where,
                       fix="use a PNG, JPEG or WebP file in refs:") from None
    mime = Image.MIME.get(fmt) or mimetypes.guess_type(path.name)[0] or "image/png"
    return RefImage(str(path), data, mime, width, height)


def ref_problems(request: GenerationRequest, caps: Capabilities, *, max_refs: int, needs_image: bool,
                 model: str) -> list[str]:
    """What is wrong with the request's reference images for this model (cheap: no upload)."""
    out = []
    if request.refs and not caps.image_conditioning:
        out.append(f"{model} cannot use reference images (remove refs: or pick an image-to-video model)")
    elif len(request.refs) > max_refs:
        out.append(f"{model} takes at most {max_refs} reference image(s), got {len(request.refs)}")
    if needs_image and not request.refs:
        out.append(f"{model} makes video from an image: give the shot a reference image (refs:)")
    for ref in request.refs[:max_refs]:
        if is_remote(ref):
            continue
        try:
            load_ref(ref, where=request.shot_id)
        except BadInput as e:
            out.append(e.message)
    return out


# -- geometry and length ----------------------------------------------------------------------


def aspect_of(width: int, height: int) -> float:
    return width / max(1, height)


def pick_size(caps: Capabilities, request: GenerationRequest) -> tuple[int, int] | None:
    """The allowed size with the request's aspect ratio (within 3%) nearest in area; in preview
    mode the smallest such size. None when no allowed size has that aspect ratio."""
    if not caps.sizes:
        return (request.width, request.height)
    want = aspect_of(request.width, request.height)
    fits = [s for s in caps.sizes if abs(aspect_of(*s) / want - 1.0) <= 0.03]
    if not fits:
        return None
    if request.preview:
        return min(fits, key=lambda s: s[0] * s[1])
    area = request.width * request.height
    return min(fits, key=lambda s: (abs(s[0] * s[1] - area), s[0] * s[1]))


def pick_seconds(caps: Capabilities, request: GenerationRequest) -> float:
    """The length to ask for: the shortest allowed in preview mode, else the nearest allowed >= wish."""
    if request.preview:
        return min(caps.durations) if caps.durations else caps.min_seconds
    return caps.nearest_duration(request.seconds)


def common_problems(caps: Capabilities, request: GenerationRequest, model: str) -> list[str]:
    """Duration, size and prompt-length problems shared by every cloud model."""
    out = []
    longest = max(caps.durations) if caps.durations else caps.max_seconds
    if not request.preview and request.seconds > longest + 1e-6:
        allowed = ", ".join(f"{d:g}" for d in caps.durations) if caps.durations else f"{caps.min_seconds:g}-{caps.max_seconds:g}"
        out.append(f"{request.seconds:g} s is longer than {model} makes (allowed: {allowed} s); "
                   f"split the shot or let dreamcut chain segments")
    if pick_size(caps, request) is None:
        sizes = ", ".join(f"{w}x{h}" for w, h in caps.sizes or ())
        out.append(f"{model} cannot make {request.width}x{request.height} (aspect ratio); sizes: {sizes}")
    if len(request.prompt) > caps.max_prompt_chars:
        out.append(f"prompt is {len(request.prompt)} characters; {model} takes at most {caps.max_prompt_chars}")
    return out


def ratio_text(size: tuple[int, int], sep: str = ":") -> str:
    """1280x720 -> '16:9' (reduced), the way most providers name aspect ratios."""
    from math import gcd

    w, h = size
    g = gcd(w, h) or 1
    return f"{w // g}{sep}{h // g}"


# -- downloads --------------------------------------------------------------------------------


def download_url(url: str, dest: Path, *, provider: str, progress: Progress | None = None,
                 headers: Mapping[str, str] | None = None, secrets: Iterable[str | None] = (),
                 timeout: float = 120.0) -> None:
    """Stream `url` into `dest` through a temp file; ProviderError (transient for 5xx/network)."""
    import httpx

    try:
        with httpx.stream("GET", url, headers=dict(headers or {}), timeout=timeout, follow_redirects=True) as r:
            if r.status_code >= 400:
                r.read()
                raise http_status_error(provider, r.status_code, f"download failed: {r.text[:200]}",
                                        r.headers, secrets)
            total = int(r.headers.get("content-length") or 0)
            with atomic_path(Path(dest)) as tmp:
                with open(tmp, "wb") as f:
                    done = copy_chunks(r.iter_bytes(1 << 20), f, total, progress)
                if done == 0:
                    raise ProviderError(f"{provider}: the provider returned an empty video", code="empty_output",
                                        transient=True)
    except httpx.HTTPError as e:
        raise ProviderError(f"{provider}: download failed ({scrub(type(e).__name__ + ': ' + str(e), secrets)})",
                            code="network", transient=True) from None


def write_video_bytes(data: bytes, dest: Path, *, provider: str) -> None:
    if not data:
        raise ProviderError(f"{provider}: the provider returned an empty video", code="empty_output", transient=True)
    with atomic_path(Path(dest)) as tmp:
        tmp.write_bytes(data)


def lookup_model(provider: str, table: dict, model: str | None, fix: str, what: str = "model"):
    """The entry of a backend's model table, or one BadInput line naming the allowed ones."""
    if model not in table:
        raise BadInput(f"unknown {provider} {what} {model!r}; use one of: {', '.join(table)}", where=provider, fix=fix)
    return table[model]


class TableBackend:
    """The start each `provider:MODEL` cloud backend with a model table shares: the model looked up
    in `models` (one BadInput line naming the allowed ones, with `model_fix`), its capabilities, and
    the key and SDK client, made on first use by the backend's own `_client`."""

    name: str
    models: dict
    model_fix: str
    model_what = "model"

    def __init__(self, model: str | None = None) -> None:
        self._model = lookup_model(self.name, self.models, model, self.model_fix, what=self.model_what)
        self.model = model
        self._caps = self._model.caps()
        self._key: str | None = None
        self._sdk: Any = None

    def capabilities(self) -> Capabilities:
        return self._caps
