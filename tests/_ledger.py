"""Reading a project's ledger in tests: every line, and the money it says was charged and is held.

Tests read the catalog file directly (not through `Catalog`) so that what they check is what
was written to disk, whatever the catalog code believes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def ledger_lines(root: Path) -> list[tuple[str, float, str]]:
    """(kind, amount_usd, job_key) of every ledger line, oldest first."""
    db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    try:
        return [(k, a, j) for k, a, j in db.execute("SELECT kind, amount_usd, job_key FROM ledger ORDER BY id")]
    finally:
        db.close()


def spent(root: Path) -> float:
    """Dollars charged."""
    return round(sum(a for k, a, _ in ledger_lines(root) if k == "charge"), 6)


def reserved(root: Path) -> float:
    """Dollars still held: reservations less their releases."""
    return round(sum(a for k, a, _ in ledger_lines(root) if k in ("reserve", "release")), 6)
