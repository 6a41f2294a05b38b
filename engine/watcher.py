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


# What the watcher acts on, whichever way it hears of it.
CLOSED, MOVED_IN, OPENED, CLOSED_NO_WRITE, CREATED = "closed", "moved", "opened", "closed_no_write", "created"
_Heard = tuple[str, str, bool]  # (what happened, name in the inbox, is a directory)


def _inotify_reader(inbox: str, on_heard: Callable[[list[_Heard]], None], on_overflow: Callable[[], None]):
    """watchdog's inotify binding, read by one thread that hands each read on as one batch.

    watchdog's Observer carries every event through three threads (reader, emitter, dispatcher)
    and two queues: in a burst that was most of the watcher's CPU and a GIL hand-off per event.
    Here the thread that reads the inotify descriptor decodes the masks itself. The mask never
    asks for IN_MOVED_FROM or IN_DELETE (the engine moves every claimed file out: those would be
    half of all events), nor IN_CREATE: every writer's open() raises IN_OPEN, which already marks
    a file as being written; what only IN_CREATE would show (hard links, FIFOs, new directories)
    the periodic scan finds.
    """
    from watchdog.observers.inotify_c import InotifyConstants as C
    from watchdog.observers.inotify_c import InotifyFD

    mask = C.IN_MOVED_TO | C.IN_CLOSE_WRITE | C.IN_CLOSE_NOWRITE | C.IN_OPEN
    kinds = ((C.IN_CLOSE_WRITE, CLOSED), (C.IN_MOVED_TO, MOVED_IN), (C.IN_OPEN, OPENED))
    kinds += ((C.IN_CLOSE_NOWRITE, CLOSED_NO_WRITE),)
    overflow, isdir = C.IN_Q_OVERFLOW, C.IN_ISDIR

    class InboxReader(InotifyFD):
        def __init__(self) -> None:
            super().__init__()
            self.name = "chute-inotify"
            self.add_callback(os.fsencode(inbox), mask, self, 0)

        # The watch's callback interface: unused, this thread reads the events itself.
        def on_event(self, event) -> None: ...
        def on_watch_deleted(self, wd) -> None: ...
        def on_queue_overflow(self) -> None: ...

        def run(self) -> None:
            while self.should_keep_running():
                heard: list[_Heard] = []
                for event in self.read_events():
                    m = event.mask
                    if m & overflow:
                        on_overflow()
                        continue
                    if not event.name:
                        continue  # the inbox itself (removed, unmounted): health checks say so
                    for bit, kind in kinds:
                        if m & bit:
                            heard.append((kind, os.fsdecode(event.name), bool(m & isdir)))
                            break
                if heard:
                    try:
                        on_heard(heard)
                    except Exception:  # an odd event must never end the reading
                        log.exception("watcher failed on %d inotify events", len(heard))

    return InboxReader()


def _observer(inbox: str, on_heard: Callable[[list[_Heard]], None]):
    """Elsewhere than Linux: watchdog's Observer, each event handed on as it comes."""
    from watchdog.observers import Observer

    names = {"closed": CLOSED, "moved": MOVED_IN, "opened": OPENED}
    names |= {"closed_no_write": CLOSED_NO_WRITE, "created": CREATED}

    class Handler(FileSystemEventHandler):
        def dispatch(self, event: FileSystemEvent) -> None:
            kind = names.get(event.event_type)
            path = os.fsdecode(event.dest_path if event.event_type == "moved" else event.src_path)
            if kind is None or not path or os.path.dirname(path) != inbox:
                return
            try:
                on_heard([(kind, os.path.basename(path), event.is_directory)])
            except Exception:  # an odd event must never kill the observer thread
                log.exception("watcher failed on %r", event)

    observer = Observer()
    observer.schedule(Handler(), inbox, recursive=False)
    return observer


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
        if sys.platform.startswith("linux"):
            self._observer = _inotify_reader(self.inbox, self.heard, self._overflowed)
        else:
            self._observer = _observer(self.inbox, self.heard)
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

    # --- events (the reader thread) ------------------------------------------------------------

    def heard(self, events: list[_Heard]) -> None:
        """What inotify said since the last read: complete files go on together, as one batch."""
        ready: list[Candidate] = []
        dirs: list[str] = []
        now = time.time()
        inbox = self.inbox
        pending, opens = self._pending, self._opens
        with self._lock:
            for kind, name, is_dir in events:
                if self._ignored(name):
                    continue
                path = f"{inbox}/{name}"
                if is_dir:
                    if kind in (CREATED, MOVED_IN):
                        dirs.append(name)
                elif kind in (CLOSED, MOVED_IN):
                    left = opens.pop(path, 0) - 1
                    if left > 0:  # another writer still holds it
                        opens[path] = left
                        pending[path] = None
                        continue
                    pending.pop(path, None)
                    # No stat here: the claim stats it anyway, a moment later (ino=0: "as it is then").
                    ready.append(Candidate(path, name, 0, 0, 0, now))
                elif kind == OPENED:
                    opens[path] = opens.get(path, 0) + 1
                    pending.setdefault(path, None)
                elif kind == CLOSED_NO_WRITE:
                    left = opens.pop(path, 0) - 1
                    if left > 0:
                        opens[path] = left
                elif kind == CREATED:
                    pending.setdefault(path, None)
        for name in dirs:
            self._consider(f"{inbox}/{name}", name)
        if ready:
            self._on_ready(ready)

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
                if prev is not None and now - prev[1] < min_age:
                    # Not due: a file unchanged (same mtime) at both ends of min_age was not
                    # written in between, so two looks suffice; a look every tick cost a stat
                    # per pending file per tick (a backlog of 10,000 is 40,000 stats a second).
                    continue
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
