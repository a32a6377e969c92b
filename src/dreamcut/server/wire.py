"""The wire format of `dreamcut serve`: request bodies in, OpenAI-shaped errors out.

Everything here is about bytes and fields, never about jobs: reading a body under the size
limit, turning JSON / multipart / urlencoded bodies into one dict (multipart's bracket keys
such as `input_reference[file_id]` or `video[id]` become nested objects, as the official SDKs
send them), checking a field's type, length and enum with OpenAI's error wording, and the
fingerprint an `Idempotency-Key` is bound to.

`ApiError` is the one way a handler refuses a request: the app turns it into
`{"error": {"message", "type", "param", "code"}}` with its status (see `app.py`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

MAX_PROMPT_CHARS = 32000  # CreateVideo*Body.prompt.maxLength in the spec
MAX_NAME_CHARS = 80  # CreateVideoCharacterBody.name.maxLength
MAX_IMAGE_URL_CHARS = 20971520  # ImageRefParam.image_url.maxLength
MAX_JSON_DEPTH = 16  # the spec's deepest body nests 3 levels
_BRACKET = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[([A-Za-z_][A-Za-z0-9_]*)\]$")


class ApiError(Exception):
    """A refusal the client caused (4xx) or a state it must wait out, in OpenAI's error shape."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type_: str = "invalid_request_error", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type, self.headers = type_, headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class Upload:
    """An uploaded file part: its name, declared type and bytes (bodies are size-limited before parsing)."""

    filename: str
    content_type: str
    data: bytes


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing with 413 past `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise ApiError(400, "The Content-Length header is not a number.", code="invalid_content_length") from None
        if n > limit:
            raise too_large(limit)
    chunks, got = [], 0
    async for chunk in request.stream():
        got += len(chunk)
        if got > limit:
            raise too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # starlette re-reads a cached body when parsing forms
    return body


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is larger than this server's limit of {limit // (1 << 20)} MiB "
                    f"({limit} bytes). Send a smaller file or start the server with a larger --max-request-mb.",
                    code="request_too_large")


async def parse_body(request: Request, limit: int) -> dict[str, Any]:
    """JSON object, multipart form or urlencoded form -> one dict (uploads as `Upload`)."""
    raw = await read_body(request, limit)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_files=16, max_fields=64, max_part_size=limit)
            items = list(form.multi_items())
        except Exception as e:  # the form parser's own refusals (bad boundary, too many parts, ...)
            raise ApiError(400, f"The form body could not be parsed: {str(e)[:200] or type(e).__name__}.",
                           code="invalid_body") from None
        out: dict[str, Any] = {}
        for key, value in items:
            if isinstance(value, UploadFile):
                value = Upload(value.filename or "upload", value.content_type or "", await value.read())
            m = _BRACKET.match(key)
            if m:
                parent = out.setdefault(m.group(1), {})
                if not isinstance(parent, dict):
                    raise ApiError(400, f"'{m.group(1)}' was sent both as a value and as an object.",
                                   param=m.group(1), code="invalid_value")
                parent[m.group(2)] = value
            elif key in out:
                raise ApiError(400, f"'{key}' was sent more than once.", param=key, code="invalid_value")
            else:
                out[key] = value
        return out
    if not raw.strip():
        return {}
    if ctype not in ("application/json", "") and not ctype.endswith("+json"):
        raise ApiError(415, f"Unsupported Content-Type {ctype!r}: send application/json or multipart/form-data.",
                       code="unsupported_media_type")
    try:
        body = json.loads(raw)
        if _depth(body) > MAX_JSON_DEPTH:
            raise ApiError(400, f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.", code="invalid_json")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                       "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent "
                       "was not valid JSON.)", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"The JSON body must be an object, not {_kind(body)}.", code="invalid_json")
    return body


def _depth(value: Any, limit: int = 64) -> int:
    """How deep a parsed JSON value nests (counting stops past `limit`), without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(v, dict):
            todo += [(x, d + 1) for x in v.values()]
        elif isinstance(v, list):
            todo += [(x, d + 1) for x in v]
    return deepest


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, Upload):
        return "a file"
    return type(value).__name__


def text(body: dict[str, Any], name: str, *, required: bool = False, max_chars: int | None = None,
         param: str | None = None, enum: tuple[str, ...] | None = None) -> str | None:
    """A string field: its type, presence, length and (when given) enum, with OpenAI's wording."""
    param = param or name
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"Missing required parameter: '{param}'.", param=param,
                           code="missing_required_parameter")
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid type for '{param}': expected a string, but got {_kind(value)} instead.",
                       param=param, code="invalid_type")
    if "\x00" in value:
        raise ApiError(400, f"Invalid value for '{param}': it contains a NUL character.", param=param,
                       code="invalid_value")
    if required and not value.strip():
        raise ApiError(400, f"Invalid '{param}': empty string. Expected a string with minimum length 1.",
                       param=param, code="empty_string")
    if max_chars is not None and len(value) > max_chars:
        raise ApiError(400, f"Invalid '{param}': string too long. Expected a string with maximum length "
                       f"{max_chars}, but got a string with length {len(value)} instead.", param=param,
                       code="string_above_max_length")
    if enum is not None and value not in enum:
        raise ApiError(400, f"Invalid value: {value[:80]!r}. Supported values are: "
                       f"{', '.join(repr(e) for e in enum)}.", param=param, code="invalid_value")
    return value


def obj(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """An object field (JSON object, or multipart bracket keys, or a JSON string of an object)."""
    value = body.get(name)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError(400, f"Invalid '{name}': not a JSON object.", param=name, code="invalid_value") from None
    if value is None or isinstance(value, dict):
        return value
    raise ApiError(400, f"Invalid type for '{name}': expected an object, but got {_kind(value)} instead.",
                   param=name, code="invalid_type")


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    """What an Idempotency-Key is bound to: the route and the parsed fields (uploads by content hash).

    Parsed, not raw: a retried multipart request has a new boundary but the same fields.
    """
    def norm(v: Any) -> Any:
        if isinstance(v, Upload):
            return {"$upload": hashlib.sha256(v.data).hexdigest()}
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v
    blob = json.dumps([method, path, norm(body)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
