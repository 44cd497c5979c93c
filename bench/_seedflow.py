"""The seed scenario for the benchmarks: the example flows with their times scaled, the
critical-path bound read from the document, and the same flow written by hand in asyncio.

Scaling by ``s`` divides every wait: ``delay.ms / s``, ``mock_delay_ms / s`` and
``mock_tokens_per_second * s`` (so the gap between chunks is divided too).
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from _common import ROOT

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
            config["mock_delay_ms"] = config.get("mock_delay_ms", 300) / scale
            config["mock_tokens_per_second"] = config.get("mock_tokens_per_second", 40) * scale
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
    config = ai["config"]
    return SeedSpec(
        lookups=[(c["ms"], c.get("output", {})) for c in lookups],
        context=(context["ms"], context.get("output", {})),
        ai_delay_ms=config["mock_delay_ms"],
        chunk_gap_ms=1000 / config["mock_tokens_per_second"],
        pieces=split_even(config["mock_text"], config["mock_chunks"]),
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


async def handwritten(spec: SeedSpec, message: str, on_chunk: Callable[[str], None],
                      saved: list[tuple[str, str]], background: set[asyncio.Task[None]]) -> str:
    """The seed flow in plain asyncio: gather the lookups (or await them in turn), the context,
    then the paced chunks; the save runs as a task after the answer, like the engine's."""
    context: dict[str, Any] = {"user_message": message}
    if spec.sequential:
        for ms, output in spec.lookups:
            context.update(await _lookup(ms, output))
    else:
        for result in await asyncio.gather(*(_lookup(ms, out) for ms, out in spec.lookups)):
            context.update(result)
    context.update(await _lookup(*spec.context))
    loop = asyncio.get_running_loop()
    await asyncio.sleep(spec.ai_delay_ms / 1000)
    start, gap, parts = loop.time(), spec.chunk_gap_ms / 1000, []
    for position, piece in enumerate(spec.pieces):
        if position:
            await asyncio.sleep(max(0.0, start + position * gap - loop.time()))
        parts.append(piece)
        on_chunk(piece)
    answer = "".join(parts)
    task = loop.create_task(_save(saved, message, answer))
    background.add(task)
    task.add_done_callback(background.discard)
    return answer
