"""The Catalog: opening `.dreamcut/catalog.sqlite` (WAL), migrating it, backing it up; its queries
come from the mixins (takes, reviews, edit history, jobs)."""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from pathlib import Path

from dreamcut.catalog.backups import BACKUPS_KEPT, backups_dir, list_backups
from dreamcut.catalog.history import EditHistory
from dreamcut.catalog.jobs import JobQueries
from dreamcut.catalog.records import damaged
from dreamcut.catalog.reviews import ReviewQueries
from dreamcut.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from dreamcut.catalog.takes import TakeQueries
from dreamcut.errors import BadInput, disk_error, disk_full


class Catalog(TakeQueries, ReviewQueries, EditHistory, JobQueries):
    """Thin, typed access to `.dreamcut/catalog.sqlite`. One instance per thread."""

    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = Path(path)
        if not readonly:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise BadInput(f"cannot create the catalog folder: {e.strerror}", where=str(self.path.parent),
                               fix="make the project folder writable") from None
        uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
        try:
            self.db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=30000")
            if not readonly:
                self._migrate()
        except sqlite3.OperationalError as e:
            if "disk is full" in str(e) or disk_full(self.path.parent):
                raise disk_error(OSError(errno.ENOSPC, "disk full"), self.path.parent) from None
            raise BadInput(f"cannot open the catalog: {e}", where=str(self.path),
                           fix="make the project folder writable") from None
        except sqlite3.DatabaseError as e:
            raise damaged(e, self.path) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if 0 < version < SCHEMA_VERSION:
            self.backup(f"before-migration-v{version}")
        self.db.execute("BEGIN IMMEDIATE")  # one migrator at a time; others wait, then see the new version
        try:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise BadInput(f"catalog schema {version} is newer than this dreamcut ({SCHEMA_VERSION})",
                               where=str(self.path), fix="upgrade dreamcut")
            while version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                version += 1
                self.db.execute(f"PRAGMA user_version={version}")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def backup(self, reason: str) -> Path:
        """Copy the catalog, consistently, into `.dreamcut/backups/` (SQLite's online backup API);
        keep the newest BACKUPS_KEPT. Returns the backup's path."""
        folder = backups_dir(self.path)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:]
        dest = folder / f"catalog-{stamp}-{reason}.sqlite"
        tmp = folder / f".{dest.name}.{os.getpid()}.part"
        try:
            out = sqlite3.connect(tmp)
            try:
                self.db.backup(out)
            finally:
                out.close()
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        for old in list_backups(self.path)[BACKUPS_KEPT:]:
            old.unlink(missing_ok=True)
        return dest
