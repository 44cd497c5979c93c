"""The offline mock provider: deterministic text at a configurable pace, no network."""
from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import AsyncIterator

from ..ports import LLMRequest, Usage


def mock_answer(request: LLMRequest) -> str:
    """A plausible, deterministic answer built from the prompt (for demos and tests)."""
    fixed = request.options.get("text")
    if fixed:
        return str(fixed)
    prompt = request.messages[-1]["content"] if request.messages else ""
    listed = [line[2:].strip() for line in prompt.splitlines() if line.startswith("- ")]
    pick = f"I would recommend the {listed[0]}. " if listed else ""
    return (
        f"Thanks for your message! {pick}"
        "Electric pallet jacks suit warehouses with long runs, manual ones suit short moves, "
        "and forklifts handle heavier loads and high racks. Tell me the load and the lifting height "
        "and I will narrow it down. (This answer comes from the offline mock model.)"
    )


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
    """Options (``LLMRequest.options``): ``delay_ms`` before the first chunk (default 300),
    ``tokens_per_second`` (default 40), ``text`` (fixed answer), ``chunks`` (cut the answer into
    exactly this many pieces)."""

    name = "mock"

    async def stream(self, request: LLMRequest) -> AsyncIterator[str | Usage]:
        options = request.options
        delay_s = float(options.get("delay_ms", 300)) / 1000
        rate = float(options.get("tokens_per_second", 40))
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
        prompt_words = sum(len(m["content"].split()) for m in request.messages)
        yield Usage(input_tokens=prompt_words, output_tokens=len(pieces))


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
