"""Small media for the board, made on demand and cached under .dreamcut/cache/:
posters (one small JPEG per take), card proxies (low-res, short, silent H.264 that loop on a
card), playback proxies (every frame of the whole take, small, keyframes often: what the edit
room plays in sequence, frame-accurate at cuts) and the song's waveform (peaks as JSON).

Cache names carry the source's size and modification time, so a re-rendered take gets a
fresh proxy. At most two ffmpeg processes run at once (this machine has two cores and the
board must stay responsive). Never writes outside the cache folder.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from dreamcut.media import atomic_path, ffmpeg_exe, run_ffmpeg, write_text_atomic

PROXY_WIDTH = 240  # px: enough for a card, a few dozen kB per take
PROXY_SECONDS = 6.0  # a card loops the first seconds; the compare view plays the full take
PROXY_FPS = 12
POSTER_WIDTH = 240

_slots = threading.BoundedSemaphore(2)
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _stamp(src: Path) -> str:
    st = src.stat()
    return hashlib.sha256(f"{src}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def _made_once(dest: Path, make: Callable[[Path], None]) -> Path:
    """`dest`, made by `make(temp path)` the first time (one maker per file, two at once in all)."""
    if dest.is_file():
        return dest
    with _lock(str(dest)), _slots:
        if not dest.is_file():
            with atomic_path(dest) as tmp:
                make(tmp)
    return dest


def proxy_path(cache_dir: Path, take_id: str, src: Path) -> Path:
    return cache_dir / "proxies" / f"{take_id}-{_stamp(src)}.mp4"


def poster_path(cache_dir: Path, take_id: str, src: Path) -> Path:
    return cache_dir / "proxies" / f"{take_id}-{_stamp(src)}.jpg"


def ensure_proxy(cache_dir: Path, take_id: str, src: Path) -> Path:
    """A small looping proxy of the take's first seconds (made once, then served from cache)."""
    return _made_once(proxy_path(cache_dir, take_id, src), lambda tmp: run_ffmpeg(
        ["-i", str(src), "-t", f"{PROXY_SECONDS}", "-an",
         "-vf", f"fps={PROXY_FPS},scale={PROXY_WIDTH}:-2:flags=bilinear", "-c:v", "libx264", "-preset", "veryfast",
         "-crf", "32", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp)], what=f"proxy of {take_id}"))


PLAY_WIDTH = 480  # px at most: the monitor is 256 px wide; a proxy never upscales
PLAY_GOP = 12  # frames between keyframes: a seek to a cut decodes at most half a second


def play_proxy_path(cache_dir: Path, take_id: str, src: Path) -> Path:
    return cache_dir / "proxies" / f"{take_id}-{_stamp(src)}-play.mp4"


def ensure_play_proxy(cache_dir: Path, take_id: str, src: Path) -> Path:
    """The take's playback proxy: the whole take, every frame at the take's own timing (so a record
    time maps to the same source frame as in the render), at most PLAY_WIDTH wide, silent."""
    return _made_once(play_proxy_path(cache_dir, take_id, src), lambda tmp: run_ffmpeg(
        ["-i", str(src), "-an", "-vf", f"scale=w='min({PLAY_WIDTH},iw)':h=-2:flags=bicubic", "-c:v", "libx264",
         "-preset", "veryfast", "-crf", "20", "-g", str(PLAY_GOP), "-pix_fmt", "yuv420p", "-movflags", "+faststart",
         str(tmp)], what=f"playback proxy of {take_id}"))


POSTER_SEEK = 0.5  # s: the first frame is often a fade-in ...
POSTER_MIN_SECONDS = 1.0  # ... but a clip shorter than this (a 4-frame preview) gets its first frame


def poster_seek(seconds: float) -> float:
    """Where a poster is grabbed: half a second in, or the first frame of a clip under a second."""
    return POSTER_SEEK if seconds >= POSTER_MIN_SECONDS else 0.0


def ensure_poster(cache_dir: Path, take_id: str, src: Path) -> Path:
    """One small JPEG of the take (see `poster_seek`); always made when the take has a frame."""
    from dreamcut.media import probe

    def grab(tmp: Path) -> None:
        seek = poster_seek(probe(src).duration or 0.0)
        args = ["-i", str(src), "-frames:v", "1", "-vf", f"scale={POSTER_WIDTH}:-2", "-q:v", "5", "-f", "image2",
                str(tmp)]
        run_ffmpeg((["-ss", f"{seek}"] if seek else []) + args, what=f"poster of {take_id}")

    return _made_once(poster_path(cache_dir, take_id, src), grab)


def waveform(cache_dir: Path, song: Path, bins: int = 1200) -> dict:
    """Peak amplitude per bin (0..1) over the whole song, and its duration; cached by content hash."""
    from dreamcut.media import file_sha256

    digest = file_sha256(song)[:24]
    dest = cache_dir / "waveform" / f"{digest}-{bins}.json"
    if dest.is_file():
        return json.loads(dest.read_text())
    import subprocess

    rate = 4000
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(song),
                           "-ac", "1", "-ar", str(rate), "-f", "f32le", "pipe:1"], capture_output=True, check=False)
    samples = np.frombuffer(proc.stdout, np.float32)
    if proc.returncode != 0 or samples.size == 0:
        data = {"seconds": 0.0, "peaks": []}
    else:
        edges = np.linspace(0, samples.size, bins + 1).astype(int)
        peaks = [float(np.abs(samples[a:b]).max()) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])]
        top = max(peaks) or 1.0
        data = {"seconds": round(samples.size / rate, 3), "peaks": [round(p / top, 3) for p in peaks]}
    write_text_atomic(dest, json.dumps(data))
    return data
