"""The provider-neutral tool-calling conversation (``runtime.ports.LLMRequest``) in each API's
own shape, and the tool calls read back from each API's stream.

Anthropic: tools have an ``input_schema``; an assistant turn is a list of ``text`` and
``tool_use`` blocks; tool results go back as ``tool_result`` blocks of one user turn.
OpenAI: tools are ``{"type": "function", "function": {...}}``; an assistant turn carries
``tool_calls`` whose arguments are a JSON string; each result is a ``tool`` message.
"""
from __future__ import annotations

import json
from typing import Any

from ..ports import ToolCall, ToolSpec


def parse_arguments(call_id: str, name: str, raw: str) -> ToolCall:
    """A tool call from its streamed JSON text; ``arguments`` is None when that is not an object."""
    text = raw.strip() or "{}"
    try:
        value = json.loads(text)
    except ValueError:
        return ToolCall(call_id, name, None, raw)
    return ToolCall(call_id, name, value if isinstance(value, dict) else None, raw)


# --- Anthropic ---------------------------------------------------------------------------------
def anthropic_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]


def anthropic_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role == "tool":
            block = {"type": "tool_result", "tool_use_id": message["tool_call_id"], "content": message["content"]}
            if message.get("is_error"):
                block["is_error"] = True
            previous = out[-1] if out else None
            if previous is not None and previous["role"] == "user" and isinstance(previous["content"], list):
                previous["content"].append(block)  # results of one turn's calls go back together
            else:
                out.append({"role": "user", "content": [block]})
        elif role == "assistant" and message.get("tool_calls"):
            blocks: list[dict[str, Any]] = [{"type": "text", "text": message["content"]}] if message["content"] else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}}
                       for c in message["tool_calls"]]
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": role, "content": message["content"]})
    return out


# --- OpenAI ------------------------------------------------------------------------------------
def openai_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.parameters}} for t in tools]


def openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role == "tool":
            out.append({"role": "tool", "tool_call_id": message["tool_call_id"], "content": message["content"]})
        elif role == "assistant" and message.get("tool_calls"):
            calls = [{"id": c.id, "type": "function",
                      "function": {"name": c.name, "arguments": c.raw_arguments or json.dumps(c.arguments or {})}}
                     for c in message["tool_calls"]]
            out.append({"role": "assistant", "content": message["content"] or None, "tool_calls": calls})
        else:
            out.append({"role": role, "content": message["content"]})
    return out


class OpenAIToolCalls:
    """Collects the pieces of streamed ``delta.tool_calls`` (by index) into whole calls."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: dict[int, list[str]] = {}

    def feed(self, deltas: Any) -> None:
        for delta in deltas or ():
            parts = self._parts.setdefault(getattr(delta, "index", 0) or 0, ["", "", ""])
            if getattr(delta, "id", None):
                parts[0] = delta.id
            function = getattr(delta, "function", None)
            if function is not None:
                if getattr(function, "name", None):
                    parts[1] += function.name
                if getattr(function, "arguments", None):
                    parts[2] += function.arguments

    def done(self) -> list[ToolCall]:
        calls = [parse_arguments(p[0] or f"call_{i}", p[1], p[2]) for i, p in sorted(self._parts.items())]
        self._parts.clear()
        return calls
