"""The engine's Flask app: the v1 API, /metrics and /health, instrumented by the monitor.

Every /api/v1 route needs `Authorization: Bearer <token>`. Every parameter is validated: bad
input is a 400 with a message naming the parameter, never a 500. Errors are JSON:
{"error": {"code", "message"}}. Retries work by file id only; no client path reaches the disk.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import __version__
from ..engine import Engine, EngineError
from ..model import STATES, to_dict
from ..monitor import Monitor
from . import auth
from .limits import MAX_BODY, MAX_ID, MAX_IDS, MAX_LIMIT, MAX_MINUTES, MAX_WAIT
from .metrics import exposition
from .openapi import document, server_url

log = logging.getLogger(__name__)
WHOLE = re.compile(r"-?[0-9]{1,19}")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad(param: str, problem: str) -> ApiError:
    return ApiError(400, "bad_request", f"{param}: {problem}")


def whole(raw: str, name: str, lo: int, hi: int) -> int:
    """ASCII digits only: int() and isdigit() also take '¹', '②' and '٣', which no client means."""
    if not WHOLE.fullmatch(raw):
        raise bad(name, f"must be a whole number (got {raw[:40]!r})")
    value = int(raw)
    if not lo <= value <= hi:
        raise bad(name, f"must be between {lo} and {hi} (got {value})")
    return value


def int_arg(name: str, default: int | None, lo: int, hi: int) -> int | None:
    # Absent means the default; present but empty is as wrong as any other non-number.
    raw = request.args.get(name)
    return default if raw is None else whole(raw, name, lo, hi)


def number(raw: str, name: str, lo: float, hi: float) -> float:
    try:
        value = float(raw) if raw.isascii() else math.nan  # float() also reads '٣' as 3
    except ValueError:
        raise bad(name, f"must be a number (got {raw[:40]!r})") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise bad(name, f"must be between {lo:g} and {hi:g} (got {raw[:40]})")
    return value


def float_arg(name: str, default: float, lo: float, hi: float) -> float:
    raw = request.args.get(name)
    return default if raw is None else number(raw, name, lo, hi)


def str_arg(name: str, max_len: int, choices: tuple[str, ...] | None = None) -> str | None:
    raw = request.args.get(name)
    if raw is None or (raw == "" and choices is None):
        return None
    if len(raw) > max_len:
        raise bad(name, f"must be at most {max_len} characters")
    if choices is not None and raw not in choices:
        raise bad(name, f"must be one of {', '.join(choices)} (got {raw[:40]!r})")
    return raw


def path_id(raw: str, what: str = "id") -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not 1 <= int(raw) <= MAX_ID:
        raise bad(what, f"must be a positive whole number up to {MAX_ID} (got {raw[:40]!r})")
    return int(raw)


def json_body() -> dict[str, Any]:
    data = request.get_data(cache=True)
    if not data:
        return {}
    try:
        body = request.get_json(force=True, silent=False)
    except Exception:
        raise ApiError(400, "bad_request", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "request body must be a JSON object")
    return body


def create_app(engine: Engine, token: str, wait_in_handler: bool = True) -> Flask:
    """The app. `wait_in_handler=False` when the server parks long polls itself (longpoll.py):
    the events handler then answers at once instead of holding its thread for `wait` seconds."""
    app = Flask("chute")
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    # The engine serves its request monitor under /api/v1/requests (documented, behind the token),
    # not under the /monitoring routes Monitor gives other apps.
    Monitor(app, collector=engine.requests, add_routes=False, health_route=None)

    @app.errorhandler(ApiError)
    def api_error(err: ApiError):
        return jsonify({"error": {"code": err.code, "message": err.message}}), err.status, err.headers

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        code = (err.name or "error").lower().replace(" ", "_")
        # Keep what the exception says besides its body: a 405's Allow, for one.
        headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
        return jsonify({"error": {"code": code, "message": err.description}}), err.code, headers

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(
            {"error": {"code": "internal", "message": f"internal error: {type(err).__name__}"}}
        ), 500

    @app.before_request
    def require_token():
        path = request.path
        if path.startswith("/api/") and not auth.check(request.headers.get("Authorization"), token):
            raise ApiError(
                401,
                "unauthorized",
                "missing or wrong bearer token (send Authorization: Bearer <token>; the token is in "
                "CHUTE_TOKEN or the engine's state/token)",
                {"WWW-Authenticate": 'Bearer realm="chute"'},
            )

    @app.get("/health")
    def health():
        h = engine.health()
        return (
            jsonify({"status": h.status, "version": __version__, "checks": h.checks}),
            503 if h.status == "fail" else 200,
            {"Content-Type": "application/health+json"},
        )

    @app.get("/health/live")
    def live():
        return jsonify({"status": "pass"}), 200, {"Content-Type": "application/health+json"}

    @app.get("/metrics")
    def metrics():
        body, content_type = exposition(engine, request.headers.get("Accept"))
        # content_type, not mimetype: Flask would add a second charset to one that has it.
        return Response(body, content_type=content_type)

    app.register_blueprint(api_v1(engine, wait_in_handler))
    from .workers import install  # here, not at the top: it imports this module's helpers

    install(app, engine)
    return app


def api_v1(engine: Engine, wait_in_handler: bool = True) -> Blueprint:
    bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

    @bp.get("/openapi.json")
    def openapi():
        return jsonify(document(server_url(current_app.config.get("CHUTE_URL"), request.host_url)))

    @bp.get("/snapshot")
    def snapshot():
        return jsonify(to_dict(engine.snapshot()))

    @bp.get("/history")
    def history():
        minutes = int_arg("minutes", 60, 1, MAX_MINUTES)
        return jsonify({"minutes": to_dict(engine.history(minutes))})

    @bp.get("/files")
    def files():
        page = engine.files(
            state=str_arg("state", 32, STATES),
            kind=str_arg("kind", 64),
            q=str_arg("q", 200),
            limit=int_arg("limit", 50, 1, MAX_LIMIT),
            before=int_arg("before", None, 1, MAX_ID),
        )
        return jsonify(to_dict(page))

    @bp.get("/files/<file_id>")
    def file(file_id: str):
        detail = engine.file(path_id(file_id))
        if detail is None:
            raise ApiError(404, "not_found", f"no file with id {file_id}")
        return jsonify(to_dict(detail))

    @bp.post("/files/<file_id>/retry")
    def retry_one(file_id: str):
        fid = path_id(file_id)
        json_body()
        if engine.file(fid) is None:
            raise ApiError(404, "not_found", f"no file with id {fid}")
        result = engine.retry([fid])
        if not result.retried:
            raise ApiError(
                409, "conflict", f"file {fid} cannot be retried: {result.skipped.get(fid, 'not failed')}"
            )
        return jsonify(to_dict(result)), 202

    @bp.post("/files/retry")
    def retry_many():
        body = json_body()
        ids, state = body.get("ids"), body.get("state")
        unknown = set(body) - {"ids", "state"}
        if unknown:
            raise bad("body", f"unknown field(s): {', '.join(sorted(unknown))}")
        if (ids is None) == (state is None):
            raise bad("body", 'give either "ids": [1, 2, ...] or "state": "failed"')
        if state is not None:
            if state != "failed":
                raise bad("state", f'only "failed" can be retried (got {state!r})')
            result = engine.retry_failed()
        else:
            if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS:
                raise bad("ids", f"must be a non-empty list of at most {MAX_IDS} file ids")
            # JSON does not tell 3 from 3.0, and JSON Schema's "integer" admits both.
            ids = [int(i) if isinstance(i, float) and i.is_integer() else i for i in ids]
            if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids):
                raise bad("ids", "every id must be a positive whole number")
            result = engine.retry(ids)
        return jsonify(to_dict(result)), 202

    @bp.get("/events")
    def events():
        since = int_arg("since", 0, 0, MAX_ID)
        limit = int_arg("limit", 500, 1, MAX_LIMIT)
        wait = float_arg("wait", 0.0, 0.0, MAX_WAIT)
        items = engine.events(since=since, limit=limit, wait=wait if wait_in_handler else 0.0)
        last = items[-1].id if items else max(since, 0)
        return jsonify({"events": to_dict(items), "last": last})

    @bp.get("/requests/stats")
    def request_stats():
        return jsonify(engine.request_stats())

    @bp.get("/requests/endpoints")
    def request_endpoints():
        return jsonify({"endpoints": to_dict(engine.endpoints())})

    @bp.get("/requests/recent")
    def request_recent():
        limit = int_arg("limit", 100, 1, MAX_LIMIT)
        return jsonify({"requests": to_dict(engine.recent_requests(limit, str_arg("route", 300)))})

    @bp.get("/alerts")
    def alerts():
        unread = str_arg("unread", 5, ("true", "false", "1", "0")) in ("true", "1")
        items = engine.alerts(
            limit=int_arg("limit", 100, 1, MAX_LIMIT),
            unread_only=unread,
            before=int_arg("before", None, 1, MAX_ID),
        )
        return jsonify({"alerts": to_dict(items), "unread": engine.unread_alerts()})

    @bp.post("/alerts/<alert_id>/read")
    def alert_read(alert_id: str):
        aid = path_id(alert_id)
        body = json_body()
        unknown = set(body) - {"read"}
        if unknown:
            raise bad("body", f"unknown field(s): {', '.join(sorted(unknown))}")
        read = body.get("read", True)
        if not isinstance(read, bool):
            raise bad("read", "must be true or false")
        if not engine.mark_alert_read(aid, read):
            raise ApiError(404, "not_found", f"no alert with id {aid}")
        return jsonify({"id": aid, "read": read})

    @bp.post("/backups")
    def backup_now():
        json_body()
        return jsonify(run_job(engine, "backup")), 202

    @bp.post("/reports")
    def report_now():
        json_body()
        return jsonify(run_job(engine, "report")), 202

    return bp


def run_job(engine: Engine, name: str) -> dict[str, Any]:
    try:
        return engine.run_job(name)
    except EngineError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None
    except KeyError:
        raise ApiError(503, "unavailable", f"the {name} job is not configured on this engine") from None
    except RuntimeError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
