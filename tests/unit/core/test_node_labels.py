"""Messages name nodes by their labels (issue 18, item 5): the id only where two labels are equal."""
from __future__ import annotations

from typing import Any

from runtime import Engine, load_flow, validate_flow
from runtime.flow.names import NodeNames

from .flows import diamond, flow, node


def labelled(data: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    for spec in data["nodes"]:
        if spec["id"] in labels:
            spec["label"] = labels[spec["id"]]
    return data


def test_names_use_the_label_and_add_the_id_only_for_equal_labels():
    doc = load_flow(labelled(diamond(), {"a": "Search", "b": "Search", "c": "Profile"}))
    names = NodeNames(doc)
    assert names("c") == "'Profile'"
    assert names("a") == "'Search' (a)" and names("b") == "'Search' (b)"
    assert names("join") == "'join'"  # no label: its id
    assert names("ghost") == "'ghost'"  # not a node (an edge to nowhere): its id
    assert names.plain("a") == "Search (a)" and names.plain("c") == "Profile"


def test_two_writers_of_one_key_are_named_by_their_labels():
    data = labelled(flow(
        [node("in", "user_input"), node("node_3", "delay", ms=1, output={"products": 1}),
         node("node_9", "delay", ms=1, output={"products": 2}), node("out", "output", fields={"p": "{{ products }}"})],
        [("in", "node_3"), ("in", "node_9"), ("node_3", "out"), ("node_9", "out")],
    ), {"node_3": "Product search", "node_9": "Catalogue lookup"})
    races = [p for p in validate_flow(load_flow(data)) if p.code == "output_race"]
    assert [p.message for p in races] == [
        "nodes 'Product search' and 'Catalogue lookup' can run at the same time and both write 'products'"]
    assert races[0].node_id == "node_9"  # the canvas still finds the node by its id


def test_a_cycle_is_printed_with_labels():
    data = labelled(diamond(), {"a": "Fetch", "join": "Merge"})
    data["edges"].append({"source": "join", "target": "a"})
    cycle = [p for p in validate_flow(load_flow(data)) if p.code == "cycle"]
    assert cycle and ("'Fetch' -> 'Merge' -> 'Fetch'" in cycle[0].message
                      or "'Merge' -> 'Fetch' -> 'Merge'" in cycle[0].message)


def test_a_config_problem_names_the_node_by_label():
    data = labelled(diamond(), {"a": "Wait a bit"})
    data["nodes"][1]["config"]["ms"] = "soon"
    found = [p for p in validate_flow(load_flow(data)) if p.node_id == "a"]
    assert found and found[0].message.startswith("node 'Wait a bit', field 'config.ms':")


async def test_a_failed_run_names_the_node_by_label():
    data = labelled(diamond(), {"join": "Join texts"})
    data["nodes"][4]["config"]["template"] = "{{ a }}{{ missing_value }}"
    result = await Engine().run(data, {"user_message": "hi"})
    assert result.status == "failed" and result.failed_node == "join"
    assert (result.error or "").startswith("node 'Join texts' (template) failed:")


def test_timeline_labels_tell_equal_labels_apart():
    from runtime.flow.names import node_labels

    doc = load_flow(labelled(diamond(), {"a": "Search", "b": "Search", "c": "Profile"}))
    assert node_labels(doc) == {"in": "in", "a": "Search (a)", "b": "Search (b)", "c": "Profile",
                                "join": "join", "out": "out"}
