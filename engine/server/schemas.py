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


def components(roots: list[type]) -> dict[str, Any]:
    """Schemas of these dataclasses and of every dataclass inside them."""
    found: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        cls = todo.pop()
        if cls.__name__ in found:
            continue
        found[cls.__name__] = of_dataclass(cls)
        todo += [t for hint in typing.get_type_hints(cls).values() for t in _dataclasses_in(hint)]
    return dict(sorted(found.items()))


def _dataclasses_in(hint: Any) -> list[type]:
    if dataclasses.is_dataclass(hint):
        return [hint]
    return [t for arg in typing.get_args(hint) for t in _dataclasses_in(arg)]


def obj(required: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object with these properties, all of them present."""
    return {"type": "object", "required": list(required), "properties": required, **extra}


COUNT = {"type": "integer", "minimum": 0}
RATIO = {"type": "number", "minimum": 0, "maximum": 1}
# The request monitor's totals (engine/monitor/collector.py's stats()): its latency and windows
# are the per-route ones plus a rate.
REQUEST_STATS = obj(
    {
        "requests": COUNT,
        "errors": COUNT,
        "error_rate": RATIO,
        "status_classes": {"type": "object", "additionalProperties": COUNT},
        "uptime": {"type": "number"},
        "latency": ref(model.Latency),
        "windows": {
            "type": "object",
            "additionalProperties": {
                "allOf": [ref(model.RequestWindow), obj({"rate_per_s": {"type": "number"}})]
            },
        },
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
