"""The catalog's schema: its version and the migrations that reach it.

`PRAGMA user_version` holds the version; `MIGRATIONS[n]` upgrades n -> n+1 (the Catalog runs them in
one transaction on open). Never edit a shipped migration: add a new one.
"""

from __future__ import annotations

SCHEMA_VERSION = 5

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
    # 4 -> 5: the money sums read only their own rows (covering indexes), not whole tables: what is
    #   spent (the ledger's charges) and what is reserved (jobs by state) are summed before every
    #   reservation, and a project's ledger only grows.
    4: """
    CREATE INDEX ledger_kind ON ledger(kind, amount_usd);
    CREATE INDEX jobs_state_reserved ON jobs(state, reserved_usd)
    """,
}
