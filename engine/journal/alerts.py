"""The alerts table: the alert centre the console and the API show."""

from __future__ import annotations

import json
import time

from ..model import Alert
from .codec import display, encode
from .db import Database


class AlertStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        kind: str,
        severity: str,
        title: str,
        body: str,
        group_key: str | None = None,
        count: int = 1,
        data: dict | None = None,
    ) -> int:
        with self._db.tx() as c:
            cur = c.execute(
                "INSERT INTO alerts(ts, kind, severity, title, body, group_key, count, data) VALUES (?,?,?,?,?,?,?,?)",
                (time.time(), kind, severity, display(title), display(body), group_key, count, encode(data)),
            )
            return cur.lastrowid

    def list(self, limit: int = 100, unread_only: bool = False, before: int | None = None) -> list[Alert]:
        """Newest first; `before` (an id) pages on."""
        where, args = [], []
        if unread_only:
            where.append("read = 0")
        if before is not None:
            where.append("id < ?")
            args.append(before)
        sql = "SELECT id, ts, kind, severity, title, body, count, read, data FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.reader.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [
            Alert(i, ts, kind, sev, title, body, count, bool(read), json.loads(data) if data else {})
            for i, ts, kind, sev, title, body, count, read, data in rows
        ]

    def mark_read(self, alert_id: int, read: bool = True) -> bool:
        """False if there is no such alert."""
        with self._db.tx() as c:
            return c.execute("UPDATE alerts SET read=? WHERE id=?", (int(read), alert_id)).rowcount == 1

    def unread(self) -> int:
        return self._db.reader.execute("SELECT count(*) FROM alerts WHERE read = 0").fetchone()[0]
