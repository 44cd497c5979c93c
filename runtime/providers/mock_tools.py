"""The mock's side of a tool-calling conversation: a scripted turn, or a small demo agent.

A script (``MockOptions.script``) is a list of turns; the request that already holds N
assistant turns gets turn N. Past the script's end, and without a script, the demo agent
answers: with tools and no tool result yet it calls the first tool (string arguments get the
user's message), after that it answers from the results it was given.
"""
from __future__ import annotations

import json
from typing import Any

from ..ports import LLMRequest, ToolCall, ToolSpec
from .mock import mock_answer

MOCK_NOTE = "(This answer comes from the offline mock model.)"


def next_turn(request: LLMRequest) -> tuple[str, list[ToolCall]]:
    """The text and tool calls of the model's next turn."""
    turn = sum(1 for m in request.messages if m.get("role") == "assistant")
    script = request.options.get("script") or []
    if turn < len(script):
        step = script[turn]
        calls = [ToolCall(f"mock_call_{turn}_{i}", c["name"], dict(c["arguments"]), json.dumps(c["arguments"]))
                 for i, c in enumerate(step.get("tool_calls") or [])]
        return str(step.get("text") or ""), calls
    results = [m for m in request.messages if m.get("role") == "tool"]
    if request.tools and not results and not script:
        return "", [_demo_call(request.tools[0], _user_text(request))]
    if results:
        last = results[-1]
        return f"Here is what {last.get('name', 'the tool')} found: {_summary(str(last.get('content', '')))} " \
               f"{MOCK_NOTE}", []
    return mock_answer(request), []


def _summary(content: str) -> str:
    """The names in a tool's JSON result (products, passages), else the start of its text."""
    try:
        value = json.loads(content)
    except ValueError:
        value = None
    names: list[str] = []
    stack = [value]
    while stack and len(names) < 5:
        item = stack.pop(0)
        if isinstance(item, dict):
            if isinstance(item.get("name"), str):  # a product
                names.append(item["name"] + (f" ({item['sku']})" if isinstance(item.get("sku"), str) else ""))
            elif isinstance(item.get("text"), str):  # a passage: where it is from, and how it starts
                text = " ".join(item["text"].split())
                names.append(f"{item.get('document', 'a passage')}: \"{text[:160]}\"")
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    if names:
        return "; ".join(names) + "."
    return content if len(content) <= 200 else content[:200] + "..."


def _user_text(request: LLMRequest) -> str:
    for message in reversed(request.messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def _demo_call(tool: ToolSpec, text: str) -> ToolCall:
    """A call of ``tool`` with arguments made from its schema: strings get the user's text."""
    arguments: dict[str, Any] = {}
    properties = tool.parameters.get("properties") or {}
    required = set(tool.parameters.get("required") or [])
    for name, schema in properties.items():
        kind = schema.get("type") if isinstance(schema, dict) else None
        if kind == "string":
            arguments[name] = text
        elif name in required:
            arguments[name] = {"integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}.get(
                str(kind), text)
    return ToolCall("mock_call_0_0", tool.name, arguments, json.dumps(arguments))
