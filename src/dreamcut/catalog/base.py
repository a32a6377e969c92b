"""The connection every part of the Catalog shares, and its one way to group writes."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator


class Connected:
    """Holds `db` (the catalog's SQLite connection); the query mixins build on it."""

    db: sqlite3.Connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (nested calls join the outer one)."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
