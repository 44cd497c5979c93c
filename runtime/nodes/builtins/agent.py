"""agent: a model with tools, through the provider's native tool calling (runtime/agents/).

Streams like ``ai_response`` (its text reaches the person as it comes), so it is never cached
and never runs in parallel with another node of its run. Each model turn and each tool call is
a step: a ``node.step`` event under the node on the timeline, and a metrics row with its tokens.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from ...agents.loop import AgentLimits, agent_turns
from ...agents.tools import ToolConfig, check_tool
from ...errors import NodeError
from ...ports import LLMRequest, ToolCallingProvider, Usage
from ...providers.mock import MockOptions
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type
from ..steps import Step


def _default_tools() -> list[ToolConfig]:
    return [ToolConfig(name="product_search", kind="product_search")]


class AgentConfig(NodeConfig):
    provider: str = Field("mock", description="anthropic, openai, openai_compatible or mock.")
    model: str = Field("mock-1", description="Model name as the provider knows it.")
    credential: str | None = Field(None, description="Name of a stored credential; never a key.")
    system_prompt: str = Field(
        "You are a helpful sales assistant for a shop that sells forklifts and pallet jacks. "
        "Use the tools to look things up before you answer.",
        json_schema_extra={"format": "template"},
    )
    prompt: str = Field("{{ user_message }}", description="The user turn.", json_schema_extra={"format": "template"})
    include_history: bool = Field(False, description="Send earlier turns (needs conversation_history).")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int = Field(1024, ge=1, le=64000, description="Per model step.")
    tools: list[ToolConfig] = Field(default_factory=_default_tools, max_length=32,
                                    description="What the model may call (docs/agents.md).",
                                    json_schema_extra={"format": "agent-tools"})
    max_steps: int = Field(6, ge=1, le=50, description="Model turns at most; then the node fails.")
    max_tool_calls: int = Field(10, ge=0, le=200, description="Tool calls at most, over all steps.")
    time_limit_s: float = Field(60, gt=0, le=3600, description="For the whole agent: model steps and tools.")
    on_limit: Literal["fail", "answer"] = Field(
        "fail", description="At the step or tool-call limit: fail (on_error decides), or answer: the model is told "
        "and answers with what it has in one more step.")
    provider_options: Annotated[MockOptions, WithJsonSchema({"type": "object"})] = Field(
        default_factory=lambda: MockOptions(),
        description="Only the offline mock reads any: delay_ms, tokens_per_second, text, and script (the "
        "turns of a tool-calling conversation to play, docs/agents.md).",
        json_schema_extra={"shown_when": {"provider": ["mock"]}},
    )


@node_type
class Agent(NodeType):
    type_id = "agent"
    title = "Agent"
    description = "A model that calls tools (product search, HTTP presets, other flows) until it can answer."
    category = "ai"
    icon = "support_agent"
    Config = AgentConfig
    outputs = ("answer", "tool_calls")
    cacheable = False
    parallel_safe = False
    streams = True

    def run(self, config: AgentConfig, ctx: NodeContext) -> AsyncIterator[str | Usage | Step | dict[str, Any]]:
        provider = ctx.services.providers.resolve(config.provider, config.credential, ctx.tenant_id)
        if not isinstance(provider, ToolCallingProvider):
            raise NodeError(f"provider {config.provider!r} cannot call tools")
        problems = [p for p in (check_tool(t) for t in config.tools) if p]
        if problems:
            raise NodeError("; ".join(problems))
        messages: list[dict[str, Any]] = []
        if config.include_history:
            for item in ctx.values.get("history") or []:
                if isinstance(item, dict) and item.get("role") in {"user", "assistant"}:
                    messages.append({"role": item["role"], "content": str(item.get("content", ""))})
        messages.append({"role": "user", "content": config.prompt})
        request = LLMRequest(model=config.model, messages=messages, system=config.system_prompt or None,
                             temperature=config.temperature, max_tokens=config.max_tokens,
                             options=dict(config.provider_options), tools=[t.spec() for t in config.tools])
        limits = AgentLimits(config.max_steps, config.max_tool_calls, config.time_limit_s, config.on_limit)
        return agent_turns(provider, request, config.tools, limits, ctx)

    def config_problems(self, config: dict[str, Any], flow_id: str) -> list[tuple[str, str]]:
        """Tools checked when the flow is validated: schemas, names, a flow tool calling this flow."""
        found: list[tuple[str, str]] = []
        tools = config.get("tools")
        if not isinstance(tools, list):
            return found
        names: set[str] = set()
        for position, raw in enumerate(tools):
            where = f"config.tools.{position}"
            try:
                tool = ToolConfig.model_validate(raw)
            except ValueError:
                continue  # the config check names the field
            if tool.name in names:
                found.append((where, f"two tools are called {tool.name!r}"))
            names.add(tool.name)
            problem = check_tool(tool)
            if problem:
                found.append((where, problem))
            if tool.kind == "flow" and tool.flow_id == flow_id:
                found.append((where, f"tool {tool.name!r} would run this flow itself"))
        return found
