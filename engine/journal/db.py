"""The journal's SQLite database: one writer connection behind a lock, a reader per thread.

Each public write is one transaction, batched by the callers so a burst costs a few commits,
not thousands; readers use a connection per thread, which WAL lets run beside the writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .schema import SCHEMA_VERSION, migrate


class JournalError(RuntimeError):
    pass


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self.closed = False
        # Called under the write lock after each commit, with the writer (the events store
        # learns its newest id this way).
        self.after_commit: list[Callable[[sqlite3.Connection], None]] = []
        try:
            self._w = self._connect()
            found = migrate(self._w)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {self.path} cannot be opened: {exc}") from exc
        if found > SCHEMA_VERSION:
            self._w.close()
            raise JournalError(
                f"journal {self.path} has schema version {found}, newer than this chute ({SCHEMA_VERSION})"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL survives a process kill (the WAL is in the page cache); only power loss
        # can drop the last transactions, which is the trade every WAL user makes for speed.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @property
    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection."""
        with self._lock:
            if self.closed:
                raise JournalError("journal is closed")
            self._w.execute("BEGIN IMMEDIATE")
            try:
                yield self._w
            except BaseException:
                self._w.execute("ROLLBACK")
                raise
            self._w.execute("COMMIT")
            for hook in self.after_commit:
                hook(self._w)

    def writable(self) -> bool:
        try:
            with self._lock:
                self._w.execute("BEGIN IMMEDIATE")
                self._w.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            with self._readers_lock:
                for conn in self._readers:
                    conn.close()
                self._readers.clear()
            try:
                self._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._w.close()
