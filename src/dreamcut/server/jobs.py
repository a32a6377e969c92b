"""The job runner of `dreamcut serve`: worker threads that take accepted videos off a queue and render them.

A job waits its simulated latency (reporting progress), is refused by the blocked words, then
renders through the local backend (conditioned on a source frame for remix/edit, stitched after
its source for an extension) and is billed when it completes. A cancel stops it at the backend's
next progress report; a render failure is the job's failure (`internal_error`), never the server's.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from dreamcut.backends.base import GenerationRequest
from dreamcut.media import atomic_path
from dreamcut.server import assets
from dreamcut.server.objects import Video

if TYPE_CHECKING:
    from dreamcut.server.state import VideoServer


class _Cancelled(Exception):
    """Raised from a render's progress callback once its job was cancelled."""


def _reason(e: Exception) -> str:
    """A failed job's message: ffmpeg's last error line, never the command (it names server paths)."""
    if isinstance(e, subprocess.CalledProcessError):
        lines = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        return f"rendering failed: {lines[-1][:200] if lines else f'exit code {e.returncode}'}"
    return f"rendering failed: {str(e)[:300] or type(e).__name__}"



class JobRunner:
    """`workers` threads rendering the server's accepted videos in the order they were queued."""

    def __init__(self, server: "VideoServer", workers: int):
        self.server = server
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.workers = [threading.Thread(target=self._work, name=f"serve-worker-{i}", daemon=True)
                        for i in range(max(1, workers))]
        for t in self.workers:
            t.start()

    def submit(self, video_id: str) -> None:
        self.queue.put(video_id)

    def close(self) -> None:
        for _ in self.workers:
            self.queue.put(None)

    def _work(self) -> None:
        while True:
            vid = self.queue.get()
            if vid is None:
                return
            video = self.server.videos.get(vid)
            if video is None:
                continue
            try:  # a cancelled job returns at once (and its upload is still removed)
                self._run(video)
            except _Cancelled:
                (self.server.storage / f"{video.id}.segment.mp4").unlink(missing_ok=True)
            except Exception as e:  # a render failure is the job's failure, not the server's
                if not video.canceled:
                    video.status, video.error = "failed", {"code": "internal_error", "message": _reason(e)}
            finally:  # an uploaded source serves its one job
                for source in (video.extend_from, video.condition_on[0] if video.condition_on else None):
                    if source is not None and source.name.startswith("upload_"):
                        source.unlink(missing_ok=True)

    def _run(self, video: Video) -> None:
        with self.server.lock:  # a cancel may have come between the queue and here
            if video.canceled:
                return
            video.status, video.started = "in_progress", time.monotonic()
        if video.stuck:
            video.progress = 37
            return  # chaos: this job never finishes
        steps = max(1, int(self.server.latency / 0.1))
        for i in range(steps):
            if video.canceled:
                return
            time.sleep(self.server.latency / steps)
            video.progress = min(95, int(100 * (i + 1) / (steps + 1)))
        if any(w in video.prompt.lower() for w in self.server.blocked_words):
            with self.server.lock:
                if not video.canceled:
                    video.status = "failed"
                    video.error = {"code": "moderation_blocked",
                                   "message": "Your request was blocked by the server's content policy."}
            return
        w, h = (int(x) for x in video.size.split("x"))
        refs = list(video.refs)
        if video.condition_on is not None:
            source, at = video.condition_on
            refs.insert(0, assets.still(source, self.server.storage / f"{video.id}.source.png", at))
        path = self.server.storage / f"{video.id}.mp4"
        if video.extend_from is not None:
            seg = self.server.storage / f"{video.id}.segment.mp4"
            self._render(video, video.prompt, video.billed_seconds, w, h, seg, refs)
            assets.stitch(video.extend_from, seg, path, w, h, self.server.fps)
            seg.unlink()
        else:
            with atomic_path(path) as tmp:
                self._render(video, video.prompt, float(video.seconds), w, h, tmp, refs)
        with self.server.lock:
            if video.canceled or video.id not in self.server.videos:
                path.unlink(missing_ok=True)
                return
            video.path = path
            video.status, video.progress, video.completed_at = "completed", 100, int(time.time())
            self.server.billing.completed += 1
            self.server.billing.billed_seconds += video.billed_seconds
            self.server.billing.billed_usd = round(self.server.billing.billed_usd + video.billed_seconds * video.price, 6)

    def _render(self, video: Video, prompt: str, seconds: float, w: int, h: int, dest: Path,
                refs: list[Path]) -> None:
        """One backend render; a cancel stops it at the backend's next progress report (if it reports)."""
        def progress(fraction: float) -> None:
            if video.canceled:
                raise _Cancelled()
        caps = self.server.backend.capabilities()
        request = GenerationRequest(shot_id="serve", prompt=prompt, seconds=seconds, width=w, height=h, fps=self.server.fps,
                                    seed=int(uuid.uuid5(uuid.NAMESPACE_URL, prompt).int % (2 ** 31)),
                                    refs=tuple(str(r) for r in refs) if caps.image_conditioning else ())
        self.server.backend.render(request, dest, progress)
