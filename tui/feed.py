"""The feed: follows one Source in a worker and posts what changed as messages.

- on connect: a snapshot, an hour of per-minute history (sparklines draw at once), recent events;
- then events by cursor with long polls (an idle attached console costs a few requests a minute),
  a fresh snapshot when something happened, or after `snapshot_every` seconds of quiet (an idle
  console costs next to nothing), and the current minute of history every `history_every` seconds;
- on a broken link: "reconnecting in Ns" with exponential backoff (capped), never giving up;
  on return it catches up from its cursor, or asks the panes to reload if it fell too far behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from chute.engine.model import Event, MinutePoint, Snapshot

from .source import Source, SourceError

log = logging.getLogger(__name__)
RECENT_EVENTS = 40
CATCH_UP_LIMIT = 500


@dataclass
class LinkState:
    state: str  # connecting | live | reconnecting
    updated_at: float | None = None  # when the data on screen last arrived
    retry_in: float | None = None
    error: str | None = None  # the whole message
    reason: str | None = None  # the same in a few words, for the header


class LinkChanged(Message):
    def __init__(self, link: LinkState) -> None:
        super().__init__()
        self.link = link


class SnapshotArrived(Message):
    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class HistoryArrived(Message):
    def __init__(self, points: list[MinutePoint], replace: bool) -> None:
        super().__init__()
        self.points = points
        self.replace = replace  # True: the whole series; False: the latest minutes only


class EventsArrived(Message):
    def __init__(self, events: list[Event], backlog: bool = False) -> None:
        super().__init__()
        self.events = events
        self.backlog = backlog  # recent history shown on connect, not news


class Resync(Message):
    """Too much happened while away to replay: panes reload what they show."""


class Feed:
    def __init__(
        self,
        source: Source,
        post: Callable[[Message], object],
        *,
        wait: float = 5.0,
        snapshot_every: float = 15.0,
        history_every: float = 30.0,
        max_backoff: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.post = post
        self.wait = wait
        self.snapshot_every = snapshot_every
        self.history_every = history_every
        self.max_backoff = max_backoff
        self.clock = clock
        self.cursor: int | None = None
        self.link = LinkState("connecting")

    def _set_link(self, **changes) -> None:
        for k, v in changes.items():
            setattr(self.link, k, v)
        self.post(LinkChanged(LinkState(**vars(self.link))))

    async def _connect(self) -> None:
        snapshot = await self.source.snapshot()
        history = await self.source.history(60)
        if self.cursor is None:
            since = max(0, snapshot.last_event_id - RECENT_EVENTS)
            recent, _ = await self.source.events(since)
            self.post(EventsArrived(recent, backlog=True))
            self.cursor = snapshot.last_event_id
        else:
            missed, last = await self.source.events(self.cursor)
            if len(missed) >= CATCH_UP_LIMIT:
                self.post(Resync())
                self.cursor = snapshot.last_event_id
            else:
                if missed:
                    self.post(EventsArrived(missed))
                self.cursor = last
        self.post(SnapshotArrived(snapshot))
        self.post(HistoryArrived(history, replace=True))

    async def run(self) -> None:
        backoff = 1.0
        connected = False
        last_snapshot = last_history = 0.0
        while True:
            try:
                if not connected:
                    self._set_link(state="connecting", retry_in=None)
                    await self._connect()
                    connected = True
                    last_snapshot = last_history = self.clock()
                    backoff = 1.0
                    self._set_link(state="live", updated_at=self.clock(), error=None, reason=None)
                events, self.cursor = await self.source.events(self.cursor or 0, wait=self.wait)
                now = self.clock()
                if events:
                    self.post(EventsArrived(events))
                if events or now - last_snapshot >= self.snapshot_every:
                    self.post(SnapshotArrived(await self.source.snapshot()))
                    last_snapshot = now
                if now - last_history >= self.history_every:
                    self.post(HistoryArrived(await self.source.history(2), replace=False))
                    last_history = now
                self._set_link(state="live", updated_at=self.clock(), error=None, reason=None)
            except Exception as exc:
                if not isinstance(exc, SourceError):  # a bug must not leave "connecting" for ever
                    log.exception("the feed from %s failed", self.source.name)
                    exc = SourceError(repr(exc), f"console error: {exc.__class__.__name__}")
                connected = False
                await self._wait_out(backoff, exc)
                backoff = min(backoff * 2, self.max_backoff)

    async def _wait_out(self, backoff: float, exc: SourceError) -> None:
        """Count down to the next try, once a second, so the header can say so."""
        deadline = time.monotonic() + backoff
        while (left := deadline - time.monotonic()) > 0:
            self._set_link(state="reconnecting", retry_in=left, error=str(exc), reason=exc.reason)
            await asyncio.sleep(min(1.0, left))
