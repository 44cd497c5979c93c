"""Flows and datasets the evaluation tests share: two versions of an echo flow where version 2
breaks exactly the cases whose message ends with '!' (as a template, or as a model on the mock
provider), a chat flow on the mock provider, and a judge scripted per case on the mock."""
from __future__ import annotations

import json
from typing import Any

BROKEN = [f"case-{i:02d}" for i in (3, 11, 20, 34, 47)]


def echo_flow(flow_id: str, broken: bool = False) -> dict[str, Any]:
    """user_input -> template -> output; ``broken``: messages ending in '!' get a wrong answer."""
    template = "answer: {{ user_message }}"
    if broken:
        template = "{% if user_message.endswith('!') %}oops{% else %}answer: {{ user_message }}{% endif %}"
    return {
        "akis": 1, "flow_id": flow_id, "name": "Echo",
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "t", "type": "template", "config": {"template": template, "output_key": "answer"}},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "t"}, {"source": "t", "target": "out"}],
    }


def mock_model_flow(flow_id: str) -> dict[str, Any]:
    """Version 2 of the echo flow as a model: user_input -> ai_response on the mock -> output. The
    mock's text is rendered from the message ('answer: ...'); its reply to a message holding '!' is
    'oops', so exactly the BROKEN cases break."""
    options = {"delay_ms": 0, "tokens_per_second": 0, "text": "answer: {{ user_message }}",
               "replies": [{"when": "!", "text": "oops"}]}
    return {
        "akis": 1, "flow_id": flow_id, "name": "Echo",
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "ai", "type": "ai_response", "config": {"provider": "mock", "provider_options": options}},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}],
    }


def chat_flow(flow_id: str) -> dict[str, Any]:
    """user_input -> ai_response (mock, no waiting) -> output."""
    return {
        "akis": 1, "flow_id": flow_id, "name": "Chat",
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "ai", "type": "ai_response", "config": {
                      "provider": "mock", "provider_options": {"delay_ms": 0, "tokens_per_second": 0}}},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}],
    }


def fifty_cases() -> list[dict[str, Any]]:
    """50 cases; the five in BROKEN end with '!' (version 2 of the echo flow answers them wrong)."""
    cases = []
    for i in range(50):
        case_id = f"case-{i:02d}"
        message = f"message {i}" + ("!" if case_id in BROKEN else "")
        cases.append({"id": case_id, "message": message, "expected": f"answer: {message}",
                      "properties": {"judge_hint": i}})
    return cases


SCORERS = [
    {"kind": "exact"},
    {"kind": "contains", "value": "answer:"},
    {"kind": "latency", "budget_ms": 60_000},
    {"kind": "judge", "rubric": "Does the answer repeat the message?", "options": {
        "text": "Looks right. SCORE: 0.9", "delay_ms": 0, "tokens_per_second": 0}},
]


JUDGED_LOW = (0, 10, 20, 30, 40)  # the cases the scripted judge fails (0.2); 0.9 for the others
JUDGE_BY_CASE = {"kind": "judge", "rubric": "Does the answer repeat the message?", "options": {
    "delay_ms": 0, "tokens_per_second": 0, "text": "Looks right. SCORE: 0.9",
    # the judge's prompt holds the case's message: "message 20" matches "message 20!" too
    "replies": [{"when": f"User message:\nmessage {n}", "text": "Not what was asked. SCORE: 0.2"}
                for n in JUDGED_LOW]}}


def jsonl(name: str, cases: list[dict[str, Any]], scorers: list[dict[str, Any]] | None = None) -> str:
    header = {"akis_dataset": 1, "name": name, "scorers": scorers if scorers is not None else SCORERS}
    return "\n".join(json.dumps(line) for line in [header, *cases]) + "\n"
