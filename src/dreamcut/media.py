"""Media plumbing shared by everything that touches files: ffmpeg, probing, atomic writes.

- `ffmpeg_exe()` is imageio-ffmpeg's bundled binary (no system ffmpeg needed).
- `probe()` reads container and stream facts with PyAV (imageio-ffmpeg ships no ffprobe).
- `FrameWriter` pipes raw RGB frames into one ffmpeg process (for the few places that
  really need per-frame Python: the animatic, transition frames).
- `atomic_path()` gives a temp path beside the target and renames it into place only
  when the block succeeds: nothing is ever half-written.

This module never decides anything about an edit; it only moves pixels and bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from dreamcut.errors import BadInput, WorkFailed


def ffmpeg_exe() -> str:
    override = os.environ.get("DREAMCUT_FFMPEG")
    if override:
        return override
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


#: temp names carry the writing process's id (".<stem>.pid<N>.<random>.part<ext>", ".dreamcut-render-pid<N>-..."),
#: so the next run can tell a dead run's leftovers from a live writer's files
_PID_TAG = re.compile(r"[.-]pid(\d+)[.-]")


def temp_prefix(stem: str) -> str:
    """The prefix of a temp file or folder this process makes for `stem` (see `sweep_stale`)."""
    return f".{stem}.pid{os.getpid()}."


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path in the target's folder; rename it onto `target` if the block succeeds.

    The temp name keeps the target's extension (ffmpeg picks the muxer from it), starts with
    '.' so listings and globs skip it, and names this process (`sweep_stale` removes a dead
    run's leftovers). The rename is one step: readers see the old file or the new one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    ext = suffix if suffix is not None else target.suffix
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target.stem), suffix=f".part{ext}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (this process always does): decides which temp files are stale."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(folder: Path) -> list[Path]:
    """Remove temp files and folders left in `folder` by runs that died (killed, crashed); returns them.

    Only dot-names with a `.part` file suffix or a `.dreamcut-` folder prefix are
    considered, and only those whose writer process no longer runs (or that name none: made
    before temp names carried a process id).
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        name = p.name
        if not name.startswith("."):
            continue
        is_part = p.is_file() and ".part" in name
        is_work = p.is_dir() and name.startswith(".dreamcut-")
        if not (is_part or is_work):
            continue
        m = _PID_TAG.search(name)
        if m and pid_alive(int(m.group(1))):
            continue
        if is_work:
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


@contextlib.contextmanager
def staged_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside `target` (named for this process) that is removed unless the caller
    renames it into place: for outputs that must be finished, signed and checked before they
    replace the old file (`os.replace(tmp, target)`, one step)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target.stem), suffix=f".part{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
    finally:
        tmp_path.unlink(missing_ok=True)


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes a child process (ffmpeg) get SIGKILL when this process dies, even by
    `kill -9` (Linux `prctl(PR_SET_PDEATHSIG)`); None where the platform has no such call."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()

    def preexec() -> None:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        if os.getppid() != parent:  # the parent died before the call: do not outlive it
            os._exit(1)

    return preexec


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def copy_chunks(chunks, f, total: int = 0, progress: Callable[[float], None] | None = None) -> int:
    """Write an iterable of byte chunks to the open file `f`, reporting progress when `total` is
    known; returns the bytes written (downloads compare it with what the server announced)."""
    done = 0
    for chunk in chunks:
        f.write(chunk)
        done += len(chunk)
        if progress and total:
            progress(min(1.0, done / total))
    return done


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# -- probing --------------------------------------------------------------------------


@dataclass
class VideoStreamInfo:
    codec: str
    width: int
    height: int
    fps: float
    frames: int | None
    pix_fmt: str | None
    rotation: int = 0
    bit_depth: int = 8
    color_space: str | None = None
    color_transfer: str | None = None
    color_primaries: str | None = None
    variable_frame_rate: bool = False
    sample_aspect: float = 1.0  # pixel width / height (PAL 16:9 704x576: 64/45); display width = width * this
    color_range: str | None = None  # "tv" (limited), "pc" (full) or None when the file does not say


@dataclass
class AudioStreamInfo:
    codec: str
    sample_rate: int
    channels: int


@dataclass
class MediaInfo:
    path: Path
    duration: float
    format: str
    video: VideoStreamInfo | None = None
    audio: AudioStreamInfo | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def probe(path: Path, *, deep: bool = False) -> MediaInfo:
    """Container and stream facts. Raises BadInput naming the file when it cannot be read.

    `deep=True` also decodes the first frame (for the display-matrix rotation that phones and
    some web apps write as side data) and reads the first packets' timestamps to tell a
    variable frame rate (imports of downloaded files need both; renders do not).
    """
    info = _probe(path)
    if deep and info.video is not None:
        _probe_deep(Path(path), info)
    return info


def _probe_deep(path: Path, info: MediaInfo, max_packets: int = 600) -> None:
    import av

    assert info.video is not None
    try:
        with av.open(str(path)) as c:
            vs = c.streams.video[0]
            pts: list[int] = []
            for packet in c.demux(vs):
                if packet.pts is not None:
                    pts.append(packet.pts)
                if len(pts) >= max_packets:
                    break
            pts.sort()
            steps = [b - a for a, b in zip(pts, pts[1:]) if b > a]
            if len(steps) >= 3:
                # Constant frame rate: every step equals the typical one (timestamp rounding allowed).
                typical = sorted(steps)[len(steps) // 2]
                off = sum(1 for d in steps if abs(d - typical) > max(1, typical * 0.05))
                info.video.variable_frame_rate = off > max(1, len(steps) // 50)
        with av.open(str(path)) as c:
            for frame in c.decode(video=0):
                rot = getattr(frame, "rotation", 0) or 0
                if rot and not info.video.rotation:
                    # PyAV gives the counter-clockwise display angle; players rotate by it.
                    info.video.rotation = int(round(rot)) % 360
                break
    except (av.error.FFmpegError, UnicodeDecodeError):  # type: ignore[attr-defined]
        pass  # the shallow facts stand; the importer's decode pass will say what is broken


def _probe(path: Path) -> MediaInfo:
    import av

    path = Path(path)
    if not path.is_file():
        raise BadInput("file does not exist", where=str(path))
    try:
        with av.open(str(path)) as c:
            duration = float(c.duration / 1_000_000) if c.duration else 0.0
            info = MediaInfo(path=path, duration=duration, format=c.format.name,
                             metadata={k: str(v) for k, v in (c.metadata or {}).items()})
            if c.streams.video:
                vs = c.streams.video[0]
                cc = vs.codec_context
                rate = vs.average_rate or vs.guessed_rate or vs.base_rate or Fraction(0)
                fps = float(rate) if rate else 0.0
                rotation = 0
                try:
                    # PyAV >= 13 exposes the display-matrix rotation on frames; stream metadata
                    # carries 'rotate' for older muxers.
                    rotation = int(float(vs.metadata.get("rotate", 0)))
                except (TypeError, ValueError):
                    rotation = 0
                pix_fmt = cc.format.name if cc.format else None
                depth = 10 if pix_fmt and ("10" in pix_fmt or "p010" in pix_fmt) else (12 if pix_fmt and "12" in pix_fmt else 8)
                vdur = float(vs.duration * vs.time_base) if vs.duration and vs.time_base else None
                if vdur and not duration:
                    info.duration = vdur
                info.video = VideoStreamInfo(
                    codec=cc.name, width=cc.width, height=cc.height, fps=fps,
                    frames=vs.frames or None, pix_fmt=pix_fmt, rotation=rotation, bit_depth=depth,
                    color_space=_enum_name(getattr(cc, "colorspace", None)),
                    color_transfer=_enum_name(getattr(cc, "color_trc", None)),
                    color_primaries=_enum_name(getattr(cc, "color_primaries", None)),
                    sample_aspect=_sample_aspect(vs, cc),
                    color_range={1: "tv", 2: "pc"}.get(int(getattr(cc, "color_range", 0) or 0)),
                )
            if c.streams.audio:
                a = c.streams.audio[0]
                info.audio = AudioStreamInfo(codec=a.codec_context.name, sample_rate=a.codec_context.sample_rate or 0,
                                             channels=a.codec_context.channels if hasattr(a.codec_context, "channels") else 0)
            return info
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as e:  # type: ignore[attr-defined]
        raise BadInput(f"not a readable media file ({type(e).__name__})", where=str(path),
                       fix="re-export or re-download it") from None


def _sample_aspect(vs, cc) -> float:
    sar = getattr(vs, "sample_aspect_ratio", None) or getattr(cc, "sample_aspect_ratio", None)
    try:
        value = float(sar) if sar else 1.0
    except (TypeError, ValueError, ZeroDivisionError):
        return 1.0
    return value if 0.2 < value < 5.0 else 1.0


def _enum_name(v) -> str | None:
    if v is None:
        return None
    name = getattr(v, "name", None)
    return str(name if name is not None else v)


def count_frames(path: Path) -> int:
    """Decode and count video frames (exact, slower than probe's header count)."""
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def read_frames(path: Path, *, every: int = 1, size: tuple[int, int] | None = None,
                start: float = 0.0, max_frames: int | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time_s, RGB uint8 HxWx3) frames decoded with PyAV, optionally scaled to `size`."""
    import av

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        if start > 0:
            c.seek(int(start / vs.time_base), stream=vs, backward=True)
        n = 0
        for i, frame in enumerate(c.decode(vs)):
            t = float(frame.pts * vs.time_base) if frame.pts is not None else i / float(vs.average_rate or 24)
            if t + 1e-6 < start:
                continue
            if i % every:
                continue
            if size:
                arr = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
            else:
                arr = frame.to_ndarray(format="rgb24")
            yield t, arr
            n += 1
            if max_frames is not None and n >= max_frames:
                return


# -- running ffmpeg ------------------------------------------------------------------

_TIME_RE = re.compile(rb"out_time_us=(\d+)")


def run_ffmpeg(args: Sequence[str], *, duration: float | None = None,
               progress: Callable[[float], None] | None = None, what: str = "ffmpeg") -> None:
    """Run ffmpeg with `-progress pipe:1`; report fraction done; raise WorkFailed with its last error line."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=die_with_parent())
    assert proc.stdout is not None
    err_chunks: list[bytes] = []

    import threading

    def _drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err_chunks.append(line)
            if len(err_chunks) > 200:
                del err_chunks[:100]

    t = threading.Thread(target=_drain, daemon=True)
    t.start()
    for line in proc.stdout:
        m = _TIME_RE.search(line)
        if m and progress and duration:
            progress(min(1.0, int(m.group(1)) / 1e6 / duration))
    rc = proc.wait()
    t.join(timeout=5)
    if rc < 0:  # killed by a signal: a native crash, not an ffmpeg error message
        from dreamcut._startup import crash_line

        raise WorkFailed(crash_line(rc, what) or f"{what} failed")
    if rc != 0:
        last = b"".join(err_chunks).decode(errors="replace").strip().splitlines()
        raise WorkFailed(f"{what} failed: {last[-1] if last else f'exit code {rc}'}")
    if progress:
        progress(1.0)


class FrameWriter:
    """Pipe RGB frames into one ffmpeg process that encodes H.264 (or what `codec_args` says).

    with FrameWriter(path, 1280, 720, 24) as w:
        w.write(frame)  # HxWx3 uint8
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, *,
                 codec_args: Sequence[str] = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                                              "-pix_fmt", "yuv420p"),
                 extra_inputs: Sequence[str] = (), extra_args: Sequence[str] = (), metadata: dict | None = None,
                 input_pix_fmt: str = "rgb24"):
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, fps
        # "yuv420p" frames (H*3/2 x W, I420 as cv2.COLOR_RGB2YUV_I420 writes it) skip ffmpeg's
        # colour conversion and halve the bytes through the pipe.
        self.input_pix_fmt = input_pix_fmt
        self.frame_shape = (height * 3 // 2, width) if input_pix_fmt == "yuv420p" else (height, width, 3)
        meta: list[str] = []
        for k, v in (metadata or {}).items():
            meta += ["-metadata", f"{k}={v}"]
        self.cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
                    "-f", "rawvideo", "-pix_fmt", input_pix_fmt, "-s", f"{width}x{height}", "-r", f"{fps}",
                    "-i", "pipe:0", *extra_inputs, *codec_args, *extra_args, *meta,
                    "-movflags", "+faststart+use_metadata_tags" if meta else "+faststart", str(self.path)]
        self.proc: subprocess.Popen | None = None
        self.frames = 0

    def __enter__(self) -> "FrameWriter":
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent())
        return self

    def write(self, frame: np.ndarray) -> None:
        assert self.proc and self.proc.stdin
        if frame.shape != self.frame_shape or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype} != {self.frame_shape} uint8")
        try:
            self.proc.stdin.write(np.ascontiguousarray(frame).data)
        except BrokenPipeError:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise WorkFailed(f"ffmpeg stopped while encoding {self.path.name}: {err.strip()[-300:]}") from None
        self.frames += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.proc
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        if exc_type is not None:
            self.proc.kill()
            self.proc.wait()
            return
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        rc = self.proc.wait()
        if rc != 0:
            raise WorkFailed(f"ffmpeg could not encode {self.path.name}: {err.strip()[-300:]}")
