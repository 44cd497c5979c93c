"""The offline mock provider: deterministic text at a configurable pace, no network.

Its settings are its own (:class:`MockOptions`), given per node as the AI node's
``provider_options``; they are read also when the mock stands in for a provider without a key.
``script`` plays a tool-calling conversation: turn N of the script answers the request that
already holds N assistant turns (``runtime.providers.mock_tools``). ``replies`` answer by what
is asked, wherever ``text`` would answer: the first reply whose ``when`` the user's last message
contains wins, and ``text`` (else the made-up answer) answers the rest. That is how an LLM judge
on the mock gives each case its own scripted verdict: ``[{"when": "message 7", "text": "Wrong.
SCORE: 0.1"}]`` with ``"text": "SCORE: 0.9"``. Replies are chosen by content, not played in
order, because an evaluation judges its cases concurrently and in no fixed order.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from ..ports import LLMRequest, ToolCall, Usage

DEFAULT_DELAY_MS = 300.0
DEFAULT_TOKENS_PER_SECOND = 40.0


@with_config(ConfigDict(extra="forbid"))
class MockToolCall(TypedDict):
    name: str
    arguments: dict[str, object]


@with_config(ConfigDict(extra="forbid"))
class MockTurn(TypedDict, total=False):
    """One scripted model turn: some text, and the tools it calls (none: the final answer)."""

    text: str
    tool_calls: list[MockToolCall]


@with_config(ConfigDict(extra="forbid"))
class MockReply(TypedDict):
    """The answer to every request whose last user message contains ``when`` (a plain substring)."""

    when: Annotated[str, Field(min_length=1, max_length=10000)]
    text: str


@with_config(ConfigDict(extra="forbid"))
class MockOptions(TypedDict, total=False):
    """What the mock reads from ``LLMRequest.options``, each optional; any other key is a mistake.

    A TypedDict rather than a model: validated inside pydantic's core with the node's config on
    every run, and handed to the provider as the plain dict it reads."""

    delay_ms: Annotated[float, Field(ge=0, le=60000, description="Wait before the first chunk (default 300).")]
    tokens_per_second: Annotated[float, Field(ge=0, le=100000, description="Pace (default 40; 0: no wait).")]
    chunks: Annotated[int, Field(ge=0, le=100000, description="Exact number of chunks (0: one per word).")]
    text: str | None  # a fixed answer (else one made from the prompt)
    script: Annotated[list[MockTurn], Field(max_length=100, description="Scripted turns of a tool-calling "
                                                                         "conversation, played in order.")]
    replies: Annotated[list[MockReply], Field(max_length=1000, description="Answers chosen by the user's last "
                                              "message: the first whose 'when' it contains (before 'text').")]


def mock_answer(request: LLMRequest) -> str:
    """A plausible, deterministic answer built from the prompt (for demos and tests)."""
    reply = chosen_reply(request)
    if reply is not None:
        return reply
    fixed = request.options.get("text")
    if fixed:
        return str(fixed)
    script = request.options.get("script")
    if script:  # a scripted conversation without tools: turn N's text
        turn = sum(1 for m in request.messages if m.get("role") == "assistant")
        return str(script[min(turn, len(script) - 1)].get("text") or "")
    prompt = request.messages[-1]["content"] if request.messages else ""
    listed = [line[2:].strip() for line in prompt.splitlines() if line.startswith("- ")]
    pick = f"I would recommend the {listed[0]}. " if listed else ""
    return (
        f"Thanks for your message! {pick}"
        "Electric pallet jacks suit warehouses with long runs, manual ones suit short moves, "
        "and forklifts handle heavier loads and high racks. Tell me the load and the lifting height "
        "and I will narrow it down. (This answer comes from the offline mock model.)"
    )


def chosen_reply(request: LLMRequest) -> str | None:
    """The text of the first of ``replies`` whose ``when`` the user's last message contains."""
    replies = request.options.get("replies")
    if not replies:
        return None
    said = user_text(request)
    return next((str(r["text"]) for r in replies if r["when"] in said), None)


def user_text(request: LLMRequest) -> str:
    """The last user message's text ("" when there is none)."""
    for message in reversed(request.messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


@lru_cache(maxsize=256)
def _pieces(text: str, wanted: int) -> tuple[str, ...]:
    """The chunks of an answer, computed once per (text, count): demos repeat the same text."""
    pieces = split_words(text)
    if wanted and wanted != len(pieces):
        pieces = _regroup(pieces, wanted)
    return tuple(pieces)


def split_words(text: str) -> list[str]:
    """Chunks that keep the separator with the word, so the chunks join back to the text."""
    chunks: list[str] = []
    current = ""
    for char in text:
        current += char
        if char == " ":
            chunks.append(current)
            current = ""
    if current:
        chunks.append(current)
    return chunks


class MockProvider:
    """Options (``LLMRequest.options``, see :class:`MockOptions`): ``delay_ms`` before the first
    chunk, ``tokens_per_second``, ``text`` (a fixed answer), ``replies`` (answers chosen by the
    user's last message, before ``text``), ``script`` (turns), ``chunks`` (cut the answer into
    exactly this many pieces). Read as given: the AI node's config has checked them."""

    name = "mock"

    async def stream(self, request: LLMRequest) -> AsyncIterator[str | Usage]:
        options = request.options
        delay_s = float(options.get("delay_ms", DEFAULT_DELAY_MS)) / 1000
        rate = float(options.get("tokens_per_second", DEFAULT_TOKENS_PER_SECOND))
        interval = 1 / rate if rate > 0 else 0.0
        text = mock_answer(request)
        pieces = _pieces(text, int(options.get("chunks", 0) or 0))
        if delay_s:
            await asyncio.sleep(delay_s)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for position, piece in enumerate(pieces):
            if position and interval:
                # Pace against the start time so the stream does not drift under load.
                await asyncio.sleep(max(0.0, start + position * interval - loop.time()))
            yield piece
        yield Usage(input_tokens=prompt_words(request), output_tokens=len(pieces))

    async def stream_tools(self, request: LLMRequest) -> AsyncIterator[str | Usage | ToolCall]:
        """One turn of a tool-calling conversation: scripted (``script``), else a demo agent
        that calls the first tool once and then answers from what it returned."""
        from .mock_tools import next_turn  # the conversation logic lives beside, not in the hot path

        text, calls = next_turn(request)
        if not text:  # only tool calls: nothing to stream
            delay_s = float(request.options.get("delay_ms", DEFAULT_DELAY_MS)) / 1000
            if delay_s:
                await asyncio.sleep(delay_s)
            for call in calls:
                yield call
            yield Usage(input_tokens=prompt_words(request), output_tokens=len(calls))
            return
        options = dict(request.options)
        options["text"] = text
        options.pop("chunks", None)
        async for item in self.stream(LLMRequest(request.model, request.messages, request.system,
                                                 request.temperature, request.max_tokens, options)):
            if isinstance(item, Usage):
                for call in calls:
                    yield call
            yield item


def prompt_words(request: LLMRequest) -> int:
    """The mock's input token count: the words of every message's text."""
    return sum(len(str(m.get("content") or "").split()) for m in request.messages)


def _regroup(pieces: list[str], wanted: int) -> list[str]:
    """Join or split word chunks into exactly ``wanted`` non-empty pieces."""
    text = "".join(pieces)
    if wanted >= len(text):
        return list(text)
    size, extra = divmod(len(text), wanted)
    out, position = [], 0
    for index in range(wanted):
        length = size + (1 if index < extra else 0)
        out.append(text[position : position + length])
        position += length
    return out


MOCK = MockProvider()  # stateless: one instance serves every run
