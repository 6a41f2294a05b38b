"""How names and JSON go into SQLite and come back out."""

from __future__ import annotations

import os
from typing import Any

from ..model import encode_json


def db_path(value: str | None) -> str | bytes | None:
    """Names and paths as SQLite can hold them: TEXT when valid UTF-8, else the raw bytes.

    Linux file names are bytes; Python keeps undecodable ones as surrogate escapes, which
    SQLite's TEXT cannot store. BLOBs keep them exactly, so the file can always be found again.
    """
    if value is None:
        return None
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return os.fsencode(value)


def py_path(value: str | bytes | None) -> str | None:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def display(name: str) -> str:
    """A name fit for messages, logs and JSON: undecodable bytes become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def encode(data: dict[str, Any] | None) -> str | None:
    """A JSON column: None for no data; values JSON cannot hold are written as their str()."""
    return encode_json(data) if data else None
