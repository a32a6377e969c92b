"""One writer per project: an advisory lock on `.dreamcut/writer.lock`.

Every command that writes a project (generate, make, render, export, preview, import, cancel,
catalog restore/rebuild, ...) holds the lock for the rest of its process; reads (status, check,
verify, the board's GETs) never take it. The lock is `fcntl.flock` on an open file, so the kernel
releases it when the holder exits or is killed: a crash never leaves a stale lock behind. A folder
whose file system cannot lock (flock failing, or succeeding without keeping a second holder out:
`_startup.flock_excludes`) is refused with one line, not written without the guarantee.

The holder writes who it is (pid, command, since when) into the lock file, so the one that is
refused can say who holds it. `wait=True` queues behind the holder instead of refusing.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from dreamcut._startup import flock_excludes
from dreamcut.errors import BadInput

LOCK_NAME = "writer.lock"

_held: dict[str, int] = {}  # resolved lock path -> fd, for the life of this process


def holder(lock_path: Path) -> dict | None:
    """Who holds (or last held) the lock, as written by the holder: pid, command, since."""
    try:
        data = json.loads(Path(lock_path).read_text() or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe(info: dict | None) -> str:
    if not info:
        return "another dreamcut process"
    since = info.get("since")
    when = datetime.fromtimestamp(since, timezone.utc).strftime("%H:%M:%S UTC") if isinstance(since, (int, float)) else "?"
    return f"`dreamcut {info.get('command', '?')}` (pid {info.get('pid', '?')}, since {when})"


def acquire(state_dir: Path, command: str, *, wait: bool = False,
            on_wait: Callable[[str], None] | None = None) -> None:
    """Hold the project's writer lock until this process ends; re-entrant within one process.

    Refuses (BadInput, exit 2) naming the holder when another process has it, unless `wait`.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_NAME
    key = str(path.resolve())
    if key in _held:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not flock_excludes(path):  # held here, so a second open must be refused
            raise _cannot_lock(path, "a lock that keeps no second writer out")
    except BlockingIOError:
        who = describe(holder(path))
        if not wait:
            os.close(fd)
            raise BadInput(f"{who} is writing this project", where=str(state_dir.parent.name or state_dir.parent),
                           fix="wait for it to finish, or add --wait to queue behind it") from None
        if on_wait:
            on_wait(f"waiting for {who} to finish writing this project")
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            raise _cannot_lock(path, e.strerror or str(e)) from None
        raise
    except BaseException:
        os.close(fd)
        raise
    info = json.dumps({"pid": os.getpid(), "command": command, "since": time.time()}).encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
    except OSError:
        pass  # a full disk: the lock still holds; only the holder's description is missing
    _held[key] = fd


def _cannot_lock(path: Path, why: str) -> BadInput:
    return BadInput(f"this project's folder cannot be locked ({why}): two dreamcut commands could write it at "
                    "once and pay for a take twice", where=str(path),
                    fix="move the project to a local disk: network and some FUSE mounts cannot lock")


def release(state_dir: Path) -> None:
    """Give the lock back before the process ends (tests, long-lived callers)."""
    key = str((Path(state_dir) / LOCK_NAME).resolve())
    fd = _held.pop(key, None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
