"""The inbox watcher: watchdog events are hints, scans are the truth.

A file is handed on as a Candidate only when it is complete:
- a close-after-write event, or a rename into the inbox (the safe-writer pattern), takes it at once;
- anything else seen (an open, a scan) waits in `pending` until its size and mtime have stayed
  unchanged for `min_age` by the engine's own clock (never by the mtime, which may lie in the
  future) and no writer holds it open.
A scan runs at start, after an inotify overflow and every `scan_interval` seconds.
Non-regular entries (directories, symlinks, FIFOs, sockets, devices) are never opened; they are
reported once and left alone.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from .config import WatcherConfig

log = logging.getLogger(__name__)


_Look = tuple[tuple[int, int, int], float]


@dataclass(frozen=True)
class Candidate:
    path: str
    name: str
    ino: int  # 0: seen complete by an event, take it as it is when claimed
    size: int
    mtime_ns: int
    seen_at: float  # wall-clock time it was seen complete


def ignore_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    if not patterns:
        return lambda name: False
    regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns), re.DOTALL)
    return lambda name: regex.match(name) is not None


def describe_mode(mode: int) -> str | None:
    """Why an entry is not a regular file, or None when it is one."""
    if stat.S_ISREG(mode):
        return None
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def _make_observer(on_overflow: Callable[[], None]):
    """An inotify observer that never asks for IN_MOVED_FROM (and IN_DELETE).

    The engine moves every claimed file out of the inbox. watchdog holds each IN_MOVED_FROM for
    0.5 s to pair it with an IN_MOVED_TO, and that stalls every event queued behind it: a bare
    handler that renames files out sees ~250 ms median latency. Without IN_MOVED_FROM in the mask,
    a rename into the inbox arrives as an unpaired move (a FileMovedEvent with an empty source).
    """
    if not sys.platform.startswith("linux"):
        from watchdog.observers import Observer

        return Observer()
    from watchdog.observers.api import BaseObserver
    from watchdog.observers.inotify import InotifyFullEmitter
    from watchdog.observers.inotify_c import InotifyConstants as C
    from watchdog.observers.inotify_c import InotifyFD

    # No IN_CREATE either: every writer's open() raises IN_OPEN, which already marks a file as
    # being written; what only IN_CREATE would show (hard links, FIFOs, new directories) the
    # periodic scan finds. That drops a third of the events a burst costs.
    mask = C.IN_MOVED_TO | C.IN_CLOSE_WRITE | C.IN_CLOSE_NOWRITE | C.IN_OPEN | C.IN_DELETE_SELF

    class InboxEmitter(InotifyFullEmitter):
        def queue_event(self, event: FileSystemEvent) -> None:
            # The emitter adds a DirModifiedEvent for the inbox after most file events; nothing
            # here uses them, and in a burst they are a third of the observer's work.
            if event.is_directory and event.event_type == "modified":
                return
            super().queue_event(event)

        def get_event_mask_from_filter(self):
            return type(C.IN_CREATE)(mask)

        def on_thread_start(self) -> None:
            super().on_thread_start()
            group = self._inotify
            original = getattr(group, "on_queue_overflow", None)
            if original is None:
                log.warning("inotify overflow detection unavailable; relying on periodic scans")
                return

            def overflowed() -> None:
                original()
                on_overflow()

            group.on_queue_overflow = overflowed

    class InboxObserver(BaseObserver):
        """watchdog's InotifyObserver with the emitter above: its own inotify descriptor, closed at stop."""

        def __init__(self) -> None:
            self.inotify_fd = InotifyFD()
            self.inotify_fd.start()
            super().__init__(emitter_class=InboxEmitter, inotify_fd=self.inotify_fd)

        def on_thread_stop(self) -> None:
            super().on_thread_stop()
            self.inotify_fd.stop()
            self.inotify_fd.join()

    return InboxObserver()


class Watcher:
    def __init__(
        self,
        inbox: Path,
        config: WatcherConfig,
        on_ready: Callable[[list[Candidate]], None],
        on_skipped: Callable[[str, str], None],
    ) -> None:
        self.inbox = str(Path(inbox).absolute())
        self.config = config
        self._on_ready = on_ready
        self._on_skipped = on_skipped
        self._ignored = ignore_matcher(config.ignore)
        self._lock = threading.Lock()
        # path -> its last look: (ino, size, mtime_ns) and since when (monotonic) it has not changed
        self._pending: dict[str, _Look | None] = {}
        self._opens: dict[str, int] = {}
        self._reported: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._scan_now = threading.Event()
        self._observer = None
        self._threads: list[threading.Thread] = []
        self.last_scan_at: float | None = None
        self.overflows = 0
        self.tick = min(0.25, max(0.02, config.min_age / 4))

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        handler = _Handler(self)
        self._observer = _make_observer(self._overflowed)
        self._observer.schedule(handler, self.inbox, recursive=False)
        self._observer.start()
        # Scan after the watch is in place, so nothing can fall between the two.
        self.scan()
        for target, name in ((self._settle_loop, "chute-settle"), (self._scan_loop, "chute-scan")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._scan_now.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
        for t in self._threads:
            t.join(5)

    def alive(self) -> bool:
        return (
            self._observer is not None
            and self._observer.is_alive()
            and all(e.is_alive() for e in self._observer.emitters)
            and all(t.is_alive() for t in self._threads)
        )

    def _overflowed(self) -> None:
        self.overflows += 1
        log.warning("inotify queue overflowed in %s; scanning the inbox to find what it dropped", self.inbox)
        with self._lock:
            self._opens.clear()  # closes were lost with the rest; the settle check decides now
        self._scan_now.set()

    def recheck(self, path: str) -> None:
        """The claimer found a file changed since it was seen complete: look again."""
        with self._lock:
            self._pending[path] = None

    # --- events (observer thread) --------------------------------------------------------------

    def on_event(self, event: FileSystemEvent) -> None:
        etype = event.event_type
        path = event.dest_path if etype == "moved" else event.src_path
        if not path or os.path.dirname(path) != self.inbox:
            return
        name = os.path.basename(path)
        if self._ignored(name):
            return
        if event.is_directory:
            if etype in ("created", "moved"):
                self._consider(path, name)
            return
        if etype == "closed" or etype == "moved":
            with self._lock:
                opens = self._opens.pop(path, 0) - 1
                if opens > 0:  # another writer still holds it
                    self._opens[path] = opens
                    self._pending[path] = None
                    return
                self._pending.pop(path, None)
            self._ready_now(path, name)
        elif etype == "opened":
            with self._lock:
                self._opens[path] = self._opens.get(path, 0) + 1
                self._pending.setdefault(path, None)
        elif etype == "closed_no_write":
            with self._lock:
                opens = self._opens.pop(path, 0) - 1
                if opens > 0:
                    self._opens[path] = opens
        elif etype == "created":
            with self._lock:
                self._pending.setdefault(path, None)

    def _ready_now(self, path: str, name: str) -> None:
        # No stat here: the claim stats it anyway, a moment later (ino=0 means "as it is then").
        self._on_ready([Candidate(path, name, 0, 0, 0, time.time())])

    def report(self, name: str, st: os.stat_result) -> None:
        key = (name, st.st_ino)
        if key in self._reported:
            return
        self._reported.add(key)
        self._on_skipped(name, f"{describe_mode(st.st_mode)}; left alone in the inbox")

    def _consider(self, path: str, name: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISREG(st.st_mode):
            with self._lock:
                self._pending.setdefault(path, None)
        else:
            self.report(name, st)

    # --- scans and settling --------------------------------------------------------------------

    def scan(self) -> int:
        """List the inbox and put every regular file not yet handed on into `pending`."""
        found = 0
        try:
            with os.scandir(self.inbox) as it:
                entries = list(it)
        except OSError as exc:
            log.error("cannot scan inbox %s: %s", self.inbox, exc)
            return 0
        fresh: list[str] = []
        for entry in entries:
            if self._ignored(entry.name):
                continue
            try:
                regular = entry.is_file(follow_symlinks=False)
            except OSError:
                continue
            if not regular:
                try:
                    self.report(entry.name, entry.stat(follow_symlinks=False))
                except OSError:
                    pass
                continue
            fresh.append(entry.path)
        with self._lock:
            for path in fresh:
                if path not in self._pending:
                    self._pending[path] = None
                    found += 1
        self.last_scan_at = time.time()
        return found

    def _scan_loop(self) -> None:
        while not self._stop.is_set():
            triggered = self._scan_now.wait(self.config.scan_interval)
            if self._stop.is_set():
                return
            if triggered:
                # Bursts overflow again and again; let the queue drain a moment between scans.
                time.sleep(0.2)
                self._scan_now.clear()
            self.scan()

    def _settle_loop(self) -> None:
        min_age = self.config.min_age
        while not self._stop.wait(self.tick):
            with self._lock:
                pending = list(self._pending.items())
                opens = dict(self._opens)
            if not pending:
                continue
            looked = dict(pending)
            ready: list[Candidate] = []
            updates: dict[str, _Look] = {}
            gone: list[str] = []
            now = time.monotonic()
            for path, prev in pending:
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    gone.append(path)
                    continue
                except OSError:
                    continue
                name = os.path.basename(path)
                if not stat.S_ISREG(st.st_mode):
                    self.report(name, st)
                    gone.append(path)
                    continue
                key = (st.st_ino, st.st_size, st.st_mtime_ns)
                # Stable by the engine's own clock: the mtime may lie in the future (times kept by
                # a copy, a skewed NFS server), so it only says whether the file changed.
                if prev is not None and prev[0] == key:
                    if not opens.get(path) and now - prev[1] >= min_age:
                        ready.append(Candidate(path, name, *key, time.time()))
                        gone.append(path)
                else:
                    updates[path] = (key, now)
            with self._lock:
                for path in gone:
                    # Only drop what we looked at: a new event may have re-added it meanwhile.
                    if path in self._pending and self._pending[path] == looked.get(path):
                        del self._pending[path]
                for path, key in updates.items():
                    if path in self._pending:
                        self._pending[path] = key
            if ready:
                self._on_ready(ready)

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._watcher.on_event(event)
        except Exception:  # an odd event must never kill the observer thread
            log.exception("watcher failed on %r", event)
