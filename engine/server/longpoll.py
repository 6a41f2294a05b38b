"""Long polls that wait without a thread.

waitress hands every complete request to one of a few worker threads. A console's
`GET /api/v1/events?since=N&wait=10` with nothing new would hold that thread for ten seconds, so
eight consoles would starve /health/live, /metrics and everything else. Instead the server's
`add_task` goes through `LongPolls`: such a request is parked — its connection stays open, no
thread is held — until the journal has an event past its cursor or its wait runs out. Then it goes
to a worker like any request, and the handler (told not to wait) answers at once.

One thread watches the journal for all parked polls. Anything the parker is unsure of (a bad
parameter, a missing token) goes straight to a worker, where the app answers it as usual.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from . import auth
from .app import ApiError, number, whole
from .limits import MAX_ID, MAX_LIMIT, MAX_WAIT

log = logging.getLogger(__name__)
EVENTS_PATH = "/api/v1/events"
# How often the watcher looks at deadlines; a wait ends at most this late.
TICK = 0.25
# News is handed on this long after it starts, so that a burst (a file's `arrived` and `done`
# a few milliseconds apart) reaches each parked console in one answer, not one per event.
LINGER = 0.05


@dataclass
class _Parked:
    channel: Any
    since: int
    deadline: float


def poll_of(request: Any, token: str) -> tuple[int, float] | None:
    """(since, wait) if a parsed waitress request is an authorised events long poll, else None.

    Parameters are read by the app's own parsers, so a poll is parked only if the app would
    accept it; a bad one goes straight on to get its 400."""
    if request is None or request.error or request.command not in ("GET", "HEAD"):
        return None
    if request.path != EVENTS_PATH or not auth.check(request.headers.get("AUTHORIZATION"), token):
        return None
    query = parse_qs(request.query, keep_blank_values=True)
    try:
        since = whole(query.get("since", ["0"])[0], "since", 0, MAX_ID)
        wait = number(query.get("wait", ["0"])[0], "wait", 0.0, MAX_WAIT)
        whole(query.get("limit", ["1"])[0], "limit", 1, MAX_LIMIT)
    except ApiError:
        return None
    return (since, wait) if wait > 0 else None


class LongPolls:
    """Parks event long polls on a waitress server until there is news or their wait ends."""

    def __init__(self, server: Any, engine: Any, token: str) -> None:
        self._engine = engine
        self._token = token
        self._dispatch = server.add_task
        self._cond = threading.Condition()
        self._parked: list[_Parked] = []
        self._closed = False
        self._thread = threading.Thread(target=self._watch, name="chute-longpoll", daemon=True)
        server.add_task = self.add_task

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._parked.clear()  # their connections are closed with the server's
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(5)

    @property
    def parked(self) -> int:
        with self._cond:
            return len(self._parked)

    def add_task(self, channel: Any) -> None:
        """waitress calls this (holding the channel's request lock) when a request is complete."""
        request = channel.requests[0] if channel.requests else None
        poll = poll_of(request, self._token)
        if poll is not None:
            since, wait = poll
            try:
                quiet = self._engine.last_event_id() <= since
            except Exception:  # the engine is stopping: let the app say so
                quiet = False
            if quiet:
                with self._cond:
                    if not self._closed:
                        self._parked.append(_Parked(channel, since, time.monotonic() + wait))
                        self._cond.notify_all()
                        return
        self._dispatch(channel)

    def _watch(self) -> None:
        while True:
            with self._cond:
                while not self._parked and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                since = min(p.since for p in self._parked)
                next_deadline = min(p.deadline for p in self._parked)
            end = time.monotonic() + min(max(next_deadline - time.monotonic(), 0.0), TICK)
            last = self._last_after(since, end - time.monotonic())
            if last is None or last <= since:
                # Woken without news (a closing journal returns at once): do not spin.
                time.sleep(max(end - time.monotonic(), 0.0))
            else:
                time.sleep(LINGER)
                last = self._last_after(last, 0.0) or last
            self._release(last)

    def _last_after(self, since: int, wait: float) -> int | None:
        """The journal's newest event id, once it passes `since` or `wait` runs out (None: the
        journal is not there, as while the engine stops)."""
        try:
            self._engine.events(since=since, limit=1, wait=wait)
            return self._engine.last_event_id()
        except Exception:
            log.debug("journal unavailable to long polls", exc_info=True)
            return None

    def _release(self, last: int | None) -> None:
        now = time.monotonic()
        with self._cond:
            ready, waiting = [], []
            for p in self._parked:
                news = last is not None and last > p.since
                (ready if news or p.deadline <= now or not p.channel.connected else waiting).append(p)
            self._parked = waiting
        for p in ready:
            self._dispatch(p.channel)
