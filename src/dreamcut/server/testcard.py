"""The `testcard` backend: a solid-colour clip per request, for exercising servers and job runners.

It is what `dreamcut serve --backend testcard` renders when the point is the plumbing
(queues, polling, chaos, billing, benchmarks), not the pictures: each take is one flat
colour chosen from the prompt's hash, at the requested size, fps and length. Encodes are
cached by (colour, size, fps, frames) so a thousand requests cost a handful of ffmpeg runs.

It must never be presented as generated video: it is a test card, and is labelled so in
the file's metadata.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dreamcut.backends.base import Capabilities, GenerationRequest, LocalBackend, Progress
from dreamcut.media import FrameWriter, atomic_path

_PALETTE = [(200, 60, 60), (60, 160, 90), (60, 90, 200), (210, 170, 40), (150, 70, 180), (40, 170, 180),
            (230, 120, 40), (120, 120, 120)]


@dataclass
class TestcardBackend(LocalBackend):
    """Flat-colour clips of any size and length. `cache_dir` keeps one encode per distinct clip."""

    name: str = "testcard"
    cache_dir: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def capabilities(self) -> Capabilities:
        return Capabilities(min_seconds=0.1, max_seconds=120.0, image_conditioning=True, extend=True,
                            price_per_second=0.0, price_source="testcard: free (local test pattern)", local=True)

    @staticmethod
    def colour(prompt: str) -> tuple[int, int, int]:
        return _PALETTE[int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % len(_PALETTE)]

    def render(self, request: GenerationRequest, dest: Path, progress: Progress | None = None) -> None:
        colour = self.colour(request.prompt)
        frames = request.frame_count
        key = f"{colour[0]:02x}{colour[1]:02x}{colour[2]:02x}-{request.width}x{request.height}-{request.fps}-{frames}"
        if self.cache_dir is None:
            self._encode(Path(dest), request, colour, frames)
        else:
            cached = Path(self.cache_dir) / f"{key}.mp4"
            with self._lock:
                if not cached.exists():
                    with atomic_path(cached) as tmp:
                        self._encode(tmp, request, colour, frames)
            shutil.copyfile(cached, dest)
        if progress:
            progress(1.0)

    @staticmethod
    def _encode(path: Path, request: GenerationRequest, colour: tuple[int, int, int], frames: int) -> None:
        frame = np.empty((request.height, request.width, 3), np.uint8)
        frame[:] = colour
        codec = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-pix_fmt", "yuv420p")
        with FrameWriter(path, request.width, request.height, request.fps, codec_args=codec,
                         metadata={"comment": "dreamcut testcard (not generated video)"}) as w:
            for _ in range(frames):
                w.write(frame)
