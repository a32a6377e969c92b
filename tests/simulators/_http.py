"""The provider-simulator framework: a threaded HTTP server with faults, books and a clock.

Each provider simulator (runway.py, luma.py, ...) subclasses `Simulator`, declares its routes
in the provider's documented wire format, moves its jobs through the provider's status flow
and bills them by the provider's documented rules. The official SDK is pointed at it through
`sim.env` and runs unchanged.

What a test controls:
- faults, per route (`sim.inject("create", "accept_drop")`, or an explicit answer with
  `sim.fault("create", 429, body, headers)`), or at random on every request at a rate with a
  seed (`Simulator(faults=0.2, seed=3)`). The kinds (`FAULT_KINDS`):
    accept_drop   the request is handled (a create IS created and will be billed), then the
                  connection is closed with no response
    accept_5xx    handled, then answered with a 5xx in the provider's error shape
    slow          handled, then answered only after `slow_seconds` (past the client's timeout,
                  which `sim.env` sets through DREAMCUT_HTTP_TIMEOUT)
    html          handled, then answered 200 with an HTML page (a proxy / CDN error page)
    rate_limit    not handled: the provider's own 429 answer with its rate-limit headers
    5xx           not handled: a 503 from the front door
    drop          not handled: the connection is closed with no response
    refused       the listener goes away for `refuse_seconds`: new connections are refused
                  (ECONNREFUSED, the request never leaves the client); requests already being
                  handled (the one that triggered it among them) are answered, then their
                  connections closed; idle keep-alive connections are closed at once
- job plans (`sim.plan("policy", "stuck", ...)`) for the next jobs created; with random faults on,
  a share (`faults / 4`) of the other new jobs also fails in one of the provider's documented ways
  (`failure_plans`: content policy, internal errors...), billed or not as that provider bills them;
- the clock (`sim.clock.advance(3600)`): jobs progress by polls AND by clock time (a provider
  renders whether or not anyone polls), and retention / expiry rules read this clock.

What a test reads: `sim.books()` (the provider's own record: jobs created and dollars billed,
exact to the micro-dollar), `sim.received` / `sim.calls(route)` (what the SDK actually sent),
and `sim.faults_fired` (which faults happened where).
"""

from __future__ import annotations

import json
import random
import re
import select
import socket
import subprocess
import tempfile
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

_MEDIA: dict[str, bytes] = {}

# Faults that run the route's handler first (a create is created) and those that do not.
AFTER_HANDLING = ("accept_drop", "accept_5xx", "slow", "html")
BEFORE_HANDLING = ("rate_limit", "5xx", "drop", "refused")
FAULT_KINDS = AFTER_HANDLING + BEFORE_HANDLING

# The random mix, as shares of all faults. accept_drop is 0.3 of them, so a 20% fault rate
# drops at least 6% of creates after accepting them (the never-pay-twice test asks >= 5%).
DEFAULT_MIX = {"accept_drop": 0.30, "accept_5xx": 0.12, "slow": 0.06, "html": 0.10, "rate_limit": 0.17,
               "5xx": 0.10, "drop": 0.07, "refused": 0.08}
# Downloads of finished media (a CDN) only fail at the front door.
MEDIA_MIX = {"5xx": 0.5, "drop": 0.5}

HTML_PAGE = (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>"
             b"502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>")


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


class SimClock:
    """The simulator's wall clock: real time plus an offset a test advances."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def iso(self, t: float | None = None) -> str:
        """`t` (default now) as the ISO-8601 UTC text most APIs use, e.g. 2026-11-29T20:01:02.345Z."""
        when = datetime.fromtimestamp(self.now() if t is None else t, timezone.utc)
        return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    """An explicit answer (`status`, `body`, `headers`), or a fault `kind` from FAULT_KINDS."""

    status: int = 0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (and without handling)
    kind: str | None = None


@dataclass
class Job:
    """One provider job. It advances one phase per poll, or by clock time, whichever is further."""

    id: str
    request: Any
    plan: str = "ok"  # ok | policy | error | stuck | <provider-specific plans>
    polls: int = 0
    created_at: float = 0.0
    canceled: bool = False
    canceled_phase: str | None = None  # the phase the job was in when it was cancelled
    finished_at: float | None = None  # clock time the job reached a terminal phase (set by `phase`)
    tag: str | None = None  # the client's tag / metadata, where the API carries one
    prompt: str | None = None
    extra: dict = field(default_factory=dict)

    def phase(self, now: float, queued_polls: int = 1, running_polls: int = 1, queued_s: float = 2.0,
              running_s: float = 4.0) -> str:
        """queued -> running -> done | policy | error | <plan>; `stuck` stays running; canceled."""
        if self.canceled:
            return "canceled"
        age = now - self.created_at
        if self.polls <= queued_polls and age < queued_s:
            return "queued"
        if self.plan == "stuck" or (self.polls <= queued_polls + running_polls and age < queued_s + running_s):
            return "running"
        if self.finished_at is None:
            self.finished_at = min(now, self.created_at + queued_s + running_s)
        return {"ok": "done"}.get(self.plan, self.plan)


class Simulator:
    """Subclasses add routes with `self.add(method, regex, name, handler)` in `setup_routes`,
    name the route that creates paid jobs in `create_routes`, and bill jobs in `billed`."""

    provider = "provider"
    key_env = "PROVIDER_API_KEY"
    base_url_env = "DREAMCUT_PROVIDER_BASE_URL"
    base_path = ""  # appended to the URL in `env` (e.g. Luma's /dream-machine/v1)
    create_routes: tuple[str, ...] = ("create",)
    failure_plans: tuple[str, ...] = ("policy", "error")  # how this provider's jobs fail (random mode)
    client_timeout = 2.0  # DREAMCUT_HTTP_TIMEOUT in `env`
    slow_seconds = 3.0  # a `slow` answer comes this late (past client_timeout)
    refuse_seconds = 0.4  # a `refused` outage lasts this long

    def __init__(self, key: str = "test-key-0123456789abcdef", *, faults: float = 0.0, seed: int = 0,
                 mix: dict[str, float] | None = None, clock: SimClock | None = None) -> None:
        self.key = key
        self.clock = clock or SimClock()
        self.fault_rate = faults
        self.mix = dict(mix or DEFAULT_MIX)
        self.rng = random.Random(seed)
        self.routes: list[tuple[str, re.Pattern, str, Callable[[Request], Response]]] = []
        self.received: list[tuple[str, Request]] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.faults_fired: list[tuple[str, str]] = []  # (route, kind)
        self.jobs: dict[str, Job] = {}
        self.next_plan: deque[str] = deque()
        self.lock = threading.RLock()
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._port = 0
        self._conns: set[socket.socket] = set()
        self._busy: set[socket.socket] = set()  # connections with a request being handled
        self._down_until = 0.0
        self._stopped = False
        self._outage_over = threading.Event()  # `reopen()` ends a `refused` outage early
        self.add("GET", r"/media/(?P<name>[^/]+)", "media", self._media)
        self.setup_routes()

    # -- for tests -----------------------------------------------------------------------------

    def fault(self, route: str, status: int, body: Any = None, headers: dict | None = None, times: int = 1,
              drop: bool = False) -> None:
        """The next `times` requests to `route` get this answer (or a drop) instead of being handled."""
        for _ in range(times):
            self.faults[route].append(Fault(status, body, dict(headers or {}), drop))

    def inject(self, route: str, kind: str, times: int = 1) -> None:
        """The next `times` requests to `route` meet fault `kind` (one of FAULT_KINDS)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        for _ in range(times):
            self.faults[route].append(Fault(kind=kind))

    def plan(self, *plans: str) -> None:
        """Plans for the next jobs created, in order (default: ok)."""
        self.next_plan.extend(plans)

    def calls(self, route: str) -> list[Request]:
        return [r for n, r in self.received if n == route]

    def all_text(self) -> str:
        return "\n".join(r.body.decode("latin-1") + str(r.headers) for _, r in self.received)

    @property
    def env(self) -> dict[str, str]:
        """Environment that points the official SDK (and dreamcut) at this simulator."""
        return {self.key_env: self.key, self.base_url_env: self.url + self.base_path,
                "DREAMCUT_HTTP_TIMEOUT": f"{self.client_timeout:g}"}

    def books(self) -> dict[str, Any]:
        """The provider's own record: every job created, its state now and what it is billed."""
        with self.lock:
            rows, total = [], Decimal(0)
            for job in self.jobs.values():
                state = self.state_name(job)
                usd = Decimal(self.billed(job))
                total += usd
                rows.append({"id": job.id, "tag": job.tag, "prompt": job.prompt, "state": state,
                             "billed_usd": float(usd)})
            return {"jobs_created": len(self.jobs), "billed_usd": float(total), "jobs": rows}

    def settle(self, seconds: float = 3600.0) -> None:
        """Let provider time pass so every job that will finish by itself has finished."""
        self.clock.advance(seconds)

    # -- for subclasses ------------------------------------------------------------------------

    def setup_routes(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def billed(self, job: Job) -> Decimal | str | int:
        """USD the provider bills for `job` as it stands now (Decimal or exact string)."""
        return 0

    def state_name(self, job: Job) -> str:
        """The provider's name for the job's state now."""
        return self.phase(job)

    def phase(self, job: Job) -> str:
        return job.phase(self.clock.now())

    def authorized(self, req: Request) -> bool:
        return req.header("Authorization") == f"Bearer {self.key}"

    def unauthorized(self) -> Response:
        return Response(401, {"error": "Unauthorized"})

    def rate_limited(self, req: Request) -> Response:
        """The provider's own 429 (subclasses give its body and rate-limit headers)."""
        return Response(429, {"error": "Too many requests"}, {"Retry-After": "1"})

    def server_error(self, req: Request, status: int = 500) -> Response:
        """The provider's own 5xx error body."""
        return Response(status, {"error": "Internal server error"})

    def add(self, method: str, pattern: str, name: str, handler: Callable[[Request], Response]) -> None:
        self.routes.append((method, re.compile(pattern + r"$"), name, handler))

    def new_id(self, prefix: str = "") -> str:
        with self.lock:
            self._counter += 1
            return f"{prefix}{self._counter:04d}-aaaa-bbbb-cccc-0123456789ab"

    def new_job(self, request: Any, prefix: str = "", *, tag: str | None = None, prompt: str | None = None,
                job_id: str | None = None) -> Job:
        with self.lock:
            if self.next_plan:
                plan = self.next_plan.popleft()
            elif self.fault_rate > 0 and self.failure_plans and self.rng.random() < self.fault_rate / 4:
                plan = self.rng.choice(self.failure_plans)
            else:
                plan = "ok"
            job = Job(job_id or self.new_id(prefix), request, plan, created_at=self.clock.now(), tag=tag,
                      prompt=prompt)
            self.jobs[job.id] = job
            return job

    def media_url(self, name: str = "take.mp4") -> str:
        return f"{self.url}/media/{name}"

    def media_available(self, name: str) -> bool:
        """Whether the media file `name` is still served (retention rules override this)."""
        return True

    def _media(self, req: Request) -> Response:
        if not self.media_available(req.params["name"]):
            return Response(404, b"<Error><Code>NoSuchKey</Code></Error>", {"Content-Type": "application/xml"})
        return Response(200, tiny_mp4(), {"Content-Type": "video/mp4"})

    # -- faults --------------------------------------------------------------------------------

    def _next_fault(self, name: str) -> Fault | None:
        with self.lock:
            if self.faults[name]:
                return self.faults[name].popleft()
            if self.fault_rate <= 0 or self.rng.random() >= self.fault_rate:
                return None
            mix = MEDIA_MIX if name == "media" else self.mix
            kinds = list(mix)
            return Fault(kind=self.rng.choices(kinds, weights=[mix[k] for k in kinds])[0])

    def dispatch(self, req: Request) -> tuple[Response | None, Fault | None]:
        """(response, fault): response None means close the connection without answering."""
        for method, pattern, name, handler in self.routes:
            m = pattern.match(req.path)
            if not (m and method == req.method):
                continue
            req.params = m.groupdict()
            with self.lock:
                self.received.append((name, req))
            fault = self._next_fault(name)
            if fault is not None:
                self.faults_fired.append((name, fault.kind or f"http_{fault.status}"))
            if fault is not None and fault.kind is None:
                if fault.drop:
                    return None, fault
                return Response(fault.status, fault.body if fault.body is not None else {"error": "injected"},
                                fault.headers), fault
            kind = fault.kind if fault else None
            if kind == "rate_limit":
                return self.rate_limited(req), fault
            if kind == "5xx":
                return self.server_error(req, 503), fault
            if kind == "drop":
                return None, fault
            if name != "media" and not self.authorized(req):
                return self.unauthorized(), fault
            response = handler(req)
            if kind == "accept_drop":
                return None, fault
            if kind == "accept_5xx":
                return self.server_error(req, 500), fault
            if kind == "html":
                return Response(200, HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"}), fault
            return response, fault
        return Response(404, {"error": f"no route {req.method} {req.path}"}), None

    # -- server --------------------------------------------------------------------------------

    def _listen(self) -> None:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with sim.lock:
                    sim._conns.add(self.connection)

            def parse_request(self) -> bool:  # the request line is in: this connection is busy till answered
                with sim.lock:
                    sim._busy.add(self.connection)
                return super().parse_request()

            def finish(self) -> None:
                with sim.lock:
                    sim._conns.discard(self.connection)
                    sim._busy.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def _handle(self) -> None:
                try:
                    self._answer()
                finally:
                    with sim.lock:
                        sim._busy.discard(self.connection)
                        outage = sim._server is None
                    if outage:  # the listener went away meanwhile: answered, this connection goes too
                        self.close_connection = True

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                out, fault = sim.dispatch(req)
                kind = fault.kind if fault else None
                if out is None:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if kind == "slow":
                    time.sleep(sim.slow_seconds)
                if kind == "refused":  # stop listening before answering: the client's next connect is refused
                    try:
                        sim._stop_listening(self.connection)
                    finally:  # whatever happens there, the provider comes back after refuse_seconds
                        threading.Thread(target=sim._listen_again, daemon=True).start()
                data, ctype = out.encoded()
                try:
                    self.send_response(out.status)
                    headers = {"Content-Type": ctype, **out.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    with sim.lock:
                        outage = sim._server is None
                    if kind == "refused" or outage:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:  # the client gave up (slow answers)
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up (a timeout, a kill -9) is part of the game, not news

        server = Server(("127.0.0.1", self._port), Handler)
        server.daemon_threads = True
        self._port = server.server_port
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def _stop_listening(self, current: socket.socket) -> None:
        """New connections are refused from now on; idle keep-alive ones are closed (the client's pool
        must reconnect, and is refused); requests being handled are answered (`_handle` closes their
        connections after the answer).

        A server going away gracefully does this: Go's net/http `Server.Shutdown` "works by first
        closing all open listeners, then closing all idle connections, and then waiting indefinitely
        for connections to return to idle" (pkg.go.dev/net/http#Server.Shutdown, read 2026-11-30);
        closing a listening socket does not touch the connections it accepted (close(2), listen(2)).
        A connection counts as busy from its request line (`parse_request`), or when bytes of a
        request wait on it unread."""
        with self.lock:
            server, self._server = self._server, None
            conns = [c for c in self._conns if c is not current and c not in self._busy]
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for c in conns:
            try:
                if select.select([c], [], [], 0)[0] and c.recv(1, socket.MSG_PEEK):
                    continue  # a request arrived and is about to be read: it is in flight
            except (OSError, ValueError):  # closed meanwhile by its own handler (ValueError: no descriptor)
                continue
            with self.lock:
                if c in self._busy:
                    continue
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _listen_again(self) -> None:
        self._outage_over.wait(self.refuse_seconds)
        self._outage_over.clear()
        with self.lock:
            if not self._stopped and self._server is None:
                self._listen()

    def reopen(self, within: float = 30.0) -> None:
        """End a `refused` outage now and wait (bounded) until the listener accepts again: a test
        that needs the provider back does not race a timer on a loaded machine."""
        self._outage_over.set()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                if self._server is not None:
                    return
            time.sleep(0.01)
        raise AssertionError("the simulator did not listen again")

    def start(self) -> "Simulator":
        self._listen()
        self.url = f"http://127.0.0.1:{self._port}"
        return self

    def stop(self) -> None:
        with self.lock:
            self._stopped = True
            server, self._server = self._server, None
            conns = list(self._conns)
        if server is not None:
            server.shutdown()
            server.server_close()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


StandIn = Simulator  # the name the first stand-ins used


def usd(value: Decimal | str | int | float) -> Decimal:
    """Exact dollars from a price written as text or integer cents (never from binary floats)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


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
