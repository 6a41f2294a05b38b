"""One engine per inbox and per journal: kernel locks (flock) on the folders themselves.

A lock on an open file descriptor is released by the kernel when the process dies, however it
dies, so a crash never leaves a stale lock. It is held on the directories, not on a lock file:
deleting a lock file (the usual move when a tool says "already running") would let a second
engine take a fresh file's lock beside the first; a directory cannot be deleted while it holds
an inbox or a journal. state/engine.lock only records the holder's pid for people to read.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class LockHeld(RuntimeError):
    """Another engine holds the folder; the message names it and the holder's pid when known."""


def _open_dir(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _holder(state: Path) -> str:
    try:
        pid = (state / "engine.lock").read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


class EngineLock:
    def __init__(self, inbox: Path, state: Path) -> None:
        self.folders = (Path(inbox), Path(state))
        self._fds: list[int] = []

    def acquire(self) -> None:
        state = self.folders[1]
        for folder in self.folders:
            fd = _open_dir(folder)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self.release()
                raise LockHeld(
                    f"another chute engine{_holder(state)} is already running on {folder}"
                ) from None
            self._fds.append(fd)
        try:
            (state / "engine.lock").write_text(f"{os.getpid()}\n")
        except OSError:
            pass  # informational only; a full or read-only state/ is reported elsewhere

    def release(self) -> None:
        while self._fds:
            os.close(self._fds.pop())


def held(state: Path) -> bool:
    """True while an engine (this process or another) holds the journal's folder."""
    try:
        fd = _open_dir(state)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
