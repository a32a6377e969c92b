"""The board's state: one project, its catalog connection (behind a lock), the jobs it started,
and the one rule for which files it may serve.

Media is looked up by take id in the catalog (never by a path from the URL), except /files/;
either way the path is resolved (links followed) and served only when it lands inside takes/,
previews/, renders/ or exports/ with a picture or video suffix: never .dreamcut/ (the catalog,
the signing key), the spec, sidecars or the song, whatever a catalog row or a symlink says.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from dreamcut.catalog import Catalog
from dreamcut.project import Project

# Folders of a project whose files the board may serve (not the catalog, not the spec, not keys).
SERVED_FOLDERS = ("takes", "previews", "renders", "exports")
TAKE_FOLDERS = ("takes", "previews")  # where a take's file may live
# Pictures and videos only: sidecars (.json) carry request details the board has no need to expose.
VIDEO_SUFFIXES = {".mp4", ".mov", ".webm"}
SERVED_SUFFIXES = VIDEO_SUFFIXES | {".png", ".jpg", ".jpeg", ".webp", ".gif"}


class Board:
    """One project as the board sees it: the catalog (guarded by `lock`) and the jobs it started."""

    def __init__(self, root: Path):
        self.project = Project.open(root)
        self.root = self.project.root
        self.catalog: Catalog = self.project.catalog
        self.lock = threading.RLock()
        self.jobs: dict[str, dict[str, Any]] = {}

    def selections(self) -> dict[str, str]:
        """shot id -> the selected take's id."""
        with self.lock:
            return {k: r["take_id"] for k, r in self.catalog.selections().items()}

    def shot_ids(self) -> set[str]:
        with self.lock:
            return {s.id for s in self.catalog.shot_rows()}

    def take_file(self, take_id: str) -> Path:
        """The take's media file (404 when the catalog has no such take or its file is not media)."""
        with self.lock:
            take = self.catalog.take(take_id)
        if take is None:
            raise HTTPException(404, "no such take")
        # A catalog row or a symlink pointing anywhere but a take's media is refused, not followed.
        path = self.media_file(take.path, folders=TAKE_FOLDERS, suffixes=VIDEO_SUFFIXES)
        if path is None:
            raise HTTPException(404, "take file not found")
        return path

    def media_file(self, rel: str, *, folders=SERVED_FOLDERS, suffixes=SERVED_SUFFIXES) -> Path | None:
        """The file `rel` names, resolved (links followed), if it is media in one of `folders`; else None."""
        if "\x00" in rel:
            return None
        try:
            resolved = (self.root / rel).resolve()
            inner = resolved.relative_to(self.root).parts
        except (ValueError, OSError, RuntimeError):
            return None
        if len(inner) < 2 or inner[0] not in folders or resolved.suffix.lower() not in suffixes:
            return None
        if any(part.startswith(".") for part in inner):  # .dreamcut/, hidden temp files
            return None
        return resolved if resolved.is_file() else None
