"""Run a processor in a child process, so that a crash, a hang past the timeout or a memory
blow-up fails that one file and never the engine.

Children are fresh interpreters started with subprocess (the engine has threads, so forking is
unsafe, and multiprocessing's spawn would re-run the embedding program's unguarded __main__);
they talk over a socketpair with multiprocessing's Connection, are kept warm and reused, and a
child that crashed or was killed for a timeout is replaced on the next call.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .processors.base import ProcessingError, Processor, Result

log = logging.getLogger(__name__)
STARTUP_TIMEOUT = 60.0


def _child_main(conn: Connection, memory_limit: int | None) -> None:
    conn.send(("ready",))  # imports are done: from here on, time spent is the processor's
    if memory_limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        processor, path, name, workdir = task
        try:
            result = processor.process(Path(path), name, Path(workdir))
            reply: tuple[Any, ...] = ("ok", result.meta, {k: str(v) for k, v in result.outputs.items()})
        except ProcessingError as exc:
            reply = ("error", exc.kind, exc.reason, exc.transient)
        except MemoryError:
            reply = ("error", "memory", f"ran out of memory (limit {memory_limit // 2**20} MiB)", False)
        except Exception as exc:
            reply = ("error", "crash", f"processor raised {type(exc).__name__}: {exc}", False)
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("error", "memory", "result too large to return", False))


def _child_entry() -> None:
    fd, limit = int(sys.argv[1]), int(sys.argv[2])
    _child_main(Connection(fd), limit or None)


class _Child:
    def __init__(self, memory_limit: int | None) -> None:
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        # Processors are pickled by reference: the child must import what the parent can.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from chute.engine.isolation import _child_entry; _child_entry()",
                str(child_sock.fileno()),
                str(memory_limit or 0),
            ],
            pass_fds=[child_sock.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # the operator's Ctrl-C goes to the engine, which stops children
        )
        child_sock.close()
        self.conn = Connection(parent_sock.detach())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            pass
        self.conn.close()

    def describe_death(self) -> str:
        try:
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None and code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = f"signal {-code}"
            hint = (
                " (often the memory limit or a crash in a C library)" if sig in ("SIGKILL", "SIGSEGV") else ""
            )
            return f"the processor process died from {sig}{hint}"
        return f"the processor process exited with code {code}"


class IsolatedRunner:
    """A small pool of processor child processes with a per-call timeout."""

    def __init__(self, slots: int, timeout: float, memory_limit_mb: int | None) -> None:
        self.timeout = timeout
        self._memory_limit = memory_limit_mb * 2**20 if memory_limit_mb else None
        self._slots = threading.BoundedSemaphore(slots)
        self._idle: list[_Child] = []
        self._all: set[_Child] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0  # children started so far (replacements included)

    def _checkout(self) -> _Child:
        with self._lock:
            if self._closed:
                raise ProcessingError("stopped", "the engine is stopping", transient=True)
            while self._idle:
                child = self._idle.pop()
                if child.alive():
                    return child  # already said ready when it was first checked out
                self._all.discard(child)
            child = _Child(self._memory_limit)
            self._all.add(child)
            self.started += 1
        # A cold start (imports, compiling .pyc in a fresh install) must not count against the
        # file's timeout: wait for the child to say it is ready.
        if not child.conn.poll(STARTUP_TIMEOUT):
            self._discard(child)
            raise ProcessingError(
                "crash", f"the processor process did not start within {STARTUP_TIMEOUT:g}s", transient=True
            )
        try:
            child.conn.recv()
        except (EOFError, OSError):
            why = child.describe_death()
            self._discard(child)
            raise ProcessingError(
                "crash", f"the processor process failed to start: {why}", transient=True
            ) from None
        return child

    def _discard(self, child: _Child) -> None:
        child.kill()
        with self._lock:
            self._all.discard(child)

    def run(self, processor: Processor, path: Path, name: str, workdir: Path) -> Result:
        with self._slots:
            child = self._checkout()
            try:
                child.conn.send((processor, str(path), name, str(workdir)))
                ready = child.conn.poll(self.timeout)
                if not ready:
                    self._discard(child)
                    raise ProcessingError(
                        "timeout", f"processing took longer than {self.timeout:g}s and was stopped"
                    )
                reply = child.conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                why = child.describe_death()
                self._discard(child)
                if self._closed:
                    raise ProcessingError("stopped", "the engine is stopping", transient=True) from None
                raise ProcessingError("crash", why) from None
            with self._lock:
                self._idle.append(child)
        if reply[0] == "ok":
            return Result(meta=reply[1], outputs={k: Path(v) for k, v in reply[2].items()})
        _, kind, reason, transient = reply
        raise ProcessingError(kind, reason, transient=transient)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            children = list(self._all)
            self._all.clear()
            self._idle.clear()
        for child in children:
            try:
                child.conn.send(None)
            except OSError:
                pass
            try:
                child.proc.wait(0.5)
            except subprocess.TimeoutExpired:
                pass
            child.kill()
