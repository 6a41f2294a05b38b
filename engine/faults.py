"""Faults that pause the pipeline: a full or read-only folder, a journal that cannot be written.

A fault is said once — one `paused` event, one failing health check naming the folder and the
errno (the health alert follows from it) — however many files or retries run into it, and is
cleared once the operation that met it succeeds again (`resumed`).
"""

from __future__ import annotations

import errno as errnos
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# SQLite says these in words; the errno is what an operator searches for.
_SQLITE_ERRNO = {
    "database or disk is full": errnos.ENOSPC,
    "attempt to write a readonly database": errnos.EROFS,
    "disk I/O error": errnos.EIO,
}


@dataclass(frozen=True)
class Fault:
    where: str  # processed | failed | state | journal
    path: str  # the folder (or the journal file)
    errno: int | None
    what: str  # what could not be done, in words
    since: float

    @property
    def code(self) -> str:
        return errnos.errorcode.get(self.errno, "") if self.errno else ""

    def describe(self) -> str:
        code = f" ({self.code})" if self.code else ""
        return f"{self.what}{code}" if self.path in self.what else f"{self.what}: {self.path}{code}"


def describe_error(exc: BaseException) -> tuple[int | None, str]:
    """(errno, words) for an OSError or an SQLite error."""
    if isinstance(exc, OSError):
        return exc.errno, exc.strerror or str(exc)
    text = str(exc)
    if isinstance(exc, sqlite3.Error):
        for words, number in _SQLITE_ERRNO.items():
            if words in text:
                return number, text
    return None, text


class Faults:
    def __init__(self, on_event: Callable[[str, str, dict], None] = lambda kind, message, data: None) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, Fault] = {}
        self._on_event = on_event
        self.cleared = threading.Event()  # set whenever nothing is faulted
        self.cleared.set()

    def report(self, where: str, path: str | os.PathLike, exc: BaseException, doing: str) -> bool:
        """Record a fault (True when it is new: said now, and only now)."""
        number, words = describe_error(exc)
        with self._lock:
            known = self._active.get(where)
            if known is not None and known.errno == number:
                return False
            what = f"{doing}: {words}" if doing else words
            fault = Fault(where, os.fspath(path), number, what, time.time())
            self._active[where] = fault
            self.cleared.clear()
        log.error("pipeline paused: %s", fault.describe())
        self._say(
            "paused",
            f"pipeline paused: {fault.describe()}; it resumes by itself once this is fixed",
            {"where": where, "path": fault.path, "errno": fault.code},
        )
        return True

    def clear(self, *wheres: str) -> None:
        """The operation that met these faults worked again."""
        if not self._active:
            return  # the hot path: called after every claim and placement
        with self._lock:
            gone = [self._active.pop(w) for w in wheres if w in self._active]
            if not self._active:
                self.cleared.set()
        for fault in gone:
            log.warning("pipeline resumed: %s is fixed", fault.path)
            self._say(
                "resumed",
                f"pipeline resumed: {fault.path} works again (paused {time.time() - fault.since:.0f}s)",
                {"where": fault.where, "path": fault.path},
            )

    def _say(self, kind: str, message: str, data: dict) -> None:
        try:
            self._on_event(kind, message, data)
        except Exception as exc:  # the journal itself may be what is faulted
            log.warning("could not journal %r: %s", message, exc)

    @property
    def paused(self) -> bool:
        return not self.cleared.is_set()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._active.values())

    def get(self, where: str) -> Fault | None:
        return self._active.get(where)

    def checks(self) -> dict[str, list[dict]]:
        """health+json checks, one per fault: `fault:<where>` failing with the folder and errno."""
        return {
            f"fault:{f.where}": [
                {
                    "status": "fail",
                    "componentId": f.path,
                    "observedValue": f.code or None,
                    "output": f"{f.describe()}; the pipeline is paused",
                    "time": f.since,
                }
            ]
            for f in self.active()
        }
