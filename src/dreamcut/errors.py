"""The two kinds of failure a director can meet, each one line with its fix.

`BadInput` (exit 2): the spec, an argument or a file is wrong; nothing was done.
`WorkFailed` (exit 1): the input was fine but the work could not finish.
The CLI prints `error: <where>: <what> (fix: <how>)` and never a traceback
unless `--debug`. Never put secrets or home-directory paths into messages.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class DreamcutError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        self.message = message
        self.where = where
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        parts = []
        if self.where:
            parts.append(f"{self.where}: ")
        parts.append(self.message)
        if self.fix:
            parts.append(f" (fix: {self.fix})")
        return "".join(parts)


class BadInput(DreamcutError):
    """Wrong spec, argument or file. Exit code 2."""

    exit_code = 2


class WorkFailed(DreamcutError):
    """Valid input, but the work failed (ffmpeg, a provider, the disk). Exit code 1."""

    exit_code = 1


def disk_error(e: OSError, where: Path) -> BadInput:
    """The one line for a write that failed: a full disk says so; anything else is permissions."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT) or disk_full(where):
        return BadInput("the disk is full", where=str(where),
                        fix="free some space on that disk, then run the same command again (nothing is lost)")
    return BadInput(f"the project folder is not writable ({e.strerror})", where=str(where),
                    fix="fix its permissions or copy the project somewhere writable")


def disk_full(where: Path, margin: int = 64 * 1024) -> bool:
    """True when the disk holding `where` has (almost) no space left for us."""
    try:
        st = os.statvfs(where if Path(where).exists() else Path(where).parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin
