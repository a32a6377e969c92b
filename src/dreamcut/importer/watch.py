"""Watching a downloads folder: files are imported as they finish downloading, each to the shot its
name says (a `{shot}` pattern, globs per shot, else the inbox shot).
"""

from __future__ import annotations

import fnmatch
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dreamcut.errors import BadInput
from dreamcut.importer.ingest import ImportResult, clear_stale_temp, expand_inputs, import_one


# -- watching a downloads folder ---------------------------------------------------------------------


def pattern_regex(pattern: str) -> re.Pattern:
    """'shot-{shot}_*' -> a regex with a `shot` group; `*` and `?` are globs."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("{shot}", i):
            out += r"(?P<shot>[A-Za-z0-9][A-Za-z0-9_-]*?)"
            i += len("{shot}")
            continue
        ch = pattern[i]
        out += ".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
        i += 1
    return re.compile(out + r"\Z", re.IGNORECASE)


@dataclass
class ShotRouter:
    """Which shot a file name belongs to: a `{shot}` pattern, globs per shot, else the inbox shot."""

    pattern: str | None = None
    globs: dict[str, str] = field(default_factory=dict)  # shot -> glob
    inbox: str | None = None

    def shot_for(self, filename: str, known: set[str]) -> str | None:
        if self.pattern:
            m = pattern_regex(self.pattern).match(filename)
            if m and m.group("shot") in known:
                return m.group("shot")
        for shot, glob in self.globs.items():
            if fnmatch.fnmatch(filename.lower(), glob.lower()):
                return shot
        return self.inbox


def watch(project, folder: Path, router: ShotRouter, *, link: bool = False, fit: str = "auto",
          interval: float = 2.0, once: bool = False, timeout: float | None = None,
          report: Callable[[ImportResult], None] | None = None,
          stop: Callable[[], bool] | None = None, source: str | None = None) -> list[ImportResult]:
    """Import video files that appear in `folder` once their size is stable across two checks.

    Runs until `stop()` is true, `timeout` seconds pass, or (with `once`) after one pass
    that waited for every file present to be stable. Files already handled are not retried.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput("the folder to watch does not exist", where=folder.name, fix="create it or check the name")
    known = {s.id for s in project.spec.shots}
    for shot in [router.inbox, *router.globs]:
        if shot is not None:
            project.spec.shot(shot)
    clear_stale_temp(project)
    sizes: dict[Path, tuple[int, float]] = {}
    handled: dict[Path, tuple[int, float]] = {}
    results: list[ImportResult] = []
    started = time.monotonic()
    while True:
        pending = False
        for f in expand_inputs([folder]):
            try:
                st = f.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime)
            if handled.get(f) == sig:
                continue
            if sizes.get(f) != sig or st.st_size == 0:
                sizes[f] = sig
                pending = True
                continue
            shot = router.shot_for(f.name, known)
            if shot is None:
                res = ImportResult(name=f.name, status="refused",
                                   reason="no shot matches its name (give --pattern, --map or --inbox)")
            else:
                res = import_one(project, shot, f, link=link, fit=fit, source=source)
            handled[f] = sig
            results.append(res)
            if report:
                report(res)
        if once and not pending:
            return results
        if stop is not None and stop():
            return results
        if timeout is not None and time.monotonic() - started >= timeout:
            return results
        time.sleep(interval)
