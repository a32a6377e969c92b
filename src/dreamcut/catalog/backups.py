"""The catalog's backups: SQLite online-backup copies in `.dreamcut/backups/`, checking, restoring."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from dreamcut.errors import BadInput

BACKUPS_KEPT = 5


def backups_dir(catalog_path: Path) -> Path:
    return Path(catalog_path).parent / "backups"


def list_backups(catalog_path: Path) -> list[Path]:
    """The catalog's automatic backups, newest first."""
    folder = backups_dir(catalog_path)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("catalog-*.sqlite")), key=lambda p: p.name, reverse=True)


def sound(path: Path) -> bool:
    """True when `path` is a whole SQLite catalog (integrity check passes, has the takes table)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            return ok and db.execute("SELECT name FROM sqlite_master WHERE name='takes'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False


def set_aside(catalog_path: Path, why: str) -> Path | None:
    """Move a damaged or lost catalog (and its WAL) out of the way, keeping it for inspection."""
    catalog_path = Path(catalog_path)
    kept = None
    if catalog_path.exists() and catalog_path.stat().st_size > 0:
        kept = catalog_path.with_name(f"{catalog_path.name}.{why}-{int(time.time())}")
        os.replace(catalog_path, kept)
    else:
        catalog_path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog_path}{suffix}").unlink(missing_ok=True)
    return kept


def restore_backup(catalog_path: Path, source: Path | None = None) -> Path:
    """Put the newest sound backup (or `source`) back as the catalog; the current one is set aside.

    Raises BadInput when there is no sound backup to restore.
    """
    catalog_path = Path(catalog_path)
    candidates = [Path(source)] if source else list_backups(catalog_path)
    chosen = next((c for c in candidates if c.is_file() and sound(c)), None)
    if chosen is None:
        raise BadInput("no sound catalog backup to restore" + (f" ({len(candidates)} checked)" if candidates else ""),
                       where=str(backups_dir(catalog_path)),
                       fix="run `dreamcut catalog rebuild` to rebuild the catalog from the takes' sidecars")
    tmp = catalog_path.with_name(f".{catalog_path.name}.{os.getpid()}.restore")
    try:
        src = sqlite3.connect(f"file:{chosen}?mode=ro", uri=True)
        out = sqlite3.connect(tmp)
        try:
            src.backup(out)
        finally:
            out.close()
            src.close()
        set_aside(catalog_path, "replaced")
        os.replace(tmp, catalog_path)
    finally:
        tmp.unlink(missing_ok=True)
    return chosen
