"""Which streaming nodes' chunks are the run's answer, known from the plan before a run
(runtime/engine/answer.py; the published widget streams only these)."""
from __future__ import annotations

import itertools
import tracemalloc
from typing import Any

from runtime import load_flow
from runtime.engine.plan import compile_plan
from runtime.nodes.registry import default_registry

from .flows import flow, node

REGISTRY = default_registry()


def answer_of(data: dict[str, Any]) -> frozenset[str] | None:
    return compile_plan(load_flow(data), REGISTRY, "t1").answer_ids


def chain(*middle: dict[str, Any], fields: dict[str, str] | None = None) -> dict[str, Any]:
    """in -> the middle nodes in a row -> out."""
    nodes = [node("in", "user_input"), *middle, node("out", "output", **({"fields": fields} if fields else {}))]
    return flow(nodes, list(itertools.pairwise(n["id"] for n in nodes)))


def ai(node_id: str, prompt: str = "{{ user_message }}") -> dict[str, Any]:
    return node(node_id, "ai_response", prompt=prompt)


def test_the_last_ai_node_before_the_output_hides_a_draft_it_rewrites() -> None:
    assert answer_of(chain(ai("ai"))) == {"ai"}  # the Output's default field reads the answer
    assert answer_of(chain(ai("draft"), ai("final", "Improve: {{ answer }}"))) == {"final"}


def test_a_non_streaming_node_passes_a_streamed_text_on() -> None:
    data = chain(ai("ai"), node("fmt", "template", template="> {{ answer }}", output_key="reply"),
                 fields={"answer": "{{ reply }}"})
    assert answer_of(data) == {"ai"}


def test_the_output_names_a_node_by_id() -> None:
    assert answer_of(chain(ai("draft"), ai("final"), fields={"answer": "{{ nodes.draft.answer }}"})) == {"draft"}
    assert answer_of(chain(ai("draft"), ai("final"), fields={"answer": "{{ nodes['final'].answer }}"})) == {"final"}


def test_only_the_answer_field_counts_when_there_is_one() -> None:
    data = chain(ai("draft"), ai("final"), fields={"answer": "{{ answer }}", "draft": "{{ nodes.draft.answer }}"})
    assert answer_of(data) == {"final"}


def test_either_branch_s_writer_counts() -> None:
    choice = node("if", "condition", cases=[{"when": "{{ user_message == 'a' }}", "branch": "a"}], default="b")
    data = flow([node("in", "user_input"), choice, ai("draft"), ai("a"), ai("b"), node("out", "output")],
                [("in", "draft"), ("draft", "if"), {"source": "if", "target": "a", "branch": "a"},
                 {"source": "if", "target": "b", "branch": "b"}, ("a", "out"), ("b", "out")])
    assert answer_of(data) == {"a", "b"}  # whichever ran; the draft before both is hidden


def test_when_the_output_does_not_tell_every_chunk_counts() -> None:
    assert answer_of(chain(ai("ai"), fields={"answer": "{{ user_message }}"})) is None  # no streaming source
    data = chain(ai("ai"), fields={"answer": "{% for n in nodes %}{{ n }}{% endfor %}"})
    assert answer_of(data) is None  # nodes read by a computed key
    assert answer_of(chain(node("t", "template", template="x", output_key="answer"))) is None


def test_reading_a_template_does_not_build_what_it_would_render() -> None:
    """What a template reads is found with the sandbox's parser: Jinja's reader folds constant
    expressions, and with a plain environment compiling the plan built this 400 MB string."""
    guarded = "{% if user_message == 'go' %}{{ 'x' * 400000000 }}{% endif %}{{ answer }}"  # a run of 'go' only
    tracemalloc.start()
    try:
        assert answer_of(chain(ai("ai"), fields={"answer": guarded})) == {"ai"}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000, peak
