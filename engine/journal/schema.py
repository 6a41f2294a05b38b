"""The journal's schema: versioned migrations, run in order at open (PRAGMA user_version)."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 5

# Each entry upgrades the schema from version i to i+1; never edit one that has shipped.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        src TEXT NOT NULL,
        src_ino INTEGER,
        state TEXT NOT NULL,
        target_state TEXT,
        kind TEXT,
        size INTEGER,
        sha256 TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        error_kind TEXT,
        reason TEXT,
        arrived_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        finished_at REAL,
        duration REAL,
        latency REAL,
        next_attempt_at REAL,
        dest TEXT UNIQUE,
        meta TEXT
    );
    CREATE INDEX files_state ON files(state);
    CREATE INDEX files_kind ON files(kind);
    CREATE INDEX files_finished ON files(finished_at);
    CREATE INDEX files_sha ON files(sha256) WHERE sha256 IS NOT NULL;
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files(id),
        n INTEGER NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL NOT NULL,
        outcome TEXT NOT NULL,
        error_kind TEXT,
        reason TEXT,
        duration REAL NOT NULL
    );
    CREATE INDEX attempts_file ON attempts(file_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        type TEXT NOT NULL,
        file_id INTEGER,
        message TEXT NOT NULL,
        data TEXT
    );
    CREATE INDEX events_file ON events(file_id);
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        group_key TEXT,
        count INTEGER NOT NULL DEFAULT 1,
        read INTEGER NOT NULL DEFAULT 0,
        data TEXT
    );
    CREATE INDEX alerts_read ON alerts(read, id);
    CREATE TABLE jobs (
        name TEXT PRIMARY KEY,
        last_started_at REAL,
        last_finished_at REAL,
        last_outcome TEXT,
        last_duration REAL,
        last_message TEXT,
        runs INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0
    );
    """,
    # Counts by state and kind from a covering index: 61 ms -> 9 ms on 100,000 rows.
    """
    DROP INDEX files_state;
    CREATE INDEX files_state_kind ON files(state, kind);
    """,
    # Notifications wait here until delivered, so a restart or a dead server loses none.
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        created_at REAL NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        sent_at REAL
    );
    CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
    """,
    # Cluster: where each dispatched file is (attempt token, worker, lease), the messages still
    # to send, and the workers' last heartbeats (engine/cluster/store.py).
    """
    CREATE TABLE dispatches (
        file_id INTEGER PRIMARY KEY REFERENCES files(id),
        token TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        lost INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        worker TEXT,
        lease_until REAL NOT NULL,
        isolated INTEGER NOT NULL,
        note TEXT,
        started_at REAL NOT NULL
    );
    CREATE INDEX dispatches_lease ON dispatches(lease_until);
    CREATE TABLE dispatch_outbox (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL,
        token TEXT NOT NULL
    );
    CREATE TABLE workers (
        name TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        version TEXT NOT NULL,
        concurrency INTEGER NOT NULL,
        in_flight INTEGER NOT NULL,
        done INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL
    );
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to SCHEMA_VERSION; returns the version found (newer ones are left alone)."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    for i in range(found, SCHEMA_VERSION):
        conn.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[i]}; PRAGMA user_version={i + 1}; COMMIT;")
    return found
