"""Claim -> process -> place, with the journal written before every move.

- claim: a batch of complete files is journaled as `queued`, then each is renamed out of the
  inbox into state/work/<id> (the engine never writes inside the inbox).
- process: a pool of worker threads; small text/json/csv run in-thread, risky kinds and big files
  in a child process with a timeout and a memory limit. Transient errors retry with backoff.
- place: results are journaled as `placing` with their destination, moved, then journaled final.

`kill -9` at any point is repaired by `recover()` at the next start: each journal row says where
its file must be, and recovery finishes or redoes the step it was in. Nothing is processed
twice into two results, and nothing is overwritten.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import os
import shutil
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from . import logs
from .config import Config
from .isolation import IsolatedRunner
from .journal import Journal, display
from .model import (
    DONE,
    DUPLICATE,
    FAILED,
    NOT_RETRIABLE,
    PLACING,
    QUEUED,
    RETRYING,
    ActiveRow,
    Arrival,
    Outcome,
    RetryResult,
)
from .placement import ERROR_SUFFIX, META_SUFFIX, Placer, error_document, meta_document, move
from .processors import Choice, ProcessingError, Registry, Result
from .processors.base import prefetched
from .watcher import Candidate

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH = 128
READ_ALL_BELOW = 4 * 2**20


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
    attempts: int  # attempts already made before this one
    prepared: _Prepared | None = None  # set when the fast lane hands it to the slow lane


@dataclass
class _Done:
    item: WorkItem
    outcome: Outcome
    outputs: dict[str, Path]


def _read(path: str) -> tuple[int, str, bytes, bytes | None]:
    """(size, sha256, first 4 KiB, whole content when small enough to keep for the processor)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ProcessingError("empty", "the file is empty (0 bytes)")
        if size <= READ_ALL_BELOW:
            data = f.read()
            return size, hashlib.sha256(data).hexdigest(), data[:4096], data
        head = f.read(4096)
        f.seek(0)
        return size, hashlib.file_digest(f, "sha256").hexdigest(), head, None


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
        # Called (in the worker thread) with each batch of outcomes once journaled final.
        self.on_finished: list[Callable[[list[Outcome]], None]] = []
        # Fast lane: candidates to claim and work items to run, taken together by the same thread
        # (every hand-off between threads costs a GIL switch, and a burst is made of hand-offs).
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

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        threads = [(self._retry_loop, "chute-retry")]
        threads += [(self._work_loop, f"chute-worker-{i}") for i in range(self.cfg.workers)]
        threads += [(self._slow_loop, f"chute-isolated-{i}") for i in range(self.cfg.isolated_workers)]
        for target, name in threads:
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
        return len(self._work) + len(self._slow) + len(self._retry_heap)

    @property
    def in_flight(self) -> int:
        return self._busy

    def idle(self) -> bool:
        return self.queue_depth == 0 and self.in_flight == 0

    def submit(self, candidates: list[Candidate]) -> None:
        self._work.put_many(candidates)

    # --- claim ---------------------------------------------------------------------------------

    def _claim_safely(self, batch: list[Candidate]) -> list[WorkItem]:
        """Claim a batch; if it fails, claim one by one so a single odd file cannot block the rest."""
        try:
            return self._claim(batch)
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
        arrivals: list[Arrival] = []
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
            arrivals.append(Arrival(c.name, c.path, st.st_ino, st.st_size, c.seen_at))
        if not arrivals:
            return []
        ids = self.files.claim(arrivals)
        items: list[WorkItem] = []
        lost: list[tuple[int, str]] = []
        for fid, a in zip(ids, arrivals, strict=True):
            try:
                move(a.src, self._work_path(fid))
            except FileNotFoundError:
                lost.append((fid, "removed from the inbox before it could be claimed"))
                continue
            except OSError as exc:
                lost.append((fid, f"could not be moved out of the inbox: {exc.strerror or exc}"))
                continue
            items.append(WorkItem(fid, a.name, 0))
        if lost:
            self.files.mark_vanished(lost)
        return items

    # --- process -------------------------------------------------------------------------------

    def _work_loop(self) -> None:
        self._lane_loop(self._work, BATCH)

    def _slow_loop(self) -> None:
        self._lane_loop(self._slow, 1)

    def _lane_loop(self, queue: BatchQueue, most: int) -> None:
        while not self._stop.is_set():
            taken = queue.get_many(most, 0.2)
            if not taken:
                continue
            candidates = [t for t in taken if isinstance(t, Candidate)]
            items = [t for t in taken if not isinstance(t, Candidate)]
            if candidates:
                items += self._claim_safely(candidates)
            if not items:
                continue
            with self._busy_lock:
                self._busy += len(items)
            try:
                self._run_batch(items)
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
            if item.prepared is None:
                self._examine(item, prep)
            ran = self._run(item, prep)
            return None if ran is None else self._succeeded(item, prep, *ran)
        except FileNotFoundError:
            self.files.mark_vanished([(item.id, "its working copy in state/work disappeared")])
            return None
        except ProcessingError as exc:
            return self._failed(item, prep, exc)

    def _examine(self, item: WorkItem, prep: _Prepared) -> None:
        """Read and hash the file, and choose its processor by content and name."""
        try:
            prep.size, prep.sha256, head, prep.data = _read(self._work_path(item.id))
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
        prep.choice = self.registry.choose(item.name, head)

    def _run(self, item: WorkItem, prep: _Prepared) -> tuple[Result, str] | None:
        """(result, target state): a duplicate, in this thread, or in a child process; None when
        the file is handed to the slow lane to wait for one."""
        processor = prep.choice.processor
        path = self._work_path(item.id)
        workdir = Path(self.tmp_dir, str(item.id))
        dup_of = self.files.find_done_by_sha(prep.sha256, item.id) if self.cfg.duplicates == "mark" else None
        if dup_of is not None:
            return Result(meta={"duplicate_of": dup_of}), DUPLICATE
        if processor.inline and prep.size <= self.cfg.inline_max_bytes:
            with prefetched(path, prep.data):
                return self._inline(processor, Path(path), item.name, workdir), DONE
        if item.prepared is None:
            prep.data = None  # the child process reads the file itself
            item.prepared = prep
            self._slow.put_many([item])
            return None
        workdir.mkdir(exist_ok=True)
        return self.runner.run(processor, Path(path), item.name, workdir), DONE

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
            self._requeue_later(WorkItem(item.id, item.name, item.attempts + 1), delay)
            return None
        if exc.kind == "stopped":
            return None  # the engine is stopping; the file stays queued for the next start
        return _Done(item, outcome, {})

    def _work_path(self, file_id: int) -> str:
        return os.path.join(self.work_dir, str(file_id))

    def _inline(self, processor, path: Path, name: str, workdir: Path) -> Result:
        needs_dir = processor.kind not in ("text", "json")
        if needs_dir:
            workdir.mkdir(exist_ok=True)
        try:
            return processor.process(path, name, workdir)
        except ProcessingError:
            raise
        except MemoryError:
            raise ProcessingError("memory", "ran out of memory") from None
        except Exception as exc:
            log.exception("processor %s raised on %r", processor.kind, name)
            raise ProcessingError("crash", f"processor raised {type(exc).__name__}: {exc}") from None

    # --- place ---------------------------------------------------------------------------------

    def _place(self, results: list[_Done]) -> None:
        now = time.time()
        for r in results:
            o = r.outcome
            folder = self.placer.folder(o.target_state, o.kind, now)
            suffix = ERROR_SUFFIX if o.target_state == FAILED else META_SUFFIX
            o.dest = self.placer.reserve(folder, r.item.name, (suffix, *r.outputs))
        try:
            self.files.begin_place([r.outcome for r in results])
            for r in results:
                self._put(r, now)
            self.files.finish_place([r.outcome for r in results])
            logs.file_outcomes((r.item.name, r.outcome) for r in results)
            for hook in self.on_finished:
                hook([r.outcome for r in results])
        finally:
            for r in results:
                if r.outputs:
                    shutil.rmtree(os.path.join(self.tmp_dir, str(r.item.id)), ignore_errors=True)

    def _put(self, r: _Done, now: float) -> None:
        o = r.outcome
        attempts = r.item.attempts + 1
        if o.target_state == FAILED:
            sidecar = (
                ERROR_SUFFIX,
                error_document(r.item.name, o.id, o.error_kind or "error", o.reason or "", attempts, now),
            )
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
        self.placer.put(self._work_path(o.id), o.dest, sidecar, r.outputs)

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
            for item in due:
                self.files.mark_queued(item.id)
            if due:
                self._work.put_many(due)
            self._retry_wake.wait(min(max(wait, 0.01), 1.0))
            self._retry_wake.clear()

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
                items.append(WorkItem(m.id, m.name, 0))
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
        work = self._work_path(fid)
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
        return True

    # --- recovery ------------------------------------------------------------------------------

    def recover(self) -> None:
        """Finish or redo whatever a previous run left half done (called before anything starts)."""
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        os.makedirs(self.tmp_dir, exist_ok=True)
        os.makedirs(self.work_dir, exist_ok=True)
        rows = self.files.active()
        requeue: list[WorkItem] = []
        lost: list[tuple[int, str]] = []
        finished: list[Outcome] = []
        for row in rows:
            work = self._work_path(row.id)
            if row.state == PLACING and row.dest:
                if not os.path.exists(work) and os.path.lexists(row.dest):
                    finished.append(self._recovered_outcome(row))
                    continue
                # Not moved yet: drop any companions it wrote and process it again from scratch.
                Placer.remove_companions(
                    row.dest, (META_SUFFIX, ERROR_SUFFIX, *self.registry.output_suffixes())
                )
                self.files.mark_queued(row.id)
            if row.state in (QUEUED, RETRYING, PLACING):
                if self._reclaim(row.id, row.src, row.src_ino):
                    requeue.append(WorkItem(row.id, row.name, row.attempts))
                else:
                    lost.append(
                        (row.id, f"lost before processing: neither state/work/{row.id} nor {row.src} exists")
                    )
        if finished:
            self.files.finish_place(finished)
        if lost:
            self.files.mark_vanished(lost)
        known = {str(r.id) for r in rows}
        for entry in os.scandir(self.work_dir):
            if entry.name not in known:
                log.warning("state/work/%s is not in the journal; leaving it for inspection", entry.name)
        if rows:
            self.journal.events.add(
                "recovered",
                f"recovery: {len(requeue)} requeued, {len(finished)} finished, {len(lost)} lost",
                data={"requeued": len(requeue), "finished": len(finished), "lost": len(lost)},
            )
        self._work.put_many(requeue)

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
