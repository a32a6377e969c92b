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
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from dreamcut.errors import BadInput, WorkFailed, disk_error, disk_full

SCHEMA_VERSION = 4
BACKUPS_KEPT = 5

# Job states that hold money reserved: in flight, or parked with an unknown outcome (worst case).
RESERVING_STATES = ("pending", "submitting", "submitted", "running", "downloading", "needs_reconcile")

MIGRATIONS: dict[int, str] = {
    # 0 -> 1: the first schema.
    0: """
    CREATE TABLE shots (
        id TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        spec_json TEXT NOT NULL
    );
    CREATE TABLE jobs (
        key TEXT PRIMARY KEY,              -- idempotency key = request content key
        shot_id TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'take',  -- take | preview
        variant INTEGER NOT NULL DEFAULT 0,
        backend TEXT NOT NULL,              -- e.g. 'runway:gen4_turbo'
        request_json TEXT NOT NULL,
        state TEXT NOT NULL,                -- pending | submitted | running | downloading | completed | failed | canceled
        provider_job_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        reserved_usd REAL NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        error_code TEXT,
        error_message TEXT,
        take_id TEXT,
        batch TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        submitted_at REAL,
        finished_at REAL
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE INDEX jobs_shot ON jobs(shot_id);
    CREATE TABLE takes (
        id TEXT PRIMARY KEY,
        shot_id TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'take',  -- take | preview
        source TEXT NOT NULL DEFAULT 'generated',  -- generated | imported
        job_key TEXT,
        path TEXT NOT NULL,                 -- relative to the project folder
        variant INTEGER NOT NULL DEFAULT 0,
        seed INTEGER,
        backend TEXT NOT NULL,
        model TEXT,
        prompt TEXT NOT NULL DEFAULT '',
        seconds REAL NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        fps REAL NOT NULL,
        cost_usd REAL NOT NULL DEFAULT 0,
        content_hash TEXT,
        meta_json TEXT NOT NULL DEFAULT '{}',
        score REAL,
        score_json TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX takes_shot ON takes(shot_id);
    CREATE UNIQUE INDEX takes_hash ON takes(shot_id, content_hash) WHERE content_hash IS NOT NULL;
    CREATE TABLE reviews (
        take_id TEXT PRIMARY KEY,
        rating INTEGER,                     -- 1..5
        status TEXT,                        -- selected | rejected | NULL
        note TEXT NOT NULL DEFAULT '',
        tags_json TEXT NOT NULL DEFAULT '[]',
        updated_at REAL NOT NULL
    );
    CREATE TABLE selections (
        shot_id TEXT PRIMARY KEY,
        take_id TEXT NOT NULL,
        source_in REAL,                     -- seconds inside the take, chosen by the director
        source_out REAL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_key TEXT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,                 -- reserve | release | charge
        amount_usd REAL NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX ledger_job ON ledger(job_key);
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 1 -> 2: the key/value table nothing ever read or wrote goes.
    1: """
    DROP TABLE IF EXISTS kv;
    """,
    # 2 -> 3: unknown create outcomes and versioned job keys.
    #   state 'submitting': a paid create is (or may be) on its way; no answer recorded yet.
    #   state 'needs_reconcile': the create's outcome is unknown; parked with its worst case reserved.
    #   sent_at: when the last create left (the window in which to look for it at the provider).
    #   key_version: the job-key formula the row was keyed with (0 = the content hash of the
    #   formatted request, before versioned keys); `rekey_job` moves a row to its new key.
    2: """
    ALTER TABLE jobs ADD COLUMN sent_at REAL;
    ALTER TABLE jobs ADD COLUMN key_version INTEGER NOT NULL DEFAULT 0
    """,
    # 3 -> 4: the edit room's history: each change of a shot's take or pin made on the board,
    #   with what it replaced, so it can be undone (newest first; undone rows stay, marked).
    3: """
    CREATE TABLE edit_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        action TEXT NOT NULL,
        shot_id TEXT NOT NULL,
        before_json TEXT NOT NULL,
        after_json TEXT NOT NULL,
        undone INTEGER NOT NULL DEFAULT 0
    )
    """,
}


@dataclass(frozen=True)
class EditChange:
    """One change made in the edit room: `action` (swap, move, lock) on a shot; `before` and
    `after` hold the shot's `take` and/or `place` (a spec pin as a dict, or None)."""

    id: int
    at: float
    action: str
    shot_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    undone: bool = False


@dataclass(frozen=True)
class ShotRow:
    """A shot as the catalog holds it: id, position in the shot list, prompt."""

    id: str
    position: int
    prompt: str


@dataclass(frozen=True)
class BoardTake:
    """One take (or preview) with its review, as the review board lists it."""

    id: str
    shot_id: str
    kind: str
    variant: int
    seed: int | None
    backend: str
    model: str | None
    seconds: float
    width: int
    height: int
    cost_usd: float
    score: float | None
    explanation: str
    created_at: float
    prompt: str
    rating: int | None
    status: str | None
    note: str
    tags: list[str]
    defect_kinds: list[str] = field(default_factory=list)  # kinds of the score's defects (the board filters by them)


def damaged(e: Exception, path: Path) -> WorkFailed:
    """The one line for a catalog SQLite cannot read: damage, and how to repair it."""
    return WorkFailed(f"the catalog is damaged ({e})", where=str(path),
                      fix="run `dreamcut catalog restore` (from .dreamcut/backups/) or `dreamcut catalog rebuild` "
                          "(from the takes' sidecars)")


@dataclass
class Take:
    id: str
    shot_id: str
    path: str
    seconds: float
    width: int
    height: int
    fps: float
    backend: str
    kind: str = "take"
    source: str = "generated"
    job_key: str | None = None
    variant: int = 0
    seed: int | None = None
    model: str | None = None
    prompt: str = ""
    cost_usd: float = 0.0
    content_hash: str | None = None
    meta: dict[str, Any] | None = None
    score: float | None = None
    score_detail: dict[str, Any] | None = None
    created_at: float = 0.0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Take":
        d = dict(row)
        d["meta"] = json.loads(d.pop("meta_json") or "{}")
        sj = d.pop("score_json")
        d["score_detail"] = json.loads(sj) if sj else None
        return cls(**d)


class Catalog:
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

    # -- selections and reviews --------------------------------------------------------
    def select(self, shot_id: str, take_id: str, source_in: float | None = None,
               source_out: float | None = None) -> None:
        self.db.execute(
            "INSERT INTO selections(shot_id, take_id, source_in, source_out, updated_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(shot_id) DO UPDATE SET take_id=excluded.take_id, source_in=excluded.source_in, "
            "source_out=excluded.source_out, updated_at=excluded.updated_at",
            (shot_id, take_id, source_in, source_out, time.time()))

    # -- the edit room's history ----------------------------------------------------------
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

    def review_texts(self) -> list[tuple[str, str, str, list[str]]]:
        """(take id, shot id, note, tags) of every reviewed take."""
        return [(r["take_id"], r["shot_id"], r["note"] or "", json.loads(r["tags_json"] or "[]"))
                for r in self.db.execute("SELECT r.take_id, t.shot_id, r.note, r.tags_json "
                                         "FROM reviews r JOIN takes t ON t.id = r.take_id")]

    def selections(self) -> dict[str, sqlite3.Row]:
        return {r["shot_id"]: r for r in self.db.execute("SELECT * FROM selections")}

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

    # -- what the review board reads and clears ------------------------------------------
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
            d["tags"] = json.loads(d.pop("tags_json") or "[]")
            d["note"] = d["note"] or ""
            out.append(BoardTake(**d))
        return out

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

    def count_takes(self) -> int:
        """Takes and previews, all kinds."""
        return int(self.db.execute("SELECT COUNT(*) FROM takes").fetchone()[0])

    def unselect(self, shot_id: str, take_id: str | None = None) -> None:
        """Clear the shot's selection (only if it is `take_id`, when given)."""
        if take_id is None:
            self.db.execute("DELETE FROM selections WHERE shot_id=?", (shot_id,))
        else:
            self.db.execute("DELETE FROM selections WHERE shot_id=? AND take_id=?", (shot_id, take_id))

    def restore_edit_change(self, change_id: int) -> None:
        """Mark an undone change as applied again (an undo the planner refused is put back)."""
        self.db.execute("UPDATE edit_history SET undone=0 WHERE id=?", (change_id,))

    def drop_edit_change(self, change_id: int) -> None:
        """Forget a change (one the planner refused, so it never happened)."""
        self.db.execute("DELETE FROM edit_history WHERE id=?", (change_id,))

    # -- jobs and ledger -----------------------------------------------------------------
    def job(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM jobs WHERE key=?", (key,)).fetchone()

    def jobs(self, *states: str, shot_id: str | None = None) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        if shot_id is not None:
            sql += " AND shot_id=?"
            args.append(shot_id)
        return list(self.db.execute(sql + " ORDER BY created_at, key", args))

    def update_job(self, key: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE jobs SET {cols} WHERE key=?", (*fields.values(), key))

    def ledger_add(self, kind: str, amount_usd: float, job_key: str | None = None, note: str = "") -> None:
        self.db.execute("INSERT INTO ledger(job_key, at, kind, amount_usd, note) VALUES (?,?,?,?,?)",
                        (job_key, time.time(), kind, amount_usd, note))

    def completed_jobs(self, backend: str, kind: str) -> list[sqlite3.Row]:
        """This backend's completed jobs of `kind` ('take' | 'preview'), oldest first."""
        return list(self.db.execute("SELECT * FROM jobs WHERE backend=? AND kind=? AND state='completed' "
                                    "ORDER BY created_at, key", (backend, kind)))

    def spent_by_job(self) -> dict[str | None, float]:
        """Money charged per job key (the ledger is the one record of what was spent: failures and
        cancels too)."""
        return {r[0]: float(r[1]) for r in self.db.execute(
            "SELECT job_key, SUM(amount_usd) FROM ledger WHERE kind='charge' GROUP BY job_key")}

    def add_job(self, key: str, *, shot_id: str, kind: str, variant: int, backend: str, request_json: str,
                reserved_usd: float, key_version: int, state: str = "pending") -> bool:
        """Insert job `key` unless it exists; True when this call inserted it."""
        now = time.time()
        cur = self.db.execute(
            "INSERT OR IGNORE INTO jobs(key, shot_id, kind, variant, backend, request_json, state, reserved_usd, "
            "created_at, updated_at, key_version) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (key, shot_id, kind, variant, backend, request_json, state, reserved_usd, now, now, key_version))
        return cur.rowcount == 1

    def add_finished_job(self, key: str, *, shot_id: str, kind: str, variant: int, backend: str, request_json: str,
                         provider_job_id: str | None, cost_usd: float, take_id: str, created_at: float) -> None:
        """Record a job that already made take `take_id` (a catalog rebuilt from the takes' sidecars)."""
        self.db.execute(
            "INSERT OR IGNORE INTO jobs(key, shot_id, kind, variant, backend, request_json, state, provider_job_id, "
            "cost_usd, take_id, created_at, updated_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (key, shot_id, kind, variant, backend, request_json, "completed", provider_job_id, cost_usd, take_id,
             created_at, time.time(), created_at))

    def job_with_provider_id(self, provider_job_id: str, *, other_than: str | None = None) -> str | None:
        """The key of the job (other than `other_than`) that holds provider job `provider_job_id`, if any."""
        row = self.db.execute("SELECT key FROM jobs WHERE provider_job_id=? AND key != ?",
                              (provider_job_id, other_than or "")).fetchone()
        return row[0] if row else None

    def claimed_provider_ids(self, *, other_than: str | None = None) -> set[str]:
        """Every provider job id some job (other than `other_than`) holds."""
        return {r[0] for r in self.db.execute(
            "SELECT provider_job_id FROM jobs WHERE provider_job_id IS NOT NULL AND key != ?", (other_than or "",))}

    def has_jobs_before_key_version(self, version: int) -> bool:
        """Whether a job row was keyed under a key version older than `version`."""
        return self.db.execute("SELECT 1 FROM jobs WHERE key_version < ? LIMIT 1", (version,)).fetchone() is not None

    def job_history(self, key: str) -> list[sqlite3.Row]:
        """Job `key`'s ledger lines, oldest first: reservations, charges and notes (retries, reconciles)."""
        return list(self.db.execute("SELECT * FROM ledger WHERE job_key=? ORDER BY id", (key,)))

    def spent_usd(self) -> float:
        return float(self.db.execute("SELECT COALESCE(SUM(amount_usd),0) FROM ledger WHERE kind='charge'").fetchone()[0])

    def reserved_usd(self) -> float:
        """Money held for jobs in flight, the worst case of parked ones, and of jobs cancelled where
        a refund is possible but not guaranteed (their reservation is kept on the finished row)."""
        marks = ",".join("?" * len(RESERVING_STATES))
        row = self.db.execute(f"SELECT COALESCE(SUM(reserved_usd),0) FROM jobs WHERE state IN ({marks}) "
                              "OR (state IN ('failed', 'canceled') AND reserved_usd > 0)",
                              RESERVING_STATES).fetchone()
        return float(row[0])

    def rekey_job(self, old: str, new: str, key_version: int) -> None:
        """Move job `old` (and its chain segments `old.sN`, ledger lines and take) to key `new`."""
        n = len(old)
        with self.transaction():
            for table, col in (("jobs", "key"), ("ledger", "job_key"), ("takes", "job_key")):
                self.db.execute(f"UPDATE {table} SET {col}=? WHERE {col}=?", (new, old))
                self.db.execute(f"UPDATE {table} SET {col}=? || substr({col}, ?) WHERE {col} LIKE ? ESCAPE '!'",
                                (new, n + 1, old + ".s%"))
            self.db.execute("UPDATE jobs SET key_version=? WHERE key=? OR key LIKE ?", (key_version, new, new + ".s%"))


# -- backups and restore -------------------------------------------------------------------


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
