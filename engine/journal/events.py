"""The events table: the engine's timeline, followed by the console and the API with a cursor.

Every event is written by `EventStore.write`, inside whichever transaction caused it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Any

from ..model import Event
from .codec import display, encode
from .db import Database

# (ts, type, file_id, message, data) of an event to write.
NewEvent = tuple[float, str, int | None, str, dict[str, Any] | None]


class EventStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._cond = threading.Condition()
        self._interrupted = False
        self.last_id = db.reader.execute("SELECT max(id) FROM events").fetchone()[0] or 0
        db.after_commit.append(self._committed)

    def write(self, c: sqlite3.Connection, events: Iterable[NewEvent]) -> None:
        """Write events inside the caller's transaction `c`."""
        c.executemany(
            "INSERT INTO events(ts, type, file_id, message, data) VALUES (?,?,?,?,?)",
            [(ts, type_, fid, display(message), encode(data)) for ts, type_, fid, message, data in events],
        )

    def add(self, type_: str, message: str, file_id: int | None = None, data: dict | None = None) -> None:
        """One event in a transaction of its own."""
        with self._db.tx() as c:
            self.write(c, [(time.time(), type_, file_id, message, data)])

    def _committed(self, c: sqlite3.Connection) -> None:
        newest = c.execute("SELECT max(id) FROM events").fetchone()[0] or 0
        if newest != self.last_id:
            with self._cond:
                self.last_id = newest
                self._cond.notify_all()

    def since(self, since: int = 0, limit: int = 500) -> list[Event]:
        rows = self._db.reader.execute(
            "SELECT id, ts, type, file_id, message, data FROM events WHERE id>? ORDER BY id LIMIT ?",
            (since, limit),
        ).fetchall()
        return _events(rows)

    def of_type(self, type_: str, since: int, upto: int, limit: int = 1000) -> list[Event]:
        """Events of one type with since < id <= upto, oldest first (a reader's cursor walks on)."""
        rows = self._db.reader.execute(
            "SELECT id, ts, type, file_id, message, data FROM events WHERE id>? AND id<=? AND type=? "
            "ORDER BY id LIMIT ?",
            (since, upto, type_, limit),
        ).fetchall()
        return _events(rows)

    def for_file(self, file_id: int, since: int = 0, limit: int = 500) -> list[Event]:
        rows = self._db.reader.execute(
            "SELECT id, ts, type, file_id, message, data FROM events WHERE file_id=? AND id>? ORDER BY id "
            "LIMIT ?",
            (file_id, since, limit),
        ).fetchall()
        return _events(rows)

    def wait(self, since: int, timeout: float) -> bool:
        """Block until an event newer than `since` exists (or timeout); True if there is one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.last_id <= since and not self._db.closed and not self._interrupted:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return self.last_id > since

    def interrupt_waiters(self) -> None:
        """Wake every long-poll now (the engine is stopping)."""
        with self._cond:
            self._interrupted = True
            self._cond.notify_all()


def _events(rows: list[tuple]) -> list[Event]:
    return [Event(i, ts, t, f, m, json.loads(d) if d else {}) for i, ts, t, f, m, d in rows]
