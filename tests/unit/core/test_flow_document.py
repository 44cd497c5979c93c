import json
import time
from pathlib import Path

import pytest

from runtime import FlowDocument, FlowLoadError, load_flow
from runtime.flow.loader import MAX_BYTES, MAX_DEPTH, MAX_NODES

from .flows import diamond

EXAMPLES = sorted(Path(__file__).resolve().parents[3].joinpath("examples").glob("*.json"))


def test_examples_exist():
    names = {p.name for p in EXAMPLES}
    assert {"seed_scenario.json", "seed_scenario_sequential.json", "pallet_assistant.json"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_load_then_dump_is_identity_on_examples(path: Path):
    exported = load_flow(path).dump()
    assert load_flow(exported).dump() == exported
    assert load_flow(json.dumps(exported)).dump() == exported
    # and what the file holds survives a round trip unchanged
    assert exported == json.loads(path.read_text(encoding="utf-8"))


def test_load_from_path_string_dict_and_json_string(tmp_path: Path):
    data = diamond()
    file = tmp_path / "f.json"
    file.write_text(json.dumps(data))
    for source in (file, str(file), json.dumps(data), data):
        doc = load_flow(source)
        assert isinstance(doc, FlowDocument)
        assert [n.id for n in doc.nodes] == ["in", "a", "b", "c", "join", "out"]


def test_seed_metadata_form_loads_as_is():
    seed = {
        "flow_id": 6,
        "cache_strategy": {
            "product_search": {"enabled": True, "ttl": 300, "key_fields": ["query", "category"]},
            "ai_response": {"enabled": False},
        },
        "parallel_groups": [{"nodes": ["node_2", "node_3", "node_4"], "join_at": "node_5"}],
        "nodes": {"node_10": {"type": "ai_response", "config": {"provider": "anthropic", "stream": True,
                  "stream_channel": "tenant.{tenant_id}.conversation.{session_id}"}}},
    }
    doc = load_flow(seed)
    assert doc.flow_id == 6
    assert doc.akis == 1
    assert doc.cache_strategy["product_search"].key_fields == ["query", "category"]
    assert doc.cache_strategy["ai_response"].enabled is False
    assert doc.parallel_groups[0].id == "group_1"
    assert doc.parallel_groups[0].join_at == "node_5"
    assert doc.nodes[0].id == "node_10" and doc.nodes[0].config["provider"] == "anthropic"
    # once exported, the document round-trips exactly
    assert load_flow(doc.dump()).dump() == doc.dump()


def test_retired_ai_response_fields_are_read_in_their_new_place():
    old = {
        "akis": 1,
        "flow_id": "old",
        "nodes": [{"id": "ai", "type": "ai_response", "config": {
            "provider": "anthropic", "mock_delay_ms": 0, "mock_tokens_per_second": 0, "mock_chunks": 2,
            "mock_text": "two words", "stream_channel": "tenant.{tenant_id}.conversation.{session_id}"}}],
    }
    doc = load_flow(old)
    assert doc.nodes[0].config == {
        "provider": "anthropic",
        "provider_options": {"delay_ms": 0, "tokens_per_second": 0, "chunks": 2, "text": "two words"},
    }
    assert FlowDocument.model_validate(old).dump() == doc.dump()  # read from storage alike
    assert load_flow(doc.dump()).dump() == doc.dump()


def test_a_retired_field_that_disagrees_with_its_new_place_is_kept_and_reported():
    from runtime import validate_flow

    old = {
        "akis": 1,
        "flow_id": "old",
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "ai", "type": "ai_response", "config": {"mock_text": "a", "provider_options": {"text": "b"}}},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}],
    }
    doc = load_flow(old)
    assert doc.nodes[1].config == {"mock_text": "a", "provider_options": {"text": "b"}}
    (problem,) = validate_flow(doc)
    assert problem.field == "config.mock_text" and "provider_options.text" in problem.message


def test_json_schema_is_generated_and_describes_nodes():
    schema = FlowDocument.model_json_schema()
    assert "nodes" in schema["properties"]
    assert "NodeSpec" in schema["$defs"]


def test_schema_errors_name_the_node_and_field():
    data = diamond()
    data["nodes"][1]["timeout_s"] = -1
    with pytest.raises(FlowLoadError) as info:
        load_flow(data)
    message = str(info.value)
    assert "node 'a'" in message and "timeout_s" in message


def test_bad_json_is_a_clear_error():
    with pytest.raises(FlowLoadError, match="not valid JSON"):
        load_flow('{"flow_id": ')


def test_future_version_refused():
    with pytest.raises(FlowLoadError, match="format 99"):
        load_flow({"akis": 99, "flow_id": "x"})


def test_deep_nesting_refused_quickly_before_parsing():
    text = '{"flow_id": "x", "nodes": [], "ui": ' + "[" * 100_000 + "]" * 100_000 + "}"
    started = time.perf_counter()
    with pytest.raises(FlowLoadError, match=f"deeper than {MAX_DEPTH}"):
        load_flow(text)
    assert time.perf_counter() - started < 5  # would be a RecursionError without the pre-check


def test_deep_nesting_in_a_dict_refused():
    deep: dict = {}
    cursor = deep
    for _ in range(MAX_DEPTH + 5):
        cursor["x"] = {}
        cursor = cursor["x"]
    with pytest.raises(FlowLoadError, match="deeper"):
        load_flow({"flow_id": "x", "ui": deep})


def test_huge_document_refused():
    text = '{"flow_id": "x", "description": "' + "a" * (MAX_BYTES + 10) + '"}'
    with pytest.raises(FlowLoadError, match="limit"):
        load_flow(text)


def test_too_many_nodes_refused():
    nodes = [{"id": f"n{i}", "type": "delay"} for i in range(MAX_NODES + 1)]
    with pytest.raises(FlowLoadError, match="nodes; the limit"):
        load_flow({"flow_id": "x", "nodes": nodes})


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FlowLoadError, match="cannot read"):
        load_flow(tmp_path / "nope.json")
