"""One run of a plan: the dependency-driven scheduler.

Each node is an asyncio task started the moment its last predecessor settles. A settling node
updates its successors' counters and starts whatever became ready, so there is no polling
loop: the whole scheduler is ``_settle`` + ``_pump``. Skips propagate along inactive edges
(branches not taken), so a join fires exactly once.
"""
from __future__ import annotations

import asyncio
import heapq
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import AkisError, NodeError
from ..events import (
    MESSAGE_CHUNK, NODE_FAILED, NODE_FINISHED, NODE_SKIPPED, NODE_STARTED, RUN_FINISHED, RUN_STARTED, Event,
)
from ..nodes.base import NodeContext
from ..ports import BackgroundJob, CachePolicy, MetricRow, MetricsSink, NodeCache
from ..services import Services
from .eager import step_eagerly
from .plan import Plan, PlannedNode

Listener = Callable[[Event], None]


@dataclass(slots=True)
class NodeTiming:
    start_ms: float
    duration_ms: float = 0.0
    status: str = "running"  # succeeded | fallback | continued | failed | skipped | cancelled
    cache: str = "off"
    error: str | None = None


@dataclass
class RunResult:
    run_id: str
    status: str  # succeeded | failed | cancelled
    output: dict[str, Any]
    nodes: dict[str, NodeTiming]
    total_ms: float
    first_chunk_ms: float | None = None
    last_chunk_ms: float | None = None
    error: str | None = None
    failed_node: str | None = None
    answer: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    background: list[asyncio.Future[Any]] = field(default_factory=list)

    async def wait_background(self) -> None:
        if self.background:
            await asyncio.gather(*self.background, return_exceptions=True)


class _Fatal(Exception):
    def __init__(self, node_id: str, message: str) -> None:
        super().__init__(message)
        self.node_id = node_id


class Run:
    __slots__ = (  # no per-run __dict__: one object less for the collector per run in flight
        "plan", "values", "run_id", "tenant_id", "session_id", "services", "cache", "metrics", "listeners",
        "warmup", "remaining", "active_in", "results", "timings", "ready", "running", "exclusive_running",
        "pumping", "settled", "deferred", "index", "t0", "loop", "done", "fatal", "first_chunk_ms",
        "last_chunk_ms", "texts", "usage",
    )

    def __init__(
        self, plan: Plan, values: dict[str, Any], *, run_id: str, tenant_id: str, session_id: str,
        services: Services, cache: NodeCache | None, metrics: MetricsSink | None,
        listeners: list[Listener], warmup: bool = False,
    ) -> None:
        self.plan, self.values, self.run_id = plan, values, run_id
        self.tenant_id, self.session_id = tenant_id, session_id
        self.services, self.cache, self.metrics = services, cache, metrics
        self.listeners, self.warmup = listeners, warmup
        self.remaining = plan.pred_counts[:]
        self.active_in = [0] * len(self.remaining)
        self.results: dict[str, dict[str, Any]] = {}
        values["nodes"] = self.results
        self.timings: dict[str, NodeTiming] = {}
        self.ready: list[tuple[int, int]] = []
        self.running: dict[int, asyncio.Task[None]] = {}
        self.exclusive_running = False
        self.pumping = False
        self.settled = 0
        self.deferred: list[PlannedNode] = []
        self.index = 0
        self.t0 = time.perf_counter()
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.fatal: _Fatal | None = None
        self.first_chunk_ms: float | None = None
        self.last_chunk_ms: float | None = None
        self.texts: dict[str, list[str]] = {}  # streamed chunks per node
        self.usage: dict[str, int] = {}

    # -- events -------------------------------------------------------------------------------
    def now_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000.0  # rounded when serialised

    def emit(self, event: Event) -> None:
        event.index = self.index
        self.index += 1
        for listener in self.listeners:
            listener(event)

    # -- the run ------------------------------------------------------------------------------
    async def execute(self) -> RunResult:
        self.emit(Event(RUN_STARTED, self.run_id, 0.0, flow_id=self.plan.flow_id,
                        tenant_id=self.tenant_id, session_id=self.session_id))
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
        return self._finish("succeeded")

    def _finish(self, status: str, error: str | None = None, failed_node: str | None = None) -> RunResult:
        output: dict[str, Any] = {}
        if status == "succeeded":
            for node in self.plan.outputs:
                if node.id in self.results:
                    output.update(self.results[node.id])
        total = self.now_ms()
        result = RunResult(
            run_id=self.run_id, status=status, output=output, nodes=self.timings, total_ms=total,
            first_chunk_ms=self.first_chunk_ms, last_chunk_ms=self.last_chunk_ms, error=error,
            failed_node=failed_node, answer=self._last_answer(), usage=dict(self.usage),
            notices=list(self.services.notices),
        )
        self.emit(Event(RUN_FINISHED, self.run_id, total, duration_ms=total, status=status, error=error,
                        node_id=failed_node, output=output, usage=result.usage or None,
                        flow_id=self.plan.flow_id, tenant_id=self.tenant_id, session_id=self.session_id))
        return result

    async def _cancel_running(self) -> None:
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def background_job(self, node: PlannedNode) -> BackgroundJob:
        """A deferred background node as a job, its config rendered against this run's values."""
        config = node.render(self.values) if node.render is not None else node.config.model_dump(mode="json")  # type: ignore[union-attr]
        return BackgroundJob(self.run_id, self.plan.flow_id, self.tenant_id, self.session_id,
                             node.id, node.type_id, config)

    # -- scheduling ---------------------------------------------------------------------------
    def _make_ready(self, i: int) -> None:
        node = self.plan.nodes[i]
        if node.background:
            self.deferred.append(node)
        elif self.warmup and (node.exclusive or node.streams):
            self._skip(i)  # warm-up fills caches: it never calls a model
        else:
            heapq.heappush(self.ready, (node.order, i))

    def _pump(self) -> None:
        if self.pumping:
            return  # an inline node settling inside the loop below: that loop goes on
        self.pumping = True
        try:
            while self.ready and self.fatal is None:
                node = self.plan.nodes[self.ready[0][1]]
                if not self._can_start(node):
                    break
                heapq.heappop(self.ready)
                self.exclusive_running = node.exclusive
                if node.inline:
                    self._start_inline(node)
                else:
                    self.running[node.index] = self.loop.create_task(self._node_task(node))
        finally:
            self.pumping = False

    def _start_inline(self, node: PlannedNode) -> None:
        """Step the node here; it settles before returning unless it suspends, and then a task
        carries on from where it stopped."""
        carrying_on = step_eagerly(self.loop, self._node_task(node))
        if carrying_on is not None:
            self.running[node.index] = carrying_on  # type: ignore[assignment]

    def _can_start(self, node: PlannedNode) -> bool:
        if self.exclusive_running:
            return False
        if node.exclusive or self.plan.sequential:
            return not self.running
        return True

    def _settle(self, i: int, status: str, result: dict[str, Any] | None) -> None:
        """Node i is over: tell its successors, skip those left with no active input, pump."""
        self.running.pop(i, None)
        node = self.plan.nodes[i]
        if node.exclusive:
            self.exclusive_running = False
        if not node.background:
            self.settled += 1
        branch = result.get("branch") if result else None
        for s in node.succs:
            wanted = node.branch_to[s]
            if status != "skipped" and (wanted is None or wanted == branch):
                self.active_in[s] += 1
            self.remaining[s] -= 1
            if self.remaining[s] == 0:
                if self.active_in[s]:
                    self._make_ready(s)
                else:
                    self._skip(s)
        if self.fatal is None:
            self._pump()
        if (self.fatal is not None or self.settled >= self.plan.foreground_count) and not self.done.done():
            self.done.set_result(None)

    def _skip(self, i: int) -> None:
        node = self.plan.nodes[i]
        t = self.now_ms()
        self.timings[node.id] = NodeTiming(t, 0.0, "skipped")
        self.emit(Event(NODE_SKIPPED, self.run_id, t, node_id=node.id, node_type=node.type_id, status="skipped"))
        self._settle(i, "skipped", None)

    # -- one node -----------------------------------------------------------------------------
    async def _node_task(self, node: PlannedNode) -> None:
        start = (time.perf_counter() - self.t0) * 1000.0
        timing = self.timings[node.id] = NodeTiming(start)
        self.emit(Event(NODE_STARTED, self.run_id, start, 0, node.id, node.type_id))  # positional: cheaper
        ctx = NodeContext(self.run_id, self.plan.flow_id, self.tenant_id, self.session_id, node.id,
                          self.values, self.services)
        status, cache = "succeeded", "off"
        try:
            config = node.make_config(self.values)
            if node.cache is not None and self.cache is not None:
                result, hit = await self._cached(node, config, ctx)
                cache = "hit" if hit else "miss"
            elif not node.plain:
                result = await self._attempts(node, config, ctx)
            elif node.streams:
                result = await self._call(node, config, ctx)  # one frame less on every resume
            else:
                result = _as_result(await node.node_type.run(config, ctx), node)  # as _call does
        except asyncio.CancelledError:
            timing.status, timing.duration_ms = "cancelled", self.now_ms() - start
            raise
        except Exception as exc:
            message = _describe(exc, node)
            if node.spec.on_error == "fail":
                self._record(node, timing, start, "failed", cache, ctx, message)
                self.emit(Event(NODE_FAILED, self.run_id, self.now_ms(), node_id=node.id, node_type=node.type_id,
                                duration_ms=timing.duration_ms, status="failed", error=message,
                                extra=self._partial(node)))
                if self.fatal is None:
                    self.fatal = _Fatal(node.id, f"node {node.id!r} ({node.type_id}) failed: {message}")
                self._settle(node.index, "failed", None)
                return
            if node.spec.on_error == "fallback":
                status, result = "fallback", dict(node.spec.fallback or {})
            else:
                self._record(node, timing, start, "continued", cache, ctx, message)
                self.emit(Event(NODE_FAILED, self.run_id, self.now_ms(), node_id=node.id, node_type=node.type_id,
                                duration_ms=timing.duration_ms, status="continued", error=message,
                                extra=self._partial(node)))
                self.results[node.id] = {}
                self._settle(node.index, "continued", {})
                return
        self.results[node.id] = result
        if node.merge:
            self.values.update(result)
        end = self._record(node, timing, start, status, cache, ctx, None)
        self.emit(Event(NODE_FINISHED, self.run_id, end, 0, node.id, node.type_id, None, None,
                        timing.duration_ms, cache, status))  # type: ignore[arg-type]
        self._settle(node.index, status, result)

    def _record(self, node: PlannedNode, timing: NodeTiming, start: float, status: str, cache: str,
                ctx: NodeContext, error: str | None) -> float:
        """Fill the node's timing and metrics row; returns the end time (ms) for its event."""
        end = (time.perf_counter() - self.t0) * 1000.0
        timing.duration_ms = end - start
        timing.status, timing.cache, timing.error = status, cache, error
        for key, value in ctx.usage.items():
            self.usage[key] = self.usage.get(key, 0) + value
        if self.metrics is not None and not self.warmup:
            self.metrics.record(MetricRow(
                self.tenant_id, self.plan.flow_id, self.run_id, node.id, node.type_id, timing.duration_ms,
                cache, status, ctx.usage.get("tokens_in", 0), ctx.usage.get("tokens_out", 0),  # type: ignore[arg-type]
            ))
        return end

    async def _cached(self, node: PlannedNode, config: Any, ctx: NodeContext) -> tuple[dict[str, Any], bool]:
        strategy = node.cache
        assert strategy is not None and self.cache is not None
        rendered = config.model_dump(mode="json")
        fields = {k: rendered.get(k) for k in strategy.key_fields} if strategy.key_fields else rendered
        policy = CachePolicy(strategy.ttl, fields, tuple(strategy.tags))
        return await self.cache.get_or_compute(
            self.tenant_id, node.type_id, policy, lambda: self._attempts(node, config, ctx)
        )

    async def _attempts(self, node: PlannedNode, config: Any, ctx: NodeContext) -> dict[str, Any]:
        """Run the node under its timeout and retry policy. A streaming node that already sent
        text is not retried: the person would see the text twice."""
        retry = node.spec.retry
        attempts = retry.attempts if retry else 1
        for attempt in range(1, attempts + 1):
            sent = self.texts.get(node.id)
            chunks_before = len(sent) if sent else 0
            try:
                if node.spec.timeout_s:
                    try:
                        async with asyncio.timeout(node.spec.timeout_s):
                            return await self._call(node, config, ctx)
                    except TimeoutError:
                        raise NodeError(f"timed out after {node.spec.timeout_s:g} s") from None
                return await self._call(node, config, ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                sent = self.texts.get(node.id)
                if (attempt == attempts or (len(sent) if sent else 0) != chunks_before
                        or not getattr(exc, "retryable", True)):  # a missing key will not appear on retry
                    raise
                assert retry is not None
                wait = retry.backoff_s * 2 ** (attempt - 1)
                await asyncio.sleep(max(wait, float(getattr(exc, "retry_after", 0) or 0)))
        raise AssertionError("unreachable")

    async def _call(self, node: PlannedNode, config: Any, ctx: NodeContext) -> dict[str, Any]:
        if not node.streams:
            result = await node.node_type.run(config, ctx)
            return _as_result(result, node)
        result: dict[str, Any] = {}
        parts = self.texts[node.id] = []
        seq = 0
        stream = node.node_type.run(config, ctx)
        # the per-chunk path, inlined: now_ms, emit and a positional Event
        run_id, node_id, type_id, listeners, t0 = self.run_id, node.id, node.type_id, self.listeners, self.t0
        perf_counter = time.perf_counter
        try:
            async for item in stream:
                if isinstance(item, str):
                    if not item:
                        continue
                    t = (perf_counter() - t0) * 1000.0
                    if self.first_chunk_ms is None:
                        self.first_chunk_ms = t
                    self.last_chunk_ms = t
                    parts.append(item)
                    event = Event(MESSAGE_CHUNK, run_id, t, self.index, node_id, type_id, item, seq)
                    self.index += 1
                    for listener in listeners:
                        listener(event)
                    seq += 1
                else:
                    result = _as_result(item, node)
        finally:
            await stream.aclose()
        return result

    def _last_answer(self) -> str:
        """The text of the last streaming node that finished (what the person read last)."""
        if not self.texts:
            return ""
        for node in self.plan.streaming_last_first:
            if node.id in self.texts and self.timings.get(node.id, NodeTiming(0)).status in {"succeeded", "fallback"}:
                return "".join(self.texts[node.id])
        return ""

    def _partial(self, node: PlannedNode) -> dict[str, Any]:
        """For a streaming node that failed mid-answer: the text sent so far, marked partial."""
        if not node.streams:
            return {}
        text = "".join(self.texts.get(node.id, ()))
        return {"partial": True, "partial_text": text} if text else {}


def _as_result(value: Any, node: PlannedNode) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NodeError(f"returned {type(value).__name__}, expected a dict")
    return value


def _describe(exc: BaseException, node: PlannedNode) -> str:
    if isinstance(exc, AkisError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
