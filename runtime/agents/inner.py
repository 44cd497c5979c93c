"""Running another flow of the tenant inside a node (sub-flow, an iteration's item, a flow
tool): loaded through ``services.flows`` (tenant-scoped), run by ``services.engine`` as a child
run (same registry, cache and metrics; its events are not published to the conversation), its
nodes reported as the outer node's steps.

A chain of flow ids travels in the child's inputs (``flow_path``): a flow that would call one
already running refuses at once, and nesting stops at :data:`MAX_DEPTH`. Saving a flow refuses
such cycles earlier (``runtime.agents.references``); this guards flows stored before.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from ..engine.result import RunResult
from ..errors import AkisError, NodeError
from ..events import (
    MESSAGE_CHUNK,
    NODE_FAILED,
    NODE_FINISHED,
    NODE_SKIPPED,
    NODE_STARTED,
    NODE_STEP,
    RUN_FINISHED,
    Event,
)
from ..flow.model import FlowDocument
from ..nodes.base import NodeContext
from ..nodes.steps import Step

PATH_KEY = "flow_path"
MAX_DEPTH = 5
RUN_KEYS = frozenset({"nodes", "tenant_id", "session_id", "run_id", PATH_KEY})  # the run sets these values


def taken_names(names: object, field: str) -> list[tuple[str, str]]:
    """A validation problem per output name that would overwrite a value the run sets."""
    found = sorted(n for n in names if isinstance(n, str) and n in RUN_KEYS) if isinstance(names, (set, list)) else []
    return [(field, f"{name!r} is set by the run itself: choose another name") for name in found]


@dataclass(slots=True)
class FlowDone:
    """The end of an inner run: its result (``status`` says whether it succeeded)."""

    result: RunResult


def flow_path(ctx: NodeContext) -> list[str]:
    path = ctx.values.get(PATH_KEY)
    return [str(p) for p in path] if isinstance(path, list) and path else [ctx.flow_id]


async def load_inner(ctx: NodeContext, flow_id: str, version: int | None) -> FlowDocument:
    """The flow to run, refused when it is already running in this chain or nests too deep."""
    path = flow_path(ctx)
    if flow_id in path:
        raise NodeError(f"flow {flow_id!r} would call itself: {' -> '.join([*path, flow_id])}")
    if len(path) >= MAX_DEPTH:
        raise NodeError(f"flows nest deeper than {MAX_DEPTH}: {' -> '.join([*path, flow_id])}")
    return await ctx.services.flows.load(ctx.tenant_id, flow_id, version)


async def stream_flow(ctx: NodeContext, flow_id: str, version: int | None, inputs: dict[str, Any], *,
                      prefix: str = "", chunks: bool = True) -> AsyncGenerator[str | Step | FlowDone]:
    """Run the flow; yield its chunks (``chunks``), one :class:`Step` per inner node (and per
    step of an inner node) as it ends, then :class:`FlowDone`. Closing this cancels the run."""
    engine = ctx.services.engine
    if engine is None:
        raise NodeError("no engine to run inner flows with (services.engine is not set)")
    document = await load_inner(ctx, flow_id, version)
    child = _child_inputs(ctx, flow_id, inputs)
    queue: asyncio.Queue[tuple[float, Event]] = asyncio.Queue()
    try:
        handle = engine.start_child(document, child, tenant_id=ctx.tenant_id, session_id=ctx.session_id,
                                    on_event=lambda event: queue.put_nowait((time.perf_counter(), event)))
    except AkisError as exc:
        raise NodeError(f"flow {flow_id!r} cannot run: {exc}") from None
    started: dict[str, float] = {}
    try:
        while True:
            at, event = await queue.get()
            kind, node_id = event.event, event.node_id or ""
            if kind == NODE_STARTED:
                started[node_id] = at
            elif kind == MESSAGE_CHUNK:
                if chunks and event.text:
                    yield event.text
            elif kind in (NODE_FINISHED, NODE_FAILED, NODE_SKIPPED):
                yield Step(f"{prefix}{node_id}", "node", started.get(node_id, at), at,
                           status=event.status or "succeeded", error=event.error, record=False,
                           label=f"{prefix}{node_id} ({event.node_type})", detail={"flow_id": flow_id})
            elif kind == NODE_STEP:
                inner = event.extra.get("step", "")
                usage = event.usage or {}
                yield Step(f"{prefix}{node_id}/{inner}", str(event.extra.get("kind", "node")),
                           at - (event.duration_ms or 0.0) / 1000.0, at, status=event.status or "succeeded",
                           error=event.error, tokens_in=usage.get("tokens_in", 0),
                           tokens_out=usage.get("tokens_out", 0), record=False,
                           label=f"{prefix}{node_id}/{event.extra.get('label', inner)}", detail={"flow_id": flow_id})
            elif kind == RUN_FINISHED:
                yield FlowDone(await handle.result())
                return
    finally:
        if not handle.done():
            handle.cancel()
            await asyncio.gather(handle.result(), return_exceptions=True)


def failure(flow_id: str, result: RunResult) -> NodeError:
    where = f" at node {result.failed_node!r}" if result.failed_node else ""
    return NodeError(f"flow {flow_id!r} {result.status}{where}: {result.error or 'no reason given'}")


async def run_flow_output(ctx: NodeContext, flow_id: str, version: int | None,
                          inputs: dict[str, Any]) -> dict[str, Any]:
    """Run the flow to its end, in this task and without events (an iteration's item, a flow
    tool); its output, or a NodeError saying where it failed."""
    engine = ctx.services.engine
    if engine is None:
        raise NodeError("no engine to run inner flows with (services.engine is not set)")
    document = await load_inner(ctx, flow_id, version)
    try:
        result = await engine.run_child(document, _child_inputs(ctx, flow_id, inputs), tenant_id=ctx.tenant_id,
                                        session_id=ctx.session_id)
    except AkisError as exc:
        raise NodeError(f"flow {flow_id!r} cannot run: {exc}") from None
    if result.status != "succeeded":
        raise failure(flow_id, result)
    return result.output


def _child_inputs(ctx: NodeContext, flow_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The inner run's inputs: the given ones (never the run's own ids) and the chain of flows."""
    child = {k: v for k, v in inputs.items() if k not in {"tenant_id", "session_id", "run_id", "nodes"}}
    child[PATH_KEY] = [*flow_path(ctx), flow_id]
    return child
