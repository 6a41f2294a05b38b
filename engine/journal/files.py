"""The files and attempts tables: each file's way from the inbox to its place, and its reads.

Paths (src, dest) are stored relative to the engine's root when they lie under it, so a journal
restored under another root points at the new root's files, never the old one's. This store is
the one place that converts: callers hand in and get back absolute paths. Journals written with
absolute paths are converted when they are opened (relocate()).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..model import (
    ACTIVE_STATES,
    FAILED,
    PLACING,
    QUEUED,
    RETRYING,
    VANISHED,
    ActiveRow,
    Arrival,
    Attempt,
    FileDetail,
    FileRecord,
    Outcome,
    RetryMove,
)
from .codec import db_path, display, py_path
from .db import Database
from .events import EventStore

FILE_COLUMNS = (
    "id, name, state, kind, size, sha256, attempts, error_kind, reason, arrived_at, updated_at, "
    "finished_at, duration, latency, dest"
)
# Where an attempt's latency starts: the last retry request, else the arrival (close of write).
LATENCY_FROM = (
    "COALESCE((SELECT MAX(e.ts) FROM events e WHERE e.file_id = files.id AND e.type = 'retry_requested'), "
    "arrived_at)"
)


class FileStore:
    def __init__(self, db: Database, events: EventStore, root: Path | None = None) -> None:
        self._db = db
        self._events = events
        # Without a root (a journal opened on its own), paths are stored and returned as given.
        self._root = os.path.abspath(root) if root is not None else None
        self._prefix = self._root.rstrip("/") + "/" if self._root is not None else None
        if self._root is not None:
            self.relocate(self._root)

    # --- paths: relative to the root in the journal, absolute outside it -----------------------

    def to_db(self, path: str | None) -> str | bytes | None:
        """A path as the journal keeps it: relative to the root when under it."""
        if path is None or self._prefix is None:
            return db_path(path)
        if path.startswith(self._prefix) and "/." not in path and "//" not in path:
            return db_path(path[len(self._prefix) :])  # already normal: relpath's work is done
        if os.path.isabs(path):
            rel = os.path.relpath(path, self._root)
            if not rel.startswith(".."):
                path = rel
        return db_path(path)

    def from_db(self, value: str | bytes | None) -> str | None:
        """A path from the journal, absolute again."""
        path = py_path(value)
        if path is not None and self._root is not None and not os.path.isabs(path):
            return os.path.join(self._root, path)
        return path

    def relocate(self, old_root: Path | str) -> int:
        """Store paths under `old_root` relative to it (the root they belong to now); returns how
        many rows changed. Paths outside it are left as they are."""
        prefix = os.path.abspath(old_root).rstrip("/") + "/"
        raw = os.fsencode(prefix)
        changed = 0
        with self._db.tx() as c:
            for column in ("src", "dest"):
                # TEXT paths by range (no LIKE wildcards to escape); undecodable ones are BLOBs.
                changed += c.execute(
                    f"UPDATE files SET {column} = substr({column}, ?) WHERE {column} >= ? AND {column} < ?",
                    (len(prefix) + 1, prefix, prefix[:-1] + "0"),
                ).rowcount
                changed += c.execute(
                    f"UPDATE files SET {column} = substr({column}, ?) "
                    f"WHERE typeof({column}) = 'blob' AND substr({column}, 1, ?) = ?",
                    (len(raw) + 1, len(raw), raw),
                ).rowcount
        return changed

    def _record(self, row: tuple) -> FileRecord:
        """A FileRecord from a row of FILE_COLUMNS."""
        r = list(row)
        r[1] = py_path(r[1])
        r[14] = self.from_db(r[14])
        return FileRecord(*r)

    # --- the pipeline's writes, in the order a file meets them ----------------------------------

    def claim(self, arrivals: list[Arrival]) -> list[int]:
        """Record arrivals as queued before they are moved out of the inbox; returns their ids."""
        now = time.time()
        with self._db.tx() as c:
            # Inside our write transaction nobody else inserts, and without AUTOINCREMENT SQLite
            # gives max(id)+1, +2, ...: so one executemany yields known ids.
            first = (c.execute("SELECT max(id) FROM files").fetchone()[0] or 0) + 1
            c.executemany(
                "INSERT INTO files(id, name, src, src_ino, state, size, arrived_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        first + i,
                        db_path(a.name),
                        self.to_db(a.src),
                        a.ino,
                        QUEUED,
                        a.size,
                        a.arrived_at,
                        now,
                    )
                    for i, a in enumerate(arrivals)
                ],
            )
            ids = list(range(first, first + len(arrivals)))
            self._events.write(
                c,
                [
                    (now, "arrived", fid, a.name, {"size": a.size})
                    for fid, a in zip(ids, arrivals, strict=True)
                ],
            )
        return ids

    def begin_place(self, outcomes: list[Outcome]) -> None:
        """Journal each result and its destination before anything moves (crash recovery redoes it)."""
        now = time.time()
        with self._db.tx() as c:
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
                        self.to_db(o.dest),
                        now,
                        o.id,
                    )
                    for o in outcomes
                ],
            )

    def finish_place(self, outcomes: list[Outcome]) -> None:
        now = time.time()
        with self._db.tx() as c:
            # Latency is close-of-write to placed for this attempt: a retried file counts from the
            # retry, so one old failure fixed today does not read as a slow engine.
            c.executemany(
                "UPDATE files SET state=target_state, target_state=NULL, attempts=attempts+1, finished_at=?, "
                f"latency=? - {LATENCY_FROM}, updated_at=?, next_attempt_at=NULL WHERE id=?",
                [(now, now, now, o.id) for o in outcomes],
            )
            self._add_attempts(c, [(o, o.target_state) for o in outcomes])
            self._events.write(
                c,
                [
                    (
                        now,
                        o.target_state,
                        o.id,
                        o.message,
                        {
                            "dest": display(o.dest or ""),
                            "kind": o.kind,
                            "error_kind": o.error_kind,
                            "duration": o.duration,
                        },
                    )
                    for o in outcomes
                ],
            )

    def schedule_retry(self, o: Outcome, next_at: float) -> None:
        now = time.time()
        with self._db.tx() as c:
            c.execute(
                "UPDATE files SET state=?, attempts=attempts+1, error_kind=?, reason=?, next_attempt_at=?, "
                "updated_at=? WHERE id=?",
                (RETRYING, o.error_kind, display(o.reason or ""), next_at, now, o.id),
            )
            self._add_attempts(c, [(o, "retry")])
            message = f"{o.error_kind}: {o.reason}; next try in {next_at - now:.1f}s"
            self._events.write(c, [(now, "retry_wait", o.id, message, None)])

    @staticmethod
    def _add_attempts(c, items: list[tuple[Outcome, str]]) -> None:
        """One attempts row per (outcome, how it ended), numbered by the file's attempts so far."""
        c.executemany(
            "INSERT INTO attempts(file_id, n, started_at, finished_at, outcome, error_kind, reason, duration) "
            "SELECT ?, attempts, ?, ?, ?, ?, ?, ? FROM files WHERE id=?",
            [
                (
                    o.id,
                    o.started_at,
                    o.started_at + o.duration,
                    ended,
                    o.error_kind,
                    o.reason,
                    o.duration,
                    o.id,
                )
                for o, ended in items
            ],
        )

    def mark_queued(self, file_id: int) -> None:
        with self._db.tx() as c:
            c.execute(
                "UPDATE files SET state=?, dest=NULL, target_state=NULL, updated_at=? WHERE id=?",
                (QUEUED, time.time(), file_id),
            )

    def mark_vanished(self, items: list[tuple[int, str]]) -> None:
        """(id, why) of files gone before they could be processed."""
        now = time.time()
        with self._db.tx() as c:
            c.executemany(
                "UPDATE files SET state=?, reason=?, finished_at=?, updated_at=? WHERE id=?",
                [(VANISHED, display(why), now, now, fid) for fid, why in items],
            )
            self._events.write(c, [(now, "vanished", fid, why, None) for fid, why in items])

    def request_retry(self, ids: list[int]) -> list[RetryMove]:
        """Move failed rows back to queued; returns each one with where its file is now."""
        now = time.time()
        done: list[RetryMove] = []
        with self._db.tx() as c:
            for fid in ids:
                row = c.execute("SELECT name, dest, state, attempts FROM files WHERE id=?", (fid,)).fetchone()
                if row is None or row[2] != FAILED or not row[1]:
                    continue
                c.execute(
                    "UPDATE files SET state=?, src=?, src_ino=NULL, dest=NULL, target_state=NULL, "
                    "next_attempt_at=NULL, updated_at=? WHERE id=?",
                    (QUEUED, row[1], now, fid),
                )
                name = py_path(row[0])
                self._events.write(c, [(now, "retry_requested", fid, name, None)])
                done.append(RetryMove(fid, name, self.from_db(row[1]), row[3]))
        return done

    # --- faults: what could not be moved, and claims undone -----------------------------------

    def unclaim(self, ids: list[int]) -> None:
        """Forget claims whose files never left the inbox (state/ could not take them)."""
        with self._db.tx() as c:
            c.executemany("DELETE FROM events WHERE file_id=?", [(fid,) for fid in ids])
            c.executemany("DELETE FROM files WHERE id=? AND state=?", [(fid, QUEUED) for fid in ids])

    def mark_unmovable(self, items: list[tuple[int, str]]) -> None:
        """(id, why) of files that stay in the inbox because they cannot be moved out of it."""
        now = time.time()
        with self._db.tx() as c:
            c.executemany(
                "UPDATE files SET state=?, error_kind='inbox', reason=?, finished_at=?, updated_at=? WHERE id=?",
                [(FAILED, display(why), now, now, fid) for fid, why in items],
            )
            self._events.write(c, [(now, FAILED, fid, why, {"error_kind": "inbox"}) for fid, why in items])

    def unmovable(self) -> list[tuple[int, str, int | None]]:
        """(id, inbox path, inode) of files left in the inbox because it could not be written."""
        rows = self._db.reader.execute(
            "SELECT id, src, src_ino FROM files WHERE state=? AND error_kind='inbox' AND dest IS NULL",
            (FAILED,),
        ).fetchall()
        return [(fid, py_path(src), ino) for fid, src, ino in rows]

    def requeue(self, ids: list[int]) -> None:
        """Files left in the inbox, now claimed after all: queued again under the same row."""
        now = time.time()
        with self._db.tx() as c:
            c.executemany(
                "UPDATE files SET state=?, error_kind=NULL, reason=NULL, finished_at=NULL, updated_at=? "
                "WHERE id=?",
                [(QUEUED, now, fid) for fid in ids],
            )
            self._events.write(
                c, [(now, "arrived", fid, "taken from the inbox at last", None) for fid in ids]
            )

    # --- reads -----------------------------------------------------------------------------------

    def active(self) -> list[ActiveRow]:
        marks = ",".join("?" * len(ACTIVE_STATES))
        rows = self._db.reader.execute(
            "SELECT id, name, src, src_ino, state, target_state, dest, attempts, arrived_at, next_attempt_at, "
            f"meta, error_kind, reason FROM files WHERE state IN ({marks}) ORDER BY id",
            ACTIVE_STATES,
        ).fetchall()
        return [
            ActiveRow(r[0], py_path(r[1]), self.from_db(r[2]), *r[3:6], self.from_db(r[6]), *r[7:])
            for r in rows
        ]

    def dests_in(self, folder: str) -> list[str]:
        """Destinations the journal holds directly inside `folder`."""
        prefix = py_path(self.to_db(folder.rstrip("/"))) + "/"
        read = self._db.reader
        rows = read.execute(
            "SELECT dest FROM files WHERE dest >= ? AND dest < ?", (prefix, prefix[:-1] + "0")
        ).fetchall()
        # Destinations with undecodable names are stored as BLOBs, which sort after all TEXT.
        raw = os.fsencode(prefix)
        rows += read.execute(
            "SELECT dest FROM files WHERE typeof(dest) = 'blob' AND substr(dest, 1, ?) = ?", (len(raw), raw)
        ).fetchall()
        return [self.from_db(d) for d in (py_path(r[0]) for r in rows) if "/" not in d[len(prefix) :]]

    def find_done_by_sha(self, sha256: str, exclude_id: int) -> int | None:
        row = self._db.reader.execute(
            "SELECT id FROM files WHERE sha256=? AND state='done' AND id<>? ORDER BY id LIMIT 1",
            (sha256, exclude_id),
        ).fetchone()
        return row[0] if row else None

    def page(
        self,
        state: str | None = None,
        kind: str | None = None,
        q: str | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> list[FileRecord]:
        """Files newest first, filtered; `before` (an id) pages on."""
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
        return [self._record(r) for r in self._db.reader.execute(sql, args).fetchall()]

    def detail(self, file_id: int) -> FileDetail | None:
        """One file with its result's meta, its attempts and its events."""
        row = self._db.reader.execute(
            f"SELECT {FILE_COLUMNS}, meta FROM files WHERE id=?", (file_id,)
        ).fetchone()
        if row is None:
            return None
        return FileDetail(
            file=self._record(row[:-1]),
            meta=json.loads(row[-1]) if row[-1] else {},
            attempts=self.attempts(file_id),
            events=self._events.for_file(file_id),
        )

    def attempts(self, file_id: int) -> list[Attempt]:
        rows = self._db.reader.execute(
            "SELECT n, started_at, finished_at, outcome, error_kind, reason, duration FROM attempts "
            "WHERE file_id=? ORDER BY id",
            (file_id,),
        ).fetchall()
        return [Attempt(*r) for r in rows]

    def failed_ids(self, limit: int = 100_000) -> list[int]:
        rows = self._db.reader.execute(
            "SELECT id FROM files WHERE state=? ORDER BY id LIMIT ?", (FAILED, limit)
        ).fetchall()
        return [r[0] for r in rows]
