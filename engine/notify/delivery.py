"""Delivery of one channel's outbox (Discord or email) on its own thread.

Each channel reads only its own items, so a disabled or failing channel never holds up another,
and a send stuck on a slow server delays only its own channel (and only up to its deadline).
A rate limit (Discord's 429) pauses the whole channel, not just the item that met it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..journal import Journal, JournalError
from ..model import OutboxItem
from .discord import Delivery

log = logging.getLogger(__name__)
MAX_BACKOFF = 600.0
GIVE_UP_AFTER = 7 * 86400


class ChannelDelivery:
    def __init__(
        self,
        channel: str,
        send: Callable[[dict], Delivery],
        journal: Journal,
        disabled_key: str | None,
        refused_title: str,
        retry_base: float,
        stop: threading.Event,
    ) -> None:
        self.channel = channel
        self.send = send
        self.journal = journal
        # kv key under which this channel's refusal is kept (it names the webhook, so a new URL is
        # tried again); None keeps it for this run only (a new password needs a restart anyway).
        self.disabled_key = disabled_key
        self._refused = False
        self.refused_title = refused_title
        self.retry_base = retry_base
        self._stop = stop
        self._wake = threading.Event()
        self._paused_until = 0.0
        self.thread = threading.Thread(target=self._loop, name=f"chute-deliver-{channel}", daemon=True)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._deliver_due()
            except JournalError:
                if self._stop.is_set():
                    return  # the engine closed the journal while a send was stuck
                log.exception("delivering %s notifications failed; trying again", self.channel)
            except Exception:
                log.exception("delivering %s notifications failed; trying again", self.channel)
            self._wake.wait(self._idle())
            self._wake.clear()

    def _idle(self) -> float:
        now = time.time()
        if self._paused_until > now:
            return min(1.0, self._paused_until - now)
        next_due = self.journal.outbox.next_due(self.channel)
        return 1.0 if next_due is None else min(1.0, max(0.0, next_due - now))

    def _deliver_due(self) -> None:
        if self._refused or (self.disabled_key and self.journal.kv.get(self.disabled_key)):
            return
        for item in self.journal.outbox.due(time.time(), self.channel):
            if self._stop.is_set() or time.time() < self._paused_until:
                return
            result = self.send(item.payload)
            self._record(item, result)
            if result.pause:
                self._paused_until = time.time() + result.pause
            if result.outcome == "disabled":
                return

    def _record(self, item: OutboxItem, result: Delivery) -> None:
        outbox = self.journal.outbox
        if result.outcome == "sent":
            outbox.done(item.id, "sent")
        elif result.outcome == "unconfirmed":
            outbox.done(item.id, "sent", result.error)
            self.journal.events.add(
                "notify_unconfirmed", f"{self.channel}: {result.error}", data={"outbox_id": item.id}
            )
        elif result.outcome == "disabled":
            outbox.done(item.id, "pending", result.error)
            self._refused = True
            if self.disabled_key:
                self.journal.kv.set(self.disabled_key, result.error or "refused")
            self.journal.alerts.add("notifier", "critical", self.refused_title, result.error or "")
            log.error("%s", result.error)
        elif result.outcome == "dead" or item.attempts * self.retry_base > GIVE_UP_AFTER:
            outbox.done(item.id, "dead", result.error)
            self.journal.alerts.add(
                "notifier",
                "warning",
                f"{self.channel} notification could not be delivered",
                f"{result.error}; chute gave up on it",
            )
            log.error("%s notification dropped: %s", self.channel, result.error)
        else:
            backoff = min(MAX_BACKOFF, self.retry_base * 2**item.attempts)
            delay = result.delay if result.delay is not None else backoff
            outbox.done(item.id, "pending", result.error, next_at=time.time() + delay)
            self.journal.events.add(
                "notify_retry",
                f"{self.channel}: {result.error}; next try in {delay:.0f}s",
                data={"channel": self.channel, "outbox_id": item.id},
            )
            log.warning(
                "%s notification not delivered (%s); retrying in %.0fs", self.channel, result.error, delay
            )
