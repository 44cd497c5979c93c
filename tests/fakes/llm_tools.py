"""The fake LLM server's tool-call turns in each API's streamed format (``tool_calls`` replies
of ``tests/fakes/llm_server.py``): the arguments' JSON in two pieces, as both APIs stream it."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Calls = list[tuple[str, dict[str, Any]]]


def _halves(arguments: dict[str, Any]) -> tuple[str, str]:
    text = json.dumps(arguments, ensure_ascii=False)
    cut = len(text) // 2
    return text[:cut], text[cut:]


def anthropic_tool_events(calls: Calls, sse: Callable[[str | None, Any], bytes]) -> list[tuple[str, bytes]]:
    """``tool_use`` blocks after the text block: start (id, name), the input JSON in two
    ``input_json_delta`` pieces, stop."""
    out: list[tuple[str, bytes]] = []
    for position, (name, arguments) in enumerate(calls, start=1):
        block = {"type": "tool_use", "id": f"toolu_fake_{position}", "name": name, "input": {}}
        out.append(("meta", sse("content_block_start",
                                {"type": "content_block_start", "index": position, "content_block": block})))
        for piece in _halves(arguments):
            delta = {"type": "input_json_delta", "partial_json": piece}
            out.append(("meta", sse("content_block_delta",
                                    {"type": "content_block_delta", "index": position, "delta": delta})))
        out.append(("meta", sse("content_block_stop", {"type": "content_block_stop", "index": position})))
    return out


def openai_tool_events(calls: Calls, chunk: Callable[[dict[str, Any]], bytes]) -> list[tuple[str, bytes]]:
    """``delta.tool_calls`` pieces: the first names the call (index, id, function name), the
    next ones carry the arguments' JSON text in pieces."""
    out: list[tuple[str, bytes]] = []
    for position, (name, arguments) in enumerate(calls):
        first = {"index": position, "id": f"call_fake_{position}", "type": "function",
                 "function": {"name": name, "arguments": ""}}
        out.append(("meta", chunk({"tool_calls": [first]})))
        for piece in _halves(arguments):
            out.append(("meta", chunk({"tool_calls": [{"index": position, "function": {"arguments": piece}}]})))
    return out
