"""What the catalog hands back: typed records of takes, shots, board rows and edit changes."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dreamcut.errors import WorkFailed


@dataclass(frozen=True)
class EditChange:
    """One change made in the edit room: `action` (swap, move, lock) on a shot; `before` and
    `after` hold the shot's `take` and/or `place` (a spec pin as a dict, or None)."""

    id: int
    at: float
    action: str
    shot_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    undone: bool = False


@dataclass(frozen=True)
class ShotRow:
    """A shot as the catalog holds it: id, position in the shot list, prompt."""

    id: str
    position: int
    prompt: str


@dataclass(frozen=True)
class BoardTake:
    """One take (or preview) with its review, as the review board lists it."""

    id: str
    shot_id: str
    kind: str
    variant: int
    seed: int | None
    backend: str
    model: str | None
    seconds: float
    width: int
    height: int
    cost_usd: float
    score: float | None
    explanation: str
    created_at: float
    prompt: str
    rating: int | None
    status: str | None
    note: str
    tags: list[str]
    defect_kinds: list[str] = field(default_factory=list)  # kinds of the score's defects (the board filters by them)
    cast_drift: list[str] = field(default_factory=list)  # the score's cast drift reasons (the board shows them)


def damaged(e: Exception, path: Path) -> WorkFailed:
    """The one line for a catalog SQLite cannot read: damage, and how to repair it."""
    return WorkFailed(f"the catalog is damaged ({e})", where=str(path),
                      fix="run `dreamcut catalog restore` (from .dreamcut/backups/) or `dreamcut catalog rebuild` "
                          "(from the takes' sidecars)")


@dataclass
class Take:
    id: str
    shot_id: str
    path: str
    seconds: float
    width: int
    height: int
    fps: float
    backend: str
    kind: str = "take"
    source: str = "generated"
    job_key: str | None = None
    variant: int = 0
    seed: int | None = None
    model: str | None = None
    prompt: str = ""
    cost_usd: float = 0.0
    content_hash: str | None = None
    meta: dict[str, Any] | None = None
    score: float | None = None
    score_detail: dict[str, Any] | None = None
    created_at: float = 0.0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Take":
        d = dict(row)
        d["meta"] = json.loads(d.pop("meta_json") or "{}")
        sj = d.pop("score_json")
        d["score_detail"] = json.loads(sj) if sj else None
        return cls(**d)
