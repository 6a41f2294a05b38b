"""One run of a job at a time on a root, across processes.

The engine's scheduler never overlaps a job with itself, but `chute backup` run against the same
root by hand (when the engine serves no API) is another process. Both take this kernel lock
(flock, released however the holder dies) on state/<job>.lock before touching the job's files.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class JobBusy(RuntimeError):
    """The same job is already running on this root (in the engine or another command)."""


@contextmanager
def exclusive(state: Path, job: str) -> Iterator[None]:
    path = Path(state) / f"{job}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JobBusy(f"a {job} is already running on this root (lock {path} is held)") from None
    try:
        yield
    finally:
        os.close(fd)
