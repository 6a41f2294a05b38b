"""The jobs table: each scheduled job's last run (the scheduler writes it)."""

from __future__ import annotations

from ..model import JobRecord
from .codec import display
from .db import Database
from .events import EventStore


class JobStore:
    def __init__(self, db: Database, events: EventStore) -> None:
        self._db = db
        self._events = events

    def started(self, name: str, at: float) -> None:
        with self._db.tx() as c:
            c.execute(
                "INSERT INTO jobs(name, last_started_at) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET last_started_at=excluded.last_started_at",
                (name, at),
            )

    def finished(self, name: str, at: float, outcome: str, duration: float, message: str) -> None:
        """outcome: ok | failed | interrupted."""
        with self._db.tx() as c:
            c.execute(
                "UPDATE jobs SET last_finished_at=?, last_outcome=?, last_duration=?, last_message=?, "
                "runs=runs+1, failures=failures+? WHERE name=?",
                (at, outcome, duration, display(message), int(outcome != "ok"), name),
            )
            self._events.write(c, [(at, f"job_{outcome}", None, f"{name}: {message}", {"job": name})])

    def all(self) -> dict[str, JobRecord]:
        """Every job that ever ran, by name."""
        rows = self._db.reader.execute(
            "SELECT name, last_started_at, last_finished_at, last_outcome, last_duration, last_message, runs, "
            "failures FROM jobs"
        ).fetchall()
        return {r[0]: JobRecord(*r) for r in rows}
