"""Bearer-key check and `--chaos` fault injection for `dreamcut serve`, as pure ASGI middleware.

Faults before a request is handled (429 with Retry-After, 500, a dropped connection) leave the
server unchanged; faults after it (a dropped or malformed answer) happen once a create was
accepted and billed, so the client must retry with the same Idempotency-Key.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from dreamcut.server.objects import error_response as _error

if TYPE_CHECKING:
    from dreamcut.server.state import VideoServer


class AuthAndChaos:
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
