"""state/api.json: where a running engine serves its API, so one-shot commands can find it.

The server writes it when it starts listening (the port may have been picked by the kernel). It is
never deleted: a reader trusts it only while the engine that wrote it still runs — the engine's
lock is held, the pid is alive, and the file is newer than state/engine.lock (which every engine
rewrites as it starts), so an engine started later with --no-server makes it stale at once.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

FILE_NAME = "api.json"
log = logging.getLogger(__name__)
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1", "[::]": "::1"}


def connect_url(host: str, port: int) -> str:
    """The URL a client on this machine uses: a wildcard listen address becomes loopback."""
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def publish(state: Path, host: str, port: int) -> None:
    """Record the listening address atomically (readers never see half a file).

    Best effort: a state/ that cannot take the file (full, read-only) must not stop the API
    itself; one-shot commands then need --url, and the log says so.
    """
    doc = {"url": connect_url(host, port), "pid": os.getpid(), "started_at": time.time()}
    tmp = Path(state) / f".{FILE_NAME}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(doc) + "\n", encoding="utf-8")
        os.replace(tmp, Path(state) / FILE_NAME)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.warning(
            "cannot write %s (%s): one-shot commands will need --url %s",
            tmp.parent / FILE_NAME,
            exc,
            doc["url"],
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True


def lookup(state: Path) -> str | None:
    """The running engine's API URL, or None (no file, or written by an engine that has gone).

    Call it only while the engine's lock is held: the lock says an engine runs, this says where.
    """
    path = Path(state) / FILE_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        written = path.stat().st_mtime_ns
    except (OSError, ValueError):
        return None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("url"), str)
        or not isinstance(doc.get("pid"), int)
    ):
        return None
    try:
        if (Path(state) / "engine.lock").stat().st_mtime_ns > written:
            return None  # an engine started after this file was written, and serves no API
    except OSError:
        pass
    return doc["url"] if _alive(doc["pid"]) else None
