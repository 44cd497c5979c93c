"""Wiring warnings (issue 18, item 4): a flow that runs but probably not as meant, in plain words."""
from __future__ import annotations

import itertools
from typing import Any

from runtime import load_flow, validate_flow
from runtime.errors import Problem
from runtime.flow.wiring_checks import wiring_warnings

from .flows import flow, node


def labelled(spec: dict[str, Any], label: str) -> dict[str, Any]:
    return {**spec, "label": label}


def chain(*middle: dict[str, Any], fields: dict[str, str] | None = None) -> dict[str, Any]:
    """User message -> the middle nodes in a row -> Output."""
    nodes = [labelled(node("in", "user_input"), "User message"), *middle,
             labelled(node("out", "output", **({"fields": fields} if fields else {})), "Output")]
    ids = [n["id"] for n in nodes]
    return flow(nodes, list(itertools.pairwise(ids)))


def warnings_of(data: dict[str, Any]) -> list[Problem]:
    return wiring_warnings(load_flow(data))


def messages(data: dict[str, Any], code: str) -> list[str]:
    return [p.message for p in warnings_of(data) if p.code == code]


def test_a_well_wired_flow_has_no_warnings():
    data = chain(labelled(node("ai", "ai_response"), "Answer"))
    assert warnings_of(data) == []
    for name in ("pallet_assistant", "seed_scenario", "support_assistant", "agent_assistant"):
        assert wiring_warnings(load_flow(f"examples/{name}.json")) == [], name


def test_warnings_never_block_validation():
    data = chain(labelled(node("ai", "ai_response"), "Answer"))
    data["nodes"].append(labelled(node("call", "http_request", url="http://127.0.0.1:9/x"), "Call API"))
    assert validate_flow(load_flow(data)) == []  # it runs
    found = warnings_of(data)
    assert found and all(p.severity == "warning" and p.is_warning for p in found)
    assert found[0].to_dict()["severity"] == "warning"


def test_an_http_request_with_no_incoming_edge_is_named():
    data = chain(labelled(node("ai", "ai_response"), "Answer"))
    data["nodes"].append(labelled(node("call", "http_request", url="http://127.0.0.1:9/x"), "Call API"))
    unreachable = [p for p in warnings_of(data) if p.code == "unreachable"]
    assert [p.node_id for p in unreachable] == ["call"]
    assert unreachable[0].message.startswith(
        "node 'Call API' is not connected to the input 'User message': it runs at the start of every run")
    assert messages(data, "dead_end") == [
        "node 'Call API' leads nowhere: connect it to the node that uses its result (or to an Output), or delete it"]


def test_five_dropped_nodes_are_each_reported():
    data = chain(labelled(node("ai", "ai_response"), "Answer"))
    for i in range(5):
        data["nodes"].append(labelled(node(f"d{i}", "delay", ms=1), f"Wait {i}"))
    found = warnings_of(data)
    assert {p.node_id for p in found if p.code == "unreachable"} == {f"d{i}" for i in range(5)}
    assert {p.node_id for p in found if p.code == "dead_end"} == {f"d{i}" for i in range(5)}


def test_a_node_that_reaches_no_output():
    data = chain(labelled(node("ai", "ai_response"), "Answer"))
    data["nodes"].append(labelled(node("t", "template", template="{{ user_message }}", output_key="x"), "Side"))
    data["nodes"].append(labelled(node("t2", "template", template="{{ x }}", output_key="y"), "Side 2"))
    data["edges"] += [{"source": "in", "target": "t"}, {"source": "t", "target": "t2"}]
    assert messages(data, "dead_end") == [
        "node 'Side' leads to no Output: what it makes is never answered",
        "node 'Side 2' leads nowhere: connect it to the node that uses its result (or to an Output), or delete it"]


def test_an_output_that_receives_nothing():
    data = flow([labelled(node("in", "user_input"), "User message"),
                 labelled(node("ai", "ai_response"), "Answer"), labelled(node("out", "output"), "Reply")],
                [("in", "ai")])
    found = [p for p in warnings_of(data) if p.code == "no_answer"]
    assert found[0].message.startswith("Output 'Reply' receives nothing: connect the node whose answer it returns")
    assert any(p.field == "config.fields" and "reads 'answer', which no node before it writes" in p.message
               for p in found)


def test_an_output_still_echoing_the_user_after_an_ai_node_is_wired_in():
    data = chain(labelled(node("ai", "ai_response"), "Answer"), fields={"answer": "{{ user_message }}"})
    assert messages(data, "answer_unused") == [
        "Output 'Output' is connected to 'Answer' but none of its fields reads what it writes ('answer'): "
        "map one, e.g. {{ answer }}"]


def test_a_template_reading_an_unknown_name_says_did_you_mean():
    search = labelled(node("s", "product_search"), "Search products")
    build = labelled(node("b", "template", template="Products: {{ prodcuts }}", output_key="context"), "Build")
    data = chain(search, build, labelled(node("ai", "ai_response"), "Answer"))
    found = [p for p in warnings_of(data) if p.code == "unknown_variable"]
    assert [(p.node_id, p.field) for p in found] == [("b", "config.template")]
    assert found[0].message == ("node 'Build', field 'config.template' reads 'prodcuts', which no node before it "
                                "writes and the input does not declare (did you mean 'products'?)")


def test_a_name_written_by_a_node_that_runs_later_or_in_parallel():
    data = flow([labelled(node("in", "user_input"), "User message"),
                 labelled(node("s", "product_search"), "Search products"),
                 labelled(node("b", "template", template="{{ products }}", output_key="context"), "Build"),
                 labelled(node("out", "output", fields={"answer": "{{ context }}"}), "Output")],
                [("in", "s"), ("in", "b"), ("s", "out"), ("b", "out")])
    assert messages(data, "unknown_variable") == [
        "node 'Build', field 'config.template' reads 'products', which 'Search products' writes but not before "
        "this node: connect 'Search products' to it (directly or through the nodes between)"]


def test_optional_names_and_loop_variables_are_not_reported():
    template = ("{{ locale | default('en') }}{% if tone is defined %}{{ tone }}{% endif %}"
                "{% for p in products | default([]) %}{{ p.name }}{% endfor %}{{ session_id }}{{ nodes.in }}")
    data = chain(labelled(node("b", "template", template=template, output_key="answer"), "Build"))
    assert warnings_of(data) == []


def test_a_broken_flow_gives_errors_not_warnings():
    data = chain(labelled(node("ai", "ai_response"), "Answer"))
    data["edges"].append({"source": "out", "target": "in"})  # a cycle: validation's error, no guesses here
    assert warnings_of(data) == []


def test_reading_templates_does_not_build_what_they_would_render():
    """The names a template reads come from the sandbox's parser: Jinja's reader folds constant
    expressions, and with a plain environment checking this draft built a 400 MB string."""
    import tracemalloc

    from runtime.reads import template_names

    guarded = "{% if user_message == 'go' %}{{ 'x' * 400000000 }}{% endif %}{{ answer }}"  # a run of 'go' only
    data = chain(labelled(node("ai", "ai_response"), "Answer"), fields={"answer": guarded})
    tracemalloc.start()
    try:
        assert messages(data, "unknown_variable") == []
        assert template_names(guarded) == {"user_message", "answer"}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000, peak
