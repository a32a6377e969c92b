"""The review board: a FastAPI app over one project's catalog, in three parts by concept:
`review` (the page, reviews, jobs), `room` (the edit room: the cut, the song map, changes on
the grid) and `files` (posters, proxies, takes, the song, renders; media and nothing else).

Safety: media is looked up by take id in the catalog, never by a path from the URL, except
/files/ (see `state.Board.media_file`). Every error is a 4xx with a one-line JSON detail (no
traceback); request bodies are capped (`http.MAX_BODY`, `http.MAX_JSON_DEPTH`). State-changing
calls need the `X-Dreamcut: 1` header, which a foreign web page cannot send without a CORS
preflight this app never grants. The Host header must name this machine (DNS rebinding).

This module presents and records the director's choices; it never decides an edit.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dreamcut.errors import BadInput, DreamcutError
from dreamcut.web import files, review, room
from dreamcut.web.http import MAX_BODY, BodyLimit
from dreamcut.web.state import Board

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def create_app(project_root: Path, *, allowed_hosts: list[str] | None = None) -> FastAPI:
    board = Board(Path(project_root))
    edit_room = room.EditRoom(board)
    app = FastAPI(title="dreamcut review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.board = board
    app.state.room = edit_room
    hosts = set(allowed_hosts or []) | {"127.0.0.1", "localhost", "::1", "testserver"}
    from starlette.middleware.gzip import GZipMiddleware

    app.add_middleware(GZipMiddleware, minimum_size=2000)
    app.add_middleware(BodyLimit, limit=MAX_BODY)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if "*" not in hosts and (request.url.hostname or "") not in hosts:
            return JSONResponse({"detail": "unknown host"}, status_code=400)
        if request.method not in ("GET", "HEAD") and request.headers.get("x-dreamcut") != "1":
            return JSONResponse({"detail": "missing X-Dreamcut header"}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.exception_handler(DreamcutError)
    async def _work_failed(request: Request, exc: DreamcutError) -> JSONResponse:
        # ffmpeg refusing a file (a take that is not a video) is the file's fault: 422, one line.
        return JSONResponse({"detail": exc.message[:300]}, status_code=422)

    @app.exception_handler(ValueError)
    async def _bad_value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": "bad request"}, status_code=400)

    app.include_router(review.routes(board, edit_room))
    app.include_router(room.routes(edit_room))
    app.include_router(files.routes(board))
    return app


def serve(project_root: Path, *, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True,
          allowed_hosts: list[str] | None = None) -> None:
    """Run the board until interrupted (the CLI's `dreamcut review`).

    Listening beyond this machine needs the names it may be reached by (`allowed_hosts`): a
    wildcard bind never turns the Host check off.
    """
    import uvicorn

    if host not in LOOPBACK and not allowed_hosts:
        raise BadInput(f"--host {host} listens beyond this machine", where="--host",
                       fix="also name the host names the board may be reached by: --allowed-host NAME (repeatable)")
    app = create_app(project_root, allowed_hosts=list(allowed_hosts or []) + ([host] if host not in ("0.0.0.0", "::")
                                                                             else []))
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if open_browser:
        import webbrowser

        threading.Timer(0.8, lambda: webbrowser.open(url)).start()
    print(f"review board: {url}  (Ctrl+C to stop)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
