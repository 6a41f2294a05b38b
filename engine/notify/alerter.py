"""Alert grouping, as Alertmanager does it: the first alert of a group waits `group_wait` to
gather company, then one message goes out saying how many; later news in the group goes out at
most every `group_interval`; a condition still active is repeated after `repeat_interval`.
500 failures in a minute make one message that says 500, not 500 messages.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Group:
    key: str
    kind: str
    severity: str
    title: str  # with {n} for the count
    first_at: float
    pending: int = 0
    total: int = 0
    samples: deque = field(default_factory=lambda: deque(maxlen=10))
    last_sent_at: float | None = None
    active: bool = False  # a condition (health, HTTP errors) that is still true


@dataclass(frozen=True)
class Flush:
    key: str
    kind: str
    severity: str
    title: str
    lines: list[str]
    count: int
    total: int
    repeat: bool


class Alerter:
    def __init__(
        self,
        group_wait: float,
        group_interval: float,
        repeat_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self.clock = clock
        self._groups: dict[str, Group] = {}
        self._lock = threading.Lock()

    def raise_(self, key: str, kind: str, severity: str, title: str, line: str, count: int = 1) -> None:
        with self._lock:
            g = self._groups.get(key)
            if g is None:
                g = self._groups[key] = Group(key, kind, severity, title, self.clock())
            elif g.pending == 0 and g.last_sent_at is None:
                g.first_at = self.clock()
            g.pending += count
            g.total += count
            g.title = title
            g.severity = severity
            g.samples.append(line)

    def set_active(self, key: str, active: bool) -> None:
        with self._lock:
            g = self._groups.get(key)
            if g is not None:
                g.active = active

    def due(self) -> list[Flush]:
        now = self.clock()
        out = []
        with self._lock:
            for g in self._groups.values():
                if g.pending:
                    wait = self.group_wait if g.last_sent_at is None else self.group_interval
                    start = g.first_at if g.last_sent_at is None else g.last_sent_at
                    if now - start >= wait:
                        out.append(
                            Flush(
                                g.key,
                                g.kind,
                                g.severity,
                                g.title.format(n=g.pending),
                                list(g.samples),
                                g.pending,
                                g.total,
                                False,
                            )
                        )
                        g.pending = 0
                        g.samples.clear()
                        g.last_sent_at = now
                elif g.active and g.last_sent_at is not None and now - g.last_sent_at >= self.repeat_interval:
                    out.append(
                        Flush(
                            g.key,
                            g.kind,
                            g.severity,
                            "still: " + g.title.format(n=g.total),
                            [],
                            0,
                            g.total,
                            True,
                        )
                    )
                    g.last_sent_at = now
        return out
