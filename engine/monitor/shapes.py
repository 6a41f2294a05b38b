"""The original Flask monitoring extension's JSON shapes, computed from a Collector.

Pages and tools made for that extension read these unchanged: times in milliseconds, error rates
in percent, an error is a status >= 400 or an exception, recent requests as a bare list (oldest
first), health as healthy/warning/degraded. The shapes are the original's; the numbers are chute's
(percentiles from the sketches, within 1 %).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .collector import Collector
from .sketch import Sketch

TOP = 10


@dataclass(frozen=True)
class HealthLevels:
    """The original's /health: the error rate over the last `window` seconds, in percent."""

    warning_error_percent: float = 5.0
    degraded_error_percent: float = 10.0
    window: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.warning_error_percent <= self.degraded_error_percent <= 100:
            raise ValueError(
                "health levels: need 0 <= warning_error_percent <= degraded_error_percent <= 100 "
                f"(got {self.warning_error_percent}, {self.degraded_error_percent})"
            )
        if self.window <= 0:
            raise ValueError(f"health levels: window must be > 0 seconds (got {self.window})")


def _ms(seconds: float | None) -> float:
    return round(seconds * 1000, 3) if seconds is not None else 0.0


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 3) if whole else 0.0


def error_type(status: int, exc_type: str | None) -> str | None:
    """The original named an error by its exception, else by its status."""
    if exc_type is not None:
        return exc_type
    return f"HTTP {status}" if status >= 400 else None


def _errors(route: dict[str, Any]) -> int:
    # The collector counts 5xx and exceptions; the original counted 4xx as errors too.
    return route["errors"] + sum(n for code, n in route["status"].items() if 400 <= code < 500)


def _times(sketch: Sketch) -> dict[str, Any]:
    p50, p95, p99 = sketch.quantiles((0.5, 0.95, 0.99))
    empty = sketch.count == 0
    return {
        "average_response_time_ms": 0.0 if empty else _ms(sketch.sum / sketch.count),
        "min_response_time_ms": 0.0 if empty else _ms(sketch.min),
        "max_response_time_ms": 0.0 if empty else _ms(sketch.max),
        "response_time_percentiles": {"p50": _ms(p50), "p95": _ms(p95), "p99": _ms(p99)},
    }


def _top(counts: Counter) -> dict[str, int]:
    return dict(counts.most_common(TOP))


def stats(c: Collector) -> dict[str, Any]:
    """GET /monitoring/stats."""
    routes = c.totals()
    recent = c.recent(sys.maxsize)
    merged = Sketch()
    status: Counter = Counter()
    methods: Counter = Counter()
    endpoints: Counter = Counter()
    types: Counter = Counter()
    errors = 0
    for r in routes:
        merged.merge(r["latency"])
        status.update(r["status"])
        methods.update(r["methods"])
        endpoints[r["route"]] = r["latency"].count
        errors += _errors(r)
        types.update(r["exceptions"])
        # A 500 that no exception explains (a view returning 500 itself) is named by its status.
        unexplained = dict(r["status"])
        unexplained[500] = max(0, unexplained.get(500, 0) - sum(r["exceptions"].values()))
        types.update({f"HTTP {code}": n for code, n in unexplained.items() if code >= 400 and n})
    total = merged.count
    uptime = max(0.0, c.now() - c.started_at)
    return {
        "uptime_seconds": round(uptime, 3),
        "total_requests": total,
        "total_errors": errors,
        "requests_per_second": round(total / uptime, 3) if uptime > 0 else 0.0,
        "error_rate": _percent(errors, total),
        **_times(merged),
        "status_codes": {str(k): v for k, v in sorted(status.items())},
        "top_paths": _top(Counter(r["path"] for r in recent)),
        "top_methods": _top(methods),
        "top_endpoints": _top(endpoints),
        "error_types": dict(types.most_common()),
        "recent_request_count": len(recent),
    }


def requests(c: Collector, limit: int) -> list[dict[str, Any]]:
    """GET /monitoring/requests: the last `limit` requests, oldest first."""
    out = []
    for r in reversed(c.recent(limit)):
        kind = error_type(r["status"], r["error"])
        out.append(
            {
                "timestamp": r["time"],
                "datetime": datetime.fromtimestamp(r["time"]).astimezone().isoformat(),
                "path": r["path"],
                "method": r["method"],
                "status_code": r["status"],
                "duration_ms": _ms(r["duration"]),
                "error_occurred": kind is not None,
                "error_type": kind,
                "endpoint": r["route"],
            }
        )
    return out


def endpoints(c: Collector) -> dict[str, Any]:
    """GET /monitoring/endpoints: keyed by route, busiest first."""
    out = {}
    for r in sorted(c.totals(), key=lambda r: r["latency"].count, reverse=True):
        count = r["latency"].count
        errors = _errors(r)
        out[r["route"]] = {
            "count": count,
            "errors": errors,
            "error_rate": _percent(errors, count),
            **_times(r["latency"]),
            "methods": r["methods"],
            "status_codes": {str(k): v for k, v in sorted(r["status"].items())},
        }
    return out


def health(c: Collector, levels: HealthLevels) -> dict[str, Any]:
    """GET /health: healthy, warning or degraded by the error rate of the last `levels.window`
    seconds (from the ring of recent requests: at high rates, its last requests)."""
    now = c.now()
    window = [r for r in c.recent(sys.maxsize) if r["time"] >= now - levels.window]
    failed = sum(1 for r in window if error_type(r["status"], r["error"]) is not None)
    rate = _percent(failed, len(window))
    status = (
        "degraded"
        if rate > levels.degraded_error_percent
        else "warning"
        if rate > levels.warning_error_percent
        else "healthy"
    )
    return {
        "status": status,
        "uptime_seconds": round(max(0.0, now - c.started_at), 3),
        "error_rate": rate,
        "window_seconds": levels.window,
        "requests_in_window": len(window),
    }
