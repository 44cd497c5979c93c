"""Executing one node of a run: its timeout and retry policy (``attempts``), and the call
itself, with a streaming node's chunks turned into events as they arrive (``call``)."""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from .. import tracing
from ..errors import NodeError
from ..events import MESSAGE_CHUNK, Event
from ..nodes.base import NodeContext
from ..nodes.steps import Step
from ..ports import Usage
from .plan import PlannedNode
from .result import as_result
from .steps import record_step

if TYPE_CHECKING:
    from .run import Run


async def attempts(run: Run, node: PlannedNode, config: Any, ctx: NodeContext,
                   rendering_ms: float = 0.0) -> dict[str, Any]:
    """Run the node under its timeout and retry policy. A streaming node that already sent
    text is not retried: the person would see the text twice. Rendering the config took
    ``rendering_ms`` of the node's time: the first attempt has the rest of its timeout."""
    retry = node.spec.retry
    attempts = retry.attempts if retry else 1
    for attempt in range(1, attempts + 1):
        if run.trace_nodes:
            tracing.set_attribute("akis.node.attempt", attempt)
        sent = run.texts.get(node.id)
        chunks_before = len(sent) if sent else 0
        try:
            if node.spec.timeout_s:
                timeout = node.spec.timeout_s
                if attempt == 1 and rendering_ms:
                    timeout = max(timeout - rendering_ms / 1000.0, 0.0)
                try:
                    async with asyncio.timeout(timeout):
                        return await call(run, node, config, ctx)
                except TimeoutError:
                    raise NodeError(f"timed out after {node.spec.timeout_s:g} s") from None
            return await call(run, node, config, ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            sent = run.texts.get(node.id)
            if (attempt == attempts or (len(sent) if sent else 0) != chunks_before
                    or not getattr(exc, "retryable", True)):  # a missing key will not appear on retry
                raise
            assert retry is not None
            run.retrying(node)
            wait = retry.backoff_s * 2 ** (attempt - 1)
            await asyncio.sleep(max(wait, float(getattr(exc, "retry_after", 0) or 0)))
    raise AssertionError("unreachable")

async def call(run: Run, node: PlannedNode, config: Any, ctx: NodeContext) -> dict[str, Any]:
    if not node.streams:
        return as_result(await node.node_type.run(config, ctx), node)
    result: dict[str, Any] | None = None
    parts = run.texts[node.id] = []
    seq = 0
    stream = node.node_type.run(config, ctx)
    # the per-chunk path, inlined: now_ms, emit and a positional Event
    # bench/bench_throughput.py: -5% without this (with the two above; keyword Events)
    run_id, node_id, type_id, listener, t0 = run.run_id, node.id, node.type_id, run.listener, run.t0
    perf_counter = time.perf_counter
    try:
        async for item in stream:
            if type(item) is str or isinstance(item, str):
                if not item:
                    continue
                t = (perf_counter() - t0) * 1000.0
                if run.first_chunk_ms is None:
                    run.first_chunk_ms = t
                run.last_chunk_ms = t
                parts.append(item)
                if listener is not None:  # the event is not kept while the stream waits
                    listener(Event(MESSAGE_CHUNK, run_id, t, run.index, node_id, type_id, item, seq))
                run.index += 1
                seq += 1
            elif isinstance(item, Usage):
                usage = ctx.usage
                usage["tokens_in"] = usage.get("tokens_in", 0) + item.input_tokens
                usage["tokens_out"] = usage.get("tokens_out", 0) + item.output_tokens
            elif type(item) is Step:
                record_step(run, node, item)
            else:
                result = as_result(item, node)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()  # closes an upstream HTTP stream on cancel or error
    if not parts:
        del run.texts[node.id]  # no text (an iteration, a silent sub-flow): not the run's answer
    return result if result is not None else node.node_type.stream_result("".join(parts))

