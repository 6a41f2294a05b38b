"""Plain dataclasses passed between layers and serialised to the HTTP API's JSON.

Defined once here so that the console cannot tell an in-process engine from a remote one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# File states as stored in the journal.
QUEUED = "queued"  # claimed out of the inbox, waiting for or in processing
RETRYING = "retrying"  # a transient error; waits for its backoff
DISPATCHED = "dispatched"  # handed to the cluster, waiting for a worker
PROCESSING = "processing"  # a cluster worker has it (which one, and its lease: the dispatches table)
PLACING = "placing"  # result decided, being moved to its destination
DONE = "done"
FAILED = "failed"
DUPLICATE = "duplicate"
VANISHED = "vanished"  # removed by someone else before it could be claimed

# The engine's own HTTP API: left out of the HTTP figures shown for the watched app, since most of
# its traffic is consoles polling.
API_PREFIX = "/api/v1/"

ACTIVE_STATES = (QUEUED, RETRYING, PLACING, DISPATCHED, PROCESSING)
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
    latency: float | None  # close of write (or the last retry request) to placed, seconds
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
    latency: Quantiles  # close of write (or retry) to placed, the last 1,000 files
    processing: Quantiles  # time in the processor, recent files
    last_scan_at: float | None
    watcher_alive: bool
    schedules: list[JobStatus] = field(default_factory=list)
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


NOT_RETRIABLE = "not found or not failed"


@dataclass(frozen=True)
class RetryResult:
    retried: list[int]
    skipped: dict[int, str]  # id -> why not


@dataclass(frozen=True)
class JobStatus:
    """A scheduled job: when it runs, how its last run went, when it runs next."""

    name: str
    when: str  # the schedule as configured ("daily 01:00", "never", ...)
    last_run: float | None = None  # when the last run started
    last_finished: float | None = None
    last_outcome: str | None = None  # ok | failed | interrupted
    last_duration: float | None = None
    last_message: str | None = None
    runs: int = 0
    failures: int = 0
    next_run: float | None = None
    running: bool = False


@dataclass(frozen=True)
class Latency:
    count: int = 0
    sum: float | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class RequestWindow:
    """A route's requests over the last minutes."""

    count: int = 0
    errors: int = 0
    error_rate: float = 0.0
    max: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class ExceptionCount:
    count: int
    last_message: str
    last_at: float


@dataclass(frozen=True)
class EndpointStats:
    """The request monitor's figures for one route template, since start and per window."""

    route: str
    count: int
    errors: int
    error_rate: float
    methods: dict[str, int] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)  # status code -> requests
    exceptions: dict[str, ExceptionCount] = field(default_factory=dict)  # by exception type
    latency: Latency = field(default_factory=Latency)
    windows: dict[str, RequestWindow] = field(default_factory=dict)  # "1m" | "5m" | "60m"


@dataclass(frozen=True)
class RequestRecord:
    """One recent HTTP request."""

    time: float
    method: str
    path: str
    route: str
    status: int
    duration: float
    error: str | None = None


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts at each upper bound of `bounds` (then +Inf, which is `count`)."""

    label: str  # a file kind, or a route template
    bounds: tuple[float, ...]
    cumulative: list[int]  # one per bound
    count: int
    sum: float
    statuses: dict[int, int] = field(default_factory=dict)  # HTTP: status code -> requests


# --- what the journal stores hand back (one dataclass per kind of row) -------------------------


@dataclass(frozen=True)
class Arrival:
    """A complete file in the inbox, as the pipeline claims it."""

    name: str
    src: str
    ino: int
    size: int
    arrived_at: float


@dataclass
class Outcome:
    """The result of one attempt, as the pipeline hands it to the journal."""

    id: int
    target_state: str  # done | failed | duplicate
    kind: str | None
    size: int | None
    sha256: str | None
    started_at: float
    duration: float
    meta: dict[str, Any] = field(default_factory=dict)
    error_kind: str | None = None
    reason: str | None = None
    dest: str | None = None
    message: str = ""
    meta_json: str | None = None  # `meta` encoded once, shared with the sidecar

    def encoded_meta(self) -> str:
        if self.meta_json is None:
            self.meta_json = encode_json(self.meta)
        return self.meta_json


def json_encoder(ensure_ascii: bool = True) -> Callable[[Any], str]:
    """JSON text of journal data and sidecars; values JSON cannot hold are written as their str().

    The C encoder is made once here: JSONEncoder.encode builds a new one for every call,
    which was most of the cost of the four small documents each file journals.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(default=str, ensure_ascii=ensure_ascii).encode
    basestring = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring

    def encode(data: Any) -> str:
        if isinstance(data, str):
            return basestring(data)
        return "".join(make({}, str, basestring, None, ": ", ", ", False, False, True)(data, 0))

    return encode


encode_json = json_encoder()


@dataclass(frozen=True)
class ActiveRow:
    """A file not yet final, with what recovery needs to finish or redo its step."""

    id: int
    name: str
    src: str
    src_ino: int | None
    state: str
    target_state: str | None
    dest: str | None
    attempts: int
    arrived_at: float
    next_attempt_at: float | None
    meta: str | None
    error_kind: str | None
    reason: str | None


@dataclass(frozen=True)
class RetryMove:
    """A failed file put back in the queue: where it lies now, to bring it back to state/work."""

    id: int
    name: str
    src: str
    attempts: int = 0  # attempts the journal holds already, so the next sidecar counts on from them


@dataclass(frozen=True)
class StateCounts:
    counts: dict[str, int]  # state -> files (every state, zeros included)
    kinds: dict[str, dict[str, int]]  # kind -> state -> files

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class KindCount:
    kind: str | None
    state: str
    count: int


@dataclass(frozen=True)
class Timings:
    """Two columns over the same files (a column each, since they are read for quantiles)."""

    latency: list[float | None]  # close of write (or the last retry request) to placed, seconds
    duration: list[float | None]  # in the processor, seconds

    @classmethod
    def of(cls, rows: list[tuple[float | None, float | None]]) -> Timings:
        latency, duration = zip(*rows, strict=True) if rows else ((), ())
        return cls(list(latency), list(duration))


# Built once per row on the history path: slots and not frozen, which is six times cheaper.
@dataclass(slots=True)
class Finished:
    state: str
    finished_at: float
    latency: float | None
    duration: float | None


@dataclass(frozen=True)
class DurationBucket:
    kind: str
    index: int  # into stats.DURATION_BUCKETS; len(DURATION_BUCKETS) is +Inf
    count: int
    total: float  # sum of the durations


@dataclass(frozen=True)
class FailureReason:
    error_kind: str
    reason: str  # first 80 characters, so per-file details group together
    count: int


@dataclass(frozen=True)
class JobRecord:
    """A scheduled job's last run as journaled."""

    name: str
    last_started_at: float | None = None
    last_finished_at: float | None = None
    last_outcome: str | None = None  # ok | failed | interrupted
    last_duration: float | None = None
    last_message: str | None = None
    runs: int = 0
    failures: int = 0


@dataclass(frozen=True)
class OutboxItem:
    id: int
    channel: str  # discord | email
    state: str  # pending | sent | dead
    attempts: int
    last_error: str | None
    payload: dict[str, Any]


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
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        nested = _NESTED.get((cls.__name__, f.name))
        if nested is not None:
            elem, shape = nested
            if shape == "list":
                value = [from_dict(elem, v) for v in value]
            elif shape == "dict":
                value = {k: from_dict(elem, v) for k, v in value.items()}
            else:
                value = from_dict(elem, value)
        kwargs[f.name] = value
    return cls(**kwargs)


# Fields holding dataclasses: (class, field) -> (their class, one | list | dict of them).
_NESTED: dict[tuple[str, str], tuple[type, str]] = {
    ("FileDetail", "file"): (FileRecord, "one"),
    ("FileDetail", "attempts"): (Attempt, "list"),
    ("FileDetail", "events"): (Event, "list"),
    ("FilePage", "items"): (FileRecord, "list"),
    ("Snapshot", "latency"): (Quantiles, "one"),
    ("Snapshot", "processing"): (Quantiles, "one"),
    ("Snapshot", "schedules"): (JobStatus, "list"),
    ("EndpointStats", "latency"): (Latency, "one"),
    ("EndpointStats", "windows"): (RequestWindow, "dict"),
    ("EndpointStats", "exceptions"): (ExceptionCount, "dict"),
}


def worst(statuses: list[str]) -> str:
    """Combine health statuses: any fail is fail, else any warn is warn."""
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


@dataclass(frozen=True)
class Dispatch:
    """A file the pipeline hands to the cluster (engine/cluster), with what it already knows about it."""

    id: int
    name: str
    kind: str
    size: int
    sha256: str
    isolated: bool
    note: str | None
    started_at: float


@dataclass(frozen=True)
class WorkerInfo:
    """A cluster worker as its heartbeats describe it."""

    name: str
    host: str
    pid: int
    version: str
    concurrency: int
    in_flight: int
    done: int
    failed: int
    first_seen: float
    last_seen: float
    alive: bool  # heard from within the lease
