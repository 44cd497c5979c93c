"""Small things every edit module shares: the error type, ids, display names, unsetting a field."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from runtime.flow.model import EdgeSpec
from runtime.nodes.base import NodeType

KEEP: Any = object()  # "leave this field as it is" for optional arguments that may be None


class EditError(ValueError):
    """An edit that cannot be made; the message says why, for a person."""


def edge_ref(edge: EdgeSpec) -> str:
    """The id the canvas knows an edge by (same formula as the canvas's JavaScript)."""
    return edge.id or f"{edge.source}->{edge.target}" + (f"#{edge.branch}" if edge.branch else "")


def type_title(node_type: NodeType) -> str:
    """A node type's display name (``describe()`` builds a JSON Schema: too slow per node)."""
    return node_type.title or node_type.type_id.replace("_", " ").capitalize()


def unset(model: BaseModel, name: str) -> None:
    """Back to the default *and* not exported, so the round trip stays the identity."""
    field = type(model).model_fields[name]
    setattr(model, name, field.get_default(call_default_factory=True))
    model.__pydantic_fields_set__.discard(name)



def first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "value"
    return f"{where}: {err['msg']}"
