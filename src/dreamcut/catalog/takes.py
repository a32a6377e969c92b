"""The catalog's shots, takes and selections: what was made for each shot, and which take is chosen."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from dreamcut.catalog.base import Connected
from dreamcut.catalog.records import Take


class TakeQueries(Connected):
    """Shots, takes and selections (a part of Catalog)."""

    # -- shots -----------------------------------------------------------------------
    def sync_shots(self, shots: list[tuple[str, int, str, dict]]) -> None:
        """Upsert the shot list (id, position, prompt, spec dict). Shots removed from the
        spec stay in the catalog with their takes (a director may bring them back)."""
        with self.transaction():
            for sid, pos, prompt, spec in shots:
                self.db.execute(
                    "INSERT INTO shots(id, position, prompt, spec_json) VALUES (?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET position=excluded.position, prompt=excluded.prompt, "
                    "spec_json=excluded.spec_json", (sid, pos, prompt, json.dumps(spec, sort_keys=True)))

    def shot_prompts(self) -> list[tuple[str, str]]:
        """(shot id, prompt) of every shot the catalog knows, in spec order."""
        return [(r["id"], r["prompt"]) for r in self.db.execute("SELECT id, prompt FROM shots ORDER BY position")]

    # -- takes -----------------------------------------------------------------------
    def add_take(self, take: Take) -> None:
        take.created_at = take.created_at or time.time()
        self.db.execute(
            "INSERT INTO takes(id, shot_id, kind, source, job_key, path, variant, seed, backend, model, prompt, "
            "seconds, width, height, fps, cost_usd, content_hash, meta_json, score, score_json, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (take.id, take.shot_id, take.kind, take.source, take.job_key, take.path, take.variant, take.seed,
             take.backend, take.model, take.prompt, take.seconds, take.width, take.height, take.fps,
             take.cost_usd, take.content_hash, json.dumps(take.meta or {}, sort_keys=True), take.score,
             json.dumps(take.score_detail) if take.score_detail is not None else None, take.created_at))

    def take(self, take_id: str) -> Take | None:
        row = self.db.execute("SELECT * FROM takes WHERE id=?", (take_id,)).fetchone()
        return Take.from_row(row) if row else None

    def takes(self, shot_id: str | None = None, kind: str | None = "take") -> list[Take]:
        sql, args = "SELECT * FROM takes WHERE 1=1", []
        if shot_id is not None:
            sql += " AND shot_id=?"
            args.append(shot_id)
        if kind is not None:
            sql += " AND kind=?"
            args.append(kind)
        sql += " ORDER BY shot_id, created_at, id"
        return [Take.from_row(r) for r in self.db.execute(sql, args)]

    def take_by_hash(self, shot_id: str, content_hash: str) -> Take | None:
        """The take of `shot_id` whose file has this content hash (an import already made)."""
        row = self.db.execute("SELECT * FROM takes WHERE shot_id=? AND content_hash=?",
                              (shot_id, content_hash)).fetchone()
        return Take.from_row(row) if row else None

    def take_for_job(self, job_key: str) -> Take | None:
        row = self.db.execute("SELECT * FROM takes WHERE job_key=?", (job_key,)).fetchone()
        return Take.from_row(row) if row else None

    def set_score(self, take_id: str, score: float, detail: dict[str, Any]) -> None:
        self.db.execute("UPDATE takes SET score=?, score_json=? WHERE id=?", (score, json.dumps(detail), take_id))

    def count_takes(self) -> int:
        """Takes and previews, all kinds."""
        return int(self.db.execute("SELECT COUNT(*) FROM takes").fetchone()[0])

    # -- selections --------------------------------------------------------------------
    def select(self, shot_id: str, take_id: str, source_in: float | None = None,
               source_out: float | None = None) -> None:
        self.db.execute(
            "INSERT INTO selections(shot_id, take_id, source_in, source_out, updated_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(shot_id) DO UPDATE SET take_id=excluded.take_id, source_in=excluded.source_in, "
            "source_out=excluded.source_out, updated_at=excluded.updated_at",
            (shot_id, take_id, source_in, source_out, time.time()))

    def selections(self) -> dict[str, sqlite3.Row]:
        return {r["shot_id"]: r for r in self.db.execute("SELECT * FROM selections")}

    def unselect(self, shot_id: str, take_id: str | None = None) -> None:
        """Clear the shot's selection (only if it is `take_id`, when given)."""
        if take_id is None:
            self.db.execute("DELETE FROM selections WHERE shot_id=?", (shot_id,))
        else:
            self.db.execute("DELETE FROM selections WHERE shot_id=? AND take_id=?", (shot_id, take_id))
