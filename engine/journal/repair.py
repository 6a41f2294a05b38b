"""What `chute check` reads from the journal, and the rows `--repair` rebuilds from sidecars."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .codec import db_path, encode, py_path
from .db import Database
from .files import FileStore


@dataclass(frozen=True)
class RowPlace:
    """Where a journal row says its file is."""

    id: int
    name: str
    state: str
    src: str
    dest: str | None
    error_kind: str | None


class RepairStore:
    def __init__(self, db: Database, files: FileStore) -> None:
        self._db = db
        self._files = files  # the one place paths are converted (relative to the root)

    def places(self) -> list[RowPlace]:
        rows = self._db.reader.execute(
            "SELECT id, name, state, src, dest, error_kind FROM files ORDER BY id"
        ).fetchall()
        path = self._files.from_db
        return [RowPlace(i, py_path(n), s, path(src), path(d), e) for i, n, s, src, d, e in rows]

    def rebuild(self, records: list[dict[str, Any]]) -> list[int]:
        """Insert rows rebuilt from sidecars; a record keeps its id unless another row has it."""
        now = time.time()
        ids: list[int] = []
        with self._db.tx() as c:
            for r in records:
                fid = r.get("id")
                taken = fid is None or c.execute("SELECT 1 FROM files WHERE id=?", (fid,)).fetchone()
                if taken:
                    fid = (c.execute("SELECT max(id) FROM files").fetchone()[0] or 0) + 1
                when = r.get("finished_at") or now
                c.execute(
                    "INSERT INTO files(id, name, src, state, kind, size, sha256, attempts, error_kind, reason, "
                    "arrived_at, updated_at, finished_at, duration, dest, meta) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        fid,
                        db_path(r["name"]),
                        self._files.to_db(r["dest"]),
                        r["state"],
                        r.get("kind"),
                        r.get("size"),
                        r.get("sha256"),
                        r.get("attempts") or 1,
                        r.get("error_kind"),
                        r.get("reason"),
                        when,
                        now,
                        when,
                        r.get("duration"),
                        self._files.to_db(r["dest"]),
                        encode(r.get("found") or {}),
                    ),
                )
                c.execute(
                    "INSERT INTO events(ts, type, file_id, message, data) VALUES (?,?,?,?,?)",
                    (now, "rebuilt", fid, f"row rebuilt from the sidecar of {r['dest']}", None),
                )
                ids.append(fid)
        return ids
