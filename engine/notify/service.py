"""The notifier: raises alerts (files failing, jobs failing, health warn/fail, HTTP error bursts),
groups them, records them in the alert centre and queues them in the journaled outbox; a second
thread delivers the outbox to Discord and email with the retry rules each answer calls for.

Nothing here runs on the pipeline's threads except `files_failed`, which only counts in memory.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import TYPE_CHECKING

from ..config import Config
from ..journal import JournalError
from .alerter import Alerter, Flush
from .discord import Delivery, DiscordSender, embed
from .email import EmailSender
from .secrets import discord_webhook, guard_logs, smtp_password

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger(__name__)
MAX_BACKOFF = 600.0
GIVE_UP_AFTER = 7 * 86400


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
        # Identifies the webhook without holding the secret: a new URL (even on the same host) is a
        # new key, so a webhook Discord refused stays off only until the URL changes.
        self._discord_key = "sha256:" + hashlib.sha256(url.encode()).hexdigest()[:16] if url else None
        e = config.email
        self.email = (
            EmailSender(e, smtp_password(config), str(config.relative(e.ca_file)) if e.ca_file else None)
            if e.enabled
            else None
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._health = "pass"
        self._bad_checks: set[str] = set()
        self._http_burst = False

    # --- raising ------------------------------------------------------------------------------

    def files_failed(self, outcomes) -> None:
        failed = [o for o in outcomes if o.target_state == "failed"]
        for o in failed:
            self.alerter.raise_("files_failed", "files_failed", "warning", "{n} file(s) failed", o.message)

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
        self.journal.outbox.add("email", {"subject": subject, "text": text, "html": html})
        self._wake.set()
        return True

    # --- threads ------------------------------------------------------------------------------

    def start(self) -> None:
        for target, name in ((self._alert_loop, "chute-alerts"), (self._deliver_loop, "chute-deliver")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        # A send stuck on a hung server must not hold up SIGTERM: what it was sending is still
        # pending in the journaled outbox and goes out after the next start.
        for t in self._threads:
            t.join(3.0)

    def _alert_loop(self) -> None:
        next_check = time.monotonic() + self.config.alerts.check_every
        while not self._stop.wait(self.tick):
            try:
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + self.config.alerts.check_every
                    self._check()
                flushes = self.alerter.due()
                for f in flushes:
                    self._flush(f)
                if flushes:
                    self._wake.set()
            except Exception:
                log.exception("raising alerts failed; trying again")

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._deliver_due()
            except JournalError:
                if self._stop.is_set():
                    return  # the engine closed the journal while a send was stuck
                log.exception("delivering notifications failed; trying again")
            except Exception:
                log.exception("delivering notifications failed; trying again")
            next_due = self.journal.outbox.next_due()
            wait = 1.0 if next_due is None else min(1.0, max(0.0, next_due - time.time()))
            self._wake.wait(wait)
            self._wake.clear()

    def _deliver_due(self) -> None:
        for item in self.journal.outbox.due(time.time()):
            item_id, channel, payload, attempts = item.id, item.channel, item.payload, item.attempts
            if self._stop.is_set():
                return
            sender = self.discord if channel == "discord" else self.email if channel == "email" else None
            if sender is None:
                continue  # that channel is off now; the item waits for it to come back
            # A webhook Discord refused stays off until the URL changes (a new key).
            if channel == "discord" and self.journal.kv.get(f"discord_disabled:{self._discord_key}"):
                continue
            result = sender.send({k: v for k, v in payload.items() if k != "webhook"})
            self._record(item_id, channel, attempts, payload, result)

    def _record(self, item_id: int, channel: str, attempts: int, payload: dict, result: Delivery) -> None:
        if result.outcome == "sent":
            self.journal.outbox.done(item_id, "sent")
            return
        if result.outcome == "disabled":
            self.journal.outbox.done(item_id, "pending", result.error)
            self.journal.kv.set(f"discord_disabled:{self._discord_key}", result.error or "refused")
            self.journal.alerts.add("notifier", "critical", "Discord webhook refused", result.error or "")
            log.error("%s", result.error)
            return
        if result.outcome == "dead" or attempts * self.retry_base > GIVE_UP_AFTER:
            self.journal.outbox.done(item_id, "dead", result.error)
            log.error("%s notification dropped: %s", channel, result.error)
            return
        delay = result.delay if result.delay is not None else min(MAX_BACKOFF, self.retry_base * 2**attempts)
        self.journal.outbox.done(item_id, "pending", result.error, next_at=time.time() + delay)
        self.journal.events.add(
            "notify_retry",
            f"{channel}: {result.error}; next try in {delay:.0f}s",
            data={"channel": channel, "outbox_id": item_id},
        )
        log.warning("%s notification not delivered (%s); retrying in %.0fs", channel, result.error, delay)
