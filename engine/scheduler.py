"""The scheduler: the `schedule` library in one engine thread, each job run in its own thread.

Last run, outcome and duration of every job are journaled; a run missed while the engine was
down runs once at start; an "every N" job is next due N after its last journaled run, so
restarts more often than N never starve it (one that never ran is due at once); a job never
overlaps itself (a second trigger while it runs is skipped and said so); a failing job is
recorded and alerted, and its next runs still happen. A run the engine's stop cut short, or that
a kill left unfinished, is recorded as interrupted and alerted.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import schedule

from . import logs
from .journal import Journal
from .model import JobRecord, JobStatus
from .schedules import When

log = logging.getLogger(__name__)


@dataclass
class JobSpec:
    name: str
    when: When | None
    run: Callable[[], str]  # returns a one-line message; raises to fail


class Scheduler:
    def __init__(self, journal: Journal, jobs: list[JobSpec], on_failure: Callable[[str, str], None]) -> None:
        self.journal = journal
        self.jobs = {j.name: j for j in jobs}
        self.on_failure = on_failure
        self._sched = schedule.Scheduler()
        self._entries: dict[str, schedule.Job] = {}
        self._locks = {name: threading.Lock() for name in self.jobs}
        self._running: dict[str, threading.Thread] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> threading.Event:
        """Set when the scheduler stops: long jobs watch it to end early and clean up."""
        return self._stop

    def start(self) -> None:
        last = self.journal.jobs.all()
        self._record_interrupted(last)
        now = time.time()
        for name, job in self.jobs.items():
            if job.when is None:
                continue
            entry = self._entries[name] = job.when.attach(self._sched, lambda n=name: self.trigger(n))
            previous = last.get(name)
            # Started, not finished: a crash mid-run is not re-run in a loop.
            last_run = previous.last_started_at if previous else None
            if job.when.last_due(now, last_run) is not None:
                log.info(
                    "job %s is due (missed while the engine was down, or never run); running it now", name
                )
                self.trigger(name)
            elif job.when.interval is not None and last_run is not None:
                # From the last run, not from this start; a last run in the future (the clock
                # stepped back) waits one interval at most.
                due = min(last_run + job.when.interval, now + job.when.interval)
                entry.next_run = dt.datetime.fromtimestamp(due)
        self._thread = threading.Thread(target=self._loop, name="chute-scheduler", daemon=True)
        self._thread.start()

    def _record_interrupted(self, last: dict[str, JobRecord]) -> None:
        """Runs journaled as started and never finished: the engine was killed during them."""
        for name, row in last.items():
            if row.last_started_at is not None and (row.last_finished_at or 0) < row.last_started_at:
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.last_started_at))
                message = f"interrupted: the engine stopped during the run started {when}"
                self.journal.jobs.finished(name, time.time(), "interrupted", 0.0, message)
                self.on_failure(name, message)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sched.run_pending()
            except Exception:
                log.exception("the scheduler loop failed; it carries on")
            idle = self._sched.idle_seconds
            self._stop.wait(1.0 if idle is None else min(1.0, max(0.05, idle)))

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        deadline = time.monotonic() + timeout
        for t in list(self._running.values()):
            t.join(max(0.1, deadline - time.monotonic()))

    def trigger(self, name: str) -> bool:
        """Start a run in its own thread unless one is already running; True if started."""
        lock = self._locks[name]
        if not lock.acquire(blocking=False):
            self.journal.events.add(
                "job_skipped", f"{name}: skipped, the previous run is still going", data={"job": name}
            )
            return False
        t = threading.Thread(target=self._run, args=(name, lock), name=f"chute-job-{name}", daemon=True)
        self._running[name] = t
        t.start()
        return True

    def _run(self, name: str, lock: threading.Lock) -> None:
        started = time.time()
        t0 = time.monotonic()
        try:
            self.journal.jobs.started(name, started)
            try:
                message = self.jobs[name].run() or "done"
                outcome = "ok"
            except Exception as exc:  # a failing job is recorded; the next runs still happen
                if self._stop.is_set():
                    outcome, message = "interrupted", f"interrupted: the engine was stopping ({exc})"
                else:
                    log.exception("job %s failed", name)
                    outcome, message = "failed", f"{type(exc).__name__}: {exc}"
            self.journal.jobs.finished(name, time.time(), outcome, time.monotonic() - t0, message)
            logs.job_outcome(name, outcome, time.monotonic() - t0, message)
            if outcome != "ok":
                self.on_failure(name, message)
        except Exception:
            log.exception("recording job %s failed", name)
        finally:
            lock.release()
            self._running.pop(name, None)

    def run_now(self, name: str) -> dict[str, Any]:
        if name not in self.jobs:
            raise KeyError(name)
        if not self.trigger(name):
            raise RuntimeError(f"a {name} is already running")
        return {"job": name, "started": True, "message": f"{name} started"}

    def status(self) -> list[JobStatus]:
        last = self.journal.jobs.all()
        out = []
        for name, job in self.jobs.items():
            row = last.get(name) or JobRecord(name)
            entry = self._entries.get(name)
            out.append(
                JobStatus(
                    name=name,
                    when=job.when.spec if job.when else "never",
                    last_run=row.last_started_at,
                    last_finished=row.last_finished_at,
                    last_outcome=row.last_outcome,
                    last_duration=row.last_duration,
                    last_message=row.last_message,
                    runs=row.runs,
                    failures=row.failures,
                    next_run=entry.next_run.timestamp() if entry is not None and entry.next_run else None,
                    running=name in self._running,
                )
            )
        return out
