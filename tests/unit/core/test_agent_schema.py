"""The JSON Schema subset of extract and agent tools (docs/agents.md): a keyword outside it is
refused with its path when the flow is validated, never passed unchecked at run time; the
constraints it does have (enum, required, additionalProperties) are enforced; the shipped
examples' schemas still fit it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runtime import Engine, load_flow
from runtime.agents.schema import check_schema, describe, validate
from runtime.agents.tools import DEFAULT_PARAMETERS, ToolConfig, check_tool
from runtime.errors import FlowValidationError
from runtime.nodes.builtins.extract import DEFAULT_SCHEMA

from .agent_flows import agent, chain

ROOT = Path(__file__).resolve().parents[3]


def props(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


@pytest.mark.parametrize(("schema", "message"), [
    (props(when={"type": "string", "format": "date-time"}), "properties.when.format: the keyword 'format' is not"),
    (props(name={"type": "string", "minLength": 1}), "properties.name.minLength: the keyword 'minLength'"),
    (props(count={"type": "integer", "maximum": 9}), "properties.count.maximum: the keyword 'maximum'"),
    (props(sku={"oneOf": [{"type": "string"}, {"type": "integer"}]}), "properties.sku.oneOf: the keyword 'oneOf'"),
    ({**props(a={"type": "string"}), "$ref": "#/$defs/a"}, "$ref: the keyword '$ref' is not supported"),
    (props(tags={"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}}),
     "properties.tags.items.pattern: the keyword 'pattern'"),
    (props(order=props(lines={"type": "array", "items": props(sku={"type": "string", "title": "SKU"})})),
     "properties.order.properties.lines.items.properties.sku.title: the keyword 'title'"),
    (props(note={"description": "no type"}), 'properties.note: needs a "type"'),
    (props(tags={"type": "array", "items": {"description": "no type either"}}),
     'properties.tags.items: needs a "type"'),
    (props(sku={"type": "string", "items": {"type": "string"}}),
     "properties.sku.items: 'items' applies only to type 'array'"),
    (props(size={"type": "integer", "enum": [1, "big"]}), "properties.size.enum: 'big' is not of type 'integer'"),
    (props(meta={"type": "object", "additionalProperties": {"type": "string"}}),
     "properties.meta.additionalProperties: only true or false"),
    (props(when={"type": "datetime"}), "properties.when.type: type 'datetime' is not supported"),
    ({"properties": {"a": {"type": "string"}}}, 'the top of the schema must have "type": "object"'),
])
def test_what_the_subset_does_not_have_is_refused_with_its_path(schema: dict[str, Any], message: str) -> None:
    problem = check_schema(schema)
    assert problem is not None and problem.startswith(message), problem


def test_an_extract_node_names_the_node_field_and_path() -> None:
    node = {"id": "ex", "type": "extract", "config": {"data_schema": props(when={"type": "string", "format": "date"})}}
    with pytest.raises(FlowValidationError) as caught:
        Engine().plan(load_flow(chain("f", node)), "2")
    [problem] = [p for p in caught.value.problems if p.field == "config.data_schema"]
    assert problem.node_id == "ex" and "properties.when.format: the keyword 'format'" in problem.message


def test_an_agent_tool_names_the_tool_and_path() -> None:
    tools = [{"name": "stock", "kind": "product_search", "parameters": props(q={"type": "string", "maxLength": 9})}]
    with pytest.raises(FlowValidationError) as caught:
        Engine().plan(load_flow(chain("f", agent(tools=tools))), "2")
    assert any(p.node_id == "ag" and "tool 'stock': parameters: properties.q.maxLength" in p.message
               for p in caught.value.problems), caught.value.problems


ORDER = {"type": "object", "required": ["size", "colour"], "additionalProperties": False, "properties": {
    "size": {"type": "string", "enum": ["S", "M", "L"]},
    "colour": {"type": ["string", "null"], "enum": ["red", "blue"]},
    "count": {"type": "integer", "enum": [1, 2, 5]},
    "lines": {"type": "array", "items": {"type": "object", "required": ["sku"], "properties": {
        "sku": {"type": "string"}}}},
}}


def test_the_supported_constraints_are_enforced() -> None:
    assert check_schema(ORDER) is None
    assert validate(ORDER, {"size": "M", "colour": None, "lines": [{"sku": "TP"}]}) == {
        "size": "M", "colour": None, "count": None, "lines": [{"sku": "TP"}]}
    for data, field in [({"size": "XL", "colour": "red"}, "size"), ({"size": "S", "colour": "green"}, "colour"),
                        ({"size": "S", "colour": "red", "count": 3}, "count"),
                        ({"size": "S", "colour": "red", "extra": 1}, "extra"),
                        ({"size": "S", "colour": "red", "lines": [{}]}, "lines.0.sku")]:
        with pytest.raises(ValidationError) as caught:
            validate(ORDER, data)
        assert describe(caught.value).startswith(f"{field}: "), describe(caught.value)


def _shipped_schemas() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = [("extract default", DEFAULT_SCHEMA)]
    found += [(f"{kind} tool default", schema) for kind, schema in DEFAULT_PARAMETERS.items()]
    for path in sorted([*(ROOT / "examples").glob("*.json"), *(ROOT / "runtime" / "data" / "examples").glob("*.json")]):
        for node in json.loads(path.read_text(encoding="utf-8")).get("nodes", []):
            config = node.get("config") or {}
            if node.get("type") == "extract" and "data_schema" in config:
                found.append((f"{path.name} {node['id']}", config["data_schema"]))
            for tool in config.get("tools", []) if node.get("type") == "agent" else []:
                spec = ToolConfig.model_validate(tool).spec()
                found.append((f"{path.name} {node['id']} {tool['name']}", spec.parameters))
    return found


SHIPPED = _shipped_schemas()


@pytest.mark.parametrize(("where", "schema"), SHIPPED, ids=[where for where, _ in SHIPPED])
def test_the_shipped_schemas_fit_the_subset(where: str, schema: dict[str, Any]) -> None:
    assert check_schema(schema) is None, where


def test_an_http_tools_default_parameters_fit_the_subset() -> None:
    tool = ToolConfig(name="stock", kind="http_request", config={"url": "https://erp.example.com/stock/{sku}"})
    assert check_tool(tool) is None
