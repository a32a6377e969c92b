"""Take files on disk for the job runner: probing once, verifying, fsync, stray `.part` files of
dead runs, last frames and joins of chained segments, and what a full disk looks like."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from dreamcut.errors import BadInput, WorkFailed
from dreamcut.media import atomic_path, probe, run_ffmpeg, temp_prefix
from dreamcut.generate.jobs import _Failed


_PROBED: dict[tuple[str, int, int], object] = {}  # (path, size, mtime_ns) -> MediaInfo, so a file is probed once


_PROBED_LOCK = threading.Lock()


def _load_libraries(signing: bool) -> None:
    """Import what every finished job needs once, up front, rather than inside the first job."""
    import av  # noqa: F401  (the probe's library)

    if signing:
        import c2pa  # noqa: F401

        import dreamcut.provenance  # noqa: F401


DISK_FULL = "disk full"


def _is_disk_full(e: BaseException, where: Path) -> bool:
    """A failure caused by a full disk (ENOSPC anywhere in its chain, SQLite's or ffmpeg's words)."""
    import errno

    from dreamcut.errors import disk_full

    seen = 0
    while e is not None and seen < 8:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(e)
        if "No space left" in text or "disk is full" in text:
            return True
        e = e.__cause__ or e.__context__
        seen += 1
    return disk_full(where)


def _clear_stale_parts(folder: Path) -> list[Path]:
    """Remove `<key>.<pid>.part.mp4` downloads left by processes that are gone (kill -9, a full disk)."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for part in folder.glob("*.part.mp4"):
        pid = part.name.rsplit(".part.mp4", 1)[0].rsplit(".", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            part.unlink(missing_ok=True)
            removed.append(part)
    return removed


def _verify(path: Path, key: str):
    try:
        info = probe(path)
    except BadInput:
        raise _Failed("corrupt", "the file is not a readable video") from None
    if info.video is None or info.duration <= 0:
        raise _Failed("corrupt", "the file has no video")
    return info


def _probe_once(path: Path, info=None):
    """Probe `path`, or reuse the probe of the same bytes made before a rename (same size and mtime)."""
    st = path.stat()
    ident = (st.st_size, st.st_mtime_ns, st.st_ino)
    with _PROBED_LOCK:
        cached = _PROBED.pop(ident, None)
    return cached or probe(path)


def _remember_probe(path: Path, info) -> None:
    st = path.stat()
    with _PROBED_LOCK:
        if len(_PROBED) > 256:
            _PROBED.clear()
        _PROBED[(st.st_size, st.st_mtime_ns, st.st_ino)] = info


def _verified(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        _verify(path, "")
        return True
    except _Failed:
        path.unlink(missing_ok=True)
        return False


def _write_sidecar(path: Path, text: str) -> None:
    """Write a take's sidecar whole or not at all, in a folder that exists: one temp file named for
    this process and take (`sweep_stale` removes a dead run's), one rename. `media.write_text_atomic`
    without its mkdir and random temp name: a take has one writer, and this runs once per job."""
    tmp = path.with_name(f"{temp_prefix(path.stem)}sidecar.part{path.suffix}")
    try:
        tmp.write_text(text, encoding="utf-8")  # writes it all (a bare os.write may write part)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_image(path: str, shot_id: str) -> None:
    from dreamcut.generate.validate import ref_problem

    problem = ref_problem(Path(path).parent, Path(path).name)
    if problem:
        raise BadInput(problem, where=f"shot {shot_id}", fix="use a PNG, JPEG or WebP file")


def _last_frame(video: Path, still: Path) -> None:
    with atomic_path(still) as tmp:
        run_ffmpeg(["-sseof", "-0.5", "-i", str(video), "-update", "1", "-frames:v", "1", str(tmp)],
                   what=f"taking the last frame of {video.name}")
        if not tmp.stat().st_size:
            raise WorkFailed(f"cannot take the last frame of {video.name}", where=str(video.name))


def _concat(parts: list[Path], dest: Path) -> None:
    """Join segments with ffmpeg's concat demuxer (same codec and size: no re-encode)."""
    listing = dest.with_suffix(".txt")
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in parts))
    try:
        run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", "-f", "mp4", str(dest)],
                   what="joining the segments")
    finally:
        listing.unlink(missing_ok=True)
