"""The OpenAPI 3.1 description of the HTTP API, served at /api/v1/openapi.json.

It says what the server does, so that a contract tester (schemathesis, in tests/test_contract.py)
proves something: every answer's status is listed, every 2xx has its content type and schema,
parameters carry the bounds the handlers enforce (limits.py), and bodies say what is required
and which fields are refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import __version__, model
from . import schemas
from .limits import MAX_BODY, MAX_ID, MAX_IDS, MAX_LIMIT, MAX_MINUTES, MAX_WAIT
from .schemas import ref

JSON = "application/json"
HEALTH_JSON = "application/health+json"
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
DEFAULT_URL = "http://127.0.0.1:8765"


def _param(name: str, where: str, schema: dict[str, Any], description: str) -> dict:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema,
        "description": description,
    }


ID = _param("id", "path", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "file or alert id")
LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "page size")
BEFORE = _param(
    "before", "query", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "only ids below this (cursor)"
)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    response: dict[str, Any]  # schema of the success body
    status: int = 200
    params: tuple[dict, ...] = ()
    body: dict[str, Any] | None = None  # request body schema
    body_required: bool = False
    errors: tuple[int, ...] = ()  # besides 401 on secured routes
    content_type: str = JSON
    secured: bool = True
    alternatives: tuple[str, ...] = ()  # other content types of the success body


def _list_of(key: str, item: dict[str, Any], **more: Any) -> dict[str, Any]:
    return schemas.obj({key: {"type": "array", "items": item}, **more})


ROUTES: list[Route] = [
    Route(
        "get",
        "/health",
        "health+json: pass/warn/fail with checks; 503 on fail",
        schemas.HEALTH,
        errors=(503,),
        content_type=HEALTH_JSON,
        secured=False,
    ),
    Route("get", "/health/live", "shallow liveness", schemas.LIVE, content_type=HEALTH_JSON, secured=False),
    Route(
        "get",
        "/metrics",
        "Prometheus text exposition; OpenMetrics when Accept asks for it",
        {"type": "string"},
        content_type=PROMETHEUS_TEXT,
        alternatives=(OPENMETRICS,),
        secured=False,
    ),
    Route("get", "/api/v1/openapi.json", "this document", {"type": "object", "required": ["openapi"]}),
    Route(
        "get",
        "/api/v1/snapshot",
        "counts by state and kind, rates, queue, latencies, schedules, uptime",
        ref(model.Snapshot),
    ),
    Route(
        "get",
        "/api/v1/history",
        "per-minute series to backfill sparklines",
        _list_of("minutes", ref(model.MinutePoint)),
        params=(
            _param(
                "minutes",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_MINUTES},
                "how many minutes (default 60)",
            ),
        ),
        errors=(400,),
    ),
    Route(
        "get",
        "/api/v1/files",
        "files, newest first, paginated by id cursor",
        ref(model.FilePage),
        params=(
            _param("state", "query", {"enum": list(model.STATES)}, "only files in this state"),
            _param("kind", "query", {"type": "string", "maxLength": 64}, "csv, text, image, pdf, json, ..."),
            _param("q", "query", {"type": "string", "maxLength": 200}, "name contains"),
            LIMIT,
            BEFORE,
        ),
        errors=(400,),
    ),
    Route(
        "get",
        "/api/v1/files/{id}",
        "one file: metadata, attempts, event timeline",
        ref(model.FileDetail),
        params=(ID,),
        errors=(400, 404),
    ),
    Route(
        "post",
        "/api/v1/files/{id}/retry",
        "retry one failed file",
        ref(model.RetryResult),
        status=202,
        params=(ID,),
        errors=(400, 404, 409),
    ),
    Route(
        "post",
        "/api/v1/files/retry",
        "retry many: ids, or every failed file",
        ref(model.RetryResult),
        status=202,
        body={
            "oneOf": [
                schemas.obj(
                    {
                        "ids": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_IDS,
                            "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                        }
                    },
                    additionalProperties=False,
                ),
                schemas.obj({"state": {"const": "failed"}}, additionalProperties=False),
            ]
        },
        body_required=True,
        errors=(400,),
    ),
    Route(
        "get",
        "/api/v1/events",
        "journal events after a cursor; long-polls up to `wait` seconds",
        _list_of("events", ref(model.Event), last={"type": "integer", "minimum": 0}),
        params=(
            _param(
                "since", "query", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "last event id seen"
            ),
            _param(
                "limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "at most this many"
            ),
            _param(
                "wait",
                "query",
                {"type": "number", "minimum": 0, "maximum": MAX_WAIT},
                "seconds to wait for news when there is none",
            ),
        ),
        errors=(400,),
    ),
    Route("get", "/api/v1/requests/stats", "request monitor: totals and windows", schemas.REQUEST_STATS),
    Route(
        "get",
        "/api/v1/requests/endpoints",
        "request monitor: per route template",
        _list_of("endpoints", ref(model.EndpointStats)),
    ),
    Route(
        "get",
        "/api/v1/requests/recent",
        "request monitor: most recent requests",
        _list_of("requests", ref(model.RequestRecord)),
        params=(
            LIMIT,
            _param("route", "query", {"type": "string", "maxLength": 300}, "only this route template"),
        ),
        errors=(400,),
    ),
    Route(
        "get",
        "/api/v1/alerts",
        "the alert centre",
        _list_of("alerts", ref(model.Alert), unread=schemas.COUNT),
        params=(
            LIMIT,
            BEFORE,
            _param("unread", "query", {"enum": ["true", "false", "1", "0"]}, "only unread"),
        ),
        errors=(400,),
    ),
    Route(
        "post",
        "/api/v1/alerts/{id}/read",
        'mark an alert read (or unread with {"read": false})',
        schemas.obj({"id": {"type": "integer"}, "read": {"type": "boolean"}}),
        params=(ID,),
        body={"type": "object", "properties": {"read": {"type": "boolean"}}, "additionalProperties": False},
        errors=(400, 404),
    ),
    Route(
        "post", "/api/v1/backups", "run a backup now", schemas.JOB_STARTED, status=202, errors=(400, 409, 503)
    ),
    Route(
        "post",
        "/api/v1/reports",
        "make a report now",
        schemas.JOB_STARTED,
        status=202,
        errors=(400, 409, 503),
    ),
    Route(
        "get",
        "/api/v1/workers",
        "cluster workers by their heartbeats (host, in flight, done, failed, last seen)",
        _list_of("workers", ref(model.WorkerInfo)),
    ),
    Route(
        "get",
        "/worker/v1/files/{id}",
        "worker token only: a dispatched file's bytes for its current attempt (body=0: take it, no bytes)",
        {"type": "string", "format": "binary"},
        params=(
            ID,
            _param(
                "token", "query", {"type": "string", "minLength": 8, "maxLength": 100}, "the attempt token"
            ),
            _param("body", "query", {"enum": ["0", "1"]}, "0: the worker reads a shared folder"),
        ),
        errors=(400, 409),
        content_type="application/octet-stream",
    ),
    Route(
        "post",
        "/worker/v1/files/{id}/result",
        "worker token only: a result (multipart form fields token and result, outputs as files named by suffix)",
        schemas.obj({"id": {"type": "integer"}, "state": {"type": "string"}, "dest": {"type": "string"}}),
        params=(ID,),
        errors=(400, 409),
    ),
    Route(
        "post",
        "/worker/v1/heartbeat",
        "worker token only: a worker's heartbeat, with the attempts it holds",
        schemas.obj({"lease": {"type": "number"}, "interval": {"type": "number"}}),
        body={"type": "object"},
        errors=(400,),
    ),
]

# Every dataclass a route answers with (the ones inside them are found from these).
MODELS = [
    model.Snapshot,
    model.MinutePoint,
    model.FilePage,
    model.FileDetail,
    model.RetryResult,
    model.Event,
    model.EndpointStats,
    model.RequestRecord,
    model.Alert,
    model.WorkerInfo,
]
ERROR_REF = {"$ref": "#/components/responses/Error"}
TOO_LARGE = {
    "description": f"body over {MAX_BODY} bytes: refused before it is read",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


def server_url(configured: str | None, requested: str) -> str:
    """The address clients reach: the configured one, unless it is a wildcard bind (0.0.0.0, ::),
    which names no host; then the one the client used (`requested`, from its Host header)."""
    if not configured:
        return requested.rstrip("/")
    try:
        wildcard = ipaddress.ip_address(urlsplit(configured).hostname or "").is_unspecified
    except ValueError:
        wildcard = False
    return requested.rstrip("/") if wildcard else configured


def _operation(route: Route) -> dict[str, Any]:
    content = {route.content_type: {"schema": route.response}}
    content.update({alt: {"schema": route.response} for alt in route.alternatives})
    responses: dict[str, Any] = {str(route.status): {"description": "ok", "content": content}}
    statuses = (*route.errors, 401) if route.secured else route.errors
    for status in sorted(statuses):
        if status == 503 and route.path == "/health":
            responses["503"] = {
                "description": "failing",
                "content": {HEALTH_JSON: {"schema": route.response}},
            }
        else:
            responses[str(status)] = ERROR_REF
    op: dict[str, Any] = {"summary": route.summary, "parameters": list(route.params), "responses": responses}
    if route.method == "post":
        responses["413"] = TOO_LARGE
    if route.body is not None:
        op["requestBody"] = {"required": route.body_required, "content": {JSON: {"schema": route.body}}}
    if not route.secured:
        op["security"] = []
    return op


def document(url: str = DEFAULT_URL) -> dict[str, Any]:
    paths: dict[str, dict] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "chute engine API", "version": __version__},
        "servers": [{"url": url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas.components(MODELS),
            "responses": {
                "Error": {
                    "description": 'JSON error: {"error": {"code", "message"}}',
                    "content": {JSON: {"schema": schemas.ERROR}},
                }
            },
        },
        "paths": paths,
    }
