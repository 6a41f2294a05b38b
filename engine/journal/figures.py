"""Figures over the files table for the snapshot, /metrics and the per-minute history."""

from __future__ import annotations

from ..model import STATES, DurationBucket, Finished, StateCounts, Timings
from .db import Database

FINAL = "('done','failed','duplicate')"  # the states a processed file ends in


class FileFigures:
    def __init__(self, db: Database) -> None:
        self._db = db

    def counts(self) -> StateCounts:
        """Files by state (every state, zeros included) and by kind and state."""
        counts = dict.fromkeys(STATES, 0)
        kinds: dict[str, dict[str, int]] = {}
        rows = self._db.reader.execute("SELECT state, kind, count(*) FROM files GROUP BY state, kind")
        for state, kind, n in rows.fetchall():
            counts[state] = counts.get(state, 0) + n
            if kind:
                kinds.setdefault(kind, {})[state] = n
        return StateCounts(counts=counts, kinds=kinds)

    def finished_since(self, ts: float) -> int:
        return self._db.reader.execute("SELECT count(*) FROM files WHERE finished_at >= ?", (ts,)).fetchone()[
            0
        ]

    def recent_timings(self, limit: int = 1000) -> Timings:
        """Of the last `limit` files finished."""
        # finished_at is set only on final rows: no state filter, so the index walk needs no sort.
        rows = self._db.reader.execute(
            "SELECT latency, duration FROM files WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return Timings.of(rows)

    def finished(self, since: float) -> list[Finished]:
        """Processed files finished since `since`."""
        rows = self._db.reader.execute(
            f"SELECT state, finished_at, latency, duration FROM files WHERE finished_at >= ? AND state IN {FINAL}",
            (since,),
        ).fetchall()
        return [Finished(*r) for r in rows]

    def duration_buckets(self, bounds: tuple[float, ...]) -> list[DurationBucket]:
        """Every processed file's duration, bucketed by kind and upper bound by SQLite."""
        case = " ".join(f"WHEN duration <= {b!r} THEN {i}" for i, b in enumerate(bounds))
        rows = self._db.reader.execute(
            f"SELECT kind, CASE {case} ELSE {len(bounds)} END AS b, count(*), sum(duration) FROM files "
            f"WHERE duration IS NOT NULL AND kind IS NOT NULL AND state IN {FINAL} GROUP BY kind, b"
        ).fetchall()
        return [DurationBucket(*r) for r in rows]
