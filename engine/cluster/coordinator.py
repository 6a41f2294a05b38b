"""The engine's side of the cluster: dispatch through an outbox, leases, results, heartbeats.

The engine stays the coordinator: it claims, journals and places; only processing moves. Two
threads: the sender drains the dispatch outbox into the broker (a broker that is down is tried
again, nothing is lost meanwhile); the lease keeper sends again what waited too long, takes back
files from workers that went silent, and notices a Redis that restarted empty.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import ClusterConfig, Config
from ..journal import Journal
from ..model import DONE, FAILED, Dispatch, Outcome, WorkerInfo
from .broker import broker_url, make_broker, redact
from .command import TOKEN_ENV as WORKER_TOKEN_ENV
from .protocol import StaleAttempt, message
from .store import Accepted, DispatchStore

log = logging.getLogger(__name__)
EPOCH_KEY = "cluster_epoch"
# (file id, name, attempts so far, outcome, outputs by suffix) -> where the original was placed
Place = Callable[[int, str, int, Outcome, dict[str, Path]], str]


class Coordinator:
    def __init__(
        self,
        config: ClusterConfig,
        journal: Journal,
        work_path: Callable[[int], str],
        tmp_dir: str,
        worker_token: str,
        place: Place,
    ) -> None:
        self.config = config
        self.kinds = frozenset(config.kinds)
        self.store = DispatchStore(journal.db, journal.events)
        self.events = journal.events
        self.work_path = work_path  # where the pipeline keeps a claimed file
        self.tmp_dir = tmp_dir
        self.worker_token = worker_token
        self._place = place
        self.url = broker_url(config.broker)
        self.broker = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.kv = journal.kv
        self._epoch = journal.kv.get(EPOCH_KEY) or secrets.token_hex(8)
        self._broker_down: str | None = None  # why the last send failed, said once

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.broker = make_broker(self.url)
        again = self.store.recover(self.config.lease, self.config.dispatch_timeout)
        if again:
            log.info("%d file(s) whose results were being placed are sent to the workers again", again)
        for target, name in ((self._send_loop, "chute-dispatch"), (self._lease_loop, "chute-leases")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        log.info(
            "dispatching %s to workers through %s queue %r",
            ", ".join(sorted(self.kinds)),
            redact(self.url),
            self.config.queue,
        )

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(5)
        if self.broker is not None:
            self.broker.close()

    def wants(self, kind: str) -> bool:
        return kind in self.kinds

    def dispatch(self, items: list[Dispatch]) -> None:
        """Called by the pipeline instead of processing: journaled, then sent by the sender."""
        self.store.dispatch(items, time.time() + self.config.dispatch_timeout)
        self._wake.set()

    # --- the outbox ----------------------------------------------------------------------------

    def _send_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                sent = self.send_pending()
                backoff = 0.5
            except Exception as exc:
                self._broker_failed(exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if not sent:
                self._wake.wait(1.0)
                self._wake.clear()

    def send_pending(self) -> int:
        pending = self.store.pending()
        done: list[int] = []
        try:
            for oid, task in pending:
                if task is not None:
                    if self.config.shared_work:
                        name = os.path.basename(self.work_path(task.id))
                        task = replace(task, path=os.path.join(self.config.shared_work, name))
                    self.broker.enqueue(message(task, self.config.queue))
                done.append(oid)
        finally:
            # What was sent is struck off even when a later send fails (a resend is harmless:
            # the attempt token makes a second delivery of the same attempt a no-op).
            if done:
                self.store.sent(done)
        if done:
            self._broker_back()
        return len(done)

    def _broker_failed(self, exc: Exception) -> None:
        """Say once per outage that the broker cannot be reached (health shows it meanwhile)."""
        if self._broker_down is None:
            log.warning("cannot reach the broker %s: %s; trying again", redact(self.url), exc)
        self._broker_down = str(exc)

    def _broker_back(self) -> None:
        if self._broker_down is not None:
            log.info("the broker %s answers again", redact(self.url))
            self._broker_down = None

    # --- leases --------------------------------------------------------------------------------

    def _lease_loop(self) -> None:
        tick = min(1.0, self.config.lease / 4)
        while not self._stop.wait(tick):
            try:
                self.expire()
            except Exception:
                log.exception("lease check failed; trying again")
            try:
                self.check_broker_memory()
                self._broker_back()
            except Exception as exc:
                self._broker_failed(exc)

    def expire(self) -> None:
        result = self.store.expire(time.time(), self.config.dispatch_timeout, self.config.max_deliveries)
        if result.resent or result.redispatched:
            self._wake.set()
        if result.given_up:
            self._fail_lost(result.given_up)

    def check_broker_memory(self) -> None:
        """Redis restarted empty loses every message not yet taken: send those again at once.

        The engine keeps a mark in Redis (and its value in the journal, so a restart of the
        engine is not mistaken for one of Redis): the mark gone means Redis lost its data."""
        client = getattr(self.broker, "client", None)
        if client is None:
            return  # RabbitMQ keeps durable queues across restarts
        key = f"chute:{self.config.queue}:epoch"
        found = client.get(key)
        if found is not None and found.decode() == self._epoch:
            return
        if found is None and self.kv.get(EPOCH_KEY) == self._epoch:
            n = self.store.resend_waiting()
            why = (
                f"the broker {redact(self.url)} lost its messages (restarted empty?); {n} file(s) sent again"
            )
            log.warning("%s", why)
            self.events.add("broker_lost", why, data={"resent": n})
            self._wake.set()
        elif found is not None:
            log.warning(
                "another engine marked queue %r on %s: give each engine its own [cluster] queue",
                self.config.queue,
                redact(self.url),
            )
        client.set(key, self._epoch)
        self.kv.set(EPOCH_KEY, self._epoch)

    def _fail_lost(self, rows: list[Accepted]) -> None:
        for row in rows:
            reason = f"lost {row.lost} workers while processing (the last was {row.worker})"
            outcome = self._outcome(row, FAILED, {}, "lost", reason, time.time(), 0.0)
            self._place(row.id, row.name, row.attempts, outcome, {})
        self.store.forget([r.id for r in rows])

    # --- the worker routes ---------------------------------------------------------------------

    def fetch(self, file_id: int, token: str, worker: str) -> str:
        """The path of a file a worker may take under `token` (it is now processing there)."""
        if not self.store.start(file_id, token, worker, time.time() + self.config.lease):
            raise StaleAttempt(f"file {file_id}: attempt {token[:8]}… is not current (done, or sent again)")
        path = self.work_path(file_id)
        if not os.path.exists(path):
            raise StaleAttempt(f"file {file_id} has no working copy any more")
        return path

    def deliver(self, file_id: int, token: str, worker: str, result: dict[str, Any], uploads: list) -> dict:
        """Place a worker's result if `token` is the file's current attempt; else StaleAttempt."""
        row = self.store.accept(file_id, token, worker, time.time() + self.config.lease)
        if row is None:
            raise StaleAttempt(f"file {file_id}: attempt {token[:8]}… is not current; its result is dropped")
        outputs: dict[str, Path] = {}
        folder = Path(self.tmp_dir, str(file_id))
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for upload in uploads:
            path = folder / f"output{upload.filename}"
            upload.save(path)
            outputs[upload.filename] = path
        meta = dict(result["meta"])
        if result["state"] == DONE and row.note:
            meta["note"] = row.note
        outcome = self._outcome(
            row,
            result["state"],
            meta,
            result["error_kind"],
            result["reason"],
            result["started_at"],
            result["duration"],
        )
        dest = self._place(row.id, row.name, row.attempts, outcome, outputs)
        self.store.forget([file_id])
        return {"id": file_id, "state": outcome.target_state, "dest": dest}

    @staticmethod
    def _outcome(
        row: Accepted, state: str, meta: dict, error_kind, reason, started: float, duration: float
    ) -> Outcome:
        message = row.name if state == DONE else f"{row.name}: {reason}"
        return Outcome(
            id=row.id,
            target_state=state,
            kind=row.kind,
            size=row.size,
            sha256=row.sha256,
            started_at=started,
            duration=duration,
            meta=meta,
            error_kind=error_kind,
            reason=reason,
            message=message,
        )

    def heartbeat(self, info: dict[str, Any], held: list[tuple[int, str]]) -> dict:
        now = time.time()
        self.store.beat({**info, "in_flight": len(held)}, now)
        if held:
            self.store.extend(info["worker"], held, now + self.config.lease)
        return {"lease": self.config.lease, "interval": max(0.2, min(10.0, self.config.lease / 3))}

    # --- what operators see --------------------------------------------------------------------

    def workers(self) -> list[WorkerInfo]:
        return self.store.workers(alive_after=time.time() - self.config.lease)

    def health(self) -> dict[str, list[dict[str, Any]]]:
        alive = sum(1 for w in self.workers() if w.alive)
        waiting = self.store.waiting()
        status = "warn" if waiting and not alive else "pass"
        checks = {"cluster:workers": [{"status": status, "observedValue": alive, "waiting": waiting}]}
        if self._broker_down is not None:
            checks["cluster:broker"] = [{"status": "warn", "output": f"cannot send: {self._broker_down}"}]
        return checks


def attach(config: Config, journal: Journal, pipeline) -> Coordinator:
    """A coordinator for an engine whose [cluster] has a broker, wired into its pipeline."""
    from ..server.auth import load_or_create

    token, _ = load_or_create(config.paths.state, env=WORKER_TOKEN_ENV, filename="worker-token")
    coordinator = Coordinator(
        config.cluster, journal, pipeline.work_path, pipeline.tmp_dir, token, pipeline.place_remote
    )
    pipeline.dispatcher = coordinator
    return coordinator
