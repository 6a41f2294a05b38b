"""The journal: SQLite in WAL mode, the single source of truth for files, attempts and events.

One database (db.py: a writer connection behind a lock, a reader per thread) and a store per
table, each owning its SQL and returning dataclasses from engine.model:

    journal.files    claim -> place -> final, retries, recovery reads, pages (files, attempts)
    journal.events   the timeline; the one place an event is written; long-poll waits
    journal.figures  counts and timings for the snapshot, /metrics and history
    journal.reports  what finished in a window of time (reports)
    journal.alerts   the alert centre
    journal.jobs     scheduled jobs' last runs
    journal.outbox   notifications waiting for delivery
    journal.kv       small facts kept between runs
    journal.repair   where rows say files are, and rows rebuilt from sidecars (`chute check`)

Migrations are in schema.py, versioned by PRAGMA user_version and run at open.
"""

from __future__ import annotations

from pathlib import Path

from ..model import ActiveRow, Arrival, Outcome
from .alerts import AlertStore
from .codec import db_path, display, py_path
from .db import Database, JournalError
from .events import EventStore
from .figures import FileFigures
from .files import FileStore
from .jobs import JobStore
from .kv import KeyValueStore
from .outbox import OutboxStore
from .repair import RepairStore
from .reports import ReportQueries
from .schema import MIGRATIONS, SCHEMA_VERSION


class Journal:
    def __init__(self, path: Path | str, root: Path | str | None = None) -> None:
        """`root`: the engine's root, under which the files store keeps paths relative."""
        self.db = Database(path)
        self.events = EventStore(self.db)
        self.files = FileStore(self.db, self.events, Path(root) if root is not None else None)
        self.figures = FileFigures(self.db)
        self.reports = ReportQueries(self.db, self.files)
        self.alerts = AlertStore(self.db)
        self.jobs = JobStore(self.db, self.events)
        self.outbox = OutboxStore(self.db)
        self.kv = KeyValueStore(self.db)
        self.repair = RepairStore(self.db, self.files)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def last_event_id(self) -> int:
        return self.events.last_id

    def writable(self) -> bool:
        return self.db.writable()

    def close(self) -> None:
        self.db.close()
        self.events.interrupt_waiters()


__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ActiveRow",
    "Arrival",
    "Journal",
    "JournalError",
    "Outcome",
    "db_path",
    "display",
    "py_path",
]
