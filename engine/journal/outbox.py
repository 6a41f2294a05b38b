"""The outbox table: notifications wait here until delivered, so a restart or a dead server
loses none."""

from __future__ import annotations

import json
import time
from typing import Any

from ..model import OutboxItem, encode_json
from .codec import display
from .db import Database

COLUMNS = "id, channel, state, attempts, last_error, payload"


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, channel: str, payload: dict[str, Any]) -> int:
        now = time.time()
        with self._db.tx() as c:
            return c.execute(
                "INSERT INTO outbox(channel, created_at, payload, next_attempt_at) VALUES (?,?,?,?)",
                (channel, now, encode_json(payload), now),
            ).lastrowid

    def due(self, now: float, channel: str, limit: int = 20) -> list[OutboxItem]:
        """A channel's items due by `now`, oldest first (each channel reads only its own)."""
        rows = self._db.reader.execute(
            f"SELECT {COLUMNS} FROM outbox WHERE state='pending' AND channel=? AND next_attempt_at <= ? "
            "ORDER BY id LIMIT ?",
            (channel, now, limit),
        ).fetchall()
        return [_item(r) for r in rows]

    def next_due(self, channel: str) -> float | None:
        return self._db.reader.execute(
            "SELECT min(next_attempt_at) FROM outbox WHERE state='pending' AND channel=?", (channel,)
        ).fetchone()[0]

    def done(self, item_id: int, state: str, error: str | None = None, next_at: float | None = None) -> None:
        """state: sent | pending (retry at next_at) | dead."""
        now = time.time()
        with self._db.tx() as c:
            c.execute(
                "UPDATE outbox SET state=?, attempts=attempts+1, last_error=?, next_attempt_at=coalesce(?, "
                "next_attempt_at), sent_at=CASE WHEN ?='sent' THEN ? ELSE sent_at END WHERE id=?",
                (state, display(error) if error else None, next_at, state, now, item_id),
            )

    def items(self, channel: str | None = None) -> list[OutboxItem]:
        sql = f"SELECT {COLUMNS} FROM outbox" + (" WHERE channel=?" if channel else "") + " ORDER BY id"
        return [_item(r) for r in self._db.reader.execute(sql, (channel,) if channel else ()).fetchall()]


def _item(row: tuple) -> OutboxItem:
    i, channel, state, attempts, error, payload = row
    return OutboxItem(i, channel, state, attempts, error, json.loads(payload))
