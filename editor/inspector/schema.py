"""Reading a node type's config JSON Schema into form fields (pure: no NiceGUI here).

Each property becomes one :class:`FieldSpec` saying which input to draw: text, a multi-line
template editor, a number with bounds, a choice, a switch, a list of words, or a JSON editor for
anything structured. A value that is a template where the schema wants a number or a choice
(``"{{ turn }}"``) is shown as text, because templates are resolved at run time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MULTILINE_NAMES = frozenset({"template", "prompt", "system_prompt", "body"})
UNSET: Any = object()


@dataclass
class FieldSpec:
    name: str
    kind: str  # text | template | integer | number | choice | switch | words | json | schema | tools | flow | knowledge
    title: str
    description: str = ""
    required: bool = False
    nullable: bool = False
    default: Any = UNSET
    choices: list[Any] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    pattern: str | None = None
    # Shown only while each named field holds one of the listed values (``shown_when`` in the
    # schema): ai_response's provider_options are the mock's, so only the mock shows them.
    shown_when: dict[str, list[Any]] = field(default_factory=dict)

    def shown_for(self, values: dict[str, Any], defaults: dict[str, Any]) -> bool:
        """Is this field shown for the node's current values (a missing one counts as its default)?"""
        return all(values.get(name, defaults.get(name)) in allowed for name, allowed in self.shown_when.items())

    def help_text(self) -> str:
        """The description plus the bounds and default a person needs in order to fill the field."""
        parts = [self.description.rstrip(".")] if self.description else []
        if self.minimum is not None or self.maximum is not None:
            low = ""
            if self.minimum is not None:
                low = f"{'>' if self.exclusive_minimum else '≥'} {_num(self.minimum)}"
            high = "" if self.maximum is None else f"≤ {_num(self.maximum)}"
            parts.append(" and ".join(p for p in (low, high) if p))
        if self.required:
            parts.append("required")
        return ". ".join(p for p in parts if p)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def form_fields(schema: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[FieldSpec]:
    """One spec per property, in the schema's order; ``defaults`` fills defaults the schema omits
    (pydantic leaves ``default_factory`` values out of the schema)."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    specs = []
    for name, prop in schema.get("properties", {}).items():
        spec = field_spec(name, prop, defs, name in required)
        if spec.default is UNSET and defaults and name in defaults:
            spec.default = defaults[name]
        specs.append(spec)
    return specs


def field_spec(name: str, prop: dict[str, Any], defs: dict[str, Any], required: bool = False) -> FieldSpec:
    options = [_resolve(o, defs) for o in prop.get("anyOf", [])] or [_resolve(prop, defs)]
    nullable = any(o.get("type") == "null" for o in options)
    main = next((o for o in options if o.get("type") != "null"), {})
    merged = {**main, **{k: v for k, v in prop.items() if k not in ("anyOf", "$ref")}}
    spec = FieldSpec(
        name=name, kind=_kind(name, merged), title=prop.get("title") or name.replace("_", " ").capitalize(),
        description=prop.get("description", ""), required=required, nullable=nullable,
        default=prop.get("default", UNSET), pattern=merged.get("pattern"),
        shown_when={name: list(allowed) for name, allowed in (prop.get("shown_when") or {}).items()},
    )
    if "enum" in merged:
        spec.choices = list(merged["enum"])
    if "const" in merged:
        spec.choices = [merged["const"]]
    for key in ("minimum", "exclusiveMinimum"):
        if key in merged:
            spec.minimum, spec.exclusive_minimum = float(merged[key]), key == "exclusiveMinimum"
    for key in ("maximum", "exclusiveMaximum"):
        if key in merged:
            spec.maximum = float(merged[key])
    return spec


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref", "")
    if ref.startswith("#/$defs/"):
        return {**defs.get(ref.removeprefix("#/$defs/"), {}), **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop


def _kind(name: str, prop: dict[str, Any]) -> str:
    if prop.get("format") == "json-schema":
        return "schema"  # rows of fields (editor/inspector/schema_editor.py)
    if prop.get("format") == "agent-tools":
        return "tools"  # a card per tool (editor/inspector/tools_editor.py)
    if prop.get("format") == "flow-id":
        return "flow"  # the tenant's other flows to choose from, or one typed
    if prop.get("format") == "knowledge-bases":
        return "knowledge"  # the tenant's knowledge bases to pick by name, or ids typed
    if "enum" in prop or "const" in prop:
        return "choice"
    kind = prop.get("type")
    if kind == "string":
        if prop.get("format") == "template" or name in MULTILINE_NAMES or "\n" in str(prop.get("default", "")):
            return "template"
        return "text"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if kind == "boolean":
        return "switch"
    if kind == "array" and prop.get("items", {}).get("type") == "string":
        return "words"
    return "json"


def shown_kind(spec: FieldSpec, value: Any) -> str:
    """The input to draw for this value: a template in a typed field is edited as text."""
    if isinstance(value, str) and spec.kind in ("integer", "number", "switch", "choice", "words", "json") and (
            "{{" in value or "{%" in value or spec.kind != "choice"):
        return "template" if "\n" in value else "text"
    if spec.kind == "text" and isinstance(value, str) and "\n" in value:
        return "template"
    return spec.kind


def parse_json(text: str) -> tuple[Any, str | None]:
    """``(value, None)`` or ``(None, a message naming the line and column)``."""
    if not text.strip():
        return None, None
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"


def show_json(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)
