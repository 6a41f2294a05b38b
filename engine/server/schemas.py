"""JSON Schemas of what the API answers, derived from the dataclasses it serialises.

The API's JSON is `to_dict` of engine/model.py's dataclasses, so their type hints are the truth:
the OpenAPI document takes its schemas from them here instead of repeating them by hand, and a
field added to a dataclass shows up in the document without anyone remembering to.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from .. import model

# Values narrower than their Python type says.
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("FileRecord", "state"): model.STATES,
    ("Health", "status"): ("pass", "warn", "fail"),
}
# The dataclasses the API serialises (nested ones included).
MODELS = (
    model.Attempt,
    model.Event,
    model.FileRecord,
    model.FileDetail,
    model.FilePage,
    model.Quantiles,
    model.Snapshot,
    model.Alert,
    model.MinutePoint,
    model.RetryResult,
)


def ref(cls: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{cls.__name__}"}


def of_type(hint: Any) -> dict[str, Any]:
    """The JSON Schema of a type hint, as to_dict renders a value of it."""
    if hint is Any:
        return {}
    if dataclasses.is_dataclass(hint):
        return ref(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = [of_type(a) for a in args if a is not type(None)]
        if type(None) not in args:
            return {"anyOf": kinds}
        if len(kinds) == 1 and set(kinds[0]) == {"type"}:
            return {"type": [kinds[0]["type"], "null"]}
        return {"anyOf": [*kinds, {"type": "null"}]}
    if origin in (list, tuple):
        return {"type": "array", "items": of_type(args[0]) if args else {}}
    if origin is dict:
        # to_dict turns every key into a string.
        return {"type": "object", "additionalProperties": of_type(args[1]) if args else {}}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object", list: "array"}
    if hint in simple:
        return {"type": simple[hint]}
    raise TypeError(f"no JSON Schema for {hint!r}")


def of_dataclass(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties = {}
    for f in dataclasses.fields(cls):
        schema = of_type(hints[f.name])
        enum = ENUMS.get((cls.__name__, f.name))
        if enum is not None:
            schema = {**schema, "enum": list(enum)}
        properties[f.name] = schema
    return {"type": "object", "required": list(properties), "properties": properties}


def components() -> dict[str, Any]:
    return {cls.__name__: of_dataclass(cls) for cls in MODELS}


def obj(required: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object with these properties, all of them present."""
    return {"type": "object", "required": list(required), "properties": required, **extra}


NUMBER = {"type": "number"}
MAYBE_NUMBER = {"type": ["number", "null"]}
COUNT = {"type": "integer", "minimum": 0}
RATIO = {"type": "number", "minimum": 0, "maximum": 1}
WINDOW = obj({"count": COUNT, "errors": COUNT, "error_rate": RATIO, "p50": MAYBE_NUMBER, "p95": MAYBE_NUMBER})
LATENCY = obj({"count": COUNT, "sum": NUMBER, "p50": MAYBE_NUMBER, "p95": MAYBE_NUMBER, "p99": MAYBE_NUMBER})
# The request monitor's answers (engine/monitor/collector.py).
REQUEST_STATS = obj(
    {
        "requests": COUNT,
        "errors": COUNT,
        "error_rate": RATIO,
        "status_classes": {"type": "object", "additionalProperties": COUNT},
        "uptime": NUMBER,
        "latency": LATENCY,
        "windows": {"type": "object", "additionalProperties": WINDOW},
    }
)
ENDPOINT = obj(
    {
        "route": {"type": "string"},
        "count": COUNT,
        "errors": COUNT,
        "error_rate": RATIO,
        "methods": {"type": "object", "additionalProperties": COUNT},
        "status": {"type": "object", "additionalProperties": COUNT},
        "exceptions": {"type": "object"},
        "latency": LATENCY,
        "windows": {"type": "object", "additionalProperties": WINDOW},
    }
)
RECENT_REQUEST = obj(
    {
        "time": NUMBER,
        "method": {"type": "string"},
        "path": {"type": "string"},
        "route": {"type": "string"},
        "status": {"type": "integer"},
        "duration": NUMBER,
        "error": {"type": ["string", "null"]},
    }
)
HEALTH = obj(
    {
        "status": {"enum": ["pass", "warn", "fail"]},
        "version": {"type": "string"},
        "checks": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "object"}}},
    }
)
LIVE = obj({"status": {"const": "pass"}})
JOB_STARTED = obj({"job": {"type": "string"}, "started": {"type": "boolean"}, "message": {"type": "string"}})
ERROR = obj({"error": obj({"code": {"type": "string"}, "message": {"type": "string"}})})
