"""A JSON Schema (the subset people write for tool arguments and extraction) as a pydantic
model, so arguments and extracted data are validated by pydantic with messages that name the
field. Supported: objects with ``properties``/``required``, string, integer, number, boolean,
array (``items``), nested objects, ``enum``, ``description``, ``default`` and ``null`` in a
``type`` list. Anything else is refused when the flow is validated, not when it runs.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

_SIMPLE: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_DEPTH = 6


class SchemaError(ValueError):
    """The schema uses something this subset does not support, or is not a schema."""


def check_schema(schema: Any) -> str | None:
    """What is wrong with ``schema`` (None: usable)."""
    try:
        model_for(schema)
    except SchemaError as exc:
        return str(exc)
    return None


def model_for(schema: Any) -> type[BaseModel]:
    """The pydantic model of a JSON Schema object (made once per distinct schema)."""
    if not isinstance(schema, dict):
        raise SchemaError("the schema must be a JSON object")
    return _cached(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode())


@lru_cache(maxsize=256)
def _cached(text: str) -> type[BaseModel]:
    return _object(orjson.loads(text), "Extracted", 0)


def validate(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """``data`` checked against the schema; raises :class:`pydantic.ValidationError`."""
    return model_for(schema).model_validate(data).model_dump(mode="json")


def describe(exc: ValidationError, limit: int = 5) -> str:
    """A validation error as short lines naming each field (for a person, or for the model)."""
    lines = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(part) for part in error["loc"]) or "(the whole value)"
        lines.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - limit
    if more > 0:
        lines.append(f"... and {more} more")
    return "; ".join(lines)


def _object(schema: dict[str, Any], name: str, depth: int) -> type[BaseModel]:
    if depth > MAX_DEPTH:
        raise SchemaError(f"the schema nests deeper than {MAX_DEPTH} levels")
    kind = schema.get("type", "object")
    if kind != "object":
        raise SchemaError(f"{name}: the top of the schema must be of type 'object', not {kind!r}")
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict):
        raise SchemaError(f"{name}: 'properties' must be an object")
    required = schema.get("required") or []
    if not isinstance(required, list) or any(r not in properties for r in required):
        raise SchemaError(f"{name}: 'required' must list names of its properties")
    fields: dict[str, Any] = {}
    for prop, sub in properties.items():
        if not FIELD_NAME.match(prop):
            raise SchemaError(f"{name}: property name {prop!r} must be letters, digits and '_'")
        if not isinstance(sub, dict):
            raise SchemaError(f"{name}.{prop}: must be a schema object")
        annotation = _annotation(sub, f"{name}.{prop}", depth + 1)
        info: dict[str, Any] = {"description": sub.get("description")}
        if prop in required:
            fields[prop] = (annotation, Field(..., **info))
        else:
            fields[prop] = (annotation | None, Field(sub.get("default"), **info))
    extra: Literal["allow", "forbid"] = "forbid" if schema.get("additionalProperties") is False else "allow"
    return create_model(name.replace(".", "_"), __config__=ConfigDict(extra=extra), **fields)


def _annotation(schema: dict[str, Any], where: str, depth: int) -> Any:
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not values:
            raise SchemaError(f"{where}: 'enum' must be a non-empty list")
        return Literal[tuple(values)]
    kind = schema.get("type")
    nullable = False
    if isinstance(kind, list):
        rest = [k for k in kind if k != "null"]
        nullable = len(rest) < len(kind)
        if len(rest) != 1:
            raise SchemaError(f"{where}: a type list may only add 'null' to one type")
        kind = rest[0]
    if kind in _SIMPLE:
        annotation: Any = _SIMPLE[kind]
    elif kind == "array":
        items = schema.get("items") or {}
        if not isinstance(items, dict):
            raise SchemaError(f"{where}: 'items' must be a schema object")
        annotation = list[_annotation(items, where + "[]", depth + 1) if items else Any]  # type: ignore[misc]  # a type made at run time
    elif kind == "object":
        annotation = _object(schema, where, depth) if schema.get("properties") else dict[str, Any]
    elif kind is None:
        annotation = Any
    else:
        raise SchemaError(f"{where}: type {kind!r} is not supported (string, integer, number, boolean, array, object)")
    return annotation | None if nullable else annotation
