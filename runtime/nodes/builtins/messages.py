"""save_message: stores the user's message and the answer after the response (background)."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from ...ports import ChatMessage
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type

# A default that is a template: rendered for each run, then validated as ``int | None``.
_TURN_FROM_CONTEXT: Any = "{{ turn | default(none) }}"


class SaveMessageConfig(NodeConfig):
    user_message: str = Field("{{ user_message }}")
    answer: str = Field("{{ answer | default('') }}")
    turn: int | None = Field(
        _TURN_FROM_CONTEXT, description="Turn number; default: the next free one in the session."
    )


@node_type
class SaveMessage(NodeType):
    type_id = "save_message"
    title = "Save message"
    description = "Stores the exchange after the answer was sent: the user never waits for it."
    category = "output"
    icon = "save"
    Config = SaveMessageConfig
    background = True

    async def run(self, config: SaveMessageConfig, ctx: NodeContext) -> dict[str, Any]:
        store = ctx.services.conversations
        first = 2 * config.turn if config.turn is not None else await store.next_seq(ctx.tenant_id, ctx.session_id)
        added = await store.save(
            ctx.tenant_id,
            ctx.session_id,
            [
                ChatMessage("user", config.user_message, first, ctx.run_id),
                ChatMessage("assistant", config.answer, first + 1, ctx.run_id),
            ],
        )
        return {"saved": added}
