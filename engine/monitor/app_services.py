"""Alerts, reports and an alert centre for a monitored Flask app, made of the engine's own parts:
the Notifier (grouping, Discord, email, the journaled outbox), the Scheduler, and a journal kept in
a small SQLite file under the app's instance folder (`<instance>/chute/monitor.sqlite`), so a
restart loses no alert and no undelivered message.

Nothing here runs on a request's thread: the checks and deliveries have their own threads, and
the per-request path only records into the collector as before. The threads start with the
first request (a reloader's parent process never serves, so it never runs them) or with
`Monitor.start()`. Several worker processes of one app share the file; one of them, elected by
an flock (another takes over when it exits), runs the checks, the deliveries and the report, so
no message goes out twice. Every process serves the alert centre.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config, Paths, build
from ..journal import Journal
from ..model import Alert, Health
from . import app_report
from .collector import Collector

log = logging.getLogger(__name__)
FOLDER = "chute"
ELECT_EVERY = 30.0  # seconds between tries to take over the checks and deliveries


def app_config(
    root: Path,
    name: str,
    discord: dict[str, Any] | None = None,
    email: dict[str, Any] | None = None,
    report: str = "monday 09:00",
    rules: dict[str, Any] | None = None,
) -> Config:
    """The engine's config sections for an app, validated as chute.toml is (errors name the key:
    `email.to`, `discord.group_wait`, `schedule.report`). Relative secret files are relative to
    the instance folder; secrets themselves come from CHUTE_DISCORD_WEBHOOK, CHUTE_SMTP_PASSWORD or
    those files, never from these dicts."""

    def section(values: dict[str, Any] | None) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in (values or {}).items()}

    data: dict[str, Any] = {"name": name, "schedule": {"backup": "", "retention": "", "report": report}}
    if discord is not None:
        data["discord"] = {"enabled": True, **section(discord)}
    if email is not None:
        data["email"] = {"enabled": True, **section(email)}
    if rules:
        data["alerts"] = section(rules)
    return build(Paths.under(Path(root)), data)


class AppServices:
    """Looks enough like an Engine (config, journal, requests, health) for the Notifier."""

    def __init__(
        self, collector: Collector, folder: Path, config: Config, health: Callable[[], Health]
    ) -> None:
        from ..notify.secrets import discord_webhook, smtp_password

        # A missing or unreadable secret stops the app at start, not silently at the first alert.
        if config.discord.enabled:
            discord_webhook(config)
        if config.email.enabled:
            smtp_password(config)
        self.requests = collector
        self.folder = Path(folder)
        self.config = config
        self._health = health
        self.retry_base = 5.0  # seconds before the first redelivery; doubles each time
        self.elect_every = ELECT_EVERY
        self.journal: Journal | None = None
        self.notifier = None
        self.scheduler = None
        self.error: str | None = None  # why the services could not start
        self._lock_fd: int | None = None
        self._started = False
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._elector: threading.Thread | None = None

    def health(self) -> Health:
        return self._health()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the journal and start electing; never raises (a request must not fail for it):
        a failure is logged once and kept in `error` for the alert routes to say."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                self.journal = Journal(self.folder / "monitor.sqlite")
            except Exception as exc:
                self.error = f"the monitor's alert store under {self.folder} cannot be opened: {exc}"
                log.error("%s", self.error)
                return
            self._elector = threading.Thread(target=self._elect, name="chute-monitor-elect", daemon=True)
            self._elector.start()

    def _elect(self) -> None:
        path = self.folder / "monitor.lock"
        while not self._stop.is_set():
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                self.error = f"cannot open {path}: {exc.strerror or exc}; alerts are not sent from here"
                log.error("%s", self.error)
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._stop.wait(self.elect_every)
                continue
            self._lock_fd = fd
            try:
                self._run_services()
            except Exception:
                log.exception("the monitor's alerts and reports could not start")
            return

    def _run_services(self) -> None:
        from ..notify.service import Notifier
        from ..scheduler import JobSpec, Scheduler
        from ..schedules import parse_when

        self.notifier = Notifier(self, retry_base=self.retry_base)
        self.notifier.start()
        self.scheduler = Scheduler(
            self.journal,
            [JobSpec("report", parse_when(self.config.schedule.report), self._report_job)],
            on_failure=self.notifier.job_failed,
        )
        self.scheduler.start()

    @property
    def running(self) -> bool:
        """This process runs the checks, deliveries and report."""
        return self.notifier is not None

    def stop(self) -> None:
        self._stop.set()
        if self._elector is not None:
            self._elector.join(5)
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.notifier is not None:
            self.notifier.stop()
        if self.journal is not None:
            self.journal.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- the report ----------------------------------------------------------------------------

    def _report_job(self) -> str:
        previous = self.journal.kv.get("last_report")
        doc = app_report.build(self.requests, self.config.name, json.loads(previous) if previous else None)
        self.journal.kv.set("last_report", json.dumps(doc["totals"]))
        saved = self._save(doc)
        emailed = self.notifier.queue_email(
            app_report.subject(doc), app_report.render_text(doc), app_report.render_html(doc)
        )
        return f"{saved.name} saved" + (", email queued" if emailed else "")

    def _save(self, doc: dict[str, Any]) -> Path:
        folder = self.folder / "reports"
        folder.mkdir(exist_ok=True)
        base = stamp = "report-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(doc["generated_at"]))
        n = 1
        while (folder / f"{base}.txt").exists():
            base, n = f"{stamp}.{n}", n + 1
        for ext, text in (("txt", app_report.render_text(doc)), ("html", app_report.render_html(doc))):
            tmp = folder / f".{base}.{ext}.part"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, folder / f"{base}.{ext}")
        return folder / f"{base}.txt"

    def run_report(self) -> dict[str, Any]:
        """Start a report now. RuntimeError: another process runs the reports, or one is running."""
        if self.scheduler is None:
            raise RuntimeError(self.error or "another process of this app runs the reports")
        return self.scheduler.run_now("report")

    # --- the alert centre ----------------------------------------------------------------------

    def _j(self) -> Journal:
        if self.journal is None:
            raise RuntimeError(self.error or "the monitor's alerts have not started")
        return self.journal

    def alerts(self, limit: int = 100, unread_only: bool = False, before: int | None = None) -> list[Alert]:
        return self._j().alerts.list(limit=limit, unread_only=unread_only, before=before)

    def unread(self) -> int:
        return self._j().alerts.unread()

    def mark_read(self, alert_id: int, read: bool = True) -> bool:
        return self._j().alerts.mark_read(alert_id, read)

    def mark_all_read(self) -> int:
        marked = 0
        while batch := self._j().alerts.list(limit=500, unread_only=True):
            for alert in batch:
                marked += self._j().alerts.mark_read(alert.id, True)
        return marked
