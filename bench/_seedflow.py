"""The seed scenario for the benchmarks: the example flows with their times scaled, the
critical-path bound read from the document, and the same flow written by hand in asyncio
(with the same mock provider and conversation store the engine's nodes call, and a bare
variant that writes the model's pacing out and saves to a list).

Scaling by ``s`` divides every wait: ``delay.ms / s``, the mock's ``delay_ms / s`` and
``tokens_per_second * s`` (so the gap between chunks is divided too).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import ROOT

from runtime.ports import ChatMessage, LLMRequest
from runtime.services import Services

PARALLEL = ROOT / "examples" / "seed_scenario.json"
SEQUENTIAL = ROOT / "examples" / "seed_scenario_sequential.json"


def scaled_document(path: Path, scale: float) -> dict[str, Any]:
    """The flow at ``path`` with every wait divided by ``scale``."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    for node in doc["nodes"]:
        config = node.get("config") or {}
        if node["type"] == "delay":
            config["ms"] = config.get("ms", 100) / scale
        elif node["type"] == "ai_response":
            options = config.setdefault("provider_options", {})
            options["delay_ms"] = options.get("delay_ms", 300) / scale
            options["tokens_per_second"] = options.get("tokens_per_second", 40) * scale
    return doc


@dataclass(frozen=True)
class SeedSpec:
    """The seed flow's shape read from its document: what the hand-written version replays."""

    lookups: list[tuple[float, dict[str, Any]]]  # (ms, output) of the delays before the join
    context: tuple[float, dict[str, Any]]  # the delay right before the AI node
    ai_delay_ms: float
    chunk_gap_ms: float
    pieces: list[str]
    sequential: bool

    @property
    def first_chunk_bound_ms(self) -> float:
        """The physical limit: nothing can stream before the slowest input is in."""
        waits = [ms for ms, _ in self.lookups]
        before_join = sum(waits) if self.sequential else max(waits)
        return before_join + self.context[0] + self.ai_delay_ms

    @property
    def last_chunk_bound_ms(self) -> float:
        return self.first_chunk_bound_ms + (len(self.pieces) - 1) * self.chunk_gap_ms


def seed_spec(doc: dict[str, Any]) -> SeedSpec:
    """Read the seed shape: input -> lookups (delays) -> context (delay) -> ai_response."""
    nodes = {n["id"]: n for n in doc["nodes"]}
    preds: dict[str, list[str]] = {}
    for edge in doc["edges"]:
        preds.setdefault(edge["target"], []).append(edge["source"])
    ai = next(n for n in doc["nodes"] if n["type"] == "ai_response")
    (context_id,) = preds[ai["id"]]
    context = nodes[context_id]["config"]
    lookups = [nodes[p]["config"] for p in preds[context_id]]
    config = ai["config"]["provider_options"]
    return SeedSpec(
        lookups=[(c["ms"], c.get("output", {})) for c in lookups],
        context=(context["ms"], context.get("output", {})),
        ai_delay_ms=config["delay_ms"],
        chunk_gap_ms=1000 / config["tokens_per_second"],
        pieces=split_even(config["text"], config["chunks"]),
        sequential=(doc.get("settings") or {}).get("execution") == "sequential",
    )


def split_even(text: str, count: int) -> list[str]:
    size, extra = divmod(len(text), count)
    out, position = [], 0
    for index in range(count):
        length = size + (1 if index < extra else 0)
        out.append(text[position : position + length])
        position += length
    return out


async def _lookup(ms: float, output: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(ms / 1000)
    return dict(output)


async def _save(saved: list[tuple[str, str]], message: str, answer: str) -> None:
    saved.append((message, answer))


async def _context(spec: SeedSpec, message: str) -> dict[str, Any]:
    context: dict[str, Any] = {"user_message": message}
    if spec.sequential:
        for ms, output in spec.lookups:
            context.update(await _lookup(ms, output))
    else:
        for result in await asyncio.gather(*(_lookup(ms, out) for ms, out in spec.lookups)):
            context.update(result)
    context.update(await _lookup(*spec.context))
    return context


def _in_background(coro: Coroutine[Any, Any, Any], background: set[asyncio.Task[Any]]) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    background.add(task)
    task.add_done_callback(background.discard)


async def handwritten(spec: SeedSpec, message: str, on_chunk: Callable[[str], None], services: Services,
                      background: set[asyncio.Task[Any]], *, tenant_id: str = "1", session_id: str = "default",
                      run_id: str = "hand") -> str:
    """The seed flow in plain asyncio with the same parts the engine's nodes call: gather the
    lookups (or await them in turn), the context, then the mock model's stream through the
    provider; the exchange is saved to the conversation store by a task after the answer."""
    context = await _context(spec, message)
    request = LLMRequest(model="mock-1", messages=[{"role": "user", "content": context["context"]}],
                         options={"delay_ms": spec.ai_delay_ms, "tokens_per_second": 1000 / spec.chunk_gap_ms,
                                  "chunks": len(spec.pieces), "text": "".join(spec.pieces)})
    parts = []
    async for item in services.providers.resolve("mock", None, tenant_id).stream(request):
        if isinstance(item, str):
            parts.append(item)
            on_chunk(item)
    answer = "".join(parts)
    _in_background(_save_exchange(services, tenant_id, session_id, run_id, message, answer), background)
    return answer


async def _save_exchange(services: Services, tenant_id: str, session_id: str, run_id: str, message: str,
                         answer: str) -> None:
    store = services.conversations
    first = await store.next_seq(tenant_id, session_id)
    await store.save(tenant_id, session_id, [ChatMessage("user", message, first, run_id),
                                             ChatMessage("assistant", answer, first + 1, run_id)])


async def handwritten_bare(spec: SeedSpec, message: str, on_chunk: Callable[[str], None],
                           saved: list[tuple[str, str]], background: set[asyncio.Task[Any]]) -> str:
    """The seed flow with nothing shared with the engine: the model's pacing written inline and
    the save a list append. A floor for comparison, not the same parts."""
    await _context(spec, message)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(spec.ai_delay_ms / 1000)
    start, gap, parts = loop.time(), spec.chunk_gap_ms / 1000, []
    for position, piece in enumerate(spec.pieces):
        if position:
            await asyncio.sleep(max(0.0, start + position * gap - loop.time()))
        parts.append(piece)
        on_chunk(piece)
    answer = "".join(parts)
    _in_background(_save(saved, message, answer), background)
    return answer
