"""Reading tool calls out of the SDK event streams, event by event (no network): pieces joined,
JSON that is not an object reported, a call cut off by max_tokens still reported."""
from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace as Ns
from typing import Any

from runtime.ports import ToolCall
from runtime.providers.anthropic_provider import AnthropicProvider
from runtime.providers.tool_format import OpenAIToolCalls, parse_arguments


async def events(*items: Any) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def parts(provider: AnthropicProvider, *items: Any) -> list[tuple[str, Any]]:
    return [part async for part in provider._parse(events(*items))]


def start(index: int, call_id: str, name: str) -> Ns:
    return Ns(type="content_block_start", index=index, content_block=Ns(type="tool_use", id=call_id, name=name))


def piece(index: int, text: str) -> Ns:
    return Ns(type="content_block_delta", index=index, delta=Ns(type="input_json_delta", partial_json=text))


async def test_anthropic_pieces_become_one_call() -> None:
    found = await parts(AnthropicProvider("k"), start(1, "t1", "stock"), piece(1, '{"sku": "TP'), piece(1, '-2500"}'),
                        Ns(type="content_block_stop", index=1), Ns(type="message_stop"))
    assert found == [("tool", ToolCall("t1", "stock", {"sku": "TP-2500"}, '{"sku": "TP-2500"}')), ("end", None)]


async def test_anthropic_call_cut_off_is_still_reported() -> None:
    found = await parts(AnthropicProvider("k"), start(1, "t1", "stock"), piece(1, '{"sku": "TP'),
                        Ns(type="message_stop"))
    assert found == [("tool", ToolCall("t1", "stock", None, '{"sku": "TP')), ("end", None)]


def test_openai_pieces_are_joined_by_index() -> None:
    calls = OpenAIToolCalls()
    calls.feed([Ns(index=0, id="c0", function=Ns(name="a", arguments="")),
                Ns(index=1, id="c1", function=Ns(name="b", arguments='{"x":'))])
    calls.feed([Ns(index=0, id=None, function=Ns(name=None, arguments="{}")),
                Ns(index=1, id=None, function=Ns(name=None, arguments=" 1}"))])
    assert calls.done() == [ToolCall("c0", "a", {}, "{}"), ToolCall("c1", "b", {"x": 1}, '{"x": 1}')]


def test_arguments_that_are_not_an_object() -> None:
    assert parse_arguments("c", "n", "[1, 2]").arguments is None
    assert parse_arguments("c", "n", "").arguments == {}
