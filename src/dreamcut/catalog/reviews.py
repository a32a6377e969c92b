"""The catalog's reviews and what the review board reads: ratings, notes, tags, board rows."""

from __future__ import annotations

import json
import time
from typing import Any

from dreamcut.catalog.base import Connected
from dreamcut.catalog.records import BoardTake, ShotRow


class ReviewQueries(Connected):
    """Reviews and the board's rows (a part of Catalog)."""

    def review(self, take_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM reviews WHERE take_id=?", (take_id,)).fetchone()
        if not row:
            return {"take_id": take_id, "rating": None, "status": None, "note": "", "tags": [], "updated_at": None}
        d = dict(row)
        d["tags"] = json.loads(d.pop("tags_json"))
        return d

    def set_review(self, take_id: str, **fields: Any) -> dict[str, Any]:
        """Update rating / status / note / tags of one take; returns the stored review."""
        with self.transaction():
            current = self.review(take_id)
            current.update({k: v for k, v in fields.items() if k in {"rating", "status", "note", "tags"}})
            self.db.execute(
                "INSERT INTO reviews(take_id, rating, status, note, tags_json, updated_at) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(take_id) DO UPDATE SET rating=excluded.rating, status=excluded.status, "
                "note=excluded.note, tags_json=excluded.tags_json, updated_at=excluded.updated_at",
                (take_id, current["rating"], current["status"], current["note"], json.dumps(current["tags"]),
                 time.time()))
        return self.review(take_id)

    def review_texts(self) -> list[tuple[str, str, str, list[str]]]:
        """(take id, shot id, note, tags) of every reviewed take."""
        return [(r["take_id"], r["shot_id"], r["note"] or "", json.loads(r["tags_json"] or "[]"))
                for r in self.db.execute("SELECT r.take_id, t.shot_id, r.note, r.tags_json "
                                         "FROM reviews r JOIN takes t ON t.id = r.take_id")]

    def reviews_since(self, since: float) -> list[dict[str, Any]]:
        """Reviews changed after `since` (seconds since the epoch), oldest first."""
        out = []
        for r in self.db.execute("SELECT * FROM reviews WHERE updated_at > ? ORDER BY updated_at", (since,)):
            d = dict(r)
            d["tags"] = json.loads(d.pop("tags_json"))
            out.append(d)
        return out

    def review_clock(self) -> float:
        """When a review or a selection last changed (0 when never)."""
        reviews = self.db.execute("SELECT MAX(updated_at) FROM reviews").fetchone()[0] or 0.0
        selections = self.db.execute("SELECT MAX(updated_at) FROM selections").fetchone()[0] or 0.0
        return max(float(reviews), float(selections))

    # -- what the review board reads -----------------------------------------------------
    def shot_rows(self) -> list[ShotRow]:
        """The shots in shot-list order (removed ones included: their takes stay reviewable)."""
        return [ShotRow(r["id"], r["position"], r["prompt"])
                for r in self.db.execute("SELECT id, position, prompt FROM shots ORDER BY position")]

    def board_takes(self) -> list[BoardTake]:
        """Every take and preview with its review, by shot, kind and age."""
        out = []
        for r in self.db.execute(
                "SELECT t.id, t.shot_id, t.kind, t.variant, t.seed, t.backend, t.model, t.seconds, t.width, "
                "t.height, t.cost_usd, t.score, t.score_json, t.created_at, t.prompt, r.rating, r.status, r.note, "
                "r.tags_json FROM takes t LEFT JOIN reviews r ON r.take_id = t.id "
                "ORDER BY t.shot_id, t.kind, t.created_at, t.id"):
            d = dict(r)
            detail = json.loads(d.pop("score_json") or "null") or {}
            d["explanation"] = str(detail.get("explanation", "")) if isinstance(detail, dict) else ""
            defects = detail.get("defects") if isinstance(detail, dict) else None
            d["defect_kinds"] = sorted({str(x.get("kind")) for x in defects if isinstance(x, dict)}) \
                if isinstance(defects, list) else []
            d["cast_drift"] = [str(x.get("detail") or "") for x in defects if isinstance(x, dict)
                               and x.get("kind") == "cast_drift" and x.get("detail")] if isinstance(defects, list) else []
            d["tags"] = json.loads(d.pop("tags_json") or "[]")
            d["note"] = d["note"] or ""
            out.append(BoardTake(**d))
        return out
