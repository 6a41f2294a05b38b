"""Where results go, under names that never overwrite anything.

processed/<kind>/<YYYY-MM-DD>/<name> with <name>.meta.json (and outputs such as
<name>.normalized.csv) beside it; failed/<YYYY-MM-DD>/<name> with <name>.error.txt.
A name is free only when the name and every companion it needs are free on disk and not
reserved by a placement in flight; otherwise "stem (n).ext" is tried.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from .config import Paths
from .model import json_encoder

META_SUFFIX = ".meta.json"
ERROR_SUFFIX = ".error.txt"
NAME_MAX = 255
DUPLICATES_FOLDER = "duplicates"


def fit_name(name: str, room: int) -> str:
    """Shorten the stem so that name plus `room` bytes of suffixes fits in NAME_MAX."""
    if len(os.fsencode(name)) + room <= NAME_MAX:
        return name
    p = PurePath(name)
    ext = p.suffix if len(os.fsencode(p.suffix)) < 32 else ""
    stem = name[: len(name) - len(ext)] if ext else name
    while stem and len(os.fsencode(stem + "…" + ext)) + room > NAME_MAX:
        stem = stem[:-1]
    return stem + "…" + ext


def numbered(name: str, n: int) -> str:
    p = PurePath(name)
    ext = p.suffix if p.stem else ""
    stem = name[: len(name) - len(ext)] if ext else name
    return f"{stem} ({n}){ext}"


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def _load_renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()


def rename_noreplace(src: Path | str, dst: Path | str) -> None:
    """Rename that fails with FileExistsError instead of replacing `dst` (never a check-then-act race).

    renameat2(RENAME_NOREPLACE) where the kernel and filesystem have it; else a hard link (which
    refuses an existing name) and an unlink of the source.
    """
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), os.fsdecode(src), None, os.fsdecode(dst))
    os.link(src, dst)
    os.unlink(src)


def move(src: Path | str, dst: Path | str) -> None:
    """Move without ever replacing `dst` (FileExistsError); across filesystems, copy then unlink.

    A copy lands under a temporary name beside `dst` first, so `dst` never exists half written.
    """
    try:
        rename_noreplace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = f"{dst}.chute-partial"
        try:
            shutil.copy2(src, tmp)
            rename_noreplace(tmp, dst)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.unlink(src)


class Placer:
    def __init__(self, paths: Paths, taken: Callable[[str], list[str]] = lambda folder: []) -> None:
        self.paths = paths
        # Names the journal holds for a folder (their files may since have been removed by an
        # operator or retention, but the journal row still owns the name).
        self._journal_names = taken
        self._lock = threading.Lock()
        # folder -> names present or reserved: listed once per folder, then kept up to date, so a
        # reservation costs one stat instead of one per companion file.
        self._names: dict[str, set[str]] = {}
        self._next_n: dict[str, int] = {}
        self._day = (0, "")

    def folder(self, target_state: str, kind: str | None, when: float) -> str:
        second = int(when)
        if second != self._day[0]:  # the date, worked out once a second rather than once a file
            self._day = (second, time.strftime("%Y-%m-%d", time.localtime(second)))
        day = self._day[1]
        if target_state == "failed":
            return os.path.join(self.paths.failed, day)
        if target_state == "duplicate":
            return os.path.join(self.paths.processed, DUPLICATES_FOLDER, day)
        return os.path.join(self.paths.processed, kind or "unknown", day)

    def _known(self, folder: str) -> set[str]:
        names = self._names.get(folder)
        if names is None:
            os.makedirs(folder, exist_ok=True)
            names = set(os.listdir(folder))
            names.update(os.path.basename(d) for d in self._journal_names(folder))
            self._names[folder] = names
        return names

    def reserve(self, folder: str, name: str, suffixes: tuple[str, ...]) -> str:
        """Pick a destination path for `name` in `folder` that collides with nothing."""
        room = max((len(os.fsencode(s)) for s in suffixes), default=0) + 8
        name = fit_name(name, room)
        key = f"{folder}/{name}"
        with self._lock:
            names = self._known(folder)
            n = self._next_n.get(key, 0)
            while True:
                candidate = name if n == 0 else numbered(name, n)
                wanted = [candidate + s for s in ("", *suffixes)]
                # No stat for files someone else put there since the folder was listed: every
                # placing step refuses an existing name, and the file is then given another.
                if not any(w in names for w in wanted):
                    break
                n += 1
            self._next_n[key] = n + 1
            names.update(wanted)
            return os.path.join(folder, candidate)

    def release(self, path: str, suffixes: tuple[str, ...]) -> None:
        """Forget a name (and its companions) that a file has vacated, so it can be taken again."""
        folder, name = os.path.split(path)
        with self._lock:
            names = self._names.get(folder)
            if names is not None:
                names.difference_update(name + s for s in ("", *suffixes))
            self._next_n.pop(f"{folder}/{name}", None)

    @staticmethod
    def write_new(dest: str, text: str) -> None:
        """Create a companion file whole or not at all; never replaces anything (O_EXCL)."""
        data = memoryview(text.encode("utf-8"))
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            while data:
                data = data[os.write(fd, data) :]
        except BaseException:
            os.close(fd)
            os.unlink(dest)  # a full disk must not leave a half-written sidecar
            raise
        os.close(fd)

    def put(self, work: str, dest: str, sidecar: tuple[str, str] | None, outputs: dict[str, Path]) -> None:
        """Outputs, then the sidecar, then the original last: recovery keys on where the original is.

        If any step fails (a full or read-only folder), what was placed is taken back (outputs to
        where they were, the sidecar deleted) and the error raised: the original stays in
        state/work, nothing half-placed is left, and the same placement can be tried again.
        A crash before the original moves leaves the row `placing` with its original in
        state/work; recovery deletes these companions and processes the file again.
        """
        done: list[tuple[str, Path | None]] = []  # (placed path, where it came from)
        try:
            for suffix, src in outputs.items():
                move(src, dest + suffix)
                done.append((dest + suffix, src))
            if sidecar is not None:
                self.write_new(dest + sidecar[0], sidecar[1])
                done.append((dest + sidecar[0], None))
            move(work, dest)
        except BaseException:
            for placed, src in reversed(done):
                with contextlib.suppress(OSError):
                    if src is None:
                        os.unlink(placed)
                    else:
                        move(placed, src)
            raise

    @staticmethod
    def remove_companions(dest: str, suffixes: tuple[str, ...]) -> None:
        for suffix in suffixes:
            try:
                os.unlink(dest + suffix)
            except FileNotFoundError:
                pass


encode = json_encoder(ensure_ascii=False)


def meta_document(record: dict[str, Any], found_json: str) -> str:
    """The sidecar: the record plus what the processor found, already encoded for the journal.

    One line made by the C encoder (json.dumps with `indent` falls back to pure Python, which
    was a third of a burst's CPU); `jq . name.meta.json` shows it laid out.
    """
    return encode(record)[:-1] + ', "found": ' + found_json + "}\n"


RECORD_PREFIX = "Record: "


def error_document(
    name: str,
    file_id: int,
    error_kind: str,
    reason: str,
    attempts: int,
    when: float,
    extra: dict | None = None,
) -> str:
    """Why, in words for people, then one line of JSON for `chute check --repair`."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(when))
    record = {
        "id": file_id,
        "name": name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
        "state": "failed",
        "error_kind": error_kind,
        "attempts": attempts,
        "failed_at": when,
        **(extra or {}),
    }
    return (
        f"chute could not process {name!r}.\n\n"
        f"Why: {reason}\n"
        f"Error kind: {error_kind}\n"
        f"Attempts: {attempts}\n"
        f"When: {stamp}\n"
        f"File id: {file_id} (fix the cause, then `chute retry {file_id}` or press r in the console)\n"
        f"{RECORD_PREFIX}{encode(record)}\n"
    )


def read_record(error_text: str) -> dict[str, Any] | None:
    """The record in an .error.txt (what `chute check --repair` rebuilds a row from): its last
    line, plus the reason from the "Why:" the people read (said once, not twice)."""
    head, sep, last = error_text.rstrip("\n").rpartition("\n" + RECORD_PREFIX)
    if not sep:
        return None
    try:
        record = json.loads(last)
    except ValueError:
        return None
    why = head.partition("\nWhy: ")[2].partition("\nError kind: ")[0]
    record["reason"] = why
    return record


# The original name rides with a file in state/work (an extended attribute where the filesystem
# has them), so a file whose journal row is lost can be taken back under its own name.
_NAME_ATTR = "user.chute.name"


def write_name(path: str, name: str) -> None:
    with contextlib.suppress(OSError):
        os.setxattr(path, _NAME_ATTR, os.fsencode(name))


def read_name(path: str) -> str | None:
    try:
        return os.fsdecode(os.getxattr(path, _NAME_ATTR))
    except OSError:
        return None
