"""A JSON Schema (the subset people write for tool arguments and extraction) as a pydantic
model, so arguments and extracted data are validated by pydantic with messages that name the
field. Supported: objects with ``properties``/``required``/``additionalProperties``, string,
integer, number, boolean, array (``items``), nested objects, ``enum``, ``description``,
``default`` and ``null`` in a ``type`` list. Every schema says its ``type`` (or is an ``enum``).
Anything else (``format``, ``minLength``, ``$ref``, ``oneOf``, ...) is refused with its path
when the flow is validated: a keyword pydantic would not check must not pass as if it were.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

_SIMPLE: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}
_TYPES = "string, integer, number, boolean, array, object"
_COMMON = frozenset({"type", "description", "default", "enum"})
_ONLY_FOR = {"properties": "object", "required": "object", "additionalProperties": "object", "items": "array"}
_SUBSET = ("type, enum, description, default; properties, required, additionalProperties for an object; "
           "items for an array")
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_DEPTH = 6


class SchemaError(ValueError):
    """The schema uses something this subset does not support, or is not a schema."""


def check_schema(schema: Any) -> str | None:
    """What is wrong with ``schema`` (None: usable), naming the JSON path of the mistake."""
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
    schema = orjson.loads(text)
    kind = schema.get("type")
    if kind != "object":
        found = "" if kind is None else f", not {kind!r}"
        raise SchemaError(f"the top of the schema must have \"type\": \"object\"{found}")
    _keywords(schema, "", "object")
    if "enum" in schema:
        raise SchemaError("enum: the top of the schema is an object of properties, not an enum")
    return _object(schema, "", 0)


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


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _where(path: str) -> str:
    return path or "the top of the schema"


def _keywords(schema: dict[str, Any], path: str, kind: str | None) -> None:
    """Refuse the first keyword outside the subset, or one that does not apply to the type."""
    for key in schema:
        if key in _COMMON:
            continue
        applies = _ONLY_FOR.get(key)
        if applies is None:
            raise SchemaError(f"{_at(path, key)}: the keyword {key!r} is not supported (supported: {_SUBSET})")
        if applies != kind:
            raise SchemaError(f"{_at(path, key)}: {key!r} applies only to type {applies!r}")
    if "description" in schema and not isinstance(schema["description"], str):
        raise SchemaError(f"{_at(path, 'description')}: must be a string")


def _object(schema: dict[str, Any], path: str, depth: int) -> type[BaseModel]:
    if depth > MAX_DEPTH:
        raise SchemaError(f"{_where(path)}: the schema nests deeper than {MAX_DEPTH} levels")
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict):
        raise SchemaError(f"{_at(path, 'properties')}: must be an object")
    required = schema.get("required") or []
    if not isinstance(required, list) or any(not isinstance(r, str) or r not in properties for r in required):
        raise SchemaError(f"{_at(path, 'required')}: must list names of its properties")
    extra_allowed = schema.get("additionalProperties", True)
    if not isinstance(extra_allowed, bool):
        raise SchemaError(f"{_at(path, 'additionalProperties')}: only true or false is supported")
    fields: dict[str, Any] = {}
    for prop, sub in properties.items():
        where = _at(_at(path, "properties"), prop)
        if not FIELD_NAME.match(prop):
            raise SchemaError(f"{where}: property name {prop!r} must be letters, digits and '_'")
        if not isinstance(sub, dict):
            raise SchemaError(f"{where}: must be a schema object")
        annotation = _annotation(sub, where, depth + 1)
        info: dict[str, Any] = {"description": sub.get("description")}
        if prop in required:
            fields[prop] = (annotation, Field(..., **info))
        else:
            fields[prop] = (annotation | None, Field(sub.get("default"), **info))
    extra: Literal["allow", "forbid"] = "allow" if extra_allowed else "forbid"
    name = "Extracted" + re.sub(r"\W", "_", "_" + path if path else "")
    return create_model(name, __config__=ConfigDict(extra=extra), **fields)


def _annotation(schema: dict[str, Any], where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise SchemaError(f"{where}: the schema nests deeper than {MAX_DEPTH} levels")
    kind, nullable = _kind(schema, where)
    _keywords(schema, where, kind)
    if "enum" in schema:
        annotation: Any = _enum(schema["enum"], kind, nullable, _at(where, "enum"))
    elif kind in _SIMPLE:
        annotation = _SIMPLE[kind]
    elif kind == "array":
        items = schema.get("items", {})
        if not isinstance(items, dict):
            raise SchemaError(f"{_at(where, 'items')}: must be a schema object")
        inner = _annotation(items, _at(where, "items"), depth + 1) if items else Any
        annotation = list[inner]  # type: ignore[valid-type]  # a type made at run time
    elif kind == "object":
        model = _object(schema, where, depth)
        annotation = model if model.model_fields or schema.get("additionalProperties") is False else dict[str, Any]
    else:
        raise SchemaError(f"{where}: needs a \"type\" ({_TYPES}) or an \"enum\"")
    return annotation | None if nullable else annotation


def _kind(schema: dict[str, Any], where: str) -> tuple[str | None, bool]:
    """The schema's one type (None: none given) and whether ``null`` is allowed beside it."""
    kind = schema.get("type")
    nullable = False
    if isinstance(kind, list):
        rest = [k for k in kind if k != "null"]
        nullable = len(rest) < len(kind)
        if len(rest) != 1:
            raise SchemaError(f"{_at(where, 'type')}: a type list may only add 'null' to one type")
        kind = rest[0]
    if kind is not None and (not isinstance(kind, str) or (kind not in _SIMPLE and kind not in ("array", "object"))):
        raise SchemaError(f"{_at(where, 'type')}: type {kind!r} is not supported ({_TYPES})")
    return kind, nullable


_ENUM_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                            "boolean": (bool,)}


def _enum(values: Any, kind: str | None, nullable: bool, where: str) -> Any:
    if not isinstance(values, list) or not values:
        raise SchemaError(f"{where}: must be a non-empty list")
    if kind in ("array", "object"):
        raise SchemaError(f"{where}: an enum needs a type of string, integer, number or boolean, not {kind!r}")
    for value in values:
        if value is None and nullable:
            continue
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise SchemaError(f"{where}: values must be strings, numbers, booleans or null, not {value!r}")
        allowed = _ENUM_TYPES.get(kind or "")
        if allowed and (not isinstance(value, allowed) or (isinstance(value, bool) and kind != "boolean")):
            raise SchemaError(f"{where}: {value!r} is not of type {kind!r}")
    return Literal[tuple(values)]
