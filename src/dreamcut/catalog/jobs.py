"""The catalog's jobs and ledger: each paid request's row (committed before it leaves the machine)
and every reservation and charge."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from dreamcut.catalog.base import Connected
from dreamcut.catalog.schema import RESERVING_STATES


# The money sums, each read through its covering index (schema 5): the ledger's charges, and the
# reservations of jobs in the reserving states (as two index searches: an OR would scan every job).
_SPENT_SQL = "SELECT COALESCE(SUM(amount_usd),0) FROM ledger WHERE kind='charge'"
_RESERVED_SQL = (f"(SELECT COALESCE(SUM(reserved_usd),0) FROM jobs WHERE state IN ({','.join('?' * len(RESERVING_STATES))}))"
                 " + (SELECT COALESCE(SUM(reserved_usd),0) FROM jobs WHERE state IN ('failed', 'canceled') "
                 "AND reserved_usd > 0)")


class JobQueries(Connected):
    """Jobs and the money ledger (a part of Catalog)."""

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

    def start_attempt(self, key: str, **fields: Any) -> None:
        """Count one more attempt at job `key` and set `fields` (as `update_job`), in one statement."""
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE jobs SET attempts=attempts+1, {cols} WHERE key=?", (*fields.values(), key))

    def jobs_by_key(self, keys: list[str]) -> dict[str, sqlite3.Row]:
        """The rows of those of `keys` that exist, by key: one statement per 500 keys."""
        rows: dict[str, sqlite3.Row] = {}
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            marks = ",".join("?" * len(part))
            rows.update((r["key"], r) for r in self.db.execute(f"SELECT * FROM jobs WHERE key IN ({marks})", part))
        return rows

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

    def completed_jobs(self, backend: str, kind: str) -> list[sqlite3.Row]:
        """This backend's completed jobs of `kind` ('take' | 'preview'), oldest first."""
        return list(self.db.execute("SELECT * FROM jobs WHERE backend=? AND kind=? AND state='completed' "
                                    "ORDER BY created_at, key", (backend, kind)))

    def job_history(self, key: str) -> list[sqlite3.Row]:
        """Job `key`'s ledger lines, oldest first: reservations, charges and notes (retries, reconciles)."""
        return list(self.db.execute("SELECT * FROM ledger WHERE job_key=? ORDER BY id", (key,)))

    def ledger_add(self, kind: str, amount_usd: float, job_key: str | None = None, note: str = "") -> None:
        self.db.execute("INSERT INTO ledger(job_key, at, kind, amount_usd, note) VALUES (?,?,?,?,?)",
                        (job_key, time.time(), kind, amount_usd, note))

    def spent_by_job(self) -> dict[str | None, float]:
        """Money charged per job key (the ledger is the one record of what was spent: failures and
        cancels too)."""
        return {r[0]: float(r[1]) for r in self.db.execute(
            "SELECT job_key, SUM(amount_usd) FROM ledger WHERE kind='charge' GROUP BY job_key")}

    def spent_usd(self) -> float:
        return float(self.db.execute(_SPENT_SQL).fetchone()[0])

    def reserved_usd(self) -> float:
        """Money held for jobs in flight, the worst case of parked ones, and of jobs cancelled where
        a refund is possible but not guaranteed (their reservation is kept on the finished row)."""
        return float(self.db.execute(f"SELECT {_RESERVED_SQL}", RESERVING_STATES).fetchone()[0])

    def committed_usd(self) -> float:
        """Spent plus reserved (`spent_usd() + reserved_usd()`, in one statement): what a budget
        check subtracts from the budget."""
        return float(self.db.execute(f"SELECT ({_SPENT_SQL}) + ({_RESERVED_SQL})", RESERVING_STATES).fetchone()[0])

    def rekey_job(self, old: str, new: str, key_version: int) -> None:
        """Move job `old` (and its chain segments `old.sN`, ledger lines and take) to key `new`."""
        n = len(old)
        with self.transaction():
            for table, col in (("jobs", "key"), ("ledger", "job_key"), ("takes", "job_key")):
                self.db.execute(f"UPDATE {table} SET {col}=? WHERE {col}=?", (new, old))
                self.db.execute(f"UPDATE {table} SET {col}=? || substr({col}, ?) WHERE {col} LIKE ? ESCAPE '!'",
                                (new, n + 1, old + ".s%"))
            self.db.execute("UPDATE jobs SET key_version=? WHERE key=? OR key LIKE ?", (key_version, new, new + ".s%"))
