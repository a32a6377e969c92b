"""`Idempotency-Key` on every create: a retry with the same body answers the first object and is
billed once; the same key with a different body is refused with 409.

Each create route takes `Create` through `idempotent_create(...)`, a FastAPI dependency that reads
the body, fingerprints it with its key, and answers a repeat with the first object before the route
runs (so a retry never uploads, renders or bills again). `VideoServer.new_video` and
`new_character` check the key once more under the server's lock: two retries at once make one job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from fastapi import Depends, Request

from dreamcut.server.wire import ApiError, fingerprint, parse_body

if TYPE_CHECKING:
    from dreamcut.server.state import VideoServer


@dataclass(frozen=True)
class Create:
    """A create request's parsed body and its (Idempotency-Key, body fingerprint), if it has a key."""

    body: dict[str, Any]
    idempotency: tuple[str, str] | None


class Replayed(Exception):
    """A create whose key was seen with the same body: `answer` is the first object, sent as is."""

    def __init__(self, answer: dict[str, Any]):
        super().__init__("replayed")
        self.answer = answer


def key_of(request: Request, body: dict[str, Any]) -> tuple[str, str] | None:
    """(Idempotency-Key, fingerprint of method, path and body), or None without the header."""
    key = request.headers.get("idempotency-key")
    if not key:
        return None
    if len(key) > 255:
        raise ApiError(400, "The Idempotency-Key header is longer than 255 characters.", param="Idempotency-Key",
                       code="invalid_value")
    return key, fingerprint(request.method, request.url.path, body)


def idempotent_create(answer: Callable[["VideoServer", str], dict[str, Any]]) -> Any:
    """The dependency of a create route; `answer(server, object id)` is what a replay returns."""

    async def accept(request: Request) -> Create:
        server: VideoServer = request.app.state.server
        body = await parse_body(request, server.max_request_bytes)
        idempotency = key_of(request, body)
        earlier = server.replay(idempotency)
        if earlier is not None:
            raise Replayed(answer(server, earlier))
        return Create(body, idempotency)

    return Depends(accept)
