"""One run of a plan: the dependency-driven scheduler.

Each node starts the moment its last predecessor settles. A settling node updates its
successors' counters and starts whatever became ready, so there is no polling loop: the whole
scheduler is ``_settle`` + ``_pump``. A node's task goes on with one node its end made ready
(a chain costs one task); nodes that never wait run inline, without a task. Skips propagate
along inactive edges (branches not taken), so a join fires exactly once.
"""
from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable
from typing import Any

from .. import tracing
from ..events import (
    NO_EXTRA,
    NODE_FAILED,
    NODE_FINISHED,
    NODE_SKIPPED,
    NODE_STARTED,
    RUN_FINISHED,
    RUN_STARTED,
    CacheOutcome,
    Event,
)
from ..flow.names import node_name
from ..nodes.base import NodeContext
from ..ports import BackgroundJob, CachePolicy, MetricRow, MetricsSink, NodeCache
from ..providers.notices import flow_providers, used_notices
from ..services import Services
from . import spans
from .clock import NodeClock, NodeTiming
from .eager import step_eagerly
from .execute import attempts, call
from .plan import Plan, PlannedNode
from .result import RunResult, as_result, describe_error

__all__ = ["Listener", "NodeTiming", "Run", "RunResult"]

Listener = Callable[[Event], None]


class _Fatal(Exception):
    def __init__(self, node_id: str, message: str) -> None:
        super().__init__(message)
        self.node_id = node_id


class Run:
    __slots__ = (  # no per-run __dict__: one object less for the collector per run in flight
        "cache", "clock", "counts", "deferred", "done", "exclusive_running", "fatal", "first_chunk_ms", "index",
        "last_chunk_ms", "listener", "loop", "metrics", "on_succeeded", "plan", "pumping", "ready", "results",
        "run_id", "running", "services", "session_id", "settled", "t0", "tenant_id", "texts", "trace",
        "trace_attributes", "trace_ctx", "trace_nodes", "trace_parent", "trace_token", "usage", "values", "warmup",
    )

    def __init__(
        self, plan: Plan, values: dict[str, Any], *, run_id: str, tenant_id: str, session_id: str,
        services: Services, cache: NodeCache | None, metrics: MetricsSink | None,
        listener: Listener | None, warmup: bool = False,
        on_succeeded: Callable[[Run, RunResult], None] | None = None,
        trace_parent: dict[str, str] | None = None,
        trace_attributes: dict[str, str] | None = None,
    ) -> None:
        self.plan, self.values, self.run_id = plan, values, run_id
        self.tenant_id, self.session_id = tenant_id, session_id
        self.services, self.cache, self.metrics = services, cache, metrics
        self.listener, self.warmup, self.on_succeeded = listener, warmup, on_succeeded
        # per node: inputs still to settle at [i], active inputs (branch taken) at [width + i]
        self.counts = plan.initial_counts[:]
        self.results: dict[str, dict[str, Any]] = {}
        values["nodes"] = self.results
        self.clock = NodeClock(plan.ids)
        self.ready: list[int] = []  # a heap of plan orders (ints: nothing for the collector)
        self.running: dict[int, asyncio.Future[None]] = {}  # a task, or a future an eager step left
        self.exclusive_running = False
        self.pumping = False
        self.settled = 0
        self.deferred = 0  # background nodes that became ready: bit ``order`` set
        self.index = 0
        self.t0 = time.perf_counter()
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.fatal: _Fatal | None = None
        self.first_chunk_ms: float | None = None
        self.last_chunk_ms: float | None = None
        self.texts: dict[str, list[str]] = {}  # streamed chunks per node
        self.usage: dict[str, int] = {}
        self.trace_parent = trace_parent  # W3C headers of the caller's span (tracing on only)
        self.trace_attributes = trace_attributes  # more attributes of the run's span (an experiment's variant)
        self.trace: Any = None  # the run's span, while tracing is on
        self.trace_ctx: Any = None  # the context with the run's span: the parent of its node spans
        self.trace_token: Any = None  # undoes making the run's span current (spans.end_run)
        self.trace_nodes = False  # the run's span is sampled: its nodes get spans too

    # -- events -------------------------------------------------------------------------------
    def now_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000.0  # rounded when serialised

    def emit(self, event: Event) -> None:
        event.index = self.index
        self.index += 1
        if self.listener is not None:
            self.listener(event)

    # -- the run ------------------------------------------------------------------------------
    async def execute(self) -> RunResult:
        if tracing.enabled and not self.warmup:  # the one check per run when tracing is off
            spans.start_run(self)
        try:
            self.emit(Event(RUN_STARTED, self.run_id, 0.0, flow_id=self.plan.flow_id,
                            tenant_id=self.tenant_id, session_id=self.session_id,
                            extra=NO_EXTRA if self.trace is None else self.trace.extra))
            for root in self.plan.roots:
                self._make_ready(root)
            self._pump()
            if self.settled >= self.plan.foreground_count and not self.done.done():
                self.done.set_result(None)
            try:
                await self.done
            except asyncio.CancelledError:
                await self._cancel_running()
                self._finish("cancelled", "the run was cancelled")
                raise
            if self.fatal is not None:
                await self._cancel_running()
                return self._finish("failed", str(self.fatal), self.fatal.node_id)
            result = self._finish("succeeded")
            if self.on_succeeded is not None:
                self.on_succeeded(self, result)  # the engine queues the background nodes
            return result
        finally:
            if self.trace_token is not None:  # ended before _finish (a listener raised): never left current
                spans.end_run(self, "failed", "the run ended without finishing", None)

    def _finish(self, status: str, error: str | None = None, failed_node: str | None = None) -> RunResult:
        output: dict[str, Any] = {}
        if status == "succeeded":
            for node in self.plan.outputs:
                if node.id in self.results:
                    output.update(self.results[node.id])
        total = self.now_ms()
        result = RunResult(
            run_id=self.run_id, status=status, output=output, node_ids=self.plan.ids,
            node_timings=self.clock.by_index, total_ms=total,
            first_chunk_ms=self.first_chunk_ms, last_chunk_ms=self.last_chunk_ms, error=error,
            failed_node=failed_node, answer=self._last_answer(), usage=dict(self.usage),
            notices=self._notices(),
        )
        extra = NO_EXTRA
        if self.trace is not None:
            result.trace_id = self.trace.trace_id
            extra = self.trace.extra
            spans.end_run(self, status, error, failed_node)
        self.emit(Event(RUN_FINISHED, self.run_id, total, duration_ms=total, status=status, error=error,
                        node_id=failed_node, output=output, usage=result.usage or None,
                        flow_id=self.plan.flow_id, tenant_id=self.tenant_id, session_id=self.session_id,
                        extra=extra))
        return result

    def _notices(self) -> tuple[str, ...]:
        """The resolver's notices about the providers this flow uses (not another flow's)."""
        notices = self.services.notices
        return used_notices(notices, flow_providers(self.plan.flow)) if notices else ()

    async def _cancel_running(self) -> None:
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def background_job(self, node: PlannedNode) -> BackgroundJob:
        """A deferred background node as a job, its config rendered against this run's values."""
        if node.render is not None:
            config = node.render(self.values)
        else:
            assert node.config is not None  # plan.py: a config without templates is validated once
            config = node.config.model_dump(mode="json")
        parent = self.trace.traceparent if self.trace is not None else ""
        return BackgroundJob(self.run_id, self.plan.flow_id, self.tenant_id, self.session_id,
                             node.id, node.type_id, config, parent)

    def retrying(self, node: PlannedNode) -> None:
        """The node failed an attempt and is tried again (an inspected run counts them)."""

    # -- scheduling ---------------------------------------------------------------------------
    def _make_ready(self, i: int) -> None:
        node = self.plan.nodes[i]
        if node.background:
            self.deferred |= 1 << node.order
        elif self.warmup and (node.exclusive or node.streams):
            self._skip(i)  # warm-up fills caches: it never calls a model
        else:
            heapq.heappush(self.ready, node.order)

    def _pump(self, worker: asyncio.Future[None] | None = None) -> PlannedNode | None:
        """Start what can start. Given the ``worker`` task whose node just ended, hand it the
        first node that needs a task instead of making one: a chain of nodes costs one task."""
        if self.pumping:
            return None  # an inline node settling inside the loop below: that loop goes on
        self.pumping = True
        claimed = None
        try:
            while self.ready and self.fatal is None:
                node = self.plan.by_order[self.ready[0]]
                if not self._can_start(node):
                    break
                heapq.heappop(self.ready)
                self.exclusive_running = node.exclusive
                if node.inline:
                    self._start_inline(node)
                elif worker is not None and claimed is None:
                    claimed = node
                    self.running[node.index] = worker
                else:
                    self.running[node.index] = self.loop.create_task(self._node_task(node, True))
        finally:
            self.pumping = False
        return claimed

    def _start_inline(self, node: PlannedNode) -> None:
        """Step the node here; it settles before returning unless it suspends, and then a task
        carries on from where it stopped."""
        # bench/bench_throughput.py: -2.5% without this (a task per inline node; callgrind)
        carrying_on = step_eagerly(self.loop, self._node_task(node))
        if carrying_on is not None:
            self.running[node.index] = carrying_on

    def _can_start(self, node: PlannedNode) -> bool:
        if self.exclusive_running:
            return False
        if node.exclusive or self.plan.sequential:
            return not self.running
        return True

    def _settle(self, i: int, status: str, result: dict[str, Any] | None, claim: bool = False) -> PlannedNode | None:
        """Node i is over: tell its successors, skip those left with no active input, pump.
        With ``claim`` (its own task calling), returns a node for that task to go on with."""
        task = self.running.pop(i, None)
        node = self.plan.nodes[i]
        if node.exclusive:
            self.exclusive_running = False
        if not node.background:
            self.settled += 1
        branch = result.get("branch") if result else None
        counts, width = self.counts, self.plan.width
        for s in node.succs:
            wanted = node.branch_to[s]
            if status != "skipped" and (wanted is None or wanted == branch):
                counts[width + s] += 1
            counts[s] -= 1
            if counts[s] == 0:
                if counts[width + s]:
                    self._make_ready(s)
                else:
                    self._skip(s)
        claimed = self._pump(task if claim else None) if self.fatal is None else None
        if (self.fatal is not None or self.settled >= self.plan.foreground_count) and not self.done.done():
            self.done.set_result(None)
        return claimed

    def _skip(self, i: int) -> None:
        node = self.plan.nodes[i]
        t = self.now_ms()
        self.clock.started(i, t, "skipped")
        self.emit(Event(NODE_SKIPPED, self.run_id, t, node_id=node.id, node_type=node.type_id, status="skipped"))
        self._settle(i, "skipped", None)

    # -- one node -----------------------------------------------------------------------------
    async def _node_task(self, node: PlannedNode, worker: bool = False) -> None:
        """Run ``node``; as a ``worker`` (a task of its own) go on with the node its end hands over."""
        next_node: PlannedNode | None = node
        while next_node is not None:
            node = next_node
            start = (time.perf_counter() - self.t0) * 1000.0
            self.clock.started(node.index, start)
            index = self.index
            self.index = index + 1
            if self.listener is not None:  # no listener: no event object at all
                # positional Event: bench/bench_throughput.py: -5% without this (keyword matching)
                self.listener(Event(NODE_STARTED, self.run_id, start, index, node.id, node.type_id))
            ctx = NodeContext(self.run_id, self.plan.flow_id, self.tenant_id, self.session_id, node.id,
                              self.values, self.services)
            span: spans.NodeSpan | None = None
            if self.trace_nodes and node.own_span:
                span = spans.start_node(self, node)
            status = "succeeded"
            cache: CacheOutcome = "off"
            result: dict[str, Any]  # set by every way out of the try that does not raise
            try:
                config = node.make_config(self.values)
                if node.cache is not None and self.cache is not None:
                    result, hit = await self._cached(node, config, ctx, self.now_ms() - start)
                    cache = "hit" if hit else "miss"
                elif not node.plain:
                    result = await attempts(self, node, config, ctx, self.now_ms() - start)
                elif node.streams:
                    result = await call(self, node, config, ctx)  # one frame less on every resume
                else:
                    result = await node.node_type.run(config, ctx)
                    if type(result) is not dict:
                        result = as_result(result, node)  # a dict subclass passes, anything else fails
            except asyncio.CancelledError:
                self.clock.ended(node.index, self.now_ms() - start, "cancelled", cache)
                spans.end_node(span)
                raise
            except Exception as exc:  # noqa: BLE001 - the node's on_error decides what a failure does
                status, result = self._failed(node, start, cache, ctx, exc)
                if self.trace_nodes:
                    spans.failed(self, node, exc, describe_error(exc, node))
            if status == "succeeded" or status == "fallback":
                self.results[node.id] = result
                if node.merge:
                    self.values.update(result)
                end = self._record(node, start, status, cache, ctx, None)
                index = self.index
                self.index = index + 1
                if self.listener is not None:
                    self.listener(Event(NODE_FINISHED, self.run_id, end, index, node.id, node.type_id, None, None,
                                        end - start, cache, status))
            if span is not None:
                spans.end_node(span)
            next_node = self._settle(node.index, status, result, worker)

    def _failed(self, node: PlannedNode, start: float, cache: CacheOutcome, ctx: NodeContext,
                exc: Exception) -> tuple[str, dict[str, Any]]:
        """The node raised: apply its ``on_error`` and return (status, result) to settle with
        (an empty result for a failed node: it has none, and it picks no branch)."""
        message = describe_error(exc, node)
        if node.spec.on_error == "fallback":
            return "fallback", dict(node.spec.fallback or {})
        status = "failed" if node.spec.on_error == "fail" else "continued"
        end = self._record(node, start, status, cache, ctx, message)
        self.emit(Event(NODE_FAILED, self.run_id, self.now_ms(), node_id=node.id, node_type=node.type_id,
                        duration_ms=end - start, status=status, error=message, extra=self._partial(node)))
        if status == "failed":
            if self.fatal is None:
                name = node_name(self.plan.flow, node.id)  # its label, as the canvas shows it
                self.fatal = _Fatal(node.id, f"node {name} ({node.type_id}) failed: {message}")
            return status, {}
        self.results[node.id] = {}
        return status, {}

    def _record(self, node: PlannedNode, start: float, status: str, cache: CacheOutcome, ctx: NodeContext,
                error: str | None) -> float:
        """Fill the node's timing and metrics row; returns the end time (ms) for its event."""
        end = (time.perf_counter() - self.t0) * 1000.0
        self.clock.ended(node.index, end - start, status, cache, error)
        usage = ctx.reported_usage
        if usage:
            for key, value in usage.items():
                self.usage[key] = self.usage.get(key, 0) + value
        if self.metrics is not None and not self.warmup:
            self.metrics.record(MetricRow(
                self.tenant_id, self.plan.flow_id, self.run_id, node.id, node.type_id, end - start,
                cache, status,
                usage.get("tokens_in", 0) if usage else 0, usage.get("tokens_out", 0) if usage else 0,
            ))
        return end

    async def _cached(self, node: PlannedNode, config: Any, ctx: NodeContext,
                      rendering_ms: float = 0.0) -> tuple[dict[str, Any], bool]:
        strategy = node.cache
        assert strategy is not None and self.cache is not None
        rendered = config.model_dump(mode="json")
        fields = {k: rendered.get(k) for k in strategy.key_fields} if strategy.key_fields else rendered
        policy = CachePolicy(strategy.ttl, fields, tuple(strategy.tags))
        return await self.cache.get_or_compute(
            self.tenant_id, node.type_id, policy, lambda: attempts(self, node, config, ctx, rendering_ms)
        )

    def _last_answer(self) -> str:
        """The text of the last streaming node that finished (what the person read last)."""
        if not self.texts:
            return ""
        for node in self.plan.streaming_last_first:
            if node.id in self.texts and self.clock.status(node.index) in ("succeeded", "fallback"):
                return "".join(self.texts[node.id])
        return ""

    def _partial(self, node: PlannedNode) -> dict[str, Any]:
        """For a streaming node that failed mid-answer: the text sent so far, marked partial."""
        if not node.streams:
            return {}
        text = "".join(self.texts.get(node.id, ()))
        return {"partial": True, "partial_text": text} if text else {}
