"""The scheduled report of a monitored Flask app: its request figures as text and HTML.

Since the app started: requests, errors, latency percentiles, endpoints, status codes, error
types, requests by hour and weekday; and what changed since the previous report.
"""

from __future__ import annotations

import html
import time
from typing import Any

from . import shapes
from .collector import Collector

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def build(collector: Collector, name: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The report's data; `previous` is the last report's `totals` (None for the first)."""
    stats = shapes.stats(collector)
    totals = {
        "started_at": collector.started_at,
        "requests": stats["total_requests"],
        "errors": stats["total_errors"],
    }
    # Counts since the previous report, when it saw the same process (a restart resets them).
    same_run = previous is not None and previous.get("started_at") == collector.started_at
    since_last = (
        {k: totals[k] - previous.get(k, 0) for k in ("requests", "errors")} if same_run else dict(totals)
    )
    since_last.pop("started_at", None)
    return {
        "app": name,
        "generated_at": time.time(),
        "totals": totals,
        "since_last_report": since_last,
        "stats": stats,
        "endpoints": shapes.endpoints(collector),
        **collector.distribution(),
    }


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _endpoint_rows(doc: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            route,
            e["count"],
            f"{e['error_rate']:.1f}%",
            *(f"{e['response_time_percentiles'][q]:.1f} ms" for q in ("p50", "p95", "p99")),
        ]
        for route, e in list(doc["endpoints"].items())[:15]
    ]


def subject(doc: dict[str, Any]) -> str:
    s = doc["stats"]
    return f"{doc['app']} report: {s['total_requests']} requests, {s['error_rate']:.1f}% errors"


def render_text(doc: dict[str, Any]) -> str:
    s = doc["stats"]
    p = s["response_time_percentiles"]
    last = doc["since_last_report"]
    lines = [
        f"{doc['app']} — request report, {_when(doc['generated_at'])}",
        f"since start ({_when(doc['totals']['started_at'])}): {s['total_requests']} requests, "
        f"{s['total_errors']} errors ({s['error_rate']:.1f}%), {s['requests_per_second']:.2f} req/s",
        f"since the last report: {last['requests']} requests, {last['errors']} errors",
        f"response time: avg {s['average_response_time_ms']:.1f} ms, p50 {p['p50']:.1f} ms, "
        f"p95 {p['p95']:.1f} ms, p99 {p['p99']:.1f} ms, max {s['max_response_time_ms']:.1f} ms",
        "",
        "endpoints (count, errors, p50, p95, p99):",
    ]
    lines += [
        f"  {r[0]:<32} {r[1]:>8}  {r[2]:>6}  {r[3]:>10} {r[4]:>10} {r[5]:>10}" for r in _endpoint_rows(doc)
    ]
    lines += ["", "status codes: " + ", ".join(f"{k} {v}" for k, v in s["status_codes"].items())]
    if s["error_types"]:
        lines.append("error types: " + ", ".join(f"{k} {v}" for k, v in s["error_types"].items()))
    lines.append("by hour:    " + " ".join(str(n) for n in doc["by_hour"]))
    lines.append(
        "by weekday: " + "  ".join(f"{d} {n}" for d, n in zip(WEEKDAYS, doc["by_weekday"], strict=True))
    )
    return "\n".join(lines) + "\n"


def render_html(doc: dict[str, Any]) -> str:
    e = html.escape

    def table(headers: list[Any], rows: list[list[Any]]) -> str:
        head = "".join(f"<th>{e(str(h))}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    s = doc["stats"]
    p = s["response_time_percentiles"]
    last = doc["since_last_report"]
    return "\n".join(
        [
            "<!doctype html><html><head><meta charset='utf-8'><title>request report</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}</style></head><body>",
            f"<h1>{e(doc['app'])} — request report</h1><p>{e(_when(doc['generated_at']))}</p>",
            f"<p><b>{s['total_requests']}</b> requests since {e(_when(doc['totals']['started_at']))}, "
            f"<b>{s['total_errors']}</b> errors ({s['error_rate']:.1f}%); since the last report "
            f"{last['requests']} requests, {last['errors']} errors.</p>",
            table(
                ["avg", "p50", "p95", "p99", "max"],
                [
                    [
                        f"{v:.1f} ms"
                        for v in (
                            s["average_response_time_ms"],
                            p["p50"],
                            p["p95"],
                            p["p99"],
                            s["max_response_time_ms"],
                        )
                    ]
                ],
            ),
            "<h2>Endpoints</h2>",
            table(["endpoint", "count", "errors", "p50", "p95", "p99"], _endpoint_rows(doc)),
            "<h2>Status codes and errors</h2>",
            table(["status", "count"], list(s["status_codes"].items())),
            table(["error type", "count"], list(s["error_types"].items())),
            table(["hour", *range(24)], [["requests", *doc["by_hour"]]]),
            table(["weekday", *WEEKDAYS], [["requests", *doc["by_weekday"]]]),
            "</body></html>",
        ]
    )
