"""The node contract: a declarative description plus ``run()`` (n8n's shape, in Python).

A node type is a small class. The engine renders the node's config templates, validates them
against ``Config`` and calls ``run``. ``run`` either returns a dict, or is an async generator
that yields ``str`` chunks (streamed as ``message.chunk``) and finally one dict (its result).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ..services import Services


class NodeConfig(BaseModel):
    """Base for every node type's config: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class NoConfig(NodeConfig):
    pass


@dataclass(slots=True)
class NodeContext:
    """What a node may see while it runs: the run's identity, the flat values, the services."""

    run_id: str
    flow_id: str
    tenant_id: str
    session_id: str
    node_id: str
    values: dict[str, Any]
    services: "Services"
    extra: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)  # tokens a node reports for its metrics


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

    def run(self, config: Any, ctx: NodeContext) -> Any:  # Awaitable[dict] | AsyncIterator[str|dict]
        raise NotImplementedError

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


async def collect(stream: AsyncIterator[str | dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Drain a streaming node's generator: the text it yielded and its final result."""
    parts: list[str] = []
    result: dict[str, Any] = {}
    async for item in stream:
        if isinstance(item, str):
            parts.append(item)
        else:
            result = item
    return "".join(parts), result
