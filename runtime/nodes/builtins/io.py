"""The ends of a flow: where inputs come in and where the run's output is assembled."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from ...errors import NodeError
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type


class UserInputConfig(NodeConfig):
    fields: list[str] = Field(default_factory=lambda: ["user_message"], description="Inputs this flow requires.")


@node_type
class UserInput(NodeType):
    type_id = "user_input"
    title = "User input"
    description = "Where the run starts: checks that the required inputs are present."
    category = "input"
    icon = "chat"
    Config = UserInputConfig
    merge_outputs = False
    suspends = False

    async def run(self, config: UserInputConfig, ctx: NodeContext) -> dict[str, Any]:
        missing = [name for name in config.fields if ctx.values.get(name) in (None, "")]
        if missing:
            raise NodeError(f"input {', '.join(repr(m) for m in missing)} is required")
        return {name: ctx.values[name] for name in config.fields}


class OutputConfig(NodeConfig):
    fields: dict[str, Any] = Field(
        default_factory=lambda: {"answer": "{{ answer | default('') }}"},
        description="What the run returns: name -> value (templates allowed).",
    )


@node_type
class Output(NodeType):
    type_id = "output"
    title = "Output"
    description = "The run's result, assembled from the context."
    category = "output"
    icon = "output"
    Config = OutputConfig
    merge_outputs = False
    suspends = False

    async def run(self, config: OutputConfig, ctx: NodeContext) -> dict[str, Any]:
        return dict(config.fields)
