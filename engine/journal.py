"""The journal: SQLite in WAL mode, the single source of truth for files, attempts and events.

One writer connection behind a lock (each public write is one transaction, batched by the
callers so a burst costs a few commits, not thousands); readers use a connection per thread,
which WAL lets run beside the writer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import (
    ACTIVE_STATES,
    FAILED,
    PLACING,
    QUEUED,
    RETRYING,
    VANISHED,
    Attempt,
    Event,
    FileRecord,
)

SCHEMA_VERSION = 4

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
]

FILE_COLUMNS = (
    "id, name, state, kind, size, sha256, attempts, error_kind, reason, arrived_at, updated_at, "
    "finished_at, duration, latency, dest"
)


@dataclass(frozen=True)
class Arrival:
    name: str
    src: str
    ino: int
    size: int
    arrived_at: float


@dataclass(frozen=True)
class ActiveRow:
    id: int
    name: str
    src: str
    src_ino: int | None
    state: str
    target_state: str | None
    dest: str | None
    attempts: int
    arrived_at: float
    next_attempt_at: float | None
    meta: str | None
    error_kind: str | None
    reason: str | None


@dataclass
class Outcome:
    """The result of one attempt, as the pipeline hands it to the journal."""

    id: int
    target_state: str  # done | failed | duplicate
    kind: str | None
    size: int | None
    sha256: str | None
    meta: dict[str, Any]
    error_kind: str | None
    reason: str | None
    started_at: float
    duration: float
    dest: str | None = None
    message: str = ""
    meta_json: str | None = None  # `meta` encoded once, shared with the sidecar

    def encoded_meta(self) -> str:
        if self.meta_json is None:
            self.meta_json = _encode(self.meta)
        return self.meta_json


_encode = json.JSONEncoder(default=str).encode


def db_path(value: str | None) -> str | bytes | None:
    """Names and paths as SQLite can hold them: TEXT when valid UTF-8, else the raw bytes.

    Linux file names are bytes; Python keeps undecodable ones as surrogate escapes, which
    SQLite's TEXT cannot store. BLOBs keep them exactly, so the file can always be found again.
    """
    if value is None:
        return None
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return os.fsencode(value)


def py_path(value: str | bytes | None) -> str | None:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def display(name: str) -> str:
    """A name fit for messages, logs and JSON: undecodable bytes become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _file_record(row: tuple) -> FileRecord:
    r = list(row)
    r[1] = py_path(r[1])
    r[14] = py_path(r[14])
    return FileRecord(*r)


class JournalError(RuntimeError):
    pass


class Journal:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._interrupted = False
        self.last_event_id = 0
        self._event_cond = threading.Condition()
        try:
            self._w = self._connect()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {self.path} cannot be opened: {exc}") from exc
        row = self._w.execute("SELECT max(id) FROM events").fetchone()
        self.last_event_id = row[0] or 0

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL survives a process kill (the WAL is in the page cache); only power loss
        # can drop the last transactions, which is the trade every WAL user makes for speed.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _migrate(self) -> None:
        version = self._w.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.path} has schema version {version}, newer than this chute ({SCHEMA_VERSION})"
            )
        for i in range(version, SCHEMA_VERSION):
            self._w.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[i]}; PRAGMA user_version={i + 1}; COMMIT;")

    @property
    def _r(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with self._readers_lock:
                for conn in self._readers:
                    conn.close()
                self._readers.clear()
            try:
                self._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._w.close()
        with self._event_cond:
            self._event_cond.notify_all()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise JournalError("journal is closed")
            self._w.execute("BEGIN IMMEDIATE")
            try:
                yield self._w
            except BaseException:
                self._w.execute("ROLLBACK")
                raise
            self._w.execute("COMMIT")
            new_last = self._w.execute("SELECT max(id) FROM events").fetchone()[0] or 0
        if new_last != self.last_event_id:
            with self._event_cond:
                self.last_event_id = new_last
                self._event_cond.notify_all()

    # --- writes -------------------------------------------------------------------------------

    def add_event(
        self, type_: str, message: str, file_id: int | None = None, data: dict | None = None
    ) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO events(ts, type, file_id, message, data) VALUES (?,?,?,?,?)",
                (time.time(), type_, file_id, message, json.dumps(data) if data else None),
            )

    def claim(self, arrivals: list[Arrival]) -> list[int]:
        """Record arrivals as queued before they are moved out of the inbox; returns their ids."""
        now = time.time()
        with self._tx() as c:
            # Inside our write transaction nobody else inserts, and without AUTOINCREMENT SQLite
            # gives max(id)+1, +2, ...: so one executemany yields known ids.
            first = (c.execute("SELECT max(id) FROM files").fetchone()[0] or 0) + 1
            c.executemany(
                "INSERT INTO files(id, name, src, src_ino, state, size, arrived_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [
                    (first + i, db_path(a.name), db_path(a.src), a.ino, QUEUED, a.size, a.arrived_at, now)
                    for i, a in enumerate(arrivals)
                ],
            )
            ids = list(range(first, first + len(arrivals)))
            c.executemany(
                "INSERT INTO events(ts, type, file_id, message, data) VALUES (?,?,?,?,?)",
                [
                    (now, "arrived", fid, display(a.name), _encode({"size": a.size}))
                    for fid, a in zip(ids, arrivals, strict=True)
                ],
            )
        return ids

    def begin_place(self, outcomes: list[Outcome]) -> None:
        """Journal each result and its destination before anything moves (crash recovery redoes it)."""
        now = time.time()
        with self._tx() as c:
            c.executemany(
                "UPDATE files SET state=?, target_state=?, kind=?, size=?, sha256=?, meta=?, error_kind=?, "
                "reason=?, duration=?, dest=?, updated_at=? WHERE id=?",
                [
                    (
                        PLACING,
                        o.target_state,
                        o.kind,
                        o.size,
                        o.sha256,
                        o.encoded_meta(),
                        o.error_kind,
                        o.reason,
                        o.duration,
                        db_path(o.dest),
                        now,
                        o.id,
                    )
                    for o in outcomes
                ],
            )

    def finish_place(self, outcomes: list[Outcome]) -> None:
        now = time.time()
        with self._tx() as c:
            c.executemany(
                "UPDATE files SET state=target_state, target_state=NULL, attempts=attempts+1, finished_at=?, "
                "latency=? - arrived_at, updated_at=?, next_attempt_at=NULL WHERE id=?",
                [(now, now, now, o.id) for o in outcomes],
            )
            c.executemany(
                "INSERT INTO attempts(file_id, n, started_at, finished_at, outcome, error_kind, reason, duration) "
                "SELECT ?, attempts, ?, ?, ?, ?, ?, ? FROM files WHERE id=?",
                [
                    (
                        o.id,
                        o.started_at,
                        o.started_at + o.duration,
                        o.target_state,
                        o.error_kind,
                        o.reason,
                        o.duration,
                        o.id,
                    )
                    for o in outcomes
                ],
            )
            c.executemany(
                "INSERT INTO events(ts, type, file_id, message, data) VALUES (?,?,?,?,?)",
                [
                    (
                        now,
                        o.target_state,
                        o.id,
                        display(o.message),
                        _encode(
                            {
                                "dest": display(o.dest or ""),
                                "kind": o.kind,
                                "error_kind": o.error_kind,
                                "duration": o.duration,
                            }
                        ),
                    )
                    for o in outcomes
                ],
            )

    def schedule_retry(self, o: Outcome, next_at: float) -> None:
        now = time.time()
        with self._tx() as c:
            c.execute(
                "UPDATE files SET state=?, attempts=attempts+1, error_kind=?, reason=?, next_attempt_at=?, "
                "updated_at=? WHERE id=?",
                (RETRYING, o.error_kind, display(o.reason or ""), next_at, now, o.id),
            )
            c.execute(
                "INSERT INTO attempts(file_id, n, started_at, finished_at, outcome, error_kind, reason, duration) "
                "SELECT ?, attempts, ?, ?, 'retry', ?, ?, ? FROM files WHERE id=?",
                (o.id, o.started_at, o.started_at + o.duration, o.error_kind, o.reason, o.duration, o.id),
            )
            c.execute(
                "INSERT INTO events(ts, type, file_id, message, data) VALUES (?,?,?,?,?)",
                (
                    now,
                    "retry_wait",
                    o.id,
                    f"{o.error_kind}: {o.reason}; next try in {next_at - now:.1f}s",
                    None,
                ),
            )

    def mark_queued(self, file_id: int) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE files SET state=?, dest=NULL, target_state=NULL, updated_at=? WHERE id=?",
                (QUEUED, time.time(), file_id),
            )

    def mark_vanished(self, items: list[tuple[int, str]]) -> None:
        now = time.time()
        with self._tx() as c:
            c.executemany(
                "UPDATE files SET state=?, reason=?, finished_at=?, updated_at=? WHERE id=?",
                [(VANISHED, display(why), now, now, fid) for fid, why in items],
            )
            c.executemany(
                "INSERT INTO events(ts, type, file_id, message, data) VALUES (?,?,?,?,?)",
                [(now, "vanished", fid, display(why), None) for fid, why in items],
            )

    def request_retry(self, ids: list[int]) -> list[tuple[int, str, str]]:
        """Move failed rows back to queued; returns (id, name, where the file is now) for each one."""
        now = time.time()
        done: list[tuple[int, str, str]] = []
        with self._tx() as c:
            for fid in ids:
                row = c.execute("SELECT name, dest, state FROM files WHERE id=?", (fid,)).fetchone()
                if row is None or row[2] != FAILED or not row[1]:
                    continue
                c.execute(
                    "UPDATE files SET state=?, src=?, src_ino=NULL, dest=NULL, target_state=NULL, "
                    "next_attempt_at=NULL, updated_at=? WHERE id=?",
                    (QUEUED, row[1], now, fid),
                )
                c.execute(
                    "INSERT INTO events(ts, type, file_id, message, data) VALUES (?,?,?,?,?)",
                    (now, "retry_requested", fid, display(py_path(row[0])), None),
                )
                done.append((fid, py_path(row[0]), py_path(row[1])))
        return done

    def set_kv(self, key: str, value: str) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO kv(key, value) VALUES (?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # --- reads --------------------------------------------------------------------------------

    def get_kv(self, key: str) -> str | None:
        row = self._r.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def active(self) -> list[ActiveRow]:
        marks = ",".join("?" * len(ACTIVE_STATES))
        rows = self._r.execute(
            "SELECT id, name, src, src_ino, state, target_state, dest, attempts, arrived_at, next_attempt_at, "
            f"meta, error_kind, reason FROM files WHERE state IN ({marks}) ORDER BY id",
            ACTIVE_STATES,
        ).fetchall()
        return [ActiveRow(r[0], py_path(r[1]), py_path(r[2]), *r[3:6], py_path(r[6]), *r[7:]) for r in rows]

    def dests_in(self, folder: str) -> list[str]:
        """Destinations the journal holds directly inside `folder`."""
        prefix = folder.rstrip("/") + "/"
        rows = self._r.execute(
            "SELECT dest FROM files WHERE dest >= ? AND dest < ?", (prefix, prefix[:-1] + "0")
        ).fetchall()
        # Destinations with undecodable names are stored as BLOBs, which sort after all TEXT.
        raw = os.fsencode(prefix)
        rows += self._r.execute(
            "SELECT dest FROM files WHERE typeof(dest) = 'blob' AND substr(dest, 1, ?) = ?", (len(raw), raw)
        ).fetchall()
        return [d for d in (py_path(r[0]) for r in rows) if "/" not in d[len(prefix) :]]

    def find_done_by_sha(self, sha256: str, exclude_id: int) -> int | None:
        row = self._r.execute(
            "SELECT id FROM files WHERE sha256=? AND state='done' AND id<>? ORDER BY id LIMIT 1",
            (sha256, exclude_id),
        ).fetchone()
        return row[0] if row else None

    def counts(self) -> dict[tuple[str, str | None], int]:
        rows = self._r.execute("SELECT state, kind, count(*) FROM files GROUP BY state, kind").fetchall()
        return {(s, k): n for s, k, n in rows}

    def finished_since(self, ts: float) -> int:
        return self._r.execute("SELECT count(*) FROM files WHERE finished_at >= ?", (ts,)).fetchone()[0]

    def recent_timings(self, limit: int = 1000) -> list[tuple[float | None, float | None]]:
        # finished_at is set only on final rows: no state filter, so the index walk needs no sort.
        return self._r.execute(
            "SELECT latency, duration FROM files WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?",
            (limit,),
        ).fetchall()

    def finished_rows(self, since: float) -> list[tuple[str, float, float | None, float | None]]:
        """(state, finished_at, latency, duration) of files finished since `since`."""
        return self._r.execute(
            "SELECT state, finished_at, latency, duration FROM files WHERE finished_at >= ? AND state IN "
            "('done','failed','duplicate')",
            (since,),
        ).fetchall()

    def duration_buckets(self, bounds: tuple[float, ...]) -> list[tuple[str, int, int, float]]:
        """(kind, bucket index, count, sum) over every processed file, bucketed by SQLite."""
        case = " ".join(f"WHEN duration <= {b!r} THEN {i}" for i, b in enumerate(bounds))
        return self._r.execute(
            f"SELECT kind, CASE {case} ELSE {len(bounds)} END AS b, count(*), sum(duration) FROM files "
            "WHERE duration IS NOT NULL AND kind IS NOT NULL AND state IN ('done','failed','duplicate') "
            "GROUP BY kind, b"
        ).fetchall()

    # --- reports ----------------------------------------------------------------------------

    def window_counts(self, since: float, until: float) -> list[tuple[str | None, str, int]]:
        return self._r.execute(
            "SELECT kind, state, count(*) FROM files WHERE finished_at >= ? AND finished_at < ? "
            "GROUP BY kind, state",
            (since, until),
        ).fetchall()

    def window_timings(self, since: float, until: float) -> list[tuple[float | None, float | None]]:
        return self._r.execute(
            "SELECT latency, duration FROM files WHERE finished_at >= ? AND finished_at < ? AND state IN "
            "('done','failed','duplicate')",
            (since, until),
        ).fetchall()

    def top_reasons(self, since: float, until: float, limit: int = 10) -> list[tuple[str, str, int]]:
        """Failure reasons (first 80 characters, so per-file details group together) by count."""
        return self._r.execute(
            "SELECT coalesce(error_kind, '?'), substr(coalesce(reason, ''), 1, 80) AS r, count(*) AS n FROM files "
            "WHERE state='failed' AND finished_at >= ? AND finished_at < ? GROUP BY 1, 2 ORDER BY n DESC LIMIT ?",
            (since, until, limit),
        ).fetchall()

    def window_by_hour(self, since: float, until: float) -> list[tuple[float]]:
        return self._r.execute(
            "SELECT finished_at FROM files WHERE finished_at >= ? AND finished_at < ?", (since, until)
        ).fetchall()

    def writable(self) -> bool:
        try:
            with self._lock:
                self._w.execute("BEGIN IMMEDIATE")
                self._w.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False

    # --- alerts and jobs (the scheduler and notifiers write these) -----------------------------

    def add_alert(
        self,
        kind: str,
        severity: str,
        title: str,
        body: str,
        group_key: str | None = None,
        count: int = 1,
        data: dict | None = None,
    ) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO alerts(ts, kind, severity, title, body, group_key, count, data) VALUES (?,?,?,?,?,?,?,?)",
                (
                    time.time(),
                    kind,
                    severity,
                    display(title),
                    display(body),
                    group_key,
                    count,
                    _encode(data) if data else None,
                ),
            )
            return cur.lastrowid

    def alerts(self, limit: int = 100, unread_only: bool = False, before: int | None = None) -> list[tuple]:
        where, args = [], []
        if unread_only:
            where.append("read = 0")
        if before is not None:
            where.append("id < ?")
            args.append(before)
        sql = "SELECT id, ts, kind, severity, title, body, count, read, data FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._r.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()

    def mark_alert_read(self, alert_id: int, read: bool = True) -> bool:
        with self._tx() as c:
            return c.execute("UPDATE alerts SET read=? WHERE id=?", (int(read), alert_id)).rowcount == 1

    def unread_alerts(self) -> int:
        return self._r.execute("SELECT count(*) FROM alerts WHERE read = 0").fetchone()[0]

    def job_started(self, name: str, at: float) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO jobs(name, last_started_at) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET last_started_at=excluded.last_started_at",
                (name, at),
            )

    def job_finished(self, name: str, at: float, outcome: str, duration: float, message: str) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE jobs SET last_finished_at=?, last_outcome=?, last_duration=?, last_message=?, "
                "runs=runs+1, failures=failures+? WHERE name=?",
                (at, outcome, duration, display(message), int(outcome != "ok"), name),
            )
            c.execute(
                "INSERT INTO events(ts, type, file_id, message, data) VALUES (?,?,?,?,?)",
                (at, f"job_{outcome}", None, display(f"{name}: {message}"), _encode({"job": name})),
            )

    def outbox_add(self, channel: str, payload: dict) -> int:
        now = time.time()
        with self._tx() as c:
            return c.execute(
                "INSERT INTO outbox(channel, created_at, payload, next_attempt_at) VALUES (?,?,?,?)",
                (channel, now, _encode(payload), now),
            ).lastrowid

    def outbox_due(self, now: float, limit: int = 20) -> list[tuple[int, str, dict, int]]:
        rows = self._r.execute(
            "SELECT id, channel, payload, attempts FROM outbox WHERE state='pending' AND next_attempt_at <= ? "
            "ORDER BY id LIMIT ?",
            (now, limit),
        ).fetchall()
        return [(i, ch, json.loads(p), a) for i, ch, p, a in rows]

    def outbox_next_due(self) -> float | None:
        row = self._r.execute("SELECT min(next_attempt_at) FROM outbox WHERE state='pending'").fetchone()
        return row[0]

    def outbox_done(
        self, item_id: int, state: str, error: str | None = None, next_at: float | None = None
    ) -> None:
        """state: sent | pending (retry at next_at) | dead."""
        now = time.time()
        with self._tx() as c:
            c.execute(
                "UPDATE outbox SET state=?, attempts=attempts+1, last_error=?, next_attempt_at=coalesce(?, "
                "next_attempt_at), sent_at=CASE WHEN ?='sent' THEN ? ELSE sent_at END WHERE id=?",
                (state, display(error) if error else None, next_at, state, now, item_id),
            )

    def outbox_items(self, channel: str | None = None) -> list[dict]:
        sql = "SELECT id, channel, state, attempts, last_error, payload FROM outbox"
        rows = self._r.execute(
            sql + (" WHERE channel=?" if channel else "") + " ORDER BY id", (channel,) if channel else ()
        ).fetchall()
        return [
            {"id": i, "channel": ch, "state": st, "attempts": a, "last_error": e, "payload": json.loads(p)}
            for i, ch, st, a, e, p in rows
        ]

    def jobs(self) -> dict[str, tuple]:
        rows = self._r.execute(
            "SELECT name, last_started_at, last_finished_at, last_outcome, last_duration, last_message, runs, "
            "failures FROM jobs"
        ).fetchall()
        return {r[0]: r[1:] for r in rows}

    def files(
        self,
        state: str | None = None,
        kind: str | None = None,
        q: str | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> list[FileRecord]:
        where, args = [], []
        if state:
            where.append("state=?")
            args.append(state)
        if kind:
            where.append("kind=?")
            args.append(kind)
        if q:
            where.append("name LIKE ? ESCAPE '\\'")
            args.append("%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if before is not None:
            where.append("id<?")
            args.append(before)
        sql = f"SELECT {FILE_COLUMNS} FROM files"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_file_record(r) for r in self._r.execute(sql, args).fetchall()]

    def file(self, file_id: int) -> tuple[FileRecord, dict[str, Any]] | None:
        row = self._r.execute(f"SELECT {FILE_COLUMNS}, meta FROM files WHERE id=?", (file_id,)).fetchone()
        if row is None:
            return None
        meta = json.loads(row[-1]) if row[-1] else {}
        return _file_record(row[:-1]), meta

    def attempts(self, file_id: int) -> list[Attempt]:
        rows = self._r.execute(
            "SELECT n, started_at, finished_at, outcome, error_kind, reason, duration FROM attempts "
            "WHERE file_id=? ORDER BY id",
            (file_id,),
        ).fetchall()
        return [Attempt(*r) for r in rows]

    def events(self, since: int = 0, limit: int = 500, file_id: int | None = None) -> list[Event]:
        if file_id is not None:
            rows = self._r.execute(
                "SELECT id, ts, type, file_id, message, data FROM events WHERE file_id=? AND id>? ORDER BY id "
                "LIMIT ?",
                (file_id, since, limit),
            ).fetchall()
        else:
            rows = self._r.execute(
                "SELECT id, ts, type, file_id, message, data FROM events WHERE id>? ORDER BY id LIMIT ?",
                (since, limit),
            ).fetchall()
        return [Event(i, ts, t, f, m, json.loads(d) if d else {}) for i, ts, t, f, m, d in rows]

    def interrupt_waiters(self) -> None:
        """Wake every long-poll now (the engine is stopping)."""
        with self._event_cond:
            self._interrupted = True
            self._event_cond.notify_all()

    def wait_events(self, since: int, timeout: float) -> bool:
        """Block until an event newer than `since` exists (or timeout); True if there is one."""
        deadline = time.monotonic() + timeout
        with self._event_cond:
            while self.last_event_id <= since and not self._closed and not self._interrupted:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._event_cond.wait(left)
            return self.last_event_id > since

    def failed_ids(self, limit: int = 100_000) -> list[int]:
        return [
            r[0]
            for r in self._r.execute(
                "SELECT id FROM files WHERE state=? ORDER BY id LIMIT ?", (FAILED, limit)
            ).fetchall()
        ]


__all__ = ["RETRYING", "ActiveRow", "Arrival", "Journal", "JournalError", "Outcome"]
