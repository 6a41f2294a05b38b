"""The journal's SQLite database: one writer connection behind a lock, a reader per thread.

Each public write is one transaction, batched by the callers so a burst costs a few commits,
not thousands; readers use a connection per thread, which WAL lets run beside the writer.
"""

from __future__ import annotations

import os
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
        # Set once the file on disk is no longer the one open here; every write is refused then.
        self.lost: str | None = None
        try:
            self._w = self._connect()
            check_integrity(self._w, self.path)
            found = migrate(self._w)
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if any(word in text for word in ("malformed", "not a database", "corrupt")):
                raise JournalError(damaged(self.path, text)) from exc
            raise JournalError(f"journal {self.path} cannot be opened: {exc}") from exc
        self._identity = self._file_identity()
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

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _file_size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def identity_problem(self) -> str | None:
        """Why the journal file is not the one this engine writes any more (deleted, replaced by
        another file, emptied), or None. Once found, writes are refused: they would go nowhere."""
        if self.lost is None and not self.closed:
            now = self._file_identity()
            if now is None:
                self.lost = f"the journal {self.path} was deleted while the engine ran"
            elif now != self._identity:
                self.lost = f"the journal {self.path} was replaced by another file while the engine ran"
            elif self._file_size() < MIN_DB_SIZE:
                # Never open the file here to look inside: closing any descriptor of it drops
                # this process's POSIX locks, and another process would then take the WAL away.
                self.lost = f"the journal {self.path} was emptied while the engine ran"
            if self.lost:
                self.lost += "; writes are stopped: restart the engine (and see `chute check`)"
        return self.lost

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection."""
        with self._lock:
            if self.closed:
                raise JournalError("journal is closed")
            if self.lost:
                raise JournalError(self.lost)
            self._w.execute("BEGIN IMMEDIATE")
            try:
                yield self._w
                # A full disk fails the COMMIT itself: roll back then too, or the connection
                # stays inside this transaction and every later write fails with it.
                self._w.execute("COMMIT")
            except BaseException:
                if self._w.in_transaction:
                    self._w.execute("ROLLBACK")
                raise
            for hook in self.after_commit:
                hook(self._w)

    def writable(self) -> bool:
        if self.lost:
            return False
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


MIN_DB_SIZE = 512  # a database is at least one page


def check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    """SQLite's quick check at open: a damaged page is found now, not in the middle of a burst."""
    rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    problems = [r[0] for r in rows if r[0] != "ok"]
    if problems:
        raise JournalError(damaged(path, "; ".join(problems)))


def damaged(path: Path, detail: str) -> str:
    return (
        f"journal {path} cannot be opened: it is damaged ({detail}). Nothing was changed. Stop here and keep a copy of it; "
        f"then either recover it with SQLite (`sqlite3 {path} .recover | sqlite3 recovered.sqlite`, "
        f"then put recovered.sqlite in its place), or move it aside and rebuild a journal from the "
        f"sidecars with `chute check --repair` (`chute check` first shows what disagrees)."
    )
