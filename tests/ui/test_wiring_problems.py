"""What the editor shows of the wiring checks (issue 18, item 4): warnings next to errors, named by
label; an AI node wired into a new flow's Output makes the Output answer with it."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from editor.graph import FlowDraft, check
from runtime import default_registry
from tests.ui.test_editor_pages import DEMO, canvas, fire, node, save

if TYPE_CHECKING:
    from tests.ui.conftest import EditorUI

REGISTRY = default_registry()


def blank() -> FlowDraft:
    from editor.services.flow_files import blank_document

    return FlowDraft(blank_document("bot", "Bot"), REGISTRY, "1", version=1)


def test_wiring_an_ai_node_into_a_new_flows_output_maps_its_answer() -> None:
    draft = blank()
    ai = draft.add_node("ai_response", 160, 120)
    draft.connect("node_1", ai)
    assert draft.node("node_2").config["fields"] == {"answer": "{{ user_message }}"}  # not wired yet
    draft.connect(ai, "node_2")
    assert draft.node("node_2").config["fields"] == {"answer": "{{ answer }}"}
    draft.undo()  # one step: the edge and the mapping go together
    assert draft.node("node_2").config["fields"] == {"answer": "{{ user_message }}"}
    assert not any(e.source == ai for e in draft.document.edges if e.target == "node_2")


def test_an_output_mapped_by_hand_is_left_alone() -> None:
    draft = blank()
    draft.set_config_value("node_2", "fields", {"answer": "{{ user_message }} (echo)"})
    ai = draft.add_node("ai_response", 160, 120)
    draft.connect(ai, "node_2")
    assert draft.node("node_2").config["fields"] == {"answer": "{{ user_message }} (echo)"}


def test_the_index_counts_errors_and_keeps_warnings_apart() -> None:
    draft = blank()
    call = draft.add_node("http_request", 0, 300)  # no url (an error), wired to nothing (two warnings)
    problems = check(draft.document, REGISTRY, "1")
    assert len(problems) == 1 and [p.code for p in problems.warnings] == ["unreachable", "dead_end"]
    assert problems.node_messages(call) == ["node 'HTTP request', field 'config.url': Field required"]
    assert problems.node_warnings(call)[0].startswith(
        "node 'HTTP request' is not connected to the input 'User message'")
    assert "config.url" in problems.field_errors(call) and len(problems.field_errors(call)) == 1


async def test_the_problem_bar_lists_errors_then_warnings_by_label(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    assert editor_user.one("problem-summary").text == "No problems"
    fire(editor_user, "palette_drop", {"type": "http_request", "x": 100, "y": 600})
    await asyncio.sleep(0.3)
    call = next(n["id"] for n in canvas(editor_user).nodes if n["type"] == "http_request")
    assert editor_user.one("problem-summary").text == "1 problem · 2 warnings"
    assert editor_user.one("validate").text == "1 problem · 2 warnings"
    assert "warning:2 warnings" in node(editor_user, call)["data"]["badges"]
    editor_user.by("problem-bar").click()
    await editor_user.user.should_see("node 'HTTP request', field 'config.url': Field required")
    await editor_user.user.should_see("node 'HTTP request' is not connected to the input 'User message'")
    await editor_user.user.should_see("node 'HTTP request' leads nowhere")
    assert len(editor_user.elements("problem-warning")) == 2
    # the selected node's inspector lists them too, the warnings in amber
    assert len(editor_user.elements("inspector-warning")) == 2
    # wired in, the warnings go; the missing url stays an error
    fire(editor_user, "connect", {"id": f"node_1->{call}", "source": "node_1", "target": call, "sourceHandle": None})
    fire(editor_user, "connect", {"id": f"{call}->node_5", "source": call, "target": "node_5", "sourceHandle": None})
    await asyncio.sleep(0.1)
    assert editor_user.one("problem-summary").text == "1 problem"


async def test_connecting_an_ai_node_on_the_canvas_makes_a_new_flows_output_answer_with_it(
        editor_user: EditorUI) -> None:
    await editor_user.open("/")
    editor_user.by("new-flow").click()
    (await editor_user.find("new-flow-name")).type("Echo bot")
    (await editor_user.find("new-flow-create")).click()
    await editor_user.until(lambda: editor_user.has("canvas"), "the editor to open")
    fire(editor_user, "palette_drop", {"type": "ai_response", "x": 160, "y": 200})
    await asyncio.sleep(0.3)
    ai = next(n["id"] for n in canvas(editor_user).nodes if n["type"] == "ai_response")
    fire(editor_user, "connect", {"id": f"node_1->{ai}", "source": "node_1", "target": ai, "sourceHandle": None})
    fire(editor_user, "connect", {"id": f"{ai}->node_2", "source": ai, "target": "node_2", "sourceHandle": None})
    await asyncio.sleep(0.1)
    await save(editor_user)
    output = next(n for n in editor_user.stored("echo-bot")["nodes"] if n["id"] == "node_2")
    assert output["config"]["fields"] == {"answer": "{{ answer }}"}  # no longer echoes the user
    assert editor_user.one("problem-summary").text == "No problems"
