"""The extract node offline: the schema's fields become outputs later nodes read; an answer
that is not valid JSON or misses a field gets one more try with the validation error; the
offline mock fills the schema in; schema mistakes are found at validation."""
from __future__ import annotations

from typing import Any

import pytest

from runtime import Engine, load_flow
from runtime.errors import FlowValidationError
from runtime.events import NODE_FAILED

from .agent_flows import FAST, chain

INPUTS = {"user_message": "2 adet TP-2500 istiyorum, mail: ali@example.com", "tenant_id": "2"}
SCHEMA = {"type": "object", "properties": {"product": {"type": "string"}, "quantity": {"type": "integer"},
                                           "email": {"type": ["string", "null"]}},
          "required": ["product", "quantity"]}


def extract(node_id: str = "ex", script: list[str] | None = None, **config: Any) -> dict[str, Any]:
    options: dict[str, Any] = dict(FAST)
    if script is not None:
        options["script"] = [{"text": text} for text in script]
    return {"id": node_id, "type": "extract", "config": {"data_schema": SCHEMA, "provider_options": options, **config}}


READ = {"line": "{{ quantity }} x {{ product }} for {{ email }}"}


async def test_fields_become_outputs_that_templates_read() -> None:
    result = await Engine().run(chain("f", extract(script=['{"product": "TP-2500", "quantity": 2, '
                                                            '"email": "ali@example.com"}']), output=READ), INPUTS)
    assert result.status == "succeeded", result.error
    assert result.output == {"line": "2 x TP-2500 for ali@example.com"}


async def test_a_fenced_json_answer_is_read() -> None:
    answer = '```json\n{"product": "TP-2500", "quantity": 2}\n```'
    result = await Engine().run(chain("f", extract(script=[answer], output_key="order"),
                                      output={"order": "{{ order }}"}), INPUTS)
    assert result.output == {"order": {"product": "TP-2500", "quantity": 2, "email": None}}


@pytest.mark.parametrize("first", ["Sure! The product is TP-2500.", '{"product": "TP-2500", "quantity": "two"}',
                                   '{"quantity": 2}'])
async def test_an_invalid_answer_is_retried_once(first: str) -> None:
    good = '{"product": "TP-2500", "quantity": 2}'
    result = await Engine().run(chain("f", extract(script=[first, good]), output=READ), INPUTS)
    assert result.status == "succeeded", result.error
    assert result.output == {"line": "2 x TP-2500 for None"}


async def test_still_invalid_after_the_retry_fails_naming_the_field() -> None:
    events = [e async for e in Engine().stream(chain("f", extract(script=['{"product": "x"}'] * 2)), INPUTS)]
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert failed.node_id == "ex"
    assert "did not match the schema after 2 tries: quantity: Field required" in (failed.error or "")


@pytest.mark.parametrize("mode", ["json", "tool"])
async def test_the_offline_mock_fills_the_schema_in(mode: str) -> None:
    result = await Engine().run(chain("f", extract(mode=mode), output={"p": "{{ product }}", "q": "{{ quantity }}"}),
                                INPUTS)
    assert result.status == "succeeded", result.error
    assert result.output == {"p": INPUTS["user_message"], "q": 1}


ENUMS = {"type": "object", "properties": {
    "priority": {"type": "string", "enum": ["low", "high", "very high"]},
    "category": {"type": "string", "enum": ["forklift", "pallet jack"]},  # optional, and filled
    "size": {"type": ["integer", "null"], "enum": [1, 2, 3, None]},
    "ratio": {"type": "number"}, "urgent": {"type": "boolean"}, "colour": {"enum": ["red", "blue"]},
    "tags": {"type": "array", "items": {"type": "string", "enum": ["new", "used"]}},
    "order": {"type": "object", "properties": {"sku": {"type": "string"}, "count": {"type": "integer"}},
              "required": ["sku", "count"]},
    "note": {"type": ["string", "null"]}},
    "required": ["priority", "size", "ratio", "urgent", "colour", "tags", "order"], "additionalProperties": False}


@pytest.mark.parametrize("mode", ["json", "tool"])
async def test_an_enum_schema_runs_offline_and_validates(mode: str) -> None:
    """The mock picks the member the message names (the longest), else the first; the rest valid."""
    message = "Very high priority: a used pallet jack, size 2"
    result = await Engine().run(chain("f", extract(mode=mode, data_schema=ENUMS, output_key="data"),
                                      output={"data": "{{ data }}"}), {"user_message": message, "tenant_id": "2"})
    assert result.status == "succeeded", result.error
    assert result.output["data"] == {
        "priority": "very high", "category": "pallet jack", "size": 2, "ratio": 1.0, "urgent": False,
        "colour": "red", "tags": ["used"], "order": {"sku": message, "count": 1}, "note": None}


def test_schema_mistakes_are_found_at_validation() -> None:
    bad = extract(data_schema={"type": "object", "properties": {"when": {"type": "datetime"}}})
    with pytest.raises(FlowValidationError) as caught:
        Engine().plan(load_flow(chain("f", bad)), "2")
    assert any(p.field == "config.data_schema" and "'datetime' is not supported" in p.message
               for p in caught.value.problems)


def test_validation_knows_the_fields_as_outputs() -> None:
    document = chain("f", extract("a"), output={"p": "{{ product }}"})
    document["nodes"].insert(2, extract("b"))
    document["edges"] = [{"source": "in", "target": "a"}, {"source": "in", "target": "b"},
                         {"source": "a", "target": "out"}, {"source": "b", "target": "out"}]
    with pytest.raises(FlowValidationError) as caught:
        Engine().plan(load_flow(document), "2")
    assert any(p.code == "output_race" and "'product'" in p.message for p in caught.value.problems)


@pytest.mark.parametrize(("config", "field"), [
    ({"data_schema": {"type": "object", "properties": {"tenant_id": {"type": "string"}}}}, "config.data_schema"),
    ({"output_key": "nodes"}, "config.output_key"),
])
def test_outputs_may_not_overwrite_what_the_run_sets(config: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        Engine().plan(load_flow(chain("f", extract(**config))), "2")
    assert any(p.field == field and "is set by the run itself" in p.message for p in caught.value.problems)
