"""The board's HTTP guards: request bodies capped at MAX_BODY bytes, JSON at MAX_JSON_DEPTH levels,
and a JSON object or a 422 with one line."""

from __future__ import annotations

import json

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

MAX_BODY = 256 * 1024  # bytes: a review note is at most a few kB
MAX_JSON_DEPTH = 16


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, by Content-Length or as they stream."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    return await JSONResponse({"detail": f"request body over {self.limit} bytes"},
                                              status_code=413)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


def json_depth(data: bytes) -> int:
    """How deeply `data` (JSON text) nests arrays and objects, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for b in data:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest


async def json_object(request: Request) -> dict:
    """The request's JSON body, which must be an object (422 otherwise), at most MAX_JSON_DEPTH deep."""
    raw = await request.body()
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise HTTPException(422, f"JSON nested more than {MAX_JSON_DEPTH} levels")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise HTTPException(422, "send a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPException(422, "send a JSON object")
    return body
