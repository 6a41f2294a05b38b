"""The report's queries: what finished in a window of time, and why files failed."""

from __future__ import annotations

from ..model import FAILED, FailureReason, FileRecord, KindCount, Timings
from .db import Database
from .figures import FINAL
from .files import FileStore


class ReportQueries:
    def __init__(self, db: Database, files: FileStore) -> None:
        self._db = db
        self._files = files

    def counts(self, since: float, until: float) -> list[KindCount]:
        rows = self._db.reader.execute(
            "SELECT kind, state, count(*) FROM files WHERE finished_at >= ? AND finished_at < ? "
            "GROUP BY kind, state",
            (since, until),
        ).fetchall()
        return [KindCount(*r) for r in rows]

    def timings(self, since: float, until: float) -> Timings:
        rows = self._db.reader.execute(
            f"SELECT latency, duration FROM files WHERE finished_at >= ? AND finished_at < ? AND state IN {FINAL}",
            (since, until),
        ).fetchall()
        return Timings.of(rows)

    def top_reasons(self, since: float, until: float, limit: int = 10) -> list[FailureReason]:
        """Failure reasons by count."""
        rows = self._db.reader.execute(
            "SELECT coalesce(error_kind, '?'), substr(coalesce(reason, ''), 1, 80) AS r, count(*) AS n FROM files "
            "WHERE state='failed' AND finished_at >= ? AND finished_at < ? GROUP BY 1, 2 ORDER BY n DESC LIMIT ?",
            (since, until, limit),
        ).fetchall()
        return [FailureReason(*r) for r in rows]

    def finished_times(self, since: float, until: float) -> list[float]:
        rows = self._db.reader.execute(
            "SELECT finished_at FROM files WHERE finished_at >= ? AND finished_at < ?", (since, until)
        ).fetchall()
        return [r[0] for r in rows]

    def recent_failures(self, since: float, limit: int = 10) -> list[FileRecord]:
        """The newest failures that finished since `since` (among the last 200 failed)."""
        return [f for f in self._files.page(state=FAILED, limit=200) if (f.finished_at or 0) >= since][:limit]
