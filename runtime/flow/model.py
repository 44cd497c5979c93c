"""The flow document v1: what export writes and import reads.

Dumping uses ``exclude_unset``: what was written (or set by the editor) is what is exported,
so load -> dump is the identity on anything dumped. Nodes are read through ``migrate_node``,
so a retired field never reaches validation in its old place.
"""
from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .migrate import FLOW_FORMAT_VERSION, migrate_node

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,63}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CacheStrategy(_Model):
    """Cache policy for a node type (``cache_strategy``) or one node (its ``cache`` field)."""

    enabled: bool = Field(True, description="Look up and store this node's output in the cache.")
    ttl: int = Field(300, ge=1, le=30 * 24 * 3600, description="Seconds an entry stays valid.")
    key_fields: list[str] | None = Field(
        None, description="Config fields whose resolved values form the key (default: all)."
    )
    tags: list[str] = Field(default_factory=list, description="Tags for invalidation.")


class RetryPolicy(_Model):
    attempts: int = Field(1, ge=1, le=10, description="Total tries, the first included.")
    backoff_s: float = Field(0.2, ge=0, le=60, description="Wait before the 2nd try; doubles after.")


class NodeSpec(_Model):
    id: str = Field(pattern=ID_PATTERN)
    type: str = Field(min_length=1, max_length=100)
    label: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    cache: CacheStrategy | None = None
    timeout_s: float | None = Field(None, gt=0, le=3600)
    retry: RetryPolicy | None = None
    on_error: Literal["fail", "continue", "fallback"] = "fail"
    fallback: dict[str, Any] | None = None
    ui: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _current_form(cls, data: Any) -> Any:
        return migrate_node(data)


class EdgeSpec(_Model):
    source: str
    target: str
    branch: str | None = Field(None, description="For a condition source: the branch this edge takes.")
    id: str | None = None
    ui: dict[str, Any] | None = None


class ParallelGroup(_Model):
    id: str = ""
    label: str | None = None
    nodes: list[str] = Field(min_length=1)
    join_at: str | None = None
    ui: dict[str, Any] | None = None


class StickyNote(_Model):
    """A note on the canvas, in Markdown, for the people reading the flow. The engine and the
    validator never read notes; export, import and versions carry them like the layout."""

    id: str = Field(pattern=ID_PATTERN)
    text: str = Field("", max_length=20_000, description="Markdown.")
    x: float = 0
    y: float = 0
    width: int = Field(260, ge=120, le=2000)
    height: int = Field(160, ge=60, le=2000)
    color: Literal["yellow", "blue", "green", "pink", "grey"] = "yellow"


class FlowSettings(_Model):
    execution: Literal["parallel", "sequential"] = "parallel"
    cache_events: dict[str, list[str]] = Field(
        default_factory=dict, description="Event name -> cache tags it clears (product.updated -> products)."
    )
    warmup_inputs: list[dict[str, Any]] = Field(
        default_factory=list, description="Inputs run through the cacheable nodes by cache warm-up."
    )


class FlowDocument(_Model):
    akis: int = FLOW_FORMAT_VERSION
    flow_id: str | int
    name: str = ""
    description: str = ""
    nodes: list[NodeSpec] = Field(default_factory=list)
    edges: list[EdgeSpec] = Field(default_factory=list)
    parallel_groups: list[ParallelGroup] = Field(default_factory=list)
    cache_strategy: dict[str, CacheStrategy] = Field(default_factory=dict)
    settings: FlowSettings = Field(default_factory=FlowSettings)
    notes: list[StickyNote] = Field(default_factory=list, description="Sticky notes on the canvas (ignored by runs).")
    ui: dict[str, Any] | None = None

    @field_validator("parallel_groups")
    @classmethod
    def _name_groups(cls, groups: list[ParallelGroup]) -> list[ParallelGroup]:
        """Groups of the original form have no ids; give each a stable one so the editor can refer to it."""
        taken = {g.id for g in groups if g.id}
        for position, group in enumerate(groups, start=1):
            if not group.id:
                candidate = f"group_{position}"
                while candidate in taken:
                    candidate += "_"
                group.id = candidate
                taken.add(candidate)
        return groups

    @field_validator("notes")
    @classmethod
    def _unique_notes(cls, notes: list[StickyNote]) -> list[StickyNote]:
        seen: set[str] = set()
        for note in notes:
            if note.id in seen:
                raise ValueError(f"two sticky notes have the id {note.id!r}")
            seen.add(note.id)
        return notes

    def node(self, node_id: str) -> NodeSpec | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def dump(self) -> dict[str, Any]:
        """The export form: JSON-ready, only the fields that were set, ``akis`` always present."""
        data = self.model_dump(mode="json", exclude_unset=True)
        return {"akis": self.akis, **data}

    def dump_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.dump(), indent=indent, ensure_ascii=False)
