"""Claim -> process -> place, with the journal written before every move.

- claim: a batch of complete files is journaled as `queued`, then each is renamed out of the
  inbox into state/work/<prefix>-<id> (the engine never writes inside the inbox).
- process: small text/json/csv run in the same thread; risky kinds, big files and kinds that cost
  more than PARALLEL_ABOVE a file run in child processes (a timeout, a memory limit, and in
  parallel on the other core). Big files are hashed there too. Transient errors retry with backoff.
- place: by the thread that processed the batch: results are journaled as `placing` with their
  destination, moved, then journaled final.

`kill -9` at any point is repaired by `recover()` at the next start: each journal row says where
its file must be, and recovery finishes or redoes the step it was in. Nothing is processed
twice into two results, and nothing is overwritten: every move refuses an existing name.

A fault (a full or read-only folder, a journal that refuses writes) pauses the lanes: what it
stopped waits (results parked with their originals claimed, arrivals held in the inbox) and the
retry thread redoes it every PROBE_EVERY seconds until it works, which clears the fault.
"""

from __future__ import annotations

import errno
import hashlib
import heapq
import logging
import os
import secrets
import shutil
import sqlite3
import stat
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from . import logs
from .config import Config
from .faults import Faults
from .isolation import IsolatedRunner
from .journal import Journal, JournalError, display
from .model import (
    DISPATCHED,
    DONE,
    DUPLICATE,
    FAILED,
    NOT_RETRIABLE,
    PLACING,
    PROCESSING,
    QUEUED,
    RETRYING,
    ActiveRow,
    Arrival,
    Dispatch,
    Outcome,
    RetryResult,
)
from .placement import (
    ERROR_SUFFIX,
    META_SUFFIX,
    Placer,
    error_document,
    meta_document,
    move,
    read_name,
    write_name,
)
from .processors import Choice, ProcessingError, Registry, Result
from .processors.base import prefetched, run_data, run_inline
from .watcher import Candidate

if TYPE_CHECKING:
    from .cluster.coordinator import Coordinator

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH = 128
READ_ALL_BELOW = 4 * 2**20
HASH_CHUNK = 2**20
ADOPTING = ".adopting-"  # orphans of state/work on their way back in
# An inline kind costing more than this a file (CSV through pandas: ~3 ms) runs in the slow
# lane's child processes in parallel; the trip there and back costs far more than text's whole
# processing (~0.02 ms), so cheap kinds stay in the lane.
PARALLEL_ABOVE = 0.001
LEARN_FROM = 3  # files of a kind whose cost decides (all of them must be costly)
PROBE_EVERY = 0.25  # seconds between attempts to redo what a fault stopped
JOURNAL_ERRORS = (sqlite3.Error, JournalError)


class BatchQueue(Generic[T]):
    """A FIFO that hands out everything waiting (up to `most`) in one go: bursts become batches."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def put_many(self, items: Iterable[T]) -> None:
        with self._cond:
            self._items.extend(items)
            self._cond.notify()

    def get_many(self, most: int, timeout: float) -> list[T]:
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            n = min(most, len(self._items))
            out = [self._items.popleft() for _ in range(n)]
            if self._items:
                self._cond.notify()  # wake another consumer for the rest
            return out

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class _Prepared:
    """What one attempt has learned about a file so far (carried to the slow lane)."""

    started: float  # wall clock, for the attempts table
    t0: float  # perf_counter, for the duration
    size: int | None = None
    sha256: str | None = None
    choice: Choice | None = None
    data: bytes | None = None  # the whole content when small, for an inline processor


@dataclass
class WorkItem:
    id: int
    name: str
    attempts: int  # attempts already made in this claim (transient retries count against the limit)
    before: int = 0  # attempts of earlier claims (an operator's retry starts a fresh claim)
    prepared: _Prepared | None = None  # set when the fast lane hands it to the slow lane
    big: bool = False  # too big for the fast lane: the slow lane hashes and sniffs it
    scratch: bool = False  # state/tmp/<id> was made for it (most small files need none)
    parallel: bool = False  # an inline kind sent to a child process to run beside the fast lane


@dataclass
class _Done:
    item: WorkItem
    outcome: Outcome
    outputs: dict[str, Path]


def _read(
    path: str, stop: threading.Event, most: int | None = None
) -> tuple[int, str, bytes, bytes | None] | None:
    """(size, sha256, first 4 KiB, whole content when small enough to keep for the processor),
    or None, unread, when it is bigger than `most`.

    A big file is hashed a chunk at a time, and gives way when the engine stops (it stays
    queued for the next start): a 16 GB hash must not hold up a SIGTERM.
    """
    # os.open/os.read: a small file costs open, fstat, one read and close (a Python file object
    # added an isatty ioctl, a seek, a second fstat and a read to find the end).
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            raise ProcessingError("empty", "the file is empty (0 bytes)")
        if most is not None and size > most:
            return None
        if size <= READ_ALL_BELOW:
            data = os.read(fd, size + 1)  # a short read of a regular file is its end
            if len(data) > size:  # still growing (a writer kept it open): read to the end
                data += b"".join(iter(lambda: os.read(fd, HASH_CHUNK), b""))
            return size, hashlib.sha256(data).hexdigest(), data[:4096], data
        f = open(fd, "rb")  # noqa: SIM115 (closed below: it owns the descriptor from here)
        fd = -1
    finally:
        if fd >= 0:
            os.close(fd)
    with f:
        head = f.read(4096)
        f.seek(0)
        digest = hashlib.sha256()
        buffer = bytearray(HASH_CHUNK)
        view = memoryview(buffer)
        while n := f.readinto(buffer):
            digest.update(view[:n])
            if stop.is_set():
                raise ProcessingError("stopped", "the engine is stopping", transient=True)
        return size, digest.hexdigest(), head, None


class Pipeline:
    def __init__(
        self,
        config: Config,
        journal: Journal,
        registry: Registry,
        on_recheck: Callable[[str], None] = lambda path: None,
        on_skipped: Callable[[str, os.stat_result], None] = lambda name, st: None,
    ) -> None:
        self.config = config
        self.cfg = config.pipeline
        self.journal = journal
        self.registry = registry
        self.paths = config.paths
        # Plain strings on the hot path: pathlib's parsing was a tenth of a burst's CPU.
        self.work_dir = str(self.paths.work)
        self.tmp_dir = str(self.paths.tmp)
        self.files = journal.files
        self.placer = Placer(self.paths, taken=self.files.dests_in)
        self.runner = IsolatedRunner(self.cfg.isolated_workers, self.cfg.timeout, self.cfg.memory_limit_mb)
        self._on_recheck = on_recheck
        self._on_skipped = on_skipped
        self._unclaimable: set[tuple[str, int]] = set()
        # (path, inode) -> file id of files left in an inbox that cannot be written: one row each.
        self._unmovable: dict[tuple[str, int | None], int] = {}
        self.faults = Faults(lambda kind, message, data: self.journal.events.add(kind, message, data=data))
        # What a fault stopped, redone by the prober until it works: results not yet placed (their
        # originals stay claimed in state/work), placements not yet journaled final, and
        # candidates not yet claimed (still in the inbox).
        self._parked: list[_Done] = []
        self._unfinished: list[_Done] = []
        self._held: dict[str, Candidate] = {}  # by path: a scan during a long pause adds none twice
        self._fault_lock = threading.Lock()
        self._claim_lock = threading.Lock()
        self._next_probe = 0.0
        self._work_prefix = ""
        # Called (in the worker thread) with each batch of outcomes once journaled final.
        self.on_finished: list[Callable[[list[Outcome]], None]] = []
        # Fast lane: candidates to claim and work items to run, taken together by the same thread,
        # which also places what it processed. Every hand-off between threads costs a GIL switch
        # and a burst is made of hand-offs: a separate placing thread made a burst cost 1.5x the
        # CPU per file (4 context switches a file) for fewer files per second.
        self._work: BatchQueue[Candidate | WorkItem] = BatchQueue()
        # Risky or big files wait here for a child process, so they never hold up the fast lane.
        self._slow: BatchQueue[WorkItem] = BatchQueue()
        self._retry_heap: list[tuple[float, int, WorkItem]] = []
        self._retry_lock = threading.Lock()
        self._retry_wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()
        # Seconds the last files of each kind cost to process, to run costly kinds in child
        # processes beside the fast lane: that is how a burst of CSVs uses both cores.
        self._cost: dict[str, deque[float]] = {}  # kind -> seconds a file, its last few files
        # The cluster's coordinator when [cluster] has a broker: chosen kinds go to workers.
        self.dispatcher: Coordinator | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        lanes = [(self._work_loop, f"chute-worker-{i}") for i in range(self.cfg.workers)]
        lanes += [(self._slow_loop, f"chute-isolated-{i}") for i in range(self.cfg.isolated_workers)]
        for target, name in [(self._retry_loop, "chute-retry"), *lanes]:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking new work; let in-flight files finish (or return to the queue) within `timeout`."""
        self._stop.set()
        self._work.close()
        self._slow.close()
        self._retry_wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self.runner.close()
        for t in self._threads:
            t.join(1)

    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    @property
    def queue_depth(self) -> int:
        waiting = len(self._parked) + len(self._unfinished) + len(self._held)
        return len(self._work) + len(self._slow) + len(self._retry_heap) + waiting

    @property
    def in_flight(self) -> int:
        return self._busy

    def idle(self) -> bool:
        return self.queue_depth == 0 and self.in_flight == 0

    def submit(self, candidates: list[Candidate]) -> None:
        if self.faults.paused:
            self._hold(candidates)  # the prober claims them; scans meanwhile add no duplicates
            return
        self._work.put_many(candidates)

    # --- claim ---------------------------------------------------------------------------------

    def _claim_safely(self, batch: list[Candidate]) -> list[WorkItem]:
        """Claim a batch; if it fails, claim one by one so a single odd file cannot block the rest."""
        try:
            return self._claim(batch)
        except JOURNAL_ERRORS as exc:
            self._journal_fault(exc, "cannot record arrivals in the journal")
            self._hold(batch)
            return []
        except Exception:
            if len(batch) == 1:
                c = batch[0]
                key = (c.path, c.ino)
                if key not in self._unclaimable:
                    self._unclaimable.add(key)
                    log.exception("cannot claim %r; it stays in the inbox", c.name)
                return []
        items: list[WorkItem] = []
        for c in batch:
            items += self._claim_safely([c])
        return items

    def _claim(self, batch: list[Candidate]) -> list[WorkItem]:
        # One claimer at a time: the prober (claiming what a pause held) and a lane (claiming
        # what the watcher found meanwhile) may hold the same file; whoever comes second must
        # see it gone from the inbox, not journal a second row for it.
        with self._claim_lock:
            return self._claim_locked(batch)

    def _claim_locked(self, batch: list[Candidate]) -> list[WorkItem]:
        arrivals: list[Arrival] = []
        again: list[tuple[int, Arrival]] = []
        seen: set[str] = set()
        for c in batch:
            if c.path in seen:
                continue
            seen.add(c.path)
            try:
                st = os.lstat(c.path)
            except FileNotFoundError:
                continue  # already claimed through another hint, or removed by its owner
            if not stat.S_ISREG(st.st_mode):
                if not c.ino:
                    self._on_skipped(c.name, st)
                continue
            if c.ino and (st.st_ino, st.st_size, st.st_mtime_ns) != (c.ino, c.size, c.mtime_ns):
                self._on_recheck(c.path)  # changed since it looked complete: let it settle again
                continue
            arrival = Arrival(c.name, c.path, st.st_ino, st.st_size, c.seen_at)
            known = self._unmovable.get((c.path, st.st_ino))
            if known is not None:
                again.append((known, arrival))  # it has its row already: try the move again
            else:
                arrivals.append(arrival)
        items = self._take_again(again) if again else []
        if not arrivals:
            return items
        ids = self.files.claim(arrivals)
        self.faults.clear("journal")
        lost: list[tuple[int, str]] = []
        stuck: list[tuple[int, Arrival, OSError]] = []
        for n, (fid, a) in enumerate(zip(ids, arrivals, strict=True)):
            try:
                self._move_in(a, fid)
            except FileNotFoundError:
                lost.append((fid, "removed from the inbox before it could be claimed"))
                continue
            except OSError as exc:
                if self._inbox_at_fault(exc):
                    stuck.append((fid, a, exc))
                    continue
                # state/ cannot take files: nothing moved, so undo these claims and keep the
                # files (still in the inbox) for when it can.
                rest = list(zip(ids[n:], arrivals[n:], strict=True))
                self._state_fault(exc, [f for f, _ in rest])
                self._hold([Candidate(x.src, x.name, 0, 0, 0, x.arrived_at) for _, x in rest])
                break
            items.append(WorkItem(fid, a.name, 0))
        if items:
            self.faults.clear("state")
        if lost:
            self.files.mark_vanished(lost)
        if stuck:
            self._unmovable_files(stuck)
        return items

    def _move_in(self, a: Arrival, fid: int) -> None:
        work = self.work_path(fid)
        try:
            move(a.src, work)
        except FileExistsError:
            # A file no row owns holds this name (put there by hand?): it steps aside, and the
            # next start takes it back as an arrival. Neither overwrites the other.
            log.warning("%s was in state/work without a journal row; kept aside as %s", work, ADOPTING)
            move(work, os.path.join(self.work_dir, ADOPTING + os.path.basename(work)))
            move(a.src, work)
        write_name(work, a.name)

    def _inbox_at_fault(self, exc: OSError) -> bool:
        """Whether a failed move out of the inbox is the inbox's doing (not state/'s)."""
        if exc.errno == errno.EROFS:
            return bool(os.statvfs(self.paths.inbox).f_flag & os.ST_RDONLY)
        if exc.errno not in (errno.EACCES, errno.EPERM):
            return False
        try:  # can state/work take a new file? then the inbox refused to let this one go
            fd, probe = tempfile.mkstemp(dir=self.work_dir, prefix=".probe-")
        except OSError:
            return False
        os.close(fd)
        os.unlink(probe)
        return True

    def _state_fault(self, exc: OSError, unclaim: list[int]) -> None:
        self.faults.report("state", self.work_dir, exc, "cannot move files out of the inbox into")
        try:
            self.files.unclaim(unclaim)
        except JOURNAL_ERRORS:
            # The rows stay queued with their files in the inbox; a restart takes them from there.
            log.warning("could not undo the claims of %d files; the next start takes them", len(unclaim))

    def _unmovable_files(self, stuck: list[tuple[int, Arrival, OSError]]) -> None:
        """Files an unwritable inbox will not let go: one row and one alert each, not one per scan."""
        rows = []
        now = time.time()
        outcomes = []
        for fid, a, exc in stuck:
            why = (
                f"cannot be moved out of the inbox ({exc.strerror}: {self.paths.inbox}); it stays there "
                "untouched and is taken once the inbox is writable again"
            )
            rows.append((fid, why))
            self._unmovable[(a.src, a.ino)] = fid
            outcomes.append(
                Outcome(
                    id=fid,
                    target_state=FAILED,
                    kind=None,
                    size=a.size,
                    sha256=None,
                    meta={},
                    error_kind="inbox",
                    reason=why,
                    started_at=now,
                    duration=0.0,
                    message=f"{display(a.name)}: {why}",
                )
            )
        self.files.mark_unmovable(rows)
        for hook in self.on_finished:
            hook(outcomes)

    def _take_again(self, again: list[tuple[int, Arrival]]) -> list[WorkItem]:
        items: list[WorkItem] = []
        for fid, a in again:
            try:
                self._move_in(a, fid)
            except OSError:
                continue  # still stuck: its row already says so
            del self._unmovable[(a.src, a.ino)]
            self.files.requeue([fid])
            items.append(WorkItem(fid, a.name, 0))
        return items

    # --- process -------------------------------------------------------------------------------

    def _work_loop(self) -> None:
        self._lane_loop(self._work, BATCH)

    def _slow_loop(self) -> None:
        self._lane_loop(self._slow, 1)

    def _lane_loop(self, queue: BatchQueue, most: int) -> None:
        while not self._stop.is_set():
            if self.faults.paused:
                # A folder or the journal refuses writes: take nothing new until the prober
                # (in the retry thread) has redone what the fault stopped.
                self.faults.cleared.wait(0.2)
                continue
            taken = queue.get_many(most, 0.2)
            if not taken:
                continue
            candidates = [t for t in taken if isinstance(t, Candidate)]
            items = [t for t in taken if not isinstance(t, Candidate)]
            if candidates:
                items += self._claim_safely(candidates)
            if items:
                self._guarded(items, lambda items=items: self._run_batch(items))

    def _guarded(self, items: list[WorkItem], step: Callable[[], None]) -> None:
        """Run one step over a batch, counted in flight; if it fails, its files are tried again later."""
        with self._busy_lock:
            self._busy += len(items)
        try:
            step()
        except JOURNAL_ERRORS as exc:
            self._journal_fault(exc, "cannot write to the journal")
            for item in items:
                self._requeue_later(item, PROBE_EVERY)
        except Exception:
            log.exception("a batch of %d files failed unexpectedly; they will be recovered", len(items))
            for item in items:
                self._requeue_later(item, 5.0)
        finally:
            with self._busy_lock:
                self._busy -= len(items)

    def _run_batch(self, items: list[WorkItem]) -> None:
        results: list[_Done] = []
        for item in items:
            if self._stop.is_set():
                # Leave it queued in the journal: the next start picks it up from state/work.
                continue
            done = self._process(item)
            if done is not None:
                results.append(done)
        if results:
            self._place(results)

    def _process(self, item: WorkItem) -> _Done | None:
        """One attempt at one file: its result to place, or None when it went elsewhere (the slow
        lane, a retry later, vanished, or left queued because the engine is stopping)."""
        prep = item.prepared or _Prepared(started=time.time(), t0=time.perf_counter())
        try:
            if item.prepared is None and not self._examine(item, prep):
                return None
            ran = self._run(item, prep)
            return None if ran is None else self._succeeded(item, prep, *ran)
        except FileNotFoundError:
            self.files.mark_vanished([(item.id, "its working copy in state/work disappeared")])
            return None
        except ProcessingError as exc:
            return self._failed(item, prep, exc)

    def _examine(self, item: WorkItem, prep: _Prepared) -> bool:
        """Read and hash the file, and choose its processor by content and name.

        False when it is too big for the fast lane: it goes to the slow lane before a byte of it
        is read (hashing gigabytes here would hold up every small file behind it), which hashes
        and sniffs it. The size comes from the open file's fstat: no separate stat per file.
        """
        most = None if item.big else self.cfg.inline_max_bytes
        try:
            read = _read(self.work_path(item.id), self._stop, most)
        except PermissionError as exc:
            raise ProcessingError(
                "permission", f"cannot read the file: {exc.strerror}", transient=True
            ) from None
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise ProcessingError(
                "io", f"cannot read the file: {exc.strerror or exc}", transient=True
            ) from None
        if read is None:
            item.big = True
            self._slow.put_many([item])
            return False
        prep.size, prep.sha256, head, prep.data = read
        prep.choice = self.registry.choose(item.name, head)
        return True

    def _run(self, item: WorkItem, prep: _Prepared) -> tuple[Result, str] | None:
        """(result, target state): a duplicate, in this thread, or in a child process; None when
        the file is handed to the slow lane to wait for one, or to the cluster's workers."""
        processor = prep.choice.processor
        path = self.work_path(item.id)
        dup_of = self.files.find_done_by_sha(prep.sha256, item.id) if self.cfg.duplicates == "mark" else None
        if dup_of is not None:
            return Result(meta={"duplicate_of": dup_of}), DUPLICATE
        inline = processor.inline and prep.size <= self.cfg.inline_max_bytes
        if inline and (item.parallel or (item.prepared is None and self._costly(processor.kind))):
            item.parallel, inline = True, False
        if self.dispatcher is not None and self.dispatcher.wants(processor.kind):
            self.dispatcher.dispatch(
                [
                    Dispatch(
                        item.id,
                        item.name,
                        processor.kind,
                        prep.size,
                        prep.sha256,
                        not inline,
                        prep.choice.note,
                        prep.started,
                    )
                ]
            )
            return None
        if inline:
            started = time.perf_counter()
            if prep.data is not None and hasattr(processor, "process_data"):
                result = run_data(processor, prep.data, item.name)
            else:
                workdir = Path(self.tmp_dir, str(item.id))
                with prefetched(path, prep.data):
                    item.scratch = processor.kind not in ("text", "json")  # run_inline makes a dir for these
                    result = run_inline(processor, Path(path), item.name, workdir)
            self._learn(processor.kind, time.perf_counter() - started)
            return result, DONE
        if item.prepared is None and not item.big:
            prep.data = None  # the child process reads the file itself
            item.prepared = prep
            self._slow.put_many([item])
            return None
        workdir = Path(self.tmp_dir, str(item.id))
        workdir.mkdir(exist_ok=True)
        item.scratch = True
        started = time.perf_counter()
        result = self.runner.run(processor, Path(path), item.name, workdir)
        if item.parallel:
            self._learn(processor.kind, time.perf_counter() - started)
        return result, DONE

    def _costly(self, kind: str) -> bool:
        """Whether a file of an inline kind goes to a child process, to run beside the fast lane
        on another core: each of the last files of its kind cost more than PARALLEL_ABOVE.
        (Letting the fast lane run some itself when the children fall behind was slower: pandas
        in this thread holds the GIL the slow lanes need to hand work on.)"""
        recent = self._cost.get(kind)
        return recent is not None and len(recent) == LEARN_FROM and min(recent) > PARALLEL_ABOVE

    def _learn(self, kind: str, seconds: float) -> None:
        """What the last files of this kind cost to process. The least of them decides: one that
        met a garbage collection, or the first, which may import pandas, must not make a cheap
        kind look costly."""
        recent = self._cost.get(kind)
        if recent is None:
            recent = self._cost[kind] = deque(maxlen=LEARN_FROM)
        recent.append(seconds)

    def _succeeded(self, item: WorkItem, prep: _Prepared, result: Result, target: str) -> _Done:
        note = prep.choice.note
        if note:
            result.meta["note"] = note
        outcome = Outcome(
            id=item.id,
            target_state=target,
            kind=prep.choice.processor.kind,
            size=prep.size,
            sha256=prep.sha256,
            meta=result.meta,
            started_at=prep.started,
            duration=time.perf_counter() - prep.t0,
            message=item.name,
        )
        return _Done(item, outcome, result.outputs)

    def _failed(self, item: WorkItem, prep: _Prepared, exc: ProcessingError) -> _Done | None:
        """A failure to place, or None when it is retried later or the engine is stopping."""
        note = prep.choice.note if prep.choice else None
        outcome = Outcome(
            id=item.id,
            target_state=FAILED,
            kind=prep.choice.processor.kind if prep.choice else None,
            size=0 if exc.kind == "empty" else prep.size,
            sha256=prep.sha256,
            meta={"note": note} if note else {},
            error_kind=exc.kind,
            reason=exc.reason,
            started_at=prep.started,
            duration=time.perf_counter() - prep.t0,
            message=f"{item.name}: {exc.reason}",
        )
        if exc.transient and item.attempts + 1 < self.cfg.max_attempts and not self._stop.is_set():
            delay = self.cfg.retry_backoff * (2**item.attempts)
            self.files.schedule_retry(outcome, time.time() + delay)
            self._requeue_later(
                WorkItem(item.id, item.name, item.attempts + 1, before=item.before, scratch=item.scratch),
                delay,
            )
            return None
        if exc.kind == "stopped":
            return None  # the engine is stopping; the file stays queued for the next start
        return _Done(item, outcome, {})

    def work_path(self, file_id: int) -> str:
        """state/work/<journal prefix>-<id>: names no other journal (a deleted one) can collide with."""
        if self._work_prefix:
            return f"{self.work_dir}/{self._work_prefix}-{file_id}"
        return f"{self.work_dir}/{file_id}"

    # --- place ---------------------------------------------------------------------------------

    def place_remote(
        self, fid: int, name: str, attempts: int, outcome: Outcome, outputs: dict[str, Path]
    ) -> str:
        """Place a result worked out elsewhere (a cluster worker); returns where the original went."""
        self._place([_Done(WorkItem(fid, name, attempts, scratch=True), outcome, outputs)])
        return outcome.dest

    def _place(self, results: list[_Done]) -> None:
        """Place each result on its own: a file that cannot be placed stays claimed (parked) and
        pauses the pipeline; files already placed are journaled placed, whatever follows."""
        now = time.time()
        ready: list[_Done] = []
        parked: list[_Done] = []
        refused: set[str] = set()  # folders that failed in this round: the rest wait with them
        try:
            self._place_each(results, now, ready, parked, refused)
        finally:
            if parked:
                with self._fault_lock:
                    self._parked.extend(parked)

    def _place_each(
        self, results: list[_Done], now: float, ready: list[_Done], parked: list[_Done], refused: set[str]
    ) -> None:
        for r in results:
            o = r.outcome
            role = self._role(o)
            if o.dest is None and role not in refused:
                folder = self.placer.folder(o.target_state, o.kind, now)
                suffixes = (*self._sidecar_suffix(o), *r.outputs)
                try:
                    o.dest = self.placer.reserve(folder, r.item.name, suffixes)
                except OSError as exc:
                    refused.add(role)
                    self.faults.report(role, folder, exc, f"cannot create a folder in {role}/")
            (ready if o.dest is not None and role not in refused else parked).append(r)
        if not ready:
            return
        try:
            self.files.begin_place([r.outcome for r in ready])
        except JOURNAL_ERRORS as exc:
            self._journal_fault(exc, "cannot journal placements")
            parked.extend(ready)
            return
        self.faults.clear("journal")
        placed: list[_Done] = []
        for r in ready:
            role = self._role(r.outcome)
            if role in refused:
                parked.append(r)
                continue
            try:
                self._put(r, now)
            except FileExistsError:
                # Someone put a file under the reserved name meanwhile: pick another next time.
                r.outcome.dest = None
                parked.append(r)
                continue
            except OSError as exc:
                if exc.errno == errno.ENOENT and not os.path.exists(self.work_path(r.item.id)):
                    self._vanished(r.item.id, "its working copy in state/work disappeared")
                    continue
                refused.add(role)
                self.faults.report(
                    role, os.path.dirname(r.outcome.dest), exc, f"cannot place files in {role}/"
                )
                parked.append(r)
                continue
            placed.append(r)
            if r.item.scratch:
                shutil.rmtree(os.path.join(self.tmp_dir, str(r.item.id)), ignore_errors=True)
        for role in {self._role(r.outcome) for r in placed} - refused:
            self.faults.clear(role)
        if placed:
            self._finish(placed)

    def _sidecar_suffix(self, o: Outcome) -> tuple[str, ...]:
        if o.target_state == FAILED:
            return (ERROR_SUFFIX,)
        return (META_SUFFIX,) if self.cfg.sidecars == "all" else ()

    @staticmethod
    def _role(o: Outcome) -> str:
        return "failed" if o.target_state == FAILED else "processed"

    def _finish(self, placed: list[_Done]) -> None:
        """Journal placed files final; until the journal takes it they wait, never anything else."""
        outcomes = [r.outcome for r in placed]
        try:
            self.files.finish_place(outcomes)
        except JOURNAL_ERRORS as exc:
            self._journal_fault(exc, "cannot journal placements")
            with self._fault_lock:
                self._unfinished.extend(placed)
            return
        self.faults.clear("journal")
        logs.file_outcomes((r.item.name, r.outcome) for r in placed)
        for hook in self.on_finished:
            hook(outcomes)

    def _vanished(self, file_id: int, why: str) -> None:
        try:
            self.files.mark_vanished([(file_id, why)])
        except JOURNAL_ERRORS as exc:
            self._journal_fault(exc, "cannot write to the journal")

    def _journal_fault(self, exc: BaseException, doing: str) -> None:
        self.faults.report("journal", self.journal.path, exc, doing)

    def _hold(self, candidates: list[Candidate]) -> None:
        with self._fault_lock:
            self._held.update((c.path, c) for c in candidates)

    def _put(self, r: _Done, now: float) -> None:
        o = r.outcome
        attempts = r.item.before + r.item.attempts + 1
        if o.target_state == FAILED:
            sidecar = (
                ERROR_SUFFIX,
                error_document(
                    r.item.name,
                    o.id,
                    o.error_kind or "error",
                    o.reason or "",
                    attempts,
                    now,
                    {
                        "kind": o.kind,
                        "size": o.size,
                        "sha256": o.sha256,
                        "duration_seconds": round(o.duration, 6),
                    },
                ),
            )
        elif self.cfg.sidecars != "all":
            sidecar = None
        else:
            record = {
                "id": o.id,
                "name": display(r.item.name),
                "kind": o.kind,
                "state": o.target_state,
                "size": o.size,
                "sha256": o.sha256,
                "processed_at": now,
                "duration_seconds": round(o.duration, 6),
                "attempts": attempts,
                "outputs": [display(os.path.basename(o.dest) + s) for s in r.outputs],
            }
            sidecar = (META_SUFFIX, meta_document(record, o.encoded_meta()))
        self.placer.put(self.work_path(o.id), o.dest, sidecar, r.outputs)

    # --- retries -------------------------------------------------------------------------------

    def _requeue_later(self, item: WorkItem, delay: float) -> None:
        with self._retry_lock:
            heapq.heappush(self._retry_heap, (time.monotonic() + delay, item.id, item))
        self._retry_wake.set()

    def _retry_loop(self) -> None:
        while not self._stop.is_set():
            with self._retry_lock:
                due: list[WorkItem] = []
                now = time.monotonic()
                while self._retry_heap and self._retry_heap[0][0] <= now:
                    due.append(heapq.heappop(self._retry_heap)[2])
                wait = self._retry_heap[0][0] - now if self._retry_heap else 1.0
            try:
                for n, item in enumerate(due):
                    try:
                        self.files.mark_queued(item.id)
                        self.faults.clear("journal")
                    except JOURNAL_ERRORS as exc:
                        self._journal_fault(exc, "cannot write to the journal")
                        for later in due[n:]:
                            self._requeue_later(later, PROBE_EVERY)
                        due = due[:n]
                        break
                if due:
                    self._work.put_many(due)
                if now >= self._next_probe:
                    self._next_probe = now + PROBE_EVERY
                    self.probe()
            except Exception:  # this thread redoes what faults stopped: it must outlive them all
                log.exception("the retry thread met an unexpected error; going on")
            self._retry_wake.wait(min(max(wait, 0.01), PROBE_EVERY if self.faults.paused else 1.0))
            self._retry_wake.clear()

    def probe(self) -> None:
        """Redo what faults stopped; each fault clears once its operation works again."""
        self.journal_problem()
        if self.faults.get("journal-file"):
            return  # a deleted or replaced journal needs a restart; nothing may be written meanwhile
        with self._fault_lock:
            unfinished, self._unfinished = self._unfinished, []
            parked, self._parked = self._parked, []
            held, self._held = list(self._held.values()), {}
        if unfinished:
            self._finish(unfinished)
        if parked:
            self._place(parked)
        if held:
            self._work.put_many(self._claim_safely(held))
        if self.faults.get("journal") and not (unfinished or parked or held):
            # Nothing waits on the journal but the fault itself: try a write of our own.
            try:
                self.journal.kv.set("journal_probe", str(time.time()))
            except JOURNAL_ERRORS:
                return
            self.faults.clear("journal")

    def journal_problem(self) -> str | None:
        """Why the journal file can no longer be trusted (deleted, replaced, emptied), or None."""
        problem = self.journal.db.identity_problem()
        if problem is not None and self.faults.get("journal-file") is None:
            self.faults.report("journal-file", self.journal.path, RuntimeError(problem), "")
        return problem

    def retry(self, ids: list[int]) -> RetryResult:
        """Put failed files back through the pipeline (by id only: no client path reaches the disk)."""
        wanted = list(dict.fromkeys(ids))
        moved = self.files.request_retry(wanted)
        ok = {m.id for m in moved}
        skipped = {fid: NOT_RETRIABLE for fid in wanted if fid not in ok}
        items: list[WorkItem] = []
        lost: list[tuple[int, str]] = []
        for m in moved:
            if self._reclaim(m.id, m.src, None):
                items.append(WorkItem(m.id, m.name, 0, before=m.attempts))
            else:
                lost.append((m.id, f"its failed copy {m.src} is gone"))
        if lost:
            self.files.mark_vanished(lost)
            for fid, why in lost:
                ok.discard(fid)
                skipped[fid] = why
        self._work.put_many(items)
        return RetryResult(retried=sorted(ok), skipped=skipped)

    def _reclaim(self, fid: int, src: str, ino: int | None) -> bool:
        """Bring a file back into state/work/<id> from where the journal says it was."""
        work = self.work_path(fid)
        if os.path.exists(work):
            return True
        try:
            st = os.lstat(src)
        except FileNotFoundError:
            return False
        if not stat.S_ISREG(st.st_mode) or (ino is not None and st.st_ino != ino):
            return False
        move(src, work)
        Placer.remove_companions(src, (ERROR_SUFFIX,))
        # Its old name is free again: refiled in the same folder, it keeps it instead of " (1)".
        self.placer.release(src, (ERROR_SUFFIX,))
        return True

    # --- recovery ------------------------------------------------------------------------------

    def recover(self) -> None:
        """Finish or redo whatever a previous run left half done (called before anything starts)."""
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        os.makedirs(self.tmp_dir, exist_ok=True)
        os.makedirs(self.work_dir, exist_ok=True)
        self._work_prefix = self._load_work_prefix()
        rows = self.files.active()
        requeue: list[WorkItem] = []
        lost: list[tuple[int, str]] = []
        finished: list[Outcome] = []
        for row in rows:
            work = self.work_path(row.id)
            if row.state == PLACING and row.dest:
                if not os.path.exists(work) and os.path.lexists(row.dest):
                    finished.append(self._recovered_outcome(row))
                    continue
                # Not moved yet: drop any companions it wrote and process it again from scratch.
                Placer.remove_companions(
                    row.dest, (META_SUFFIX, ERROR_SUFFIX, *self.registry.output_suffixes())
                )
                self.files.mark_queued(row.id)
            if row.state in (DISPATCHED, PROCESSING):
                if self.dispatcher is not None:
                    continue  # the cluster's own recovery and leases take it from here
                self.files.mark_queued(row.id)  # no broker any more: process it here
            if row.state in (QUEUED, RETRYING, PLACING, DISPATCHED, PROCESSING):
                if self._reclaim(row.id, row.src, row.src_ino):
                    requeue.append(WorkItem(row.id, row.name, row.attempts))
                else:
                    lost.append((row.id, f"lost before processing: neither {work} nor {row.src} exists"))
        if finished:
            self.files.finish_place(finished)
        if lost:
            self.files.mark_vanished(lost)
        known = {os.path.basename(self.work_path(r.id)) for r in rows}
        requeue += self._adopt_orphans(known)
        self._unmovable = {(src, ino): fid for fid, src, ino in self.files.unmovable()}
        if rows or requeue:
            self.journal.events.add(
                "recovered",
                f"recovery: {len(requeue)} requeued, {len(finished)} finished, {len(lost)} lost",
                data={"requeued": len(requeue), "finished": len(finished), "lost": len(lost)},
            )
        self._work.put_many(requeue)

    def _load_work_prefix(self) -> str:
        """This journal's own prefix for names in state/work, made once when the journal is new.

        A journal deleted after a crash leaves files in state/work; a new journal numbers from 1
        again, and its work names must never land on theirs. A journal from before prefixes
        keeps bare ids (its files are all its own).
        """
        prefix = self.journal.kv.get("work_prefix")
        if prefix is None:
            prefix = "" if self.journal.figures.counts().total else secrets.token_hex(4)
            self.journal.kv.set("work_prefix", prefix)
        return prefix

    def _adopt_orphans(self, known: set[str]) -> list[WorkItem]:
        """Files in state/work that no journal row owns (their journal was deleted, or lost its
        WAL) are taken back as new arrivals, never left where a new claim could land on them.

        They step aside under `.adopting-<name>` first: a journal that lost rows numbers new
        files with ids whose work names these orphans may still hold.
        """
        adopting = []
        for e in os.scandir(self.work_dir):
            if e.name in known or not e.is_file(follow_symlinks=False):
                continue
            if e.name.startswith(ADOPTING):
                adopting.append(e.path)  # a previous start stopped half way through
            elif not e.name.startswith("."):
                aside = os.path.join(self.work_dir, ADOPTING + e.name)
                move(e.path, aside)
                adopting.append(aside)
        if not adopting:
            return []
        now = time.time()
        arrivals = []
        for path in adopting:
            st = os.lstat(path)
            name = read_name(path) or "recovered-" + os.path.basename(path)[len(ADOPTING) :]
            arrivals.append(Arrival(name, path, st.st_ino, st.st_size, now))
        ids = self.files.claim(arrivals)
        items = []
        for fid, a in zip(ids, arrivals, strict=True):
            move(a.src, self.work_path(fid))
            items.append(WorkItem(fid, a.name, 0))
        log.warning("took back %d files from state/work that no journal row owned", len(items))
        self.journal.events.add(
            "orphans",
            f"{len(items)} files in state/work had no journal row (a deleted journal?): taken back as new arrivals",
            data={"ids": ids},
        )
        return items

    @staticmethod
    def _recovered_outcome(row: ActiveRow) -> Outcome:
        import json

        return Outcome(
            id=row.id,
            target_state=row.target_state or DONE,
            kind=None,
            size=None,
            sha256=None,
            meta=json.loads(row.meta) if row.meta else {},
            error_kind=row.error_kind,
            reason=row.reason,
            started_at=time.time(),
            duration=0.0,
            dest=row.dest,
            message=f"{row.name} (placement finished after a restart)",
        )
