"""Ports: the interfaces the runtime needs from the outside world.

The runtime ships an in-process default for each (see ``runtime.services``); the cache,
provider, storage and channel packages implement them for real servers. Nothing here imports
a client library, so the embedded default starts with no server at all.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from .events import CacheOutcome, Event

if TYPE_CHECKING:
    from .flow.model import FlowDocument


# --- metrics ---------------------------------------------------------------------------------
class _MetricFields(NamedTuple):
    tenant_id: str
    flow_id: str
    run_id: str
    node_id: str
    node_type: str
    duration_ms: float
    cache: CacheOutcome
    status: str  # succeeded | fallback | failed | continued | cancelled
    tokens_in: int
    tokens_out: int
    created_at: datetime


class MetricRow(_MetricFields):  # bench/bench_throughput.py: -7% as a slotted dataclass
    """One node execution: a row of ``tenant_flow_metrics`` once stored (docs/storage.md).

    A tuple of plain values on purpose: the collector stops tracking such a tuple, so the rows a
    sink holds (up to 100,000 in memory) cost nothing at each garbage collection.
    """

    __slots__ = ()

    def __new__(cls, tenant_id: str, flow_id: str, run_id: str, node_id: str, node_type: str, duration_ms: float,
                cache: CacheOutcome, status: str, tokens_in: int = 0, tokens_out: int = 0,
                created_at: datetime | None = None) -> MetricRow:
        return tuple.__new__(cls, (tenant_id, flow_id, run_id, node_id, node_type, duration_ms, cache, status,
                                   tokens_in, tokens_out, created_at or datetime.now(UTC)))


class MetricsSink(Protocol):
    """Receives metric rows. ``record`` must not block: batch and write off the hot path."""

    def record(self, row: MetricRow) -> None: ...

    async def flush(self) -> None: ...


# --- cache -----------------------------------------------------------------------------------
@dataclass(slots=True)
class CachePolicy:
    """What the engine resolved for one node: the strategy plus the node type's rule."""

    ttl: int
    key_fields: dict[str, Any]
    tags: tuple[str, ...] = ()


class NodeCache(Protocol):
    """The engine's view of the cache: look up, or compute once and store (single-flight)."""

    async def get_or_compute(
        self,
        tenant_id: str,
        node_type: str,
        policy: CachePolicy,
        compute: Callable[[], Awaitable[dict[str, Any]]],
    ) -> tuple[dict[str, Any], bool]:
        """Return ``(value, hit)``. Never raises because a tier is down: it then computes."""
        ...


# --- conversation and catalogue --------------------------------------------------------------
@dataclass(slots=True)
class ChatMessage:
    role: str  # "user" | "assistant"
    content: str
    seq: int = 0
    run_id: str | None = None  # a retried save of the same run and role is a no-op


class ConversationStore(Protocol):
    async def history(self, tenant_id: str, session_id: str, limit: int) -> list[ChatMessage]: ...

    async def save(self, tenant_id: str, session_id: str, messages: list[ChatMessage]) -> int:
        """Store messages idempotently: a message whose (tenant, session, seq) exists, or whose
        (tenant, session, run_id, role) exists when run_id is set, is skipped. Returns rows added."""
        ...

    async def next_seq(self, tenant_id: str, session_id: str) -> int: ...


class ProductCatalog(Protocol):
    async def search(
        self, tenant_id: str, query: str, category: str | None, limit: int
    ) -> list[dict[str, Any]]: ...


# --- LLM providers ---------------------------------------------------------------------------
@dataclass(slots=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and a JSON Schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class ToolCall:
    """The model asked for a tool. ``arguments`` is ``None`` when ``raw_arguments`` is not a JSON
    object (the agent then tells the model so instead of calling the tool)."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""


@dataclass(slots=True)
class LLMRequest:
    """``messages`` are ``{"role": "user"|"assistant", "content": str}``; a tool-calling
    conversation adds ``"tool_calls": [ToolCall]`` to an assistant message and
    ``{"role": "tool", "tool_call_id", "name", "content", "is_error"}`` results (each provider
    translates them to its own API's shape)."""

    model: str
    messages: list[dict[str, Any]]
    system: str | None = None
    temperature: float | None = None
    max_tokens: int = 1024
    options: dict[str, Any] = field(default_factory=dict)  # provider-specific (mock timing)
    tools: list[ToolSpec] = field(default_factory=list)


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


class LLMProvider(Protocol):
    """Streams text deltas, then at most one :class:`Usage`. Closing the iterator closes upstream."""

    name: str

    def stream(self, request: LLMRequest) -> AsyncIterator[str | Usage]: ...


@runtime_checkable
class ToolCallingProvider(Protocol):
    """A provider with native tool calling: ``stream_tools`` streams text deltas, then the
    :class:`ToolCall` items the model asked for (if any), then at most one :class:`Usage`."""

    name: str

    def stream_tools(self, request: LLMRequest) -> AsyncIterator[str | Usage | ToolCall]: ...


class ProviderResolver(Protocol):
    def resolve(self, provider: str, credential: str | None, tenant_id: str) -> LLMProvider:
        """The provider to use; raises ``runtime.providers.errors.ProviderError`` (an AkisError)."""
        ...


# --- other flows of the tenant (sub-flow, iterate, flow tools of an agent) --------------------
class FlowSource(Protocol):
    """Reads another stored flow of the same tenant. Hand out one document object per version
    (the engine keeps a compiled plan per document); never a flow of another tenant."""

    async def load(self, tenant_id: str, flow_id: str, version: int | None = None) -> FlowDocument:
        """The version (the current one when ``None``); raises ``runtime.errors.NodeError`` naming
        the flow when the tenant has no such flow or version, or it cannot run."""
        ...


# --- background jobs -------------------------------------------------------------------------
@dataclass(slots=True)
class BackgroundJob:
    """A background node to run after the response; JSON-serialisable so a worker can run it."""

    run_id: str
    flow_id: str
    tenant_id: str
    session_id: str
    node_id: str
    node_type: str
    config: dict[str, Any]
    traceparent: str = ""  # the run's span (W3C), so the job's span continues its trace


@dataclass(slots=True)
class BackgroundOutcome:
    node_id: str
    status: str  # succeeded | failed
    duration_ms: float
    error: str | None = None
    started_at: float = 0.0  # time.time() when the job started running


class BackgroundRunner(Protocol):
    def submit(self, job: BackgroundJob) -> Awaitable[BackgroundOutcome]:
        """Queue the job and return at once; the awaitable completes when it has run."""
        ...

    async def drain(self, timeout_s: float) -> int:
        """Wait (bounded) for queued jobs, e.g. on shutdown; returns how many were given up."""
        ...


# --- event publishing ------------------------------------------------------------------------
@runtime_checkable
class EventPublisher(Protocol):
    """Receives every event of a run with its channel name (tenant.{t}.conversation.{s})."""

    def publish(self, channel: str, event: Event) -> None:
        """Must not block the engine: queue and deliver elsewhere."""
        ...
