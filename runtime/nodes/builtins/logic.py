"""Control and shaping nodes: condition (branches), template (context builder), delay."""
from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type


class ConditionCase(BaseModel):
    when: Any = Field(description="A value or template; truthy selects this branch.")
    branch: str = Field(min_length=1, max_length=64)


class ConditionConfig(NodeConfig):
    cases: list[ConditionCase] = Field(
        default_factory=lambda: [ConditionCase(when="{{ true }}", branch="true")],
        description="Checked in order; the first truthy one picks the branch.",
    )
    default: str = Field("false", description="The branch when no case matches.")


@node_type
class Condition(NodeType):
    type_id = "condition"
    title = "Condition"
    description = "Routes to one branch; nodes on branches not taken are skipped."
    category = "logic"
    icon = "call_split"
    Config = ConditionConfig
    merge_outputs = False
    suspends = False

    async def run(self, config: ConditionConfig, ctx: NodeContext) -> dict[str, Any]:
        for case in config.cases:
            if _truthy(case.when):
                return {"branch": case.branch}
        return {"branch": config.default}

    @staticmethod
    def branches(config: dict[str, Any]) -> list[str]:
        names = [c.get("branch") for c in config.get("cases", [{"branch": "true"}]) if isinstance(c, dict)]
        names.append(config.get("default", "false"))
        return list(dict.fromkeys(n for n in names if isinstance(n, str)))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().casefold() not in {"", "false", "0", "no", "none", "null"}
    return bool(value)


class TemplateConfig(NodeConfig):
    template: str = Field(
        "User asked: {{ user_message }}",
        description="Jinja2 text rendered against the context.",
        json_schema_extra={"format": "template"},
    )
    output_key: str = Field("context", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@node_type
class Template(NodeType):
    type_id = "template"
    title = "Template"
    description = "Builds text (e.g. the prompt context) from the values before it."
    category = "logic"
    icon = "description"
    Config = TemplateConfig
    suspends = False

    def output_keys(self, config: dict[str, Any]) -> set[str]:
        return {str(config.get("output_key", "context"))}

    async def run(self, config: TemplateConfig, ctx: NodeContext) -> dict[str, Any]:
        return {config.output_key: config.template}


class DelayConfig(NodeConfig):
    ms: float = Field(100, ge=0, le=600_000, description="How long to wait, in milliseconds.")
    output: dict[str, Any] = Field(default_factory=dict, description="Fixed values this node returns.")


@node_type
class Delay(NodeType):
    type_id = "delay"
    title = "Delay"
    description = "Waits, then returns fixed values: stands in for a slow lookup in demos and benchmarks."
    category = "logic"
    icon = "schedule"
    Config = DelayConfig
    cacheable = True

    def output_keys(self, config: dict[str, Any]) -> set[str]:
        output = config.get("output", {})
        return set(output) if isinstance(output, dict) else set()

    async def run(self, config: DelayConfig, ctx: NodeContext) -> dict[str, Any]:
        if config.ms:
            await asyncio.sleep(config.ms / 1000)
        return dict(config.output)
