"""Reports: what happened over a period, as JSON, text and HTML, saved in archive/.

Files processed and failed by kind, latency percentiles, top failure reasons, recent failures,
folder sizes, and the request monitor's figures (requests, error rate, top endpoints, status
codes, requests by hour of day and by weekday).
"""

from __future__ import annotations

import html
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .printable import printable
from .stats import quantiles

if TYPE_CHECKING:
    from .engine import Engine

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def folder_size(path: Path) -> tuple[int, int]:
    """(files, bytes) under a folder."""
    files = total = 0
    stack = [str(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            files += 1
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return files, total


def build(engine: Engine, since: float | None = None, until: float | None = None) -> dict[str, Any]:
    """The report's data; the request monitor's figures only from a running engine."""
    queries = engine.reports
    until = until or time.time()
    since = since or until - 86400
    doc: dict[str, Any] = {
        "engine": _shown(engine.config.name),
        "generated_at": time.time(),
        "since": since,
        "until": until,
        **_files_by_kind(queries, since, until),
        **_latencies(queries, since, until),
        **_failures(queries, since, until),
        **_activity_by_time(queries, since, until),
        "folders": _folders(engine.config.paths),
    }
    requests = engine.requests if engine.running else None
    if requests is not None:
        doc["requests"] = _requests(requests)
    return doc


def _shown(text: str | None) -> str | None:
    """A name or reason fit for every report format (and the terminal or mail client showing it):
    undecodable bytes and control characters as \\xNN; None stays None."""
    return None if text is None else printable(text)


def _files_by_kind(queries, since: float, until: float) -> dict[str, Any]:
    by_kind: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for c in queries.counts(since, until):
        by_kind.setdefault(_shown(c.kind or "none"), {})[c.state] = c.count
        totals[c.state] = totals.get(c.state, 0) + c.count
    return {"totals": totals, "by_kind": by_kind}


def _latencies(queries, since: float, until: float) -> dict[str, Any]:
    timings = queries.timings(since, until)
    return {
        "latency": vars(quantiles(timings.latency)),
        "processing": vars(quantiles(timings.duration)),
    }


def _failures(queries, since: float, until: float) -> dict[str, Any]:
    return {
        "top_failure_reasons": [
            {"error_kind": _shown(r.error_kind), "reason": _shown(r.reason), "count": r.count}
            for r in queries.top_reasons(since, until)
        ],
        "recent_failures": [
            {
                "id": f.id,
                "name": _shown(f.name),
                "error_kind": _shown(f.error_kind),
                "reason": _shown(f.reason),
                "at": f.finished_at,
            }
            for f in queries.recent_failures(since)
        ],
    }


def _activity_by_time(queries, since: float, until: float) -> dict[str, Any]:
    by_hour = [0] * 24
    by_weekday = [0] * 7
    for ts in queries.finished_times(since, until):
        local = time.localtime(ts)
        by_hour[local.tm_hour] += 1
        by_weekday[local.tm_wday] += 1
    return {"files_by_hour": by_hour, "files_by_weekday": by_weekday}


def _folders(paths) -> dict[str, dict[str, int]]:
    out = {}
    for name in ("inbox", "processed", "failed", "archive", "backups"):
        n, size = folder_size(getattr(paths, name))
        out[name] = {"files": n, "bytes": size}
    return out


def _requests(requests) -> dict[str, Any]:
    """The request monitor's figures: totals, status classes, top endpoints, by hour and weekday."""
    stats = requests.stats()
    return {
        "total": stats["requests"],
        "errors": stats["errors"],
        "error_rate": stats["error_rate"],
        "status_classes": stats["status_classes"],
        "latency": stats["latency"],
        "top_endpoints": [
            {
                "route": _shown(e["route"]),
                "count": e["count"],
                "error_rate": e["error_rate"],
                "p95": e["latency"]["p95"],
            }
            for e in requests.endpoints()[:5]
        ],
        **requests.distribution(),
    }


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.1f} ms"


def _when(ts: float | None) -> str:
    return "—" if not ts else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def render_text(doc: dict[str, Any]) -> str:
    t = doc["totals"]
    lines = [
        f"chute report — {doc['engine']}",
        f"{_when(doc['since'])} to {_when(doc['until'])}",
        "",
        f"files: {t.get('done', 0)} done, {t.get('failed', 0)} failed, {t.get('duplicate', 0)} duplicates",
    ]
    for kind, states in sorted(doc["by_kind"].items()):
        lines.append(f"  {kind:<10} " + ", ".join(f"{s} {n}" for s, n in sorted(states.items())))
    lat = doc["latency"]
    lines += [
        "",
        f"latency (arrival to placed): p50 {_ms(lat['p50'])}, p95 {_ms(lat['p95'])}, p99 {_ms(lat['p99'])}",
    ]
    if doc["top_failure_reasons"]:
        lines += ["", "top failure reasons:"]
        lines += [f"  {r['count']:>5}  {r['error_kind']}: {r['reason']}" for r in doc["top_failure_reasons"]]
    if doc["recent_failures"]:
        lines += ["", "recent failures:"]
        lines += [
            f"  #{f['id']} {f['name']!r} {f['error_kind']}: {f['reason']}" for f in doc["recent_failures"]
        ]
    lines += ["", "folders:"]
    lines += [
        f"  {k:<10} {v['files']:>7} files {v['bytes'] / 1e6:>10.1f} MB" for k, v in doc["folders"].items()
    ]
    req = doc.get("requests")
    if req:
        lines += [
            "",
            f"HTTP: {req['total']} requests, {req['error_rate']:.1%} errors, p95 {_ms(req['latency']['p95'])}",
            "  status: " + ", ".join(f"{k} {v}" for k, v in sorted(req["status_classes"].items())),
        ]
        lines += [
            f"  {e['route']:<30} {e['count']:>7}  {e['error_rate']:.1%} errors  p95 {_ms(e['p95'])}"
            for e in req["top_endpoints"]
        ]
        lines.append("  by hour:    " + " ".join(str(n) for n in req["by_hour"]))
        lines.append(
            "  by weekday: " + "  ".join(f"{d} {n}" for d, n in zip(WEEKDAYS, req["by_weekday"], strict=True))
        )
    return "\n".join(lines) + "\n"


_STYLE = (
    "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}.bad{color:#b00}</style>"
)


def render_html(doc: dict[str, Any]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>chute report</title>",
        f"{_STYLE}</head><body>",
        *_html_summary(doc),
        *_html_latency(doc),
        *_html_failures(doc),
        "<h2>Folders</h2>",
        _html_table(
            ["folder", "files", "MB"],
            [[k, v["files"], f"{v['bytes'] / 1e6:.1f}"] for k, v in doc["folders"].items()],
        ),
        *_html_requests(doc.get("requests")),
        "</body></html>",
    ]
    return "\n".join(parts)


def _html_table(headers: list[Any], rows: list[list[Any]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_summary(doc: dict[str, Any]) -> list[str]:
    e = html.escape
    t = doc["totals"]
    return [
        f"<h1>chute report — {e(doc['engine'])}</h1><p>{e(_when(doc['since']))} to {e(_when(doc['until']))}</p>",
        f"<p><b>{t.get('done', 0)}</b> done, <b class='bad'>{t.get('failed', 0)}</b> failed, "
        f"{t.get('duplicate', 0)} duplicates</p>",
        "<h2>By kind</h2>",
        _html_table(
            ["kind", "done", "failed"],
            [[k, v.get("done", 0), v.get("failed", 0)] for k, v in sorted(doc["by_kind"].items())],
        ),
    ]


def _html_latency(doc: dict[str, Any]) -> list[str]:
    rows = [
        [name, *(_ms(doc[name][q]) for q in ("p50", "p95", "p99", "max"))]
        for name in ("latency", "processing")
    ]
    return ["<h2>Latency</h2>", _html_table(["", "p50", "p95", "p99", "max"], rows)]


def _html_failures(doc: dict[str, Any]) -> list[str]:
    return [
        "<h2>Top failure reasons</h2>",
        _html_table(
            ["count", "kind", "reason"],
            [[r["count"], r["error_kind"], r["reason"]] for r in doc["top_failure_reasons"]],
        ),
        "<h2>Recent failures</h2>",
        _html_table(
            ["id", "name", "error", "reason"],
            [[f["id"], f["name"], f["error_kind"], f["reason"]] for f in doc["recent_failures"]],
        ),
    ]


def _html_requests(req: dict[str, Any] | None) -> list[str]:
    if not req:
        return []
    return [
        "<h2>HTTP requests</h2>",
        f"<p>{req['total']} requests, {req['error_rate']:.1%} errors</p>",
        _html_table(
            ["route", "count", "error rate", "p95"],
            [[r["route"], r["count"], f"{r['error_rate']:.1%}", _ms(r["p95"])] for r in req["top_endpoints"]],
        ),
        _html_table(["status", "count"], sorted(req["status_classes"].items())),
        _html_table(["hour", *range(24)], [["requests", *req["by_hour"]]]),
        _html_table(["weekday", *WEEKDAYS], [["requests", *req["by_weekday"]]]),
    ]


def save(doc: dict[str, Any], archive: Path) -> dict[str, Path]:
    """Write report-<stamp>.json/.txt/.html into archive/ (each whole or absent)."""
    archive.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(doc["generated_at"]))
    base = f"report-{stamp}"
    n = 1
    while (archive / f"{base}.json").exists():
        base = f"report-{stamp}.{n}"
        n += 1
    out = {}
    for ext, text in (
        ("json", json.dumps(doc, indent=2, ensure_ascii=False, default=str)),
        ("txt", render_text(doc)),
        ("html", render_html(doc)),
    ):
        path = archive / f"{base}.{ext}"
        tmp = archive / f".{base}.{ext}.part"
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # whole or absent, never a stray .part
            raise
        out[ext] = path
    return out
