"""The processor interface: a file in, metadata and optional output files out."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Protocol, runtime_checkable

log = logging.getLogger(__name__)


class ProcessingError(Exception):
    """A file cannot be processed. `kind` is a short machine word, `reason` says why in words.

    Permanent errors (corrupt, unsupported, empty, ...) fail the file at once; transient ones
    (I/O, permission) are retried with backoff.
    """

    def __init__(self, kind: str, reason: str, *, transient: bool = False) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.transient = transient


@dataclass
class Result:
    meta: dict[str, Any]
    # suffix appended to the placed name -> a file the processor wrote in its workdir
    outputs: dict[str, Path] = field(default_factory=dict)


@runtime_checkable
class Processor(Protocol):
    kind: ClassVar[str]
    extensions: ClassVar[frozenset[str]]  # lower-case, with the dot
    # True when small inputs are safe to run in the engine's own threads; False sends every
    # file of this kind to a child process (timeouts and memory limits apply there).
    inline: ClassVar[bool]
    # Suffixes of the output files it may write, placed beside the file (".thumb.png").
    outputs: ClassVar[tuple[str, ...]]

    def process(self, path: Path, name: str, workdir: Path) -> Result: ...


# An inline processor may also offer `process_data(data: bytes, name: str) -> Result`: when the
# engine has read a small file whole (it hashes it anyway), it calls that instead, and the file
# is neither opened again nor wrapped in Path objects and streams (text and JSON do this).


_prefetch = threading.local()


@contextmanager
def prefetched(path: str, data: bytes | None) -> Iterator[None]:
    """Let read_input() return bytes the engine already read (to hash them) without a second read."""
    _prefetch.item = (str(path), data) if data is not None else None
    try:
        yield
    finally:
        _prefetch.item = None


def open_input(path: Path) -> BinaryIO:
    """A processor's way to stream its input: from memory when the engine has it there already."""
    item = getattr(_prefetch, "item", None)
    if item is not None and item[0] == str(path):
        return io.BytesIO(item[1])
    return open(path, "rb")


def read_input(path: Path) -> bytes:
    """A processor's way to read its whole input: free when the engine has it in memory already."""
    item = getattr(_prefetch, "item", None)
    if item is not None and item[0] == str(path):
        return item[1]
    return Path(path).read_bytes()


def run_inline(processor: Processor, path: Path, name: str, workdir: Path) -> Result:
    """Run a processor in this thread; anything it raises becomes a ProcessingError that says what."""
    if processor.kind not in ("text", "json"):
        workdir.mkdir(exist_ok=True)
    return _guarded(processor, name, processor.process, path, name, workdir)


def run_data(processor: Processor, data: bytes, name: str) -> Result:
    """run_inline for a file already in memory, through the processor's `process_data`."""
    return _guarded(processor, name, processor.process_data, data, name)


def _guarded(processor: Processor, name: str, call: Callable[..., Result], *args: Any) -> Result:
    try:
        return call(*args)
    except ProcessingError:
        raise
    except MemoryError:
        raise ProcessingError("memory", "ran out of memory") from None
    except Exception as exc:
        log.exception("processor %s raised on %r", processor.kind, name)
        raise ProcessingError("crash", f"processor raised {type(exc).__name__}: {exc}") from None
