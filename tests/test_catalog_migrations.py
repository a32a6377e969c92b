"""Catalog migrations: a version-1 catalog (with the unused kv table) upgrades in place, data kept."""

from __future__ import annotations

import sqlite3

from dreamcut.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog


def test_version_1_catalog_loses_the_kv_table_and_keeps_its_rows(tmp_path):
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO shots(id, position, prompt, spec_json) VALUES ('s1', 0, 'a corridor', '{}')")
    db.execute("INSERT INTO kv(key, value) VALUES ('k', 'v')")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    catalog = Catalog(path)
    assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in catalog.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "kv" not in tables and {"shots", "takes", "jobs", "ledger"} <= tables
    assert catalog.db.execute("SELECT prompt FROM shots WHERE id='s1'").fetchone()[0] == "a corridor"
