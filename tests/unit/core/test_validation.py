"""Every validation rule, each checked for the message naming the offending node/edge/field."""
from __future__ import annotations

from typing import Any

import pytest

from runtime import load_flow, validate_flow
from runtime.errors import Problem

from .flows import diamond, flow, node


def problems_of(data: dict[str, Any], tenant: str | None = None) -> list[Problem]:
    return validate_flow(load_flow(data), tenant_id=tenant)


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


def test_valid_flow_has_no_problems():
    assert problems_of(diamond()) == []


def test_examples_are_valid():
    for name in ("seed_scenario", "seed_scenario_sequential", "pallet_assistant"):
        assert validate_flow(load_flow(f"examples/{name}.json")) == [], name


def test_duplicate_ids():
    data = diamond()
    data["nodes"].append(node("a", "delay", ms=1))
    found = problems_of(data)
    assert any(p.code == "duplicate_id" and p.node_id == "a" and "'a' is used 2 times" in p.message for p in found)


def test_edges_to_unknown_nodes():
    data = diamond()
    data["edges"].append({"source": "a", "target": "ghost"})
    found = [p for p in problems_of(data) if p.code == "edge"]
    assert found and "target 'ghost' is not a node" in found[0].message and found[0].edge == ("a", "ghost")


def test_cycle_is_printed():
    data = diamond()
    data["edges"].append({"source": "join", "target": "a"})
    found = [p for p in problems_of(data) if p.code == "cycle"]
    assert len(found) == 1
    assert "'a' -> 'join' -> 'a'" in found[0].message or "'join' -> 'a' -> 'join'" in found[0].message


def test_unknown_node_type():
    data = diamond()
    data["nodes"][1]["type"] = "teleporter"
    found = [p for p in problems_of(data) if p.code == "unknown_type"]
    assert found[0].node_id == "a" and "unknown node type 'teleporter'" in found[0].message


def test_config_failing_the_schema_names_node_and_field():
    data = diamond()
    data["nodes"][1]["config"]["ms"] = "slow"
    data["nodes"][2]["config"]["colour"] = "red"
    found = [p for p in problems_of(data) if p.code == "config"]
    assert {(p.node_id, p.field) for p in found} == {("a", "config.ms"), ("b", "config.colour")}


def test_templated_config_values_are_checked_at_run_time_not_load_time():
    data = diamond()
    data["nodes"][1]["config"]["ms"] = "{{ wait_ms }}"
    assert problems_of(data) == []


def test_template_syntax_error_is_reported():
    data = diamond()
    data["nodes"][4]["config"]["template"] = "{{ a "
    found = [p for p in problems_of(data) if p.code == "template"]
    assert found and found[0].node_id == "join" and found[0].field == "config.template"


def test_parallel_group_with_dependent_members():
    data = diamond()
    data["parallel_groups"] = [{"id": "g", "nodes": ["a", "join"]}]
    found = [p for p in problems_of(data) if p.code == "group_dependent"]
    assert found and "'join' depends on 'a'" in found[0].message and found[0].group_id == "g"


def test_join_at_not_reached_from_every_member():
    data = diamond()
    data["nodes"].append(node("d", "delay", ms=1, output={"d": 4}))
    data["edges"].append({"source": "in", "target": "d"})
    data["edges"].append({"source": "d", "target": "out"})
    data["parallel_groups"] = [{"id": "g", "nodes": ["a", "b", "d"], "join_at": "join"}]
    found = [p for p in problems_of(data) if p.code == "join"]
    assert len(found) == 1 and found[0].node_id == "d" and "not reached from member 'd'" in found[0].message


def test_ai_response_inside_a_parallel_group():
    data = diamond()
    data["nodes"].append(node("ai", "ai_response", provider_options={"delay_ms": 0}))
    data["edges"] += [{"source": "in", "target": "ai"}, {"source": "ai", "target": "join"}]
    data["parallel_groups"] = [{"id": "g", "nodes": ["a", "ai"]}]
    found = [p for p in problems_of(data) if p.code == "group_ai"]
    assert found and found[0].node_id == "ai" and "must never run in parallel" in found[0].message


def test_cache_enabled_for_ai_response_by_type_and_by_node():
    data = diamond()
    data["nodes"].append(node("ai", "ai_response"))
    data["edges"] += [{"source": "join", "target": "ai"}, {"source": "ai", "target": "out"}]
    data["cache_strategy"] = {"ai_response": {"enabled": True, "ttl": 60}}
    data["nodes"][-1]["cache"] = {"enabled": True}
    found = [p for p in problems_of(data) if p.code == "cache"]
    assert {p.field for p in found} == {"cache_strategy.ai_response", "cache"}
    assert all("never cached" in p.message for p in found)


def test_cache_key_field_must_be_a_config_field():
    data = diamond()
    data["cache_strategy"] = {"delay": {"key_fields": ["ms", "colour"]}}
    found = [p for p in problems_of(data) if p.code == "cache"]
    assert len(found) == 3 and all("'colour'" in p.message for p in found)


def test_concurrent_nodes_writing_the_same_key():
    data = diamond()
    data["nodes"][2]["config"]["output"] = {"a": 9}
    found = [p for p in problems_of(data) if p.code == "output_race"]
    assert found and "'a' and 'b' can run at the same time and both write 'a'" in found[0].message


def test_same_key_on_exclusive_condition_branches_is_fine():
    data = flow(
        [
            node("in", "user_input"),
            node("if", "condition", cases=[{"when": "{{ user_message == 'x' }}", "branch": "yes"}], default="no"),
            node("y", "template", template="yes", output_key="reply"),
            node("n", "template", template="no", output_key="reply"),
            node("out", "output", fields={"reply": "{{ reply }}"}),
        ],
        [
            ("in", "if"),
            {"source": "if", "target": "y", "branch": "yes"},
            {"source": "if", "target": "n", "branch": "no"},
            ("y", "out"),
            ("n", "out"),
        ],
    )
    assert problems_of(data) == []


def test_branch_must_exist_on_condition():
    data = flow(
        [node("in", "user_input"), node("if", "condition", default="no"), node("out", "output")],
        [("in", "if"), {"source": "if", "target": "out", "branch": "maybe"}],
    )
    assert any(p.code == "branch" and "'maybe'" in p.message for p in problems_of(data))


def test_missing_user_input_and_output():
    data = flow([node("a", "delay", ms=1)], [])
    assert {"missing_user_input", "missing_output"} <= codes(problems_of(data))


def test_background_node_must_be_a_leaf():
    data = diamond()
    data["nodes"].append(node("save", "save_message"))
    data["edges"] += [{"source": "join", "target": "save"}, {"source": "save", "target": "out"}]
    found = [p for p in problems_of(data) if p.code == "background"]
    assert found and found[0].node_id == "save"


def test_a_stream_channel_other_than_the_fixed_form_is_a_problem_not_ignored():
    data = diamond()
    data["nodes"].append(node("ai", "ai_response", stream_channel="tenant.9.conversation.other"))
    data["edges"] += [{"source": "join", "target": "ai"}, {"source": "ai", "target": "out"}]
    found = [p for p in problems_of(data) if p.field == "config.stream_channel"]
    assert len(found) == 1 and found[0].code == "channel" and found[0].node_id == "ai"
    assert "was ever honoured" in found[0].message and "Remove the field" in found[0].message


def test_the_mock_provider_checks_its_own_options():
    data = diamond()
    data["nodes"].append(node("ai", "ai_response", provider_options={"delay_ms": -1, "chunks": 2}))
    data["edges"] += [{"source": "join", "target": "ai"}, {"source": "ai", "target": "out"}]
    (found,) = [p for p in problems_of(data) if p.field == "config.provider_options.delay_ms"]
    assert "greater than or equal to 0" in found.message
    data["nodes"][-1]["config"]["provider_options"] = {"delay": 5}
    (found,) = [p for p in problems_of(data) if p.field == "config.provider_options.delay"]
    assert "Extra inputs are not permitted" in found.message


def test_every_problem_is_collected_at_once():
    data = diamond()
    data["nodes"][1]["type"] = "teleporter"
    data["nodes"][2]["config"]["ms"] = "slow"
    data["edges"].append({"source": "b", "target": "ghost"})
    data["parallel_groups"] = [{"id": "g", "nodes": ["c", "join"]}]
    assert {"unknown_type", "config", "edge", "group_dependent"} <= codes(problems_of(data))


@pytest.mark.parametrize("tenant, ok", [("2", True), ("5", False), (None, False)])
def test_tenant_plugin_types_are_visible_to_their_tenant_only(tenant: str | None, ok: bool):
    from pathlib import Path

    from runtime.nodes.registry import default_registry

    registry = default_registry(plugins_dir=Path("plugins"))
    data = diamond()
    data["nodes"].append(node("pay", "payment_gateway", amount=120.5))
    data["edges"] += [{"source": "join", "target": "pay"}, {"source": "pay", "target": "out"}]
    found = validate_flow(load_flow(data), registry, tenant)
    if ok:
        assert found == []
    else:
        assert any(p.code == "unknown_type" and "another tenant" in p.message for p in found)
