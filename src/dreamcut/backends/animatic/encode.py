"""Encoding the animatic's frames to H.264 mp4.

A full take goes to an ffmpeg process (`media.FrameWriter`) fed from a second thread while this
one draws; a preview's few small frames are encoded in-process with PyAV, because starting
ffmpeg alone would cost more than drawing and encoding four small frames. Both convert RGB to
BT.601 limited-range yuv420p the same way, with fixed thread counts, so the decoded frames are
identical across machines.
"""

from __future__ import annotations

import functools
import queue
import threading
from pathlib import Path

from dreamcut.backends.base import Progress
from dreamcut.media import FrameWriter

# Encoder settings, measured in benchmarks/bench_animatic.py: an animatic is previz, so speed
# matters more than bytes; a fixed thread count keeps the decoded frames identical across
# machines with different core counts.
ENCODER_ARGS = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "25", "-pix_fmt", "yuv420p", "-threads", "2")
# Previews go through PyAV's libx264 in this process: starting ffmpeg alone costs more than
# drawing and encoding four small frames. Same codec and preset as ENCODER_ARGS, a notch finer
# (each pixel of a small frame carries more of the picture); one thread, so deterministic.
PREVIEW_ENCODER_OPTIONS = {"preset": "ultrafast", "crf": "23", "threads": "1"}


@functools.lru_cache(maxsize=1)
def in_process_h264() -> bool:
    """Whether this PyAV build can encode H.264 (its wheels bundle libx264); else ffmpeg does."""
    try:
        import av

        return "libx264" in av.codecs_available
    except ImportError:
        return False


def write_in_process(frames, path: Path, width: int, height: int, fps: int, metadata: dict[str, str],
                      progress: Progress | None, total: int) -> None:
    """Encode a few frames to H.264 mp4 with PyAV (no ffmpeg process: its start would cost more
    than the frames). The same BT.601 conversion as the full take's, so colours match."""
    import av
    import cv2

    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        container.metadata.update(metadata)
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = dict(PREVIEW_ENCODER_OPTIONS)
        for i, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
            picture.pts = i
            container.mux(stream.encode(picture))
            if progress:
                progress((i + 1) / total)
        container.mux(stream.encode())


def write_threaded(frames, writer: FrameWriter, total: int, progress: Progress | None) -> None:
    """Draw frames in this thread while another feeds the encoder (both release the GIL)."""
    import cv2

    q: queue.Queue = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def feed() -> None:
        try:
            while (frame := q.get()) is not None:
                if not failure:
                    # BT.601 limited range, as ffmpeg's own rgb24 -> yuv420p; done here, beside the
                    # drawing thread, rather than in the encoder's process.
                    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420))
        except BaseException as e:  # noqa: BLE001 - handed to the drawing thread
            failure.append(e)
            while q.get() is not None:
                pass

    worker = threading.Thread(target=feed, daemon=True)
    worker.start()
    try:
        for i, frame in enumerate(frames):
            if failure:
                break
            q.put(frame)
            if progress and (i % 12 == 0 or i + 1 == total):
                progress((i + 1) / total)
    finally:
        q.put(None)
        worker.join()
    if failure:
        raise failure[0]
