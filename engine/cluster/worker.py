"""`chute worker`: take tasks from the broker, process them here, send the results to the engine.

Each task is one attempt at one file. The worker fetches the bytes over the engine's API into its
own folder, runs the same processor registry as the engine (risky kinds and big files in the same
isolated child processes), and posts the outputs and the result back. Dramatiq acknowledges a
message only once the actor returns, so a worker killed mid-task loses nothing: the engine's
lease runs out (no more heartbeats) and it sends the file again under a new attempt token.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from dramatiq import Retry

from .. import __version__
from ..config import PipelineConfig
from ..isolation import IsolatedRunner
from ..processors import ProcessingError, Registry
from ..processors.base import run_inline
from .broker import make_broker, redact
from .client import EngineClient, Refused, Stale
from .protocol import ACTOR, Task

log = logging.getLogger(__name__)
DEFAULTS = PipelineConfig()


@dataclass
class WorkerOptions:
    broker: str
    engine: str
    token: str
    concurrency: int = 2
    queue: str = "chute"
    folder: Path | None = None  # its own working folder; a temporary one by default
    name: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    timeout: float = DEFAULTS.timeout
    memory_limit_mb: int = DEFAULTS.memory_limit_mb


class ClusterWorker:
    def __init__(self, options: WorkerOptions, registry: Registry | None = None) -> None:
        self.options = options
        self.registry = registry or Registry.default()
        self.folder = Path(options.folder or tempfile.mkdtemp(prefix="chute-worker-"))
        self.client = EngineClient(options.engine, options.token, options.name)
        self.runner = IsolatedRunner(options.concurrency, options.timeout, options.memory_limit_mb)
        self._lock = threading.Lock()
        self._in_flight: dict[int, str] = {}
        self.done = 0
        self.failed = 0
        self.interval = 2.0  # until the engine says how often it wants to hear from us

    # --- one task ------------------------------------------------------------------------------

    def handle(self, **kwargs) -> None:
        task = Task(**kwargs)
        folder = self.folder / f"{task.id}-{task.token[:12]}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with self._lock:
            self._in_flight[task.id] = task.token
        try:
            shared = task.path is not None and os.access(task.path, os.R_OK)
            src = Path(task.path) if shared else folder / "input"
            try:
                if shared:
                    self.client.claim(task)
                else:
                    self.client.fetch(task, src)
            except Stale as exc:
                log.info("file #%d (attempt %s) is no longer wanted: %s", task.id, task.token[:8], exc)
                return
            except httpx.TransportError as exc:
                # The engine is away (restarting?): Dramatiq tries the message again, backing off.
                log.warning("cannot fetch file #%d from %s (%s); later", task.id, self.options.engine, exc)
                raise Retry() from None
            result, outputs = self._process(task, src, folder / "out")
            try:
                answer = self.client.post_result(task, result, outputs)
                log.info("file #%d %s: %s", task.id, result["state"], answer.get("dest", ""))
            except Stale as exc:
                log.info("file #%d: result not wanted: %s", task.id, exc)
            except httpx.TransportError as exc:
                # Given up after a few tries: the engine's lease sends the file out again.
                log.warning("cannot send file #%d's result to %s (%s)", task.id, self.options.engine, exc)
                return
            except Refused as exc:
                # Outputs over the engine's limit, say: sending them again cannot help, so the
                # file fails with the reason instead of going round the workers.
                log.error("file #%d: the engine refused its result: %s", task.id, exc)
                result = {**result, "state": "failed", "error_kind": "refused", "meta": {}}
                result["reason"] = f"worker {self.options.name} could not hand over the result: {exc}"
                self.client.post_result(task, result, {})
            with self._lock:
                if result["state"] == "failed":
                    self.failed += 1
                else:
                    self.done += 1
        finally:
            with self._lock:
                self._in_flight.pop(task.id, None)
            shutil.rmtree(folder, ignore_errors=True)

    def _process(self, task: Task, src: Path, workdir: Path) -> tuple[dict, dict[str, Path]]:
        started, t0 = time.time(), time.perf_counter()
        processor = self.registry.by_kind.get(task.kind)
        try:
            if processor is None:
                raise ProcessingError(
                    "unsupported",
                    f"worker {self.options.name} has no processor for kind {task.kind!r} "
                    "(install the same processor plugins on the workers as on the engine)",
                )
            if task.isolated:
                workdir.mkdir(exist_ok=True)
                found = self.runner.run(processor, src, task.name, workdir)
            else:
                found = run_inline(processor, src, task.name, workdir)
            result = {"state": "done", "meta": found.meta}
            outputs = found.outputs
        except ProcessingError as exc:
            result = {"state": "failed", "error_kind": exc.kind, "reason": exc.reason, "meta": {}}
            outputs = {}
        result.update(started_at=started, duration=time.perf_counter() - t0)
        return result, outputs

    # --- heartbeats ----------------------------------------------------------------------------

    def beat(self) -> None:
        with self._lock:
            info = {
                "worker": self.options.name,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "version": __version__,
                "concurrency": self.options.concurrency,
                "in_flight": [{"id": i, "token": t} for i, t in self._in_flight.items()],
                "done": self.done,
                "failed": self.failed,
            }
        answer = self.client.heartbeat(info)
        self.interval = float(answer.get("interval", self.interval))

    def _beat_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # the engine restarting is no reason to stop working
                log.warning("heartbeat to %s failed: %s", self.options.engine, exc)

    # --- the process ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> int:
        """Work until `stop` is set; 1 if the engine refuses this worker at the start."""
        import dramatiq

        try:
            self.beat()  # says at once when the token or the engine URL is wrong
        except Refused as exc:
            log.error("the engine refused this worker: %s", exc)
            return 1
        except Exception as exc:
            log.warning("cannot reach the engine at %s yet (%s); working anyway", self.options.engine, exc)
        broker = make_broker(self.options.broker)
        dramatiq.actor(
            self.handle,
            broker=broker,
            actor_name=ACTOR,
            queue_name=self.options.queue,
            # Retries are for an engine that cannot be reached (a processor failure is a result):
            # backing off to 30 s, they outlast a restart of some minutes; after that the engine's
            # dispatch_timeout sends the file again.
            max_retries=40,
            min_backoff=500,
            max_backoff=30_000,
            time_limit=7 * 86_400_000,  # the engine's lease and the child's timeout bound a task
        )
        worker = dramatiq.Worker(broker, worker_threads=self.options.concurrency, queues={self.options.queue})
        beats = threading.Thread(target=self._beat_loop, args=(stop,), name="chute-heartbeat", daemon=True)
        worker.start()
        beats.start()
        log.info(
            "worker %s: %d at a time from %s queue %r for %s; folder %s",
            self.options.name,
            self.options.concurrency,
            redact(self.options.broker),
            self.options.queue,
            self.options.engine,
            self.folder,
        )
        try:
            stop.wait()
        finally:
            worker.stop(timeout=int(self.options.timeout * 1000) + 5000)
            broker.close()
            self.runner.close()
            self.client.close()
            beats.join(1)
        return 0
