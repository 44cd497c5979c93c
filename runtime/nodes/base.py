"""The node contract: a declarative description plus ``run()`` (n8n's shape, in Python).

A node type is a small class. The engine renders the node's config templates, validates them
against ``Config`` and calls ``run``. ``run`` either returns a dict, or is an async generator
that yields ``str`` chunks (streamed as ``message.chunk``) and finally one dict (its result).
A type with ``streams = True`` may instead return any async iterator of ``str`` chunks,
:class:`~runtime.ports.Usage` (tokens, counted into its metrics) and an optional final dict;
without one its result is ``stream_result(text)``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ..services import Services


class NodeConfig(BaseModel):
    """Base for every node type's config: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class NoConfig(NodeConfig):
    pass


class NodeContext:
    """What a node may see while it runs: the run's identity, the flat values, the services.

    ``extra`` and ``usage`` are made on first use: most nodes never touch them, and a run in
    flight keeps one context per running node alive (fewer objects for the collector).
    """

    __slots__ = ("_extra", "_usage", "flow_id", "node_id", "run_id", "services", "session_id", "tenant_id", "values")

    def __init__(self, run_id: str, flow_id: str, tenant_id: str, session_id: str, node_id: str,
                 values: dict[str, Any], services: Services) -> None:
        self.run_id, self.flow_id, self.tenant_id, self.session_id = run_id, flow_id, tenant_id, session_id
        self.node_id, self.values, self.services = node_id, values, services
        self._extra: dict[str, Any] | None = None
        self._usage: dict[str, int] | None = None

    @property
    def extra(self) -> dict[str, Any]:
        """Free-form per-node scratch space."""
        if self._extra is None:
            self._extra = {}
        return self._extra

    @property
    def usage(self) -> dict[str, int]:
        """Tokens a node reports for its metrics (``tokens_in``, ``tokens_out``)."""
        if self._usage is None:
            self._usage = {}
        return self._usage

    @property
    def idempotency_key(self) -> str:
        """Run id + node id: the same for every execution of this node in this run, including a
        re-execution after a worker died (durable runs), so a side effect can be made once."""
        return f"{self.run_id}:{self.node_id}"

    @property
    def reported_usage(self) -> dict[str, int] | None:
        """What the node reported, or ``None`` when it reported nothing (no dict made)."""
        return self._usage

    def __repr__(self) -> str:
        return f"NodeContext(run_id={self.run_id!r}, node_id={self.node_id!r}, tenant_id={self.tenant_id!r})"


NodeResult = dict[str, Any]


class NodeType:
    """Base class of every node type. Subclasses set the class attributes and ``run``."""

    type_id: ClassVar[str]
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    category: ClassVar[str] = "logic"  # input | ai | data | logic | integration | output
    icon: ClassVar[str] = "extension"  # a Material icon name for the palette
    Config: ClassVar[type[NodeConfig]] = NoConfig
    outputs: ClassVar[tuple[str, ...]] = ()  # keys merged into the flat context
    cacheable: ClassVar[bool] = False
    parallel_safe: ClassVar[bool] = True
    background: ClassVar[bool] = False
    streams: ClassVar[bool] = False
    merge_outputs: ClassVar[bool] = True  # False: result only at nodes.<id> (condition, output)
    # False: ``run`` finishes without ever suspending (no I/O, no sleep), so the engine may run
    # it inline in the scheduler instead of as a task. One that suspends anyway still works.
    suspends: ClassVar[bool] = True
    tenant_id: ClassVar[str | None] = None  # set for a tenant's plugin type

    def output_keys(self, config: dict[str, Any]) -> set[str]:
        """Keys this node writes into the flat context, from its raw config (for validation)."""
        return set(self.outputs) if self.merge_outputs else set()

    def cache_tags(self, config: dict[str, Any]) -> tuple[str, ...]:
        """Tags this node's cache entries carry besides its strategy's, from its raw config
        (``knowledge_retrieval``: one per knowledge base, which a document change invalidates)."""
        return ()

    def run(self, config: Any, ctx: NodeContext) -> Any:  # Awaitable[dict] | AsyncIterator[str|Usage|dict]
        raise NotImplementedError

    def stream_result(self, text: str) -> dict[str, Any]:
        """A streaming node's result when its stream ends without yielding a dict."""
        return {}

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What the palette and inspector need: no code, only data."""
        return {
            "type": cls.type_id,
            "title": cls.title or cls.type_id.replace("_", " ").capitalize(),
            "description": cls.description,
            "category": cls.category,
            "icon": cls.icon,
            "cacheable": cls.cacheable,
            "parallel_safe": cls.parallel_safe,
            "background": cls.background,
            "streams": cls.streams,
            "outputs": list(cls.outputs),
            "tenant_id": cls.tenant_id,
            "config_schema": cls.Config.model_json_schema(),
        }
