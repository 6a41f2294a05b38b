"""Logging to stderr: readable lines for people, one JSON object per line for machines.

What is logged where (so journald or a log file holds a trace of every file and job):
- a file that failed: WARNING, with its id, name, error kind and reason;
- a file processed: DEBUG (one line per file would drown a busy engine's log at INFO);
- a scheduled or manual job's outcome: INFO (WARNING when it failed).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from typing import Any

TEXT_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
TEXT_DATES = "%Y-%m-%d %H:%M:%S"  # the date too: a log read a week later must say which day

files_log = logging.getLogger("chute.files")
jobs_log = logging.getLogger("chute.jobs")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            doc.update(fields)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def text_formatter() -> logging.Formatter:
    return logging.Formatter(TEXT_FORMAT, TEXT_DATES)


def setup(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else text_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # waitress logs every queue hiccup at WARNING; watchdog is chatty at DEBUG
    logging.getLogger("watchdog").setLevel(max(logging.INFO, root.level))


def file_outcomes(placed: Iterable[tuple[str, Any]]) -> None:
    """One line per placed file: (name, journal Outcome) pairs, right after the journal says so."""
    debug = files_log.isEnabledFor(logging.DEBUG)
    for name, o in placed:
        if o.target_state == "failed":
            files_log.warning(
                "file #%d %r failed: %s: %s",
                o.id,
                name,
                o.error_kind,
                o.reason,
                extra={
                    "fields": {"file_id": o.id, "name": name, "error_kind": o.error_kind, "reason": o.reason}
                },
            )
        elif debug:
            files_log.debug(
                "file #%d %r %s as %s in %.3fs -> %s",
                o.id,
                name,
                o.target_state,
                o.kind,
                o.duration,
                o.dest,
                extra={"fields": {"file_id": o.id, "name": name, "state": o.target_state, "kind": o.kind}},
            )


def job_outcome(name: str, outcome: str, duration: float, message: str) -> None:
    level = logging.INFO if outcome == "ok" else logging.WARNING
    jobs_log.log(
        level,
        "job %s %s in %.1fs: %s",
        name,
        outcome,
        duration,
        message,
        extra={"fields": {"job": name, "outcome": outcome, "duration": round(duration, 3)}},
    )
