"""Routes for cluster workers (/worker/v1) and about them (/api/v1/workers).

Workers hold their own token (CHUTE_WORKER_TOKEN, else state/worker-token), which opens only
/worker/v1: fetch a claimed file's bytes, send its result, beat. The operator's token does not
open these routes, and the worker token opens nothing under /api. Nothing here imports dramatiq.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Flask, jsonify, request, send_file

from ..cluster.protocol import OUTPUT_SUFFIX, ROUTES, WORKER_HEADER, StaleAttempt
from ..model import to_dict
from . import auth
from .app import ApiError, bad, path_id
from .limits import MAX_UPLOAD

MAX_IN_FLIGHT = 10_000


def install(app: Flask, engine) -> None:
    app.register_blueprint(worker_routes(engine))
    app.register_blueprint(workers_list(engine))


def workers_list(engine) -> Blueprint:
    bp = Blueprint("api_v1_workers", __name__, url_prefix="/api/v1")

    @bp.get("/workers")
    def workers():
        return jsonify({"workers": to_dict(engine.workers())})

    return bp


def _worker_name() -> str:
    name = request.headers.get(WORKER_HEADER, "").strip()
    if not name or len(name) > 200:
        raise bad(WORKER_HEADER, "must name the worker (1 to 200 characters)")
    return name


def _token_arg(raw: Any) -> str:
    if not isinstance(raw, str) or not 8 <= len(raw) <= 100:
        raise bad("token", "must be the attempt token of the task")
    return raw


def _number(body: dict, key: str, default: float | None = None) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise bad(f"result.{key}", "must be a non-negative number")
    return float(value)


def _result(raw: str | None) -> dict[str, Any]:
    import json

    try:
        body = json.loads(raw or "")
    except ValueError:
        raise bad("result", "must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad("result", "must be a JSON object")
    if body.get("state") not in ("done", "failed"):
        raise bad("result.state", 'must be "done" or "failed"')
    if not isinstance(body.get("meta", {}), dict):
        raise bad("result.meta", "must be an object")
    for key, most in (("error_kind", 64), ("reason", 4000)):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > most):
            raise bad(f"result.{key}", f"must be a string of at most {most} characters")
    if body["state"] == "failed" and not body.get("reason"):
        raise bad("result.reason", "a failed result must say why")
    return {
        "state": body["state"],
        "meta": body.get("meta", {}),
        "error_kind": body.get("error_kind"),
        "reason": body.get("reason"),
        "started_at": _number(body, "started_at"),
        "duration": _number(body, "duration"),
    }


def worker_routes(engine) -> Blueprint:
    bp = Blueprint("worker_v1", __name__, url_prefix=ROUTES)

    @bp.before_request
    def require_worker_token():
        # As on /api, the token is checked before anything else (an engine without a cluster
        # has no worker token, so every caller gets the 401, with the reason).
        expected = engine.worker_token()
        if expected is None or not auth.check(request.headers.get("Authorization"), expected):
            why = (
                "this engine has no [cluster] broker, so no token opens its worker routes"
                if expected is None
                else "missing or wrong worker token (the engine's CHUTE_WORKER_TOKEN or state/worker-token; "
                "the operator's token does not open worker routes)"
            )
            raise ApiError(401, "unauthorized", why, {"WWW-Authenticate": 'Bearer realm="chute"'})
        request.max_content_length = MAX_UPLOAD

    @bp.errorhandler(StaleAttempt)
    def stale(err: StaleAttempt):
        # Not an error of the worker's: the attempt was overtaken (placed, or sent again).
        return jsonify({"error": {"code": "stale", "message": str(err)}}), 409

    @bp.get("/files/<file_id>")
    def fetch(file_id: str):
        fid = path_id(file_id)
        path = engine.take_work(fid, _token_arg(request.args.get("token")), _worker_name())
        if request.args.get("body") == "0":
            return "", 204  # taken: the worker reads the file from the shared folder
        return send_file(path, mimetype="application/octet-stream", conditional=False, etag=False)

    @bp.post("/files/<file_id>/result")
    def result(file_id: str):
        fid = path_id(file_id)
        token = _token_arg(request.form.get("token"))
        body = _result(request.form.get("result"))
        uploads = request.files.getlist("output")
        for upload in uploads:
            if not OUTPUT_SUFFIX.match(upload.filename or ""):
                raise bad(
                    "output", f"each output is named by its suffix, like .thumb.png (got {upload.filename!r})"
                )
        if body["state"] == "failed" and uploads:
            raise bad("output", "a failed result has no outputs")
        placed = engine.finish_work(fid, token, _worker_name(), body, uploads)
        return jsonify(placed)

    @bp.post("/heartbeat")
    def heartbeat():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise bad("body", "must be a JSON object")
        name = _worker_name()
        in_flight = body.get("in_flight", [])
        if not isinstance(in_flight, list) or len(in_flight) > MAX_IN_FLIGHT:
            raise bad("in_flight", f"must be a list of at most {MAX_IN_FLIGHT} {{id, token}} objects")
        held = []
        for item in in_flight:
            fid = item.get("id") if isinstance(item, dict) else None
            if not isinstance(fid, int) or isinstance(fid, bool) or fid <= 0:
                raise bad("in_flight", "every item needs a positive whole id")
            held.append((fid, _token_arg(item.get("token"))))
        info = {"worker": name}
        for key, kind, most in (("host", str, 255), ("version", str, 64)):
            value = body.get(key, "")
            info[key] = value[:most] if isinstance(value, kind) else ""
        for key in ("pid", "concurrency", "done", "failed"):
            value = body.get(key, 0)
            info[key] = value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
        return jsonify(engine.worker_heartbeat(info, held))

    return bp
