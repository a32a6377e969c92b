"""Helpers for the board's browser tests: the board served by uvicorn in a thread, Debian's
chromium through Playwright, and the frame the monitor shows compared with a render's frame."""

from __future__ import annotations

import base64
import contextlib
import io
import socket
import threading
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

#: every wait in a browser test is bounded, generously: the machine may be busy (milliseconds)
WAIT_MS = 120_000

#: mean absolute difference (0..255) allowed between the browser's frame and the render's frame at
#: the same record time: two or three H.264 encodes of the same pixels, decoded by Chromium and by PyAV.
FRAME_TOLERANCE = 6.0

#: seek the edit room to t, then grab the monitor's frame (PNG data URL) and the room's state
GRAB = """async (t) => {
  const s = await window.dreamcutRoom.seek(t);
  const v = document.getElementById('mon');
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  c.getContext('2d').drawImage(v, 0, 0);
  return [s, c.toDataURL('image/png'), window.dreamcutRoom.state()];
}"""


@contextlib.contextmanager
def serve_board(root: Path, ready_within: float = 60.0):
    """The board of `root` on a free loopback port, in a thread; yields its URL."""
    import uvicorn

    from dreamcut.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(root), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + ready_within
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, f"the board did not start within {ready_within} s"
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def png(data_url: str, size: tuple[int, int] | None = None):
    """The RGB pixels of a PNG data URL (resized to `size`, width x height, when given)."""
    import numpy as np
    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB")
    if size and img.size != size:
        img = img.resize(size, Image.BICUBIC)
    return np.asarray(img)


def mad(a, b) -> float:
    """Mean absolute difference of two same-sized RGB frames (0..255)."""
    import numpy as np

    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def nle_drops_last_clip(root: Path, out: Path) -> tuple[int, Path]:
    """An editor drops the last clip (and any transition after it) in the NLE and hands back an
    .otio: (clips planned before, the handed-back file)."""
    import opentimelineio as otio

    from dreamcut import timeline as tl

    cut = tl.read_timeline(root / "edits" / "cut.otio")
    v1 = tl.video_track(cut)
    planned = len(tl.clips(cut))
    last = max(i for i, item in enumerate(v1) if isinstance(item, otio.schema.Clip))
    while len(v1) > last:
        del v1[len(v1) - 1]
    while len(v1) and isinstance(v1[len(v1) - 1], otio.schema.Transition):
        del v1[len(v1) - 1]
    nle = out / "premiere.otio"
    otio.adapters.write_to_file(cut, str(nle))
    return planned, nle
