"""The notifier: raises alerts (files failing, jobs failing, health warn/fail, HTTP error bursts),
groups them, records them in the alert centre and queues them in the journaled outbox; each
channel (Discord, email) delivers its part of the outbox on its own thread (delivery.py) with the
retry rules each answer calls for.

Failed files are read from the journal's "failed" events, behind a cursor. The cursor and the
groups being gathered are saved together in the journal (kv "alert_groups") each tick and at
stop, so a restart (even a kill -9) during group_wait loses no alert and counts none twice: the
next start goes on from the saved cursor. Nothing here runs on the pipeline's threads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from typing import TYPE_CHECKING

from ..config import Config
from ..journal import JournalError
from .alerter import Alerter, Flush
from .delivery import ChannelDelivery
from .discord import DiscordSender, embed
from .email import EmailSender, new_message_id
from .secrets import discord_webhook, guard_logs, smtp_password

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger(__name__)
GROUPS_KEY = "alert_groups"


def _key(secret: str) -> str:
    """Names a webhook URL without holding it."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


class Notifier:
    def __init__(self, engine: Engine, retry_base: float = 5.0, tick: float = 0.5) -> None:
        self.engine = engine
        config: Config = engine.config
        self.config = config
        self.journal = engine.journal
        d = config.discord
        self.alerter = Alerter(d.group_wait, d.group_interval, d.repeat_interval)
        self.retry_base = retry_base
        self.tick = tick
        url = discord_webhook(config) if d.enabled else None
        self.discord = DiscordSender(url, d.timeout) if url else None
        if url:
            guard_logs(url)
        # A new URL (even on the same host) is a new key, so a webhook Discord refused stays off
        # only until the URL changes.
        self._discord_key = _key(url) if url else None
        e = config.email
        self.email = (
            EmailSender(e, smtp_password(config), str(config.relative(e.ca_file)) if e.ca_file else None)
            if e.enabled
            else None
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.channels: dict[str, ChannelDelivery] = {}
        if self.discord is not None:
            self.channels["discord"] = ChannelDelivery(
                "discord",
                self.discord.send,
                self.journal,
                f"discord_disabled:{self._discord_key}",
                "Discord webhook refused",
                retry_base,
                self._stop,
            )
        if self.email is not None:
            # The refusal of a login lasts for this run: no hash of a password goes in the journal.
            self.channels["email"] = ChannelDelivery(
                "email", self.email.send, self.journal, None, "email login refused", retry_base, self._stop
            )
        self._cursor = 0  # the last journal event read for failures
        self._saved_cursor = 0
        self._resume()
        self._health = "pass"
        self._bad_checks: set[str] = set()
        self._http_burst = False

    # --- raising ------------------------------------------------------------------------------

    def _read_failures(self) -> None:
        """Raise the files that failed since the cursor, as the journal recorded them."""
        if self.journal.db.identity_problem():
            return  # the journal is gone: reading would create an empty file in its place
        events = self.journal.events
        upto = self.journal.last_event_id
        while self._cursor < upto:
            batch = events.of_type("failed", self._cursor, upto)
            for e in batch:
                self.alerter.raise_(
                    "files_failed", "files_failed", "warning", "{n} file(s) failed", e.message
                )
            self._cursor = batch[-1].id if len(batch) == 1000 else upto

    def job_failed(self, name: str, message: str) -> None:
        self.alerter.raise_(f"job:{name}", "job_failed", "critical", f"the {name} job failed", message)

    def _check(self) -> None:
        health = self.engine.health()
        bad = {k for k, v in health.checks.items() if v[0]["status"] != "pass"}
        # Alert when the status changes, or when a further check fails under an already bad status.
        if health.status != self._health or bad - self._bad_checks:
            if health.status in ("warn", "fail"):
                self.alerter.raise_(
                    "health",
                    "health",
                    "critical" if health.status == "fail" else "warning",
                    f"engine health is {health.status}",
                    "checks: " + ", ".join(sorted(bad)),
                )
            self.alerter.set_active("health", health.status != "pass")
        self._health = health.status
        self._bad_checks = bad
        a = self.config.alerts
        w = self.engine.requests.stats()["windows"]["1m"]
        burst = w["count"] >= a.http_min_requests and w["error_rate"] >= a.http_error_rate
        if burst and not self._http_burst:
            self.alerter.raise_(
                "http_errors",
                "http_errors",
                "warning",
                "HTTP error burst",
                f"{w['errors']} of {w['count']} requests failed in the last minute ({w['error_rate']:.0%})",
            )
        self.alerter.set_active("http_errors", burst)
        self._http_burst = burst

    def _flush(self, f: Flush) -> None:
        body = "\n".join(f.lines)
        if f.count > len(f.lines) and f.lines:
            body += f"\n…and {f.count - len(f.lines)} more"
        self.journal.alerts.add(f.kind, f.severity, f.title, body, group_key=f.key, count=max(f.count, 1))
        if self.discord is not None:
            footer = f"{self.config.name} · {f.total} in this group since the engine started"
            self.journal.outbox.add(
                "discord",
                {"embeds": [embed(f.title, body, f.severity, footer)], "webhook": self._discord_key},
            )

    def queue_email(self, subject: str, text: str, html: str | None) -> bool:
        if self.email is None:
            return False
        payload = {
            "subject": subject,
            "text": text,
            "html": html,
            "created": time.time(),
            "message_id": new_message_id(self.config.email.sender),
        }
        self.journal.outbox.add("email", payload)
        self.channels["email"].wake()
        return True

    # --- threads ------------------------------------------------------------------------------

    def _resume(self) -> None:
        """The groups and cursor saved by the last run (or, the first time, a cursor at now)."""
        saved = self.journal.kv.get(GROUPS_KEY)
        if saved:
            state = json.loads(saved)
            self.alerter.load(state["groups"])
            self._cursor = self._saved_cursor = state["cursor"]
        else:  # the first start with alerts: failures of this run only, not the journal's past
            self._cursor = self.journal.last_event_id
            self._saved_cursor = -1
            self._save_groups()  # saved now, so a kill later resumes from here

    def start(self) -> None:
        t = threading.Thread(target=self._alert_loop, name="chute-alerts", daemon=True)
        t.start()
        self._threads.append(t)
        for channel in self.channels.values():
            channel.thread.start()
            self._threads.append(channel.thread)

    def stop(self) -> None:
        self._stop.set()
        for channel in self.channels.values():
            channel.wake()
        # A send stuck on a hung server must not hold up SIGTERM: what it was sending is still
        # pending in the journaled outbox and goes out after the next start.
        for t in self._threads:
            t.join(3.0)
        # A lost journal (deleted, replaced) is not touched again: a read would create a new file.
        if (not self._threads or not self._threads[0].is_alive()) and not self.journal.db.identity_problem():
            try:
                self._read_failures()  # the last failures, so the next start has them
                self._save_groups()
            except JournalError as exc:
                log.warning("alert groups not saved at stop: %s", exc)

    def _save_groups(self) -> None:
        """The groups and the failure cursor, together, when either moved."""
        groups = self.alerter.state(force=self._cursor != self._saved_cursor)
        if groups is not None:
            self.journal.kv.set(GROUPS_KEY, json.dumps({"cursor": self._cursor, "groups": groups}))
            self._saved_cursor = self._cursor

    def _alert_loop(self) -> None:
        next_check = time.monotonic() + self.config.alerts.check_every
        while not self._stop.wait(self.tick):
            try:
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + self.config.alerts.check_every
                    self._check()
                self._read_failures()
                flushes = self.alerter.due()
                for f in flushes:
                    self._flush(f)
                self._save_groups()
                if flushes and "discord" in self.channels:
                    self.channels["discord"].wake()
            except Exception:
                log.exception("raising alerts failed; trying again")
