"""The simulators' `refused` fault: the provider stops taking NEW connections, as a server going
away gracefully does (closes its listener, then its idle keep-alive connections, and answers the
requests it is already handling). It used to shut down every other open connection too, so a
request in flight on another connection lost its answer: a dropped connection, which for a paid
create means an unknown outcome the real outage would not cause.

Real sockets: the Luma simulator's HTTP server and plain `http.client` connections.
"""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

import pytest

from simulators.common import wait_refusing
from simulators.luma import LumaSim


@pytest.fixture
def sim():
    with LumaSim() as server:
        server.refuse_seconds = 60.0   # the outage lasts the whole test; the fixture's stop ends it
        server.slow_seconds = 0.5      # a request in flight while the outage begins
        yield server


def _connection(sim) -> http.client.HTTPConnection:
    url = urlsplit(sim.url)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def _get(conn: http.client.HTTPConnection, name: str) -> tuple[int, bytes, str | None]:
    conn.request("GET", f"/media/{name}.mp4")
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("Connection")


def _wait_fired(sim, kind: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if ("media", kind) in sim.faults_fired:
            return
        time.sleep(0.005)
    raise AssertionError(f"the {kind} fault never fired")


def test_a_request_in_flight_is_answered_and_only_new_connections_are_refused(sim):
    idle = _connection(sim)
    assert _get(idle, "warm")[0] == 200          # a keep-alive connection, idle from now on

    sim.inject("media", "slow")                   # the request in flight: handled, answered 0.5 s later
    sim.inject("media", "refused")                # the request that begins the outage
    in_flight: dict = {}

    def slow_request() -> None:
        try:
            in_flight["answer"] = _get(_connection(sim), "slow")
        except Exception as e:  # noqa: BLE001 - what the client saw is the finding
            in_flight["error"] = repr(e)

    thread = threading.Thread(target=slow_request, daemon=True)
    thread.start()
    _wait_fired(sim, "slow")
    status, _, connection = _get(_connection(sim), "trigger")
    assert status == 200 and connection == "close"   # the triggering request is answered, then closed
    wait_refusing(sim)
    thread.join(10)

    assert "error" not in in_flight, in_flight.get("error")
    status, body, connection = in_flight["answer"]
    assert status == 200 and len(body) > 1000        # the whole answer (a real mp4)
    assert connection == "close"                       # and then the server lets the connection go

    # The idle keep-alive connection was closed; the client's reconnect is refused.
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, OSError)) as e:
        _get(idle, "again")
    with pytest.raises(ConnectionRefusedError):
        _get(_connection(sim), "new")
    assert isinstance(e.value, (ConnectionRefusedError, http.client.RemoteDisconnected, ConnectionResetError,
                                BrokenPipeError))

    sim.reopen()                                      # the provider is back
    assert _get(_connection(sim), "back")[0] == 200


def test_a_connection_closed_while_the_outage_begins_does_not_keep_the_provider_away(sim):
    """A connection its own handler closes while `refused` stops listening (a real race under load,
    seen in a chaos run: the outage never ended) is skipped; the listener comes back."""
    import socket

    gone = socket.socket()
    gone.close()                                   # no descriptor any more: select() would raise ValueError
    with sim.lock:
        sim._conns.add(gone)
    sim.inject("media", "refused")
    assert _get(_connection(sim), "trigger")[0] == 200
    wait_refusing(sim)
    sim.reopen()                                   # bounded: raises if the listener never comes back
    assert _get(_connection(sim), "back")[0] == 200
