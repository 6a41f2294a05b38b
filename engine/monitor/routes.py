"""The HTTP routes `Monitor(app)` adds to an app.

- the original extension's: /monitoring/stats, /monitoring/requests, /monitoring/endpoints and
  /health in its shapes (shapes.py), and its alert centre under /api/alerts;
- chute's own view under /monitoring/chute/: the same documents the engine's API serves under
  /api/v1 (request stats, endpoints, recent requests, per-minute history, alerts, health+json,
  a snapshot), plus a description of what this side offers, so the console can attach to the app.

With a token (the engine's scheme: `Authorization: Bearer <token>`) every route but /health needs
it; without one they are open, as the original's were.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from .. import __version__
from ..journal import JournalError
from ..model import STATES, MinutePoint, Quantiles, Snapshot, to_dict
from . import shapes

if TYPE_CHECKING:
    from .flask_ext import Monitor

MAX_LIMIT = 1000
# What the console may show for an app (an engine offers files, events and schedules besides).
OFFERS = ("requests", "history", "health", "alerts", "reports")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def ordered(doc: Any) -> Response:
    """JSON in the order built (busiest first, most common first), whatever the app's own JSON
    settings say about sorting keys."""
    return Response(json.dumps(doc, separators=(",", ":")), mimetype="application/json")


def _limit(default: int) -> int | Response:
    raw = request.args.get("limit", "")
    if raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        return error(
            400, "bad_request", f"limit: must be a whole number from 1 to {MAX_LIMIT} (got {raw[:40]!r})"
        )
    return int(raw)


def _store_errors(bp: Blueprint) -> None:
    @bp.errorhandler(sqlite3.Error)
    @bp.errorhandler(JournalError)
    def store_failed(exc: Exception) -> Response:
        # The app's requests go on; the alert centre says what is wrong with its file.
        return error(503, "unavailable", f"the monitor's alert store failed: {exc}")


def _guard(bp: Blueprint, monitor: Monitor) -> None:
    if monitor.token is None:
        return
    from ..server.auth import check  # only with a token: the server package is not light

    @bp.before_request
    def require_token():
        if not check(request.headers.get("Authorization"), monitor.token):
            return error(
                401,
                "unauthorized",
                "missing or wrong bearer token (send Authorization: Bearer <token>; the token is in "
                f"CHUTE_TOKEN or {monitor.token_where})",
                {"WWW-Authenticate": 'Bearer realm="chute"'},
            )
        return None


def _services(monitor: Monitor):
    """The app's alert services, or an error response saying why there are none."""
    services = monitor.services
    if services is None:
        return None, error(
            404, "not_found", "alerts are off for this app: Monitor(app, alerts=True) turns them on"
        )
    if services.journal is None:
        return None, error(503, "unavailable", services.error or "the monitor's alerts have not started")
    return services, None


def dropin(monitor: Monitor) -> Blueprint:
    """The original extension's /monitoring routes, in its shapes."""
    bp = Blueprint("chute_monitor", __name__)
    c = monitor.collector
    prefix = monitor.prefix
    _guard(bp, monitor)

    @bp.get(f"{prefix}/stats")
    def stats():
        return ordered(shapes.stats(c))

    @bp.get(f"{prefix}/endpoints")
    def endpoints():
        return ordered(shapes.endpoints(c))

    @bp.get(f"{prefix}/requests")
    def requests_():
        limit = _limit(100)
        return limit if isinstance(limit, Response) else jsonify(shapes.requests(c, limit))

    return bp


def alert_centre(monitor: Monitor) -> Blueprint:
    """The original extension's alert centre routes."""
    bp = Blueprint("chute_monitor_alerts", __name__)
    _guard(bp, monitor)
    _store_errors(bp)

    @bp.get("/api/alerts")
    def alerts():
        limit = _limit(100)
        if isinstance(limit, Response):
            return limit
        if monitor.services is None:
            return jsonify([])  # alerts off: an empty centre, as the original's was before any alert
        services, problem = _services(monitor)
        if problem is not None:
            return problem
        unread = request.args.get("unread", "").lower() in ("1", "true", "yes")
        return jsonify([_original_alert(a) for a in services.alerts(limit, unread_only=unread)])

    @bp.get("/api/alerts/unread-count")
    def unread_count():
        if monitor.services is None:
            return jsonify({"unread_count": 0})
        services, problem = _services(monitor)
        return problem if problem is not None else jsonify({"unread_count": services.unread()})

    @bp.route("/api/alerts/<int:alert_id>/read", methods=["POST", "PUT"])
    def read_one(alert_id: int):
        services, problem = _services(monitor)
        if problem is not None:
            return problem
        if not services.mark_read(alert_id, True):
            return error(404, "not_found", f"no alert with id {alert_id}")
        return jsonify({"id": alert_id, "read": True})

    @bp.route("/api/alerts/read-all", methods=["POST", "PUT"])
    def read_all():
        services, problem = _services(monitor)
        if problem is not None:
            return problem
        return jsonify({"marked": services.mark_all_read()})

    return bp


def health(monitor: Monitor) -> Blueprint:
    """/health: the original's healthy/warning/degraded (always 200), or health+json on request."""
    bp = Blueprint("chute_monitor_health", __name__)

    @bp.get(monitor.health_route)
    def health_():
        if monitor.health_format == "json":
            return _health_json(monitor)
        return jsonify(shapes.health(monitor.collector, monitor.levels))

    return bp


def _health_json(monitor: Monitor) -> tuple[Response, int, dict[str, str]]:
    h = monitor.health()
    body = {"status": h.status, "version": __version__, "checks": h.checks}
    return jsonify(body), 503 if h.status == "fail" else 200, {"Content-Type": "application/health+json"}


def _original_alert(a) -> dict[str, Any]:
    return {
        "id": a.id,
        "timestamp": a.ts,
        "datetime": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(a.ts)),
        "type": a.kind,
        "severity": a.severity,
        "title": a.title,
        "message": a.body,
        "count": a.count,
        "read": a.read,
    }


def chute(monitor: Monitor) -> Blueprint:
    """chute's own view of the app, in the engine API's shapes, under <prefix>/chute."""
    bp = Blueprint("chute_monitor_chute", __name__, url_prefix=f"{monitor.prefix}/chute")
    c = monitor.collector
    _guard(bp, monitor)
    _store_errors(bp)

    @bp.get("/")
    def info():
        offers = OFFERS if monitor.services is not None else OFFERS[:3]
        return jsonify({"kind": "app", "name": monitor.name, "version": __version__, "offers": list(offers)})

    @bp.get("/snapshot")
    def snapshot():
        services = monitor.services
        now = time.time()
        snap = Snapshot(
            name=monitor.name,
            version=__version__,
            started_at=c.started_at,
            uptime=now - c.started_at,
            counts=dict.fromkeys(STATES, 0),
            kinds={},
            total=0,
            queue_depth=0,
            in_flight=0,
            rate_per_min=0.0,
            latency=Quantiles(),
            processing=Quantiles(),
            last_scan_at=None,
            watcher_alive=True,
            schedules=services.scheduler.status() if services is not None and services.scheduler else [],
            unread_alerts=services.unread() if services is not None and services.journal is not None else 0,
        )
        return jsonify(to_dict(snap))

    @bp.get("/history")
    def history():
        raw = request.args.get("minutes", "60")
        if not raw.isdigit() or not 1 <= int(raw) <= 1440:
            return error(
                400, "bad_request", f"minutes: must be a whole number from 1 to 1440 (got {raw[:40]!r})"
            )
        points = [
            MinutePoint(
                minute=p["minute"],
                files=0,
                failed=0,
                latency_p50=None,
                latency_p95=None,
                processing_p95=None,
                http_requests=p["count"],
                http_errors=p["errors"],
                http_p95=p["p95"],
            )
            for p in c.history(int(raw))
        ]
        return jsonify({"minutes": to_dict(points)})

    @bp.get("/requests/stats")
    def stats():
        return jsonify(c.stats())

    @bp.get("/requests/endpoints")
    def endpoints():
        return jsonify({"endpoints": c.endpoints()})

    @bp.get("/requests/recent")
    def recent():
        limit = _limit(100)
        if isinstance(limit, Response):
            return limit
        route = request.args.get("route") or None
        return jsonify({"requests": c.recent(limit, route)})

    @bp.get("/health")
    def health_json():
        return _health_json(monitor)

    @bp.get("/alerts")
    def alerts():
        services, problem = _services(monitor)
        if problem is not None:
            return problem
        limit = _limit(100)
        if isinstance(limit, Response):
            return limit
        unread = request.args.get("unread", "").lower() in ("1", "true")
        items = services.alerts(limit, unread_only=unread)
        return jsonify({"alerts": to_dict(items), "unread": services.unread()})

    @bp.post("/alerts/<int:alert_id>/read")
    def alert_read(alert_id: int):
        services, problem = _services(monitor)
        if problem is not None:
            return problem
        body = request.get_json(silent=True) or {}
        read = body.get("read", True) if isinstance(body, dict) else True
        if not isinstance(read, bool):
            return error(400, "bad_request", "read: must be true or false")
        if not services.mark_read(alert_id, read):
            return error(404, "not_found", f"no alert with id {alert_id}")
        return jsonify({"id": alert_id, "read": read})

    @bp.post("/reports")
    def report_now():
        services, problem = _services(monitor)
        if problem is not None:
            return problem
        try:
            return jsonify(services.run_report()), 202
        except RuntimeError as exc:
            return error(409, "conflict", str(exc))

    return bp
