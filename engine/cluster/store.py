"""The dispatches, dispatch_outbox and workers tables: where each dispatched file is, and who works.

A file handed to the cluster moves queued -> dispatched (sent, waiting for a worker) ->
processing (a worker fetched it) -> placing -> final. Its dispatches row holds the current
attempt token, the worker, and the lease; the dispatch_outbox row written in the same
transaction is the message still to be sent, so a coordinator killed between the two sends it
on start. A result is accepted only under the row's current token, in one UPDATE: exactly one
placement however many times a message is delivered.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from ..journal.codec import display, py_path
from ..journal.db import Database
from ..journal.events import EventStore
from ..model import DISPATCHED, PROCESSING, Dispatch, WorkerInfo
from .protocol import Task

ACCEPTED = "accepted"  # a result under the current token is being placed


def new_token() -> str:
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Accepted:
    """An attempt whose result is to be placed (or that is given up on)."""

    id: int
    name: str
    kind: str | None
    size: int | None
    sha256: str | None
    attempts: int
    note: str | None
    started_at: float
    worker: str | None
    lost: int = 0


@dataclass(frozen=True)
class Expiry:
    resent: int  # waited too long for a worker: sent again under the same token
    redispatched: int  # their worker went silent: sent again under a new token
    given_up: list[Accepted]  # lost max_deliveries workers: to be failed


_ACCEPTED_COLUMNS = (
    "f.id, f.name, f.kind, f.size, f.sha256, f.attempts, d.note, d.started_at, d.worker, d.lost"
)


class DispatchStore:
    def __init__(self, db: Database, events: EventStore) -> None:
        self._db = db
        self._events = events

    # --- dispatch and the outbox ---------------------------------------------------------------

    def dispatch(self, items: list[Dispatch], lease_until: float) -> None:
        """Mark files dispatched and queue their messages, in one transaction."""
        now = time.time()
        with self._db.tx() as c:
            for d in items:
                token = new_token()
                c.execute(
                    "UPDATE files SET state=?, kind=?, size=?, sha256=?, updated_at=? WHERE id=?",
                    (DISPATCHED, d.kind, d.size, d.sha256, now, d.id),
                )
                c.execute(
                    "INSERT OR REPLACE INTO dispatches(file_id, token, attempt, lost, state, worker, lease_until, "
                    "isolated, note, started_at) VALUES (?,?,1,0,?,NULL,?,?,?,?)",
                    (d.id, token, DISPATCHED, lease_until, int(d.isolated), d.note, d.started_at),
                )
                c.execute("INSERT INTO dispatch_outbox(file_id, token) VALUES (?,?)", (d.id, token))
            self._events.write(
                c, [(now, "dispatched", d.id, f"{d.name}: sent to the workers", None) for d in items]
            )

    def pending(self, limit: int = 200) -> list[tuple[int, Task | None]]:
        """(outbox id, task) to send, oldest first; task None when its attempt is no longer current."""
        rows = self._db.reader.execute(
            "SELECT o.id, o.file_id, o.token, d.token, f.name, f.kind, f.size, d.isolated FROM dispatch_outbox o "
            "LEFT JOIN dispatches d ON d.file_id = o.file_id LEFT JOIN files f ON f.id = o.file_id "
            "ORDER BY o.id LIMIT ?",
            (limit,),
        ).fetchall()
        out: list[tuple[int, Task | None]] = []
        for oid, fid, token, current, name, kind, size, isolated in rows:
            if token != current:
                out.append((oid, None))
                continue
            out.append((oid, Task(fid, token, display(py_path(name)), kind, size or 0, bool(isolated))))
        return out

    def sent(self, outbox_ids: list[int]) -> None:
        with self._db.tx() as c:
            c.executemany("DELETE FROM dispatch_outbox WHERE id=?", [(i,) for i in outbox_ids])

    def outbox_size(self) -> int:
        return self._db.reader.execute("SELECT count(*) FROM dispatch_outbox").fetchone()[0]

    def resend_waiting(self) -> int:
        """Queue again every message not yet picked up (the broker lost them); same tokens."""
        with self._db.tx() as c:
            return c.execute(
                "INSERT INTO dispatch_outbox(file_id, token) SELECT file_id, token FROM dispatches WHERE state=?",
                (DISPATCHED,),
            ).rowcount

    # --- a worker at work ----------------------------------------------------------------------

    def start(self, file_id: int, token: str, worker: str, lease_until: float) -> bool:
        """A worker fetched the file under `token`: processing, leased to it. False if stale."""
        now = time.time()
        with self._db.tx() as c:
            row = c.execute(
                "SELECT d.worker, d.state FROM dispatches d JOIN files f ON f.id = d.file_id "
                "WHERE d.file_id=? AND d.token=? AND f.state IN (?,?)",
                (file_id, token, DISPATCHED, PROCESSING),
            ).fetchone()
            if row is None or row[1] not in (DISPATCHED, PROCESSING):
                return False
            c.execute(
                "UPDATE dispatches SET state=?, worker=?, lease_until=? WHERE file_id=?",
                (PROCESSING, worker, lease_until, file_id),
            )
            c.execute("UPDATE files SET state=?, updated_at=? WHERE id=?", (PROCESSING, now, file_id))
            if row[0] != worker:
                self._events.write(
                    c, [(now, "processing", file_id, f"processing on worker {worker}", {"worker": worker})]
                )
        return True

    def accept(self, file_id: int, token: str, worker: str, lease_until: float) -> Accepted | None:
        """Take the result of attempt `token`, once: None when it is stale or already taken."""
        with self._db.tx() as c:
            taken = c.execute(
                "UPDATE dispatches SET state=?, worker=?, lease_until=? WHERE file_id=? AND token=? AND state IN (?,?) "
                "AND (SELECT state FROM files WHERE id=?) IN (?,?)",
                (
                    ACCEPTED,
                    worker,
                    lease_until,
                    file_id,
                    token,
                    DISPATCHED,
                    PROCESSING,
                    file_id,
                    DISPATCHED,
                    PROCESSING,
                ),
            ).rowcount
            if not taken:
                self._events.write(
                    c,
                    [
                        (
                            time.time(),
                            "stale_result",
                            file_id,
                            f"a stale result from worker {worker} was dropped",
                            {"worker": worker},
                        )
                    ],
                )
                return None
            row = c.execute(
                f"SELECT {_ACCEPTED_COLUMNS} FROM files f JOIN dispatches d ON d.file_id = f.id WHERE f.id=?",
                (file_id,),
            ).fetchone()
        return _accepted(row)

    def forget(self, file_ids: list[int]) -> None:
        """The files are placed: their dispatch rows are done."""
        with self._db.tx() as c:
            c.executemany("DELETE FROM dispatches WHERE file_id=?", [(i,) for i in file_ids])

    def extend(self, worker: str, held: list[tuple[int, str]], lease_until: float) -> None:
        """A heartbeat: the files a worker holds under their current tokens keep their lease."""
        with self._db.tx() as c:
            c.executemany(
                "UPDATE dispatches SET lease_until=max(lease_until, ?) WHERE file_id=? AND token=? AND worker=? "
                "AND state=?",
                [(lease_until, fid, token, worker, PROCESSING) for fid, token in held],
            )

    # --- leases --------------------------------------------------------------------------------

    def expire(self, now: float, dispatch_timeout: float, max_deliveries: int) -> Expiry:
        """Deal with every lease that ran out before `now`."""
        resent = redispatched = 0
        given_up: list[Accepted] = []
        with self._db.tx() as c:
            # Rows of files placed meanwhile (by recovery after a restart, say) are done with.
            c.execute(
                "DELETE FROM dispatches WHERE file_id IN (SELECT id FROM files WHERE state NOT IN (?,?))",
                (DISPATCHED, PROCESSING),
            )
            rows = c.execute(
                "SELECT file_id, state, worker, lost, attempt FROM dispatches WHERE lease_until < ?",
                (now,),
            ).fetchall()
            events = []
            for fid, state, worker, lost, attempt in rows:
                if state == DISPATCHED:
                    # Never picked up (the broker may have lost it): the same attempt, sent again.
                    c.execute(
                        "UPDATE dispatches SET lease_until=? WHERE file_id=?", (now + dispatch_timeout, fid)
                    )
                    c.execute(
                        "INSERT INTO dispatch_outbox(file_id, token) SELECT file_id, token FROM dispatches WHERE file_id=?",
                        (fid,),
                    )
                    resent += 1
                    continue
                lost += 1
                token = new_token()  # whatever the silent worker sends later is stale
                if lost >= max_deliveries:
                    c.execute(
                        "UPDATE dispatches SET state=?, token=?, lost=?, lease_until=? WHERE file_id=?",
                        (ACCEPTED, token, lost, now + dispatch_timeout, fid),
                    )
                    row = c.execute(
                        f"SELECT {_ACCEPTED_COLUMNS} FROM files f JOIN dispatches d ON d.file_id = f.id WHERE f.id=?",
                        (fid,),
                    ).fetchone()
                    given_up.append(_accepted(row))
                    continue
                c.execute(
                    "UPDATE dispatches SET state=?, token=?, attempt=?, lost=?, worker=NULL, lease_until=? WHERE file_id=?",
                    (DISPATCHED, token, attempt + 1, lost, now + dispatch_timeout, fid),
                )
                c.execute("UPDATE files SET state=?, updated_at=? WHERE id=?", (DISPATCHED, now, fid))
                c.execute("INSERT INTO dispatch_outbox(file_id, token) VALUES (?,?)", (fid, token))
                events.append(
                    (
                        now,
                        "worker_lost",
                        fid,
                        f"worker {worker} went silent; sent again (attempt {attempt + 1})",
                        {"worker": worker},
                    )
                )
                redispatched += 1
            self._events.write(c, events)
        return Expiry(resent, redispatched, given_up)

    def recover(self, lease: float, dispatch_timeout: float) -> int:
        """At start: results being placed when the engine died had their outputs in state/tmp,
        which is gone: those files are sent again under new tokens. Returns how many.

        Workers could not beat while the engine was down: their leases start again from now."""
        now = time.time()
        with self._db.tx() as c:
            c.execute(
                "UPDATE dispatches SET lease_until=max(lease_until, ?) WHERE state=?",
                (now + lease, PROCESSING),
            )
            fids = [
                r[0]
                for r in c.execute(
                    "SELECT d.file_id FROM dispatches d JOIN files f ON f.id = d.file_id WHERE d.state=? AND "
                    "f.state IN (?,?)",
                    (ACCEPTED, DISPATCHED, PROCESSING),
                )
            ]
            for fid in fids:
                token = new_token()
                c.execute(
                    "UPDATE dispatches SET state=?, token=?, attempt=attempt+1, worker=NULL, lease_until=? WHERE file_id=?",
                    (DISPATCHED, token, now + dispatch_timeout, fid),
                )
                c.execute("UPDATE files SET state=?, updated_at=? WHERE id=?", (DISPATCHED, now, fid))
                c.execute("INSERT INTO dispatch_outbox(file_id, token) VALUES (?,?)", (fid, token))
        return len(fids)

    def waiting(self) -> int:
        """Dispatched files no worker holds yet."""
        return self._db.reader.execute(
            "SELECT count(*) FROM dispatches WHERE state=?", (DISPATCHED,)
        ).fetchone()[0]

    # --- workers -------------------------------------------------------------------------------

    def beat(self, info: dict, now: float) -> None:
        with self._db.tx() as c:
            c.execute(
                "INSERT INTO workers(name, host, pid, version, concurrency, in_flight, done, failed, first_seen, "
                "last_seen) VALUES (:worker, :host, :pid, :version, :concurrency, :in_flight, :done, :failed, :now, "
                ":now) ON CONFLICT(name) DO UPDATE SET host=excluded.host, pid=excluded.pid, "
                "version=excluded.version, concurrency=excluded.concurrency, in_flight=excluded.in_flight, "
                "done=excluded.done, failed=excluded.failed, last_seen=excluded.last_seen",
                {**info, "now": now},
            )

    def workers(self, alive_after: float) -> list[WorkerInfo]:
        rows = self._db.reader.execute(
            "SELECT name, host, pid, version, concurrency, in_flight, done, failed, first_seen, last_seen "
            "FROM workers ORDER BY last_seen DESC LIMIT 500"
        ).fetchall()
        return [WorkerInfo(*r, alive=r[9] >= alive_after) for r in rows]


def _accepted(row: tuple) -> Accepted:
    fid, name, kind, size, sha, attempts, note, started, worker, lost = row
    return Accepted(fid, py_path(name), kind, size, sha, attempts, note, started, worker, lost)
