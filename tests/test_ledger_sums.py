"""The money sums a budget check reads (spent, reserved, and both in one statement) are the full
sums of the ledger and the jobs table, read through covering indexes (schema 5) instead of a scan
of every row ever written: a project's ledger only grows, and they are read before every
reservation. A version-4 catalog gains the indexes on open, its sums unchanged."""

from __future__ import annotations

import sqlite3

import pytest

from dreamcut.catalog import MIGRATIONS, Catalog
from dreamcut.catalog.schema import RESERVING_STATES

STATES = RESERVING_STATES + ("completed", "failed", "canceled")


def _fill(catalog: Catalog, n: int = 300) -> None:
    with catalog.transaction():
        for i in range(n):
            key = f"k{i}"
            price = 0.046 * (4 + i % 9)
            catalog.add_job(key, shot_id=f"s{i % 7}", kind="take", variant=i % 3, backend="b:m", request_json="{}",
                            reserved_usd=price, key_version=3)
            catalog.ledger_add("reserve", price, key)
            state = STATES[i % len(STATES)]
            held = price if state in RESERVING_STATES or (state == "canceled" and i % 2) else 0.0
            catalog.update_job(key, state=state, reserved_usd=held)
            if state in ("completed", "failed"):
                catalog.ledger_add("charge", price if state == "completed" else price / 2, key)
            if not held:
                catalog.ledger_add("release", -price, key)
            catalog.ledger_add("note", 0.0, key, "a note is no money")


def _full_sums(db: sqlite3.Connection) -> tuple[float, float]:
    """The definitions, summed over every row (what the catalog did before schema 5)."""
    marks = ",".join("?" * len(RESERVING_STATES))
    spent = db.execute("SELECT COALESCE(SUM(amount_usd),0) FROM ledger WHERE kind='charge'").fetchone()[0]
    reserved = db.execute(f"SELECT COALESCE(SUM(reserved_usd),0) FROM jobs WHERE state IN ({marks}) "
                          "OR (state IN ('failed', 'canceled') AND reserved_usd > 0)", RESERVING_STATES).fetchone()[0]
    return spent, reserved


def test_the_sums_are_the_full_sums(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    _fill(catalog)
    spent, reserved = _full_sums(catalog.db)
    assert spent > 0 and reserved > 0
    assert catalog.spent_usd() == pytest.approx(spent, abs=1e-9)
    assert catalog.reserved_usd() == pytest.approx(reserved, abs=1e-9)
    assert catalog.committed_usd() == pytest.approx(spent + reserved, abs=1e-9)
    catalog.close()
    reopened = Catalog(tmp_path / "catalog.sqlite")  # a new process reads the same
    assert reopened.committed_usd() == pytest.approx(spent + reserved, abs=1e-9)


def test_the_sums_read_only_their_own_rows(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    _fill(catalog, 50)
    from dreamcut.catalog.jobs import _RESERVED_SQL, _SPENT_SQL

    plan = [tuple(r)[3] for r in catalog.db.execute(
        f"EXPLAIN QUERY PLAN SELECT ({_SPENT_SQL}) + ({_RESERVED_SQL})", RESERVING_STATES)]
    assert not [line for line in plan if line.startswith("SCAN") and "CONSTANT ROW" not in line], plan
    assert any("ledger_kind" in line for line in plan) and any("jobs_state_reserved" in line for line in plan)


def test_a_version_4_catalog_gains_the_indexes_with_its_sums_unchanged(tmp_path):
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    for version in range(4):
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version=4")
    db.commit()
    db.close()
    old = Catalog.__new__(Catalog)  # fill it with the version-4 schema (no new indexes yet)
    old.db = sqlite3.connect(path, isolation_level=None)
    old.db.row_factory = sqlite3.Row
    _fill(old, 80)
    before = _full_sums(old.db)
    old.db.close()
    catalog = Catalog(path)
    names = {r[0] for r in catalog.db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"ledger_kind", "jobs_state_reserved"} <= names
    assert catalog.spent_usd() == pytest.approx(before[0], abs=1e-9)
    assert catalog.reserved_usd() == pytest.approx(before[1], abs=1e-9)
