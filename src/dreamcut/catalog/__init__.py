"""The project's catalog: one SQLite file (WAL) with shots, takes, jobs, ledger, reviews.

Durability rules:
- A job row (with its idempotency key) is committed before a paid request leaves the
  machine; the provider's job id is committed the moment it returns.
- Every write is its own short transaction; readers never block writers (WAL).
- The schema is versioned with `PRAGMA user_version`; `MIGRATIONS[n]` upgrades n -> n+1.
  Never edit a shipped migration: add a new one.
- Never silently lost: SQLite's online backup API copies the catalog into `.dreamcut/backups/`
  before every migration and after every generate batch (the last BACKUPS_KEPT are kept);
  `restore_backup` puts the newest sound one back. A missing or empty catalog in a project that
  has takes is refused by `Project.catalog`, never recreated empty.

This module stores and fetches. It never calls a backend and never renders.

The package, by concept: `schema` (version, migrations), `records` (the typed rows), `store` (the
Catalog: open, migrate, back up), its queries `takes`, `reviews`, `history`, `jobs`, and `backups`
(listing, checking, restoring).
"""

from __future__ import annotations

from dreamcut.catalog.backups import BACKUPS_KEPT, backups_dir, list_backups, restore_backup, set_aside, sound
from dreamcut.catalog.records import BoardTake, EditChange, ShotRow, Take, damaged
from dreamcut.catalog.schema import MIGRATIONS, RESERVING_STATES, SCHEMA_VERSION
from dreamcut.catalog.store import Catalog

__all__ = ["BACKUPS_KEPT", "MIGRATIONS", "RESERVING_STATES", "SCHEMA_VERSION", "BoardTake", "Catalog", "EditChange",
           "ShotRow", "Take", "backups_dir", "damaged", "list_backups", "restore_backup", "set_aside", "sound"]
