"""Request metrics kept per route template: bounded memory, reads that cost the same after ten
requests or ten million.

- since start: count, errors, status codes, exception types (with the last message), latency as
  exact count/sum/min/max plus a relative-error sketch for quantiles;
- rolling windows (1 min, 5 min, 1 h): one small sketch per route per minute, the last 60 kept,
  merged on read;
- a ring of the most recent requests.
An error is a 5xx response or an unhandled exception; 4xx are the client's, counted by status.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from math import ceil, log
from typing import Any

from ..model import worst
from .sketch import MIN_VALUE, Sketch, inv_log_gamma

_INV_LOG_GAMMA = inv_log_gamma()  # the default sketches' (every sketch here is one)

UNMATCHED = "<unmatched>"
OTHER = "<other>"
# Everything a client controls is folded before it becomes a key, so a stream of garbage requests
# cannot grow memory: made-up methods count as one OTHER, and every stored string is cut short.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "OTHER"
MAX_KEY = 300  # characters kept of a route template, path, exception type or message
MAX_EXCEPTION_TYPES = 20  # per route; the rest count under OTHER
WINDOWS = {"1m": 1, "5m": 5, "1h": 60}
QS = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class HealthThresholds:
    """Health from the last five minutes of requests (ignored below `min_requests`)."""

    warn_error_rate: float = 0.05
    fail_error_rate: float = 0.25
    warn_p95: float = 1.0
    fail_p95: float = 5.0
    min_requests: int = 20


class _Minute:
    __slots__ = ("errors", "minute", "sketch")

    def __init__(self, minute: int) -> None:
        self.minute = minute
        self.sketch = Sketch()
        self.errors = 0


class _Route:
    __slots__ = ("errors", "exceptions", "methods", "minutes", "route", "status", "total")

    def __init__(self, route: str) -> None:
        self.route = route
        self.total = Sketch()
        self.errors = 0
        self.status: dict[int, int] = {}
        self.methods: dict[str, int] = {}
        self.exceptions: dict[str, list[Any]] = {}  # type -> [count, last message, last time]
        self.minutes: deque[_Minute] = deque(maxlen=60)


def _latency(s: Sketch) -> dict[str, float | int | None]:
    p50, p90, p95, p99 = s.quantiles(QS)
    return {
        "count": s.count,
        "sum": s.sum,
        "mean": s.sum / s.count if s.count else None,
        "min": s.min if s.count else None,
        "max": s.max if s.count else None,
        "p50": p50,
        "p90": p90,
        "p95": p95,
        "p99": p99,
    }


class Collector:
    def __init__(self, recent: int = 1000, max_routes: int = 500, clock=time.time) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self._recent: deque[tuple] = deque(maxlen=recent)
        self._max_routes = max_routes
        self._clock = clock
        self.started_at = clock()
        # Requests by local hour of day and by weekday, for reports; the hour and weekday are
        # worked out once a minute, not per request.
        self._hours = [0] * 24
        self._weekdays = [0] * 7
        self._calendar_minute = -1
        self._hour = self._weekday = 0

    def record(
        self,
        method: str,
        path: str,
        route: str,
        status: int,
        duration: float,
        exc_type: str | None = None,
        exc_message: str | None = None,
    ) -> None:
        now = self._clock()
        minute = int(now // 60)
        error = status >= 500 or exc_type is not None
        if method not in METHODS:
            method = OTHER_METHOD
        route = route[:MAX_KEY]
        status = min(max(status, 0), 999)
        index = ceil(log(duration) * _INV_LOG_GAMMA) if duration > MIN_VALUE else None
        with self._lock:
            r = self._routes.get(route)
            if r is None:
                if len(self._routes) >= self._max_routes:
                    route = OTHER
                r = self._routes.get(route) or self._routes.setdefault(route, _Route(route))
            if minute != self._calendar_minute:
                local = time.localtime(now)
                self._calendar_minute, self._hour, self._weekday = minute, local.tm_hour, local.tm_wday
            self._hours[self._hour] += 1
            self._weekdays[self._weekday] += 1
            r.total.add_at(index, duration)
            st = r.status
            st[status] = st.get(status, 0) + 1
            mt = r.methods
            mt[method] = mt.get(method, 0) + 1
            mins = r.minutes
            m = mins[-1] if mins else None
            if m is None or m.minute != minute:
                m = _Minute(minute)
                mins.append(m)
            m.sketch.add_at(index, duration)
            if error:
                r.errors += 1
                m.errors += 1
                if exc_type is not None:
                    exc_type = exc_type[:MAX_KEY]
                    if exc_type not in r.exceptions and len(r.exceptions) >= MAX_EXCEPTION_TYPES:
                        exc_type = OTHER
                    entry = r.exceptions.get(exc_type)
                    if entry is None:
                        r.exceptions[exc_type] = [1, (exc_message or "")[:MAX_KEY], now]
                    else:
                        entry[0] += 1
                        entry[1] = (exc_message or "")[:MAX_KEY]
                        entry[2] = now
            self._recent.append((now, method, path[:MAX_KEY], route, status, duration, exc_type))

    # --- reads --------------------------------------------------------------------------------

    def _window(self, r: _Route, minutes: int, now_minute: int) -> tuple[Sketch, int]:
        merged = Sketch()
        errors = 0
        for m in r.minutes:
            if m.minute > now_minute - minutes:
                merged.merge(m.sketch)
                errors += m.errors
        return merged, errors

    def endpoints(self) -> list[dict[str, Any]]:
        now_minute = int(self._clock() // 60)
        out = []
        with self._lock:
            routes = list(self._routes.values())
            for r in routes:
                windows = {}
                for label, n in WINDOWS.items():
                    sketch, errors = self._window(r, n, now_minute)
                    windows[label] = {
                        "count": sketch.count,
                        "errors": errors,
                        "error_rate": errors / sketch.count if sketch.count else 0.0,
                        **{k: v for k, v in _latency(sketch).items() if k in ("p50", "p95", "p99", "max")},
                    }
                out.append(
                    {
                        "route": r.route,
                        "count": r.total.count,
                        "errors": r.errors,
                        "error_rate": r.errors / r.total.count if r.total.count else 0.0,
                        "methods": dict(r.methods),
                        "status": {str(k): v for k, v in sorted(r.status.items())},
                        "exceptions": {
                            k: {"count": v[0], "last_message": v[1], "last_at": v[2]}
                            for k, v in r.exceptions.items()
                        },
                        "latency": _latency(r.total),
                        "windows": windows,
                    }
                )
        out.sort(key=lambda e: e["count"], reverse=True)
        return out

    def stats(self) -> dict[str, Any]:
        """Totals over every route: since start and per window."""
        now = self._clock()
        now_minute = int(now // 60)
        total = Sketch()
        errors = 0
        status: dict[str, int] = {}
        windows = {label: [Sketch(), 0] for label in WINDOWS}
        with self._lock:
            for r in self._routes.values():
                total.merge(r.total)
                errors += r.errors
                for k, v in r.status.items():
                    key = f"{k // 100}xx"
                    status[key] = status.get(key, 0) + v
                for label, n in WINDOWS.items():
                    sketch, errs = self._window(r, n, now_minute)
                    windows[label][0].merge(sketch)
                    windows[label][1] += errs
        uptime = now - self.started_at
        return {
            "requests": total.count,
            "errors": errors,
            "error_rate": errors / total.count if total.count else 0.0,
            "status_classes": status,
            "uptime": uptime,
            "latency": _latency(total),
            "windows": {
                label: {
                    "count": sk.count,
                    "errors": errs,
                    "error_rate": errs / sk.count if sk.count else 0.0,
                    "rate_per_s": sk.count / min(uptime, WINDOWS[label] * 60) if uptime > 0 else 0.0,
                    **{k: v for k, v in _latency(sk).items() if k in ("p50", "p95", "p99", "max")},
                }
                for label, (sk, errs) in windows.items()
            },
        }

    def recent(self, limit: int = 100, route: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._recent)
        out = []
        for ts, method, path, r, status, duration, exc in reversed(items):
            if route is not None and r != route:
                continue
            out.append(
                {
                    "time": ts,
                    "method": method,
                    "path": path,
                    "route": r,
                    "status": status,
                    "duration": duration,
                    "error": exc,
                }
            )
            if len(out) >= limit:
                break
        return out

    def history(self, minutes: int = 60, exclude: str | None = None) -> list[dict[str, Any]]:
        """Per-minute series over all routes (oldest first), for sparklines; `exclude` leaves out
        routes starting with it."""
        now_minute = int(self._clock() // 60)
        per: dict[int, list] = {m: [Sketch(), 0] for m in range(now_minute - minutes + 1, now_minute + 1)}
        with self._lock:
            for r in self._routes.values():
                if exclude and r.route.startswith(exclude):
                    continue
                for m in r.minutes:
                    if m.minute in per:
                        per[m.minute][0].merge(m.sketch)
                        per[m.minute][1] += m.errors
        out = []
        for minute, (sk, errs) in sorted(per.items()):
            p50, _, p95, p99 = sk.quantiles(QS)
            out.append(
                {"minute": minute * 60, "count": sk.count, "errors": errs, "p50": p50, "p95": p95, "p99": p99}
            )
        return out

    def distribution(self) -> dict[str, list[int]]:
        """Requests since start by local hour (0-23) and by weekday (0 = Monday)."""
        with self._lock:
            return {"by_hour": list(self._hours), "by_weekday": list(self._weekdays)}

    def route_sketches(self) -> dict[str, tuple[Sketch, dict[int, int]]]:
        """Copies of each route's totals (for Prometheus exposition)."""
        with self._lock:
            return {name: (r.total.copy(), dict(r.status)) for name, r in self._routes.items()}

    def health(self, t: HealthThresholds = HealthThresholds()) -> dict[str, Any]:
        w = self.stats()["windows"]["5m"]
        # Each check carries its own status; the overall one is the worse of the two.
        errors = latency = "pass"
        p95 = w["p95"] or 0.0
        if w["count"] >= t.min_requests:
            errors = _grade(w["error_rate"], t.warn_error_rate, t.fail_error_rate)
            latency = _grade(p95, t.warn_p95, t.fail_p95)
            note = f"{w['count']} requests in 5 min, {w['error_rate']:.1%} errors, p95 {p95 * 1000:.0f} ms"
        else:
            note = f"only {w['count']} requests in 5 min; not judged below {t.min_requests}"
        return {
            "status": worst([errors, latency]),
            "checks": {
                "http:errors": [
                    {
                        "status": errors,
                        "observedValue": w["error_rate"],
                        "observedUnit": "ratio",
                        "output": note,
                    }
                ],
                "http:latency-p95": [{"status": latency, "observedValue": w["p95"], "observedUnit": "s"}],
            },
        }

    def now(self) -> float:
        """This collector's clock (tests give it a fake one)."""
        return self._clock()

    def totals(self) -> list[dict[str, Any]]:
        """Each route since start, without the windows (no sketch merging: cheap to poll)."""
        with self._lock:
            return [
                {
                    "route": r.route,
                    "errors": r.errors,
                    "status": dict(r.status),
                    "methods": dict(r.methods),
                    "exceptions": {k: v[0] for k, v in r.exceptions.items()},
                    "latency": r.total.copy(),
                }
                for r in self._routes.values()
            ]


def _grade(value: float, warn: float, fail: float) -> str:
    return "fail" if value >= fail else "warn" if value >= warn else "pass"
