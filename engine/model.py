"""Plain dataclasses passed between layers and serialised to the HTTP API's JSON.

Defined once here so that the console cannot tell an in-process engine from a remote one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# File states as stored in the journal.
QUEUED = "queued"  # claimed out of the inbox, waiting for or in processing
RETRYING = "retrying"  # a transient error; waits for its backoff
PLACING = "placing"  # result decided, being moved to its destination
DONE = "done"
FAILED = "failed"
DUPLICATE = "duplicate"
VANISHED = "vanished"  # removed by someone else before it could be claimed

ACTIVE_STATES = (QUEUED, RETRYING, PLACING)
FINAL_STATES = (DONE, FAILED, DUPLICATE, VANISHED)
STATES = ACTIVE_STATES + FINAL_STATES


@dataclass(frozen=True)
class Attempt:
    n: int
    started_at: float
    finished_at: float
    outcome: str  # done | failed | retry
    error_kind: str | None
    reason: str | None
    duration: float


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    type: str
    file_id: int | None
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileRecord:
    id: int
    name: str
    state: str
    kind: str | None
    size: int | None
    sha256: str | None
    attempts: int
    error_kind: str | None
    reason: str | None
    arrived_at: float
    updated_at: float
    finished_at: float | None
    duration: float | None  # seconds spent processing the last attempt
    latency: float | None  # arrival to placement, seconds
    dest: str | None


@dataclass(frozen=True)
class FileDetail:
    file: FileRecord
    meta: dict[str, Any]
    attempts: list[Attempt]
    events: list[Event]


@dataclass(frozen=True)
class FilePage:
    items: list[FileRecord]
    next_before: int | None  # pass as `before` for the next page; None at the end


@dataclass(frozen=True)
class Quantiles:
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    count: int = 0


@dataclass(frozen=True)
class Snapshot:
    name: str
    version: str
    started_at: float
    uptime: float
    counts: dict[str, int]  # by state
    kinds: dict[str, dict[str, int]]  # kind -> state -> count
    total: int
    queue_depth: int
    in_flight: int
    rate_per_min: float  # files finished in the last minute
    latency: Quantiles  # arrival to placement, recent files
    processing: Quantiles  # time in the processor, recent files
    last_scan_at: float | None
    watcher_alive: bool
    schedules: list[dict[str, Any]] = field(default_factory=list)
    last_event_id: int = 0
    unread_alerts: int = 0


@dataclass(frozen=True)
class Alert:
    id: int
    ts: float
    kind: str  # files_failed | job_failed | health | http_errors | notifier
    severity: str  # info | warning | critical
    title: str
    body: str
    count: int
    read: bool
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MinutePoint:
    minute: float  # start of the minute, epoch seconds
    files: int
    failed: int
    latency_p50: float | None
    latency_p95: float | None
    processing_p95: float | None
    http_requests: int = 0
    http_errors: int = 0
    http_p95: float | None = None


@dataclass(frozen=True)
class Health:
    status: str  # pass | warn | fail
    checks: dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class RetryResult:
    retried: list[int]
    skipped: dict[int, str]  # id -> why not


def to_dict(obj: Any) -> Any:
    """Dataclass (or list of them) to JSON-ready dicts."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def from_dict(cls: type, data: Any) -> Any:
    """The inverse of to_dict for the dataclasses above (used by the remote console)."""
    if not dataclasses.is_dataclass(cls):
        return data
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    kwargs = {}
    for name in hints:
        if name not in data:
            continue
        value = data[name]
        nested = _NESTED.get((cls.__name__, name))
        if nested is not None:
            elem, many = nested
            value = [from_dict(elem, v) for v in value] if many else from_dict(elem, value)
        kwargs[name] = value
    return cls(**kwargs)


_NESTED: dict[tuple[str, str], tuple[type, bool]] = {
    ("FileDetail", "file"): (FileRecord, False),
    ("FileDetail", "attempts"): (Attempt, True),
    ("FileDetail", "events"): (Event, True),
    ("FilePage", "items"): (FileRecord, True),
    ("Snapshot", "latency"): (Quantiles, False),
    ("Snapshot", "processing"): (Quantiles, False),
}


def worst(statuses: list[str]) -> str:
    """Combine health statuses: any fail is fail, else any warn is warn."""
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
