"""The edit room's history in the catalog: each swap, move or lock, for undo."""

from __future__ import annotations

import json
import time
from typing import Any

from dreamcut.catalog.base import Connected
from dreamcut.catalog.records import EditChange


class EditHistory(Connected):
    """The edit room's changes, newest first (a part of Catalog)."""

    def record_edit_change(self, action: str, shot_id: str, before: dict[str, Any], after: dict[str, Any]) -> int:
        cur = self.db.execute("INSERT INTO edit_history(at, action, shot_id, before_json, after_json) "
                              "VALUES (?,?,?,?,?)", (time.time(), action, shot_id,
                                                     json.dumps(before, sort_keys=True), json.dumps(after, sort_keys=True)))
        return int(cur.lastrowid)

    def edit_history(self, limit: int = 50) -> list[EditChange]:
        """The newest changes first (undone ones included, marked)."""
        return [EditChange(r["id"], r["at"], r["action"], r["shot_id"], json.loads(r["before_json"]),
                           json.loads(r["after_json"]), bool(r["undone"]))
                for r in self.db.execute("SELECT * FROM edit_history ORDER BY id DESC LIMIT ?", (limit,))]

    def last_edit_change(self) -> EditChange | None:
        """The newest change not undone yet (what undo reverts)."""
        return next((c for c in self.edit_history(1000) if not c.undone), None)

    def mark_edit_change_undone(self, change_id: int) -> None:
        self.db.execute("UPDATE edit_history SET undone=1 WHERE id=?", (change_id,))

    def restore_edit_change(self, change_id: int) -> None:
        """Mark an undone change as applied again (an undo the planner refused is put back)."""
        self.db.execute("UPDATE edit_history SET undone=0 WHERE id=?", (change_id,))

    def drop_edit_change(self, change_id: int) -> None:
        """Forget a change (one the planner refused, so it never happened)."""
        self.db.execute("DELETE FROM edit_history WHERE id=?", (change_id,))
