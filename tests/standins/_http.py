"""A tiny threaded HTTP server for provider stand-ins: routes, recorded requests, injected faults.

Each provider stand-in (runway.py, luma.py, ...) subclasses `StandIn`, declares its routes
in the provider's documented wire format, and moves its jobs through the provider's status
flow on each poll. Tests choose faults per route (`fault("create", 429, headers=...)`) and
per job (`plan`: ok | policy | stuck | error), and read `received` to check what the official
SDK actually sent.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

_MEDIA: dict[str, bytes] = {}


def tiny_mp4() -> bytes:
    """A real 2 s, 128x72 H.264 mp4 made with ffmpeg (cached for the session)."""
    if "mp4" not in _MEDIA:
        from dreamcut.media import ffmpeg_exe

        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "clip.mp4"
            subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=128x72:rate=24:duration=2",
                            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out)],
                           check=True, capture_output=True)
            _MEDIA["mp4"] = out.read_bytes()
    return _MEDIA["mp4"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        return self.body or b"", self.headers.get("Content-Type", "application/octet-stream")


@dataclass
class Fault:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


@dataclass
class Job:
    id: str
    request: Any
    plan: str = "ok"  # ok | policy | error | stuck
    polls: int = 0
    canceled: bool = False
    extra: dict = field(default_factory=dict)

    def phase(self, queued_polls: int = 1, running_polls: int = 1) -> str:
        """queued -> running -> done|policy|error, one step per poll; `stuck` stays running."""
        if self.canceled:
            return "canceled"
        if self.polls <= queued_polls:
            return "queued"
        if self.plan == "stuck" or self.polls <= queued_polls + running_polls:
            return "running"
        return {"ok": "done"}.get(self.plan, self.plan)


class StandIn:
    """Subclasses add routes with `self.add(method, regex, name, handler)` in `setup_routes`."""

    def __init__(self, key: str = "test-key-0123456789abcdef") -> None:
        self.key = key
        self.routes: list[tuple[str, re.Pattern, str, Callable[[Request], Response]]] = []
        self.received: list[tuple[str, Request]] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.jobs: dict[str, Job] = {}
        self.next_plan: deque[str] = deque()
        self.lock = threading.Lock()
        self._counter = 0
        self.add("GET", r"/media/(?P<name>[^/]+)", "media", self._media)
        self.setup_routes()

    # -- for tests -----------------------------------------------------------------------------

    def fault(self, route: str, status: int, body: Any = None, headers: dict | None = None, times: int = 1,
              drop: bool = False) -> None:
        for _ in range(times):
            self.faults[route].append(Fault(status, body, dict(headers or {}), drop))

    def plan(self, *plans: str) -> None:
        """Plans for the next jobs created, in order (default: ok)."""
        self.next_plan.extend(plans)

    def calls(self, route: str) -> list[Request]:
        return [r for n, r in self.received if n == route]

    def all_text(self) -> str:
        return "\n".join(r.body.decode("latin-1") + str(r.headers) for _, r in self.received)

    # -- for subclasses ------------------------------------------------------------------------

    def setup_routes(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def authorized(self, req: Request) -> bool:
        return req.header("Authorization") == f"Bearer {self.key}"

    def unauthorized(self) -> Response:
        return Response(401, {"error": "Unauthorized"})

    def add(self, method: str, pattern: str, name: str, handler: Callable[[Request], Response]) -> None:
        self.routes.append((method, re.compile(pattern + r"$"), name, handler))

    def new_id(self, prefix: str = "") -> str:
        with self.lock:
            self._counter += 1
            return f"{prefix}{self._counter:04d}-aaaa-bbbb-cccc-0123456789ab"

    def new_job(self, request: Any, prefix: str = "") -> Job:
        job = Job(self.new_id(prefix), request, self.next_plan.popleft() if self.next_plan else "ok")
        self.jobs[job.id] = job
        return job

    def media_url(self, name: str = "take.mp4") -> str:
        return f"{self.url}/media/{name}"

    def _media(self, req: Request) -> Response:
        return Response(200, tiny_mp4(), {"Content-Type": "video/mp4"})

    # -- server --------------------------------------------------------------------------------

    def dispatch(self, req: Request) -> Response | Fault:
        for method, pattern, name, handler in self.routes:
            m = pattern.match(req.path)
            if m and method == req.method:
                req.params = m.groupdict()
                with self.lock:
                    self.received.append((name, req))
                    fault = self.faults[name].popleft() if self.faults[name] else None
                if fault:
                    return fault
                if name != "media" and not self.authorized(req):
                    return self.unauthorized()
                return handler(req)
        return Response(404, {"error": f"no route {req.method} {req.path}"})

    def start(self) -> "StandIn":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                out = standin.dispatch(req)
                if isinstance(out, Fault):
                    if out.drop:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    out = Response(out.status, out.body if out.body is not None else {"error": "injected"},
                                   out.headers)
                data, ctype = out.encoded()
                self.send_response(out.status)
                headers = {"Content-Type": ctype, **out.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "StandIn":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def qs_one(req: Request, name: str, default: str | None = None) -> str | None:
    values = req.query.get(name)
    return values[0] if values else default


def parse_multipart(req: Request) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) for a multipart/form-data body (enough for file uploads)."""
    ctype = req.header("Content-Type") or ""
    m = re.search(r"boundary=\"?([^\";]+)\"?", ctype)
    if not m:
        return {}
    boundary = m.group(1).encode()
    out = {}
    for part in req.body.split(b"--" + boundary):
        if b"\r\n\r\n" not in part:
            continue
        head, _, data = part.partition(b"\r\n\r\n")
        data = data[:-2] if data.endswith(b"\r\n") else data
        name = re.search(rb'name="([^"]*)"', head)
        filename = re.search(rb'filename="([^"]*)"', head)
        if name:
            out[name.group(1).decode()] = (filename.group(1).decode() if filename else None, data)
    return out


def parse_qs_body(req: Request) -> dict[str, list[str]]:
    return parse_qs(req.body.decode())
