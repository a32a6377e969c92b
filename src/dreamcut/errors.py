"""The two kinds of failure a director can meet, each one line with its fix.

`BadInput` (exit 2): the spec, an argument or a file is wrong; nothing was done.
`WorkFailed` (exit 1): the input was fine but the work could not finish.
The CLI prints `error: <where>: <what> (fix: <how>)` and never a traceback
unless `--debug`. Never put secrets or home-directory paths into messages.
"""

from __future__ import annotations


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
