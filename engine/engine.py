"""The Engine: watcher + journal + pipeline (+ server), behind a small thread-safe Python API.

This API is the one door to a running engine: the HTTP server, /metrics, the console's
LocalSource, the command line and the reports use the methods under "the API" below and
nothing else. Everything it returns is a plain dataclass from engine.model. Methods that need
a started engine raise EngineError on one that is not; bad arguments raise ValueError.

`Engine.open_journal(config)` gives the same reads over a journal alone (for one-shot commands
while no engine runs); its `retry` queues files for the next start.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from . import __version__
from .backup import remove_leftovers
from .cluster.broker import broker_url
from .config import Config
from .diskhealth import disk_checks
from .journal import Journal, JournalError
from .lock import EngineLock, LockHeld
from .lock import held as lock_held
from .model import (
    ACTIVE_STATES,
    API_PREFIX,
    NOT_RETRIABLE,
    STATES,
    Alert,
    EndpointStats,
    Event,
    FileDetail,
    FilePage,
    Health,
    Histogram,
    JobStatus,
    MinutePoint,
    RequestRecord,
    RetryResult,
    Snapshot,
    WorkerInfo,
    from_dict,
    worst,
)
from .monitor import Collector
from .pipeline import Pipeline
from .processors import Registry
from .stats import DURATION_BUCKETS, DurationHistograms, per_minute, quantiles
from .watcher import Watcher

if TYPE_CHECKING:
    from .check import Finding
    from .cluster.coordinator import Coordinator
    from .journal.reports import ReportQueries
    from .notify.service import Notifier
    from .scheduler import Scheduler

log = logging.getLogger(__name__)
MAX_PAGE = 1000
S = TypeVar("S")


class Service(Protocol):
    """Something that lives and dies with the engine (the HTTP server, a demo app...)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class EngineError(RuntimeError):
    """The engine cannot start or cannot do what was asked; the message says why."""


class Engine:
    def __init__(self, config: Config, registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry or Registry.default(csv_formulas=config.pipeline.csv_formulas)
        self.journal: Journal | None = None
        self.pipeline: Pipeline | None = None
        self.watcher: Watcher | None = None
        self.started_at = time.time()
        self._lock: EngineLock | None = None
        self._running = False
        self._services: list[Service] = []  # started and stopped with the engine
        # The request monitor: the server (or the console's demo app) records into it; its
        # figures are read through the API below.
        self.requests = Collector()
        self.notifier: Notifier | None = None
        self.scheduler: Scheduler | None = None
        self.cluster: Coordinator | None = None  # when [cluster] has a broker
        self.notify_retry_base = 5.0  # seconds before the first redelivery; doubles each time
        self.durations = DurationHistograms()
        self.health_limits = {"queue_warn": 10_000, "disk_warn_bytes": 1 << 30, "disk_fail_bytes": 100 << 20}

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        paths = self.config.paths
        try:
            paths.make()
        except OSError as exc:
            raise EngineError(f"cannot create the folders under {paths.root}: {exc}") from exc
        self._take_lock()
        remove_leftovers(paths)  # before the journal: a killed backup may have filled the disk
        try:
            self.journal = Journal(paths.journal, root=paths.root)
        except JournalError as exc:
            self._release_lock()
            raise EngineError(str(exc)) from None
        self.started_at = time.time()
        self.durations.seed(self.journal.figures.duration_buckets(DURATION_BUCKETS))
        # The watcher hands candidates to the pipeline; the pipeline asks the watcher to look
        # again at a file that changed, or to report a non-regular one.
        self.watcher = Watcher(
            paths.inbox, self.config.watcher, lambda c: self.pipeline.submit(c), self._skipped
        )
        self.pipeline = Pipeline(
            self.config,
            self.journal,
            self.registry,
            on_recheck=self.watcher.recheck,
            on_skipped=self.watcher.report,
        )
        self.pipeline.on_finished.append(
            lambda outcomes: self.durations.observe_many([(o.kind, o.duration) for o in outcomes if o.kind])
        )
        # Before any file moves: the notifier's cursor into the journal counts failures from here
        # (the first scan's, recovery's and the cluster's too).
        self._make_notifier()
        if broker_url(self.config.cluster.broker):
            from .cluster.coordinator import attach

            self.cluster = attach(self.config, self.journal, self.pipeline)
            self.cluster.start()
        self.pipeline.start()
        self.watcher.start()
        self._start_notify_and_jobs()
        self._running = True
        for service in self._services:
            service.start()
        self.journal.events.add("engine_started", f"engine {self.config.name} started (chute {__version__})")
        log.info("watching %s", paths.inbox)

    def _make_notifier(self) -> None:
        from .notify.service import Notifier

        self.notifier = Notifier(self, retry_base=self.notify_retry_base)

    def _start_notify_and_jobs(self) -> None:
        from .scheduler import JobSpec, Scheduler
        from .schedules import parse_when

        self.notifier.start()
        sched = self.config.schedule
        self.scheduler = Scheduler(
            self.journal,
            [
                JobSpec("backup", parse_when(sched.backup), self._backup_job),
                JobSpec("retention", parse_when(sched.retention), self._retention_job),
                JobSpec("report", parse_when(sched.report), self._report_job),
            ],
            on_failure=self.notifier.job_failed,
        )
        self.scheduler.start()

    def run_job(self, name: str) -> dict[str, Any]:
        """Start a scheduled job now (KeyError: no such job; RuntimeError: it is already running)."""
        if self.scheduler is None:
            raise EngineError("the engine is not started")
        return self.scheduler.run_now(name)

    def _backup_job(self) -> str:
        from .backup import Backups
        from .joblock import exclusive

        with exclusive(self.config.paths.state, "backup"):  # `chute backup` may run beside the engine
            return (
                Backups(self.config.paths, self.config.backup, cancel=self.scheduler.stopping).run().message
            )

    def _retention_job(self) -> str:
        from .backup import Backups
        from .retention import clean

        pruned = Backups(self.config.paths, self.config.backup).prune()
        return clean(self.config) + (f"; {len(pruned)} old backup archive(s) removed" if pruned else "")

    def _report_job(self) -> str:
        from . import report

        now = time.time()
        last = self._j().kv.get("last_report_at")
        doc = report.build(self, since=float(last) if last else now - 86400, until=now)
        saved = report.save(doc, self.config.paths.archive)
        self._j().kv.set("last_report_at", str(now))
        totals = doc["totals"]
        subject = (
            f"chute report {self.config.name}: {totals.get('done', 0)} done, {totals.get('failed', 0)} failed"
        )
        emailed = self.notifier is not None and self.notifier.queue_email(
            subject, report.render_text(doc), report.render_html(doc)
        )
        return f"{saved['txt'].name} saved" + (", email queued" if emailed else "")

    def add_service(self, service: Service) -> None:
        """Attach something with start()/stop() that lives and dies with the engine."""
        self._services.append(service)
        if self._running:
            service.start()

    def service(self, kind: type[S]) -> S | None:
        """The first attached service of that type, if any."""
        return next((s for s in self._services if isinstance(s, kind)), None)

    @classmethod
    def open_journal(cls, config: Config) -> Engine:
        """The API over the journal alone, for one-shot commands while no engine runs.

        Raises EngineError when the root has no journal. Close it with stop().
        """
        path = config.paths.journal
        if not path.exists():
            raise EngineError(f"no journal at {path}: has an engine ever run on {config.paths.root}?")
        engine = cls(config)
        try:
            engine.journal = Journal(path, root=config.paths.root)
        except JournalError as exc:
            raise EngineError(str(exc)) from None
        return engine

    @staticmethod
    def running_on(config: Config) -> bool:
        """Whether an engine holds the lock of this root now (in any process)."""
        return lock_held(config.paths.state)

    @property
    def running(self) -> bool:
        """Started and not stopped (an engine from open_journal never runs)."""
        return self._running

    def stop(self, timeout: float = 10.0) -> None:
        if not self._running:
            if self.journal:
                self.journal.close()
            self._release_lock()
            return
        self._running = False
        if self.journal:
            self.journal.events.interrupt_waiters()
        for service in reversed(self._services):
            try:
                service.stop()
            except Exception:
                log.exception("stopping %r failed", service)
        if self.scheduler:
            self.scheduler.stop()
        if self.watcher:
            self.watcher.stop()
        if self.pipeline:
            self.pipeline.stop(timeout)
        if self.cluster:
            self.cluster.stop()
        if self.notifier:
            self.notifier.stop()
        if self.journal:
            try:
                self.journal.events.add("engine_stopped", f"engine {self.config.name} stopped")
            except JournalError as exc:  # deleted or full: stopping must still stop
                log.warning("could not journal the stop: %s", exc)
            self.journal.close()
        self._release_lock()

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_lock(self) -> None:
        lock = EngineLock(self.config.paths.inbox, self.config.paths.state)
        try:
            lock.acquire()
        except LockHeld as exc:
            raise EngineError(str(exc)) from None
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def check(self, repair: bool = False, running: bool = False) -> list[Finding]:
        """The journal against the disk, both ways; with `repair`, missing rows rebuilt from the
        sidecars (`chute check`). `running`: another process's engine is moving files meanwhile."""
        from .check import check

        return check(self.config, self._j(), repair=repair, running=running or self._running)

    def _skipped(self, name: str, why: str) -> None:
        log.warning("skipped %r in the inbox: %s", name, why)
        if self.journal:
            self.journal.events.add("skipped", f"{name}: {why}", data={"name": name})

    # --- the API -------------------------------------------------------------------------------

    def _j(self) -> Journal:
        if self.journal is None:
            raise EngineError("the engine is not started")
        return self.journal

    def snapshot(self) -> Snapshot:
        """Counts, queue, latencies, liveness and schedules, as of now."""
        j = self._j()
        counts = j.figures.counts()
        timings = j.figures.recent_timings(1000)
        now = time.time()
        return Snapshot(
            name=self.config.name,
            version=__version__,
            started_at=self.started_at,
            uptime=now - self.started_at,
            counts=counts.counts,
            kinds=counts.kinds,
            total=counts.total,
            queue_depth=self.pipeline.queue_depth if self.pipeline else 0,
            in_flight=self.pipeline.in_flight if self.pipeline else 0,
            rate_per_min=float(j.figures.finished_since(now - 60)),
            latency=quantiles(timings.latency),
            processing=quantiles(timings.duration),
            last_scan_at=self.watcher.last_scan_at if self.watcher else None,
            watcher_alive=bool(self.watcher and self.watcher.alive()),
            schedules=self.schedules(),
            last_event_id=j.last_event_id,
            unread_alerts=j.alerts.unread(),
        )

    def schedules(self) -> list[JobStatus]:
        """Each scheduled job with its last and next run (empty without a scheduler)."""
        return self.scheduler.status() if self.scheduler is not None else []

    def files(
        self,
        state: str | None = None,
        kind: str | None = None,
        q: str | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> FilePage:
        """Files newest first, filtered by state, kind and a name substring; pass the page's
        `next_before` as `before` for the next one. ValueError: an unknown state, a bad limit."""
        if state is not None and state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)} (got {state!r})")
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE} (got {limit})")
        items = self._j().files.page(state=state, kind=kind, q=q, limit=limit, before=before)
        return FilePage(items=items, next_before=items[-1].id if len(items) == limit else None)

    def file(self, file_id: int) -> FileDetail | None:
        """One file with its result, attempts and events; None if there is no such file."""
        return self._j().files.detail(file_id)

    def retry(self, ids: list[int]) -> RetryResult:
        """Put failed files back through the pipeline; on a journal alone, queue them for the next start."""
        if self.pipeline is not None:
            return self.pipeline.retry(ids)
        wanted = list(dict.fromkeys(ids))
        moved = {m.id for m in self._j().files.request_retry(wanted)}
        return RetryResult(
            retried=sorted(moved), skipped={fid: NOT_RETRIABLE for fid in wanted if fid not in moved}
        )

    def retry_failed(self) -> RetryResult:
        """retry() every failed file."""
        return self.retry(self._j().files.failed_ids())

    def events(self, since: int = 0, limit: int = 500, wait: float = 0.0) -> list[Event]:
        """Events after the cursor `since`, oldest first; with `wait`, blocks up to that many
        seconds for the first one (a long poll)."""
        j = self._j()
        if wait > 0 and j.last_event_id <= since:
            j.events.wait(since, wait)
        return j.events.since(since, limit)

    def last_event_id(self) -> int:
        """The newest event's id: a cursor that skips the past."""
        return self._j().last_event_id

    def history(self, minutes: int = 60) -> list[MinutePoint]:
        """Per-minute series for sparklines, oldest first: files, failures, latencies, HTTP."""
        if not 1 <= minutes <= 1440:
            raise ValueError(f"minutes must be between 1 and 1440 (got {minutes})")
        now = time.time()
        since = (int(now // 60) - minutes + 1) * 60
        files = per_minute(self._j().figures.finished(since), minutes, now)
        http = {p["minute"]: p for p in self.requests.history(minutes, exclude=API_PREFIX)}
        out = []
        for point in files:
            h = http.get(point["minute"], {})
            out.append(
                MinutePoint(
                    **point,
                    http_requests=h.get("count", 0),
                    http_errors=h.get("errors", 0),
                    http_p95=h.get("p95"),
                )
            )
        return out

    def health(self) -> Health:
        """health+json checks: watcher, journal, queue, disk, scans, and the HTTP monitor."""
        checks: dict[str, list[dict[str, Any]]] = {}
        now = time.time()
        alive = bool(self.watcher and self.watcher.alive() and self.pipeline and self.pipeline.alive())
        checks["watcher:alive"] = [{"status": "pass" if alive else "fail", "observedValue": alive}]
        writable = bool(self.journal and self.journal.writable())
        checks["journal:writable"] = [{"status": "pass" if writable else "fail", "observedValue": writable}]
        depth = self.pipeline.queue_depth if self.pipeline else 0
        checks["queue:depth"] = [
            {"status": "warn" if depth > self.health_limits["queue_warn"] else "pass", "observedValue": depth}
        ]
        p = self.config.paths
        folders = {"inbox": p.inbox, "processed": p.processed, "failed": p.failed, "state": p.state}
        folders["backups"] = p.backups
        checks["disk:free"] = disk_checks(
            folders, self.health_limits["disk_warn_bytes"], self.health_limits["disk_fail_bytes"]
        )
        if self.pipeline:
            self.pipeline.journal_problem()
            checks.update(self.pipeline.faults.checks())
        last_scan = self.watcher.last_scan_at if self.watcher else None
        age = now - last_scan if last_scan else None
        limit = 3 * self.config.watcher.scan_interval + 5
        scan = "pass" if age is not None and age <= limit else "warn"
        checks["scan:age"] = [{"status": scan, "observedValue": age, "observedUnit": "s"}]
        checks.update(self.requests.health()["checks"])
        if self.cluster:
            checks.update(self.cluster.health())
        return Health(status=worst([c[0]["status"] for c in checks.values()]), checks=checks)

    # --- for cluster workers (the server's /worker/v1 routes) -----------------------------------

    def _cluster(self) -> Coordinator:
        if self.cluster is None:
            raise EngineError("this engine has no [cluster] broker")
        return self.cluster

    def worker_token(self) -> str | None:
        """The token that opens the worker routes; None without a broker (nothing opens them)."""
        return self.cluster.worker_token if self.cluster else None

    def take_work(self, file_id: int, token: str, worker: str) -> str:
        """The path of a dispatched file for its current attempt; StaleAttempt if overtaken."""
        return self._cluster().fetch(file_id, token, worker)

    def finish_work(
        self, file_id: int, token: str, worker: str, result: dict[str, Any], uploads: list
    ) -> dict:
        """Place a worker's result under its attempt token; StaleAttempt if overtaken."""
        return self._cluster().deliver(file_id, token, worker, result, uploads)

    def worker_heartbeat(self, info: dict[str, Any], held: list[tuple[int, str]]) -> dict[str, float]:
        return self._cluster().heartbeat(info, held)

    def workers(self) -> list[WorkerInfo]:
        """The cluster's workers by their last heartbeats (empty without a broker)."""
        if self.cluster is not None:
            return self.cluster.workers()
        if not broker_url(self.config.cluster.broker):
            return []
        from .cluster.store import DispatchStore  # read from the journal (`chute status`)

        j = self._j()
        return DispatchStore(j.db, j.events).workers(alive_after=time.time() - self.config.cluster.lease)

    def alerts(self, limit: int = 100, unread_only: bool = False, before: int | None = None) -> list[Alert]:
        """The alert centre, newest first; `before` (an id) pages on."""
        return self._j().alerts.list(limit=limit, unread_only=unread_only, before=before)

    def unread_alerts(self) -> int:
        return self._j().alerts.unread()

    def mark_alert_read(self, alert_id: int, read: bool = True) -> bool:
        """False if there is no such alert."""
        return self._j().alerts.mark_read(alert_id, read)

    @property
    def reports(self) -> ReportQueries:
        """The journal's read-only queries over windows of time, for reports."""
        return self._j().reports

    # --- the request monitor's figures ---------------------------------------------------------

    def request_stats(self) -> dict[str, Any]:
        """Totals over every route since start and per window (JSON-ready, as /requests/stats)."""
        return self.requests.stats()

    def endpoints(self) -> list[EndpointStats]:
        """Per route template, busiest first."""
        return [from_dict(EndpointStats, e) for e in self.requests.endpoints()]

    def recent_requests(self, limit: int = 100, route: str | None = None) -> list[RequestRecord]:
        """The latest requests, newest first (only those of `route` if given)."""
        return [from_dict(RequestRecord, r) for r in self.requests.recent(limit, route)]

    def http_histograms(self, bounds: tuple[float, ...]) -> list[Histogram]:
        """Each route's request durations at these upper bounds, with its status codes."""
        return [
            Histogram(
                label=route,
                bounds=bounds,
                cumulative=[sketch.count_at_most(b) for b in bounds],
                count=sketch.count,
                sum=sketch.sum,
                statuses=statuses,
            )
            for route, (sketch, statuses) in sorted(self.requests.route_sketches().items())
        ]

    def processing_histograms(self) -> list[Histogram]:
        """Time in the processor per file, by kind, since the journal began."""
        return [
            Histogram(label=kind, bounds=DURATION_BUCKETS, cumulative=cum[:-1], count=cum[-1], sum=total)
            for kind, (cum, total) in sorted(self.durations.snapshot().items())
        ]

    def wait_idle(self, timeout: float = 30.0, settle: float = 0.3) -> bool:
        """Block until nothing is pending anywhere for `settle` seconds (tests and demos)."""
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            busy = (
                (self.watcher and self.watcher.pending_count())
                or (self.pipeline and not self.pipeline.idle())
                or any(n for s, n in self.snapshot().counts.items() if s in ACTIVE_STATES)
            )
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return True
            time.sleep(0.05)
        return False
