"""The OpenAPI 3.1 description of the HTTP API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from .. import __version__


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }


INT = {"type": "integer"}
ERROR = {"$ref": "#/components/responses/Error"}
ID = _param("id", "path", {"type": "integer", "minimum": 1}, "file or alert id")
LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size")
BEFORE = _param("before", "query", {"type": "integer", "minimum": 1}, "only ids below this (cursor)")

# (method, path, summary, parameters, request body schema or None, success status, needs token)
ROUTES: list[tuple[str, str, str, list[dict], dict | None, int, bool]] = [
    ("get", "/health", "health+json: pass/warn/fail with checks; 503 on fail", [], None, 200, False),
    ("get", "/health/live", "shallow liveness", [], None, 200, False),
    ("get", "/metrics", "Prometheus text exposition", [], None, 200, False),
    ("get", "/api/v1/openapi.json", "this document", [], None, 200, True),
    (
        "get",
        "/api/v1/snapshot",
        "counts by state and kind, rates, queue, latencies, schedules, uptime",
        [],
        None,
        200,
        True,
    ),
    (
        "get",
        "/api/v1/history",
        "per-minute series to backfill sparklines",
        [_param("minutes", "query", {"type": "integer", "minimum": 1, "maximum": 1440}, "how many minutes")],
        None,
        200,
        True,
    ),
    (
        "get",
        "/api/v1/files",
        "files, newest first, paginated by id cursor",
        [
            _param(
                "state",
                "query",
                {"type": "string"},
                "queued, retrying, placing, done, failed, duplicate, vanished",
            ),
            _param("kind", "query", {"type": "string"}, "csv, text, image, pdf, json, ..."),
            _param("q", "query", {"type": "string", "maxLength": 200}, "name contains"),
            LIMIT,
            BEFORE,
        ],
        None,
        200,
        True,
    ),
    ("get", "/api/v1/files/{id}", "one file: metadata, attempts, event timeline", [ID], None, 200, True),
    ("post", "/api/v1/files/{id}/retry", "retry one failed file", [ID], None, 202, True),
    (
        "post",
        "/api/v1/files/retry",
        "retry many: ids, or every failed file",
        [],
        {
            "type": "object",
            "properties": {"ids": {"type": "array", "items": INT}, "state": {"const": "failed"}},
        },
        202,
        True,
    ),
    (
        "get",
        "/api/v1/events",
        "journal events after a cursor; long-polls up to `wait` seconds",
        [
            _param("since", "query", {"type": "integer", "minimum": 0}, "last event id seen"),
            LIMIT,
            _param(
                "wait", "query", {"type": "number", "minimum": 0, "maximum": 30}, "seconds to wait for news"
            ),
        ],
        None,
        200,
        True,
    ),
    ("get", "/api/v1/requests/stats", "request monitor: totals and windows", [], None, 200, True),
    ("get", "/api/v1/requests/endpoints", "request monitor: per route template", [], None, 200, True),
    (
        "get",
        "/api/v1/requests/recent",
        "request monitor: most recent requests",
        [LIMIT, _param("route", "query", {"type": "string"}, "only this route template")],
        None,
        200,
        True,
    ),
    (
        "get",
        "/api/v1/alerts",
        "the alert centre",
        [LIMIT, BEFORE, _param("unread", "query", {"type": "boolean"}, "only unread")],
        None,
        200,
        True,
    ),
    (
        "post",
        "/api/v1/alerts/{id}/read",
        'mark an alert read (or unread with {"read": false})',
        [ID],
        {"type": "object", "properties": {"read": {"type": "boolean"}}},
        200,
        True,
    ),
    ("post", "/api/v1/backups", "run a backup now", [], None, 202, True),
    ("post", "/api/v1/reports", "make a report now", [], None, 202, True),
    (
        "get",
        "/monitoring/stats",
        "request monitor totals (Flask-MonitoringDashboard style)",
        [],
        None,
        200,
        True,
    ),
    (
        "get",
        "/api/v1/workers",
        "cluster workers by their heartbeats (host, in-flight, done, last seen)",
        [],
        None,
        200,
        True,
    ),
    (
        "get",
        "/worker/v1/files/{id}",
        "worker token only: the bytes of a dispatched file, for its current attempt",
        [ID, _param("token", "query", {"type": "string"}, "the task's attempt token", required=True)],
        None,
        200,
        True,
    ),
    (
        "post",
        "/worker/v1/files/{id}/result",
        "worker token only: a result (form fields token, result) and its outputs (files named by suffix)",
        [ID],
        None,
        200,
        True,
    ),
    (
        "post",
        "/worker/v1/heartbeat",
        "worker token only: a worker's heartbeat",
        [],
        {"type": "object"},
        200,
        True,
    ),
    ("get", "/monitoring/endpoints", "request monitor per endpoint", [], None, 200, True),
    ("get", "/monitoring/requests", "recent requests", [LIMIT], None, 200, True),
]


def document() -> dict[str, Any]:
    paths: dict[str, dict] = {}
    for method, path, summary, params, body, status, secured in ROUTES:
        op: dict[str, Any] = {
            "summary": summary,
            "parameters": params,
            "responses": {
                str(status): {"description": "ok"},
                "400": ERROR,
                "401": ERROR,
                "404": ERROR,
                "409": ERROR,
                "503": ERROR,
            },
        }
        if not secured:
            op["security"] = []
            op["responses"] = {str(status): {"description": "ok"}, "503": ERROR}
        if body is not None:
            op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "chute engine API", "version": __version__},
        "servers": [{"url": "http://127.0.0.1:8765"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": 'JSON error: {"error": {"code", "message"}}',
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "error": {
                                        "type": "object",
                                        "properties": {
                                            "code": {"type": "string"},
                                            "message": {"type": "string"},
                                        },
                                    }
                                },
                            }
                        }
                    },
                }
            },
        },
        "paths": paths,
    }
