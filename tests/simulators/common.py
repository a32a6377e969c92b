"""Helpers shared by the cloud-backend tests: requests, reference images, status walks."""

from __future__ import annotations

from pathlib import Path

from dreamcut.backends.base import GenerationRequest, JobState


def request(**kw) -> GenerationRequest:
    base = dict(shot_id="s01", prompt="a zoom through a 1980s school corridor into a classroom", seconds=5.0,
                width=1280, height=720, fps=24, seed=7)
    base.update(kw)
    return GenerationRequest(**base)


def png(path: Path, size: tuple[int, int] = (64, 36)) -> Path:
    from PIL import Image

    Image.new("RGB", size, (200, 40, 90)).save(path, "PNG")
    return path


def not_an_image(path: Path) -> Path:
    path.write_text("this is a shot list, not a picture\n")
    return path


def walk(backend, job_id: str, max_polls: int = 50) -> list[JobState]:
    """Poll until terminal; the states seen, in order."""
    seen = []
    for _ in range(max_polls):
        status = backend.poll(job_id)
        seen.append(status.state)
        if status.state.terminal:
            return seen
    raise AssertionError(f"job {job_id} did not finish: {seen}")


def dedupe(states: list[JobState]) -> list[JobState]:
    out: list[JobState] = []
    for s in states:
        if not out or out[-1] != s:
            out.append(s)
    return out


def wait_refusing(sim, tries: int = 200) -> None:
    """Wait (bounded) until the simulator's `refused` outage has begun: new connections are refused."""
    import socket
    import time
    from urllib.parse import urlsplit

    url = urlsplit(sim.url)
    for _ in range(tries):
        try:
            socket.create_connection((url.hostname, url.port), timeout=0.2).close()
        except ConnectionRefusedError:
            return
        except OSError:  # reset while the listener shuts down
            pass
        time.sleep(0.005)
    raise AssertionError("the simulator never started refusing connections")
