"""A JSON Schema as rows of fields (name, type, required, description), for the inspector's
schema editor (the ``extract`` node's ``data_schema``). Pure: no NiceGUI here.

Only a flat object of simple fields reads as rows; a schema with anything more (nested objects,
enums, arrays of objects) is edited as JSON, so nothing a person wrote by hand is lost.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# what a person picks -> the JSON Schema it writes
TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "whole number": {"type": "integer"},
    "number": {"type": "number"},
    "yes/no": {"type": "boolean"},
    "list of text": {"type": "array", "items": {"type": "string"}},
}
_ROW_KEYS = {"type", "description", "items"}


@dataclass
class FieldRow:
    name: str
    kind: str = "text"  # a key of TYPES
    required: bool = False
    description: str = ""


def rows_of(schema: Any) -> list[FieldRow] | None:
    """The schema's fields as rows, or None when it holds more than rows can show."""
    if not isinstance(schema, dict) or set(schema) - {"type", "properties", "required"}:
        return None
    if schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    if not isinstance(properties, dict) or not isinstance(required, list):
        return None
    rows = []
    for name, prop in properties.items():
        if not isinstance(prop, dict) or set(prop) - _ROW_KEYS:
            return None
        kind = _kind_of(prop, name in required)
        if kind is None:
            return None
        rows.append(FieldRow(name, kind, name in required, str(prop.get("description", ""))))
    return rows


def _kind_of(prop: dict[str, Any], required: bool) -> str | None:
    written = {k: v for k, v in prop.items() if k != "description"}
    kind = written.get("type")
    if isinstance(kind, list) and not required and "null" in kind and len(kind) == 2:
        written = {**written, "type": next(k for k in kind if k != "null")}  # optional: may be null
    return next((name for name, schema in TYPES.items() if schema == written), None)


def schema_of(rows: list[FieldRow]) -> dict[str, Any]:
    """The JSON Schema the rows describe; optional fields may be null (the model may not know)."""
    properties: dict[str, Any] = {}
    for row in rows:
        name = row.name.strip()
        if not name:
            continue
        prop = dict(TYPES.get(row.kind, TYPES["text"]))
        if not row.required:
            prop["type"] = [prop["type"], "null"]
        if row.description.strip():
            prop["description"] = row.description.strip()
        properties[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = [r.name.strip() for r in rows if r.required and r.name.strip()]
    if required:
        schema["required"] = required
    return schema
