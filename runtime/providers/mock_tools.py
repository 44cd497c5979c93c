"""The mock's side of a tool-calling conversation: a scripted turn, or a small demo agent.

A script (``MockOptions.script``) is a list of turns; the request that already holds N
assistant turns gets turn N. Past the script's end, and without a script, the demo agent
answers: with tools and no tool result yet it calls the first tool (its arguments filled in
from the user's message by :func:`demo_arguments`), after that it answers from the results it
was given. ``extract`` fills its schema in the same way offline.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..ports import LLMRequest, ToolCall, ToolSpec
from .mock import mock_answer, user_text

_PLAIN: dict[str, Any] = {"integer": 1, "number": 1, "boolean": False}

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
        return "", [_demo_call(request.tools[0], user_text(request))]
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


def _demo_call(tool: ToolSpec, text: str) -> ToolCall:
    """The demo agent's call of ``tool``, with arguments its schema accepts."""
    arguments = demo_arguments(tool.parameters, text)
    return ToolCall("mock_call_0_0", tool.name, arguments, json.dumps(arguments))


def demo_arguments(schema: dict[str, Any], text: str) -> dict[str, Any]:
    """An object valid for ``schema`` (the subset of ``runtime.agents.schema``) made from ``text``.

    Strings get the text whole; an enum the member the text names (the longest, else the first
    member), so an offline extraction is valid; numbers 1, booleans false, an array one item, an
    object its own fields. Optional fields are left out unless they are strings that cannot be null.
    """
    arguments: dict[str, Any] = {}
    required = set(schema.get("required") or [])
    properties = schema.get("properties") or {}
    for name, sub in properties.items() if isinstance(properties, dict) else ():
        if not isinstance(sub, dict):
            continue
        kind, nullable = _kind(sub)
        if name in required or (kind == "string" and not nullable):
            arguments[name] = _value(sub, text)
    return arguments


def _value(schema: dict[str, Any], text: str) -> Any:
    kind, _nullable = _kind(schema)
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _member(schema["enum"], text)
    if kind == "array":
        items = schema.get("items")
        return [_value(items, text)] if isinstance(items, dict) and items else []
    if kind == "object":
        return demo_arguments(schema, text)
    return _PLAIN.get(str(kind), text)


def _kind(schema: dict[str, Any]) -> tuple[str | None, bool]:
    """The schema's type (a type list's one other than null) and whether null is allowed."""
    kind = schema.get("type")
    if isinstance(kind, list):
        rest = [k for k in kind if k != "null"]
        return (str(rest[0]) if rest else None), len(rest) < len(kind)
    return (kind if isinstance(kind, str) else None), False


def _member(values: list[Any], text: str) -> Any:
    """The enum member the text names as a word (the longest of them), else the first non-null."""
    named = [v for v in values if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v)
             and re.search(rf"(?<!\w){re.escape(str(v))}(?!\w)", text, re.IGNORECASE)]
    if named:
        return max(named, key=lambda v: len(str(v)))  # the first of the longest: "very high" over "high"
    return next((v for v in values if v is not None), values[0])
