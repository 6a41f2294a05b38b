"""Alert grouping, as Alertmanager does it: the first alert of a group waits `group_wait` to
gather company, then one message goes out saying how many; later news in the group goes out at
most every `group_interval`; a condition still active is repeated after `repeat_interval`.
500 failures in a minute make one message that says 500, not 500 messages.

The groups can be saved and loaded (state()/load()): the notifier keeps them in the journal, so
alerts gathering in group_wait when the engine restarts go out after the start.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


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
        self._changed = False

    def state(self, force: bool = False) -> list[dict[str, Any]] | None:
        """The groups as plain data if they changed since the last call (None: unchanged)."""
        with self._lock:
            if not (self._changed or force):
                return None
            self._changed = False
            return [{**asdict(g), "samples": list(g.samples)} for g in self._groups.values()]

    def load(self, groups: list[dict[str, Any]]) -> None:
        with self._lock:
            for g in groups:
                samples = deque(g.pop("samples"), maxlen=10)
                self._groups[g["key"]] = Group(**g, samples=samples)

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
            self._changed = True

    def set_active(self, key: str, active: bool) -> None:
        with self._lock:
            g = self._groups.get(key)
            if g is not None and g.active != active:
                g.active = active
                self._changed = True

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
                        self._changed = True
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
                    self._changed = True
        return out
