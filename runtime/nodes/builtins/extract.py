"""extract: typed data pulled out of a text by a model, checked against a JSON Schema.

JSON mode asks for a JSON object and parses the answer; tool mode offers one tool whose
arguments are the schema (the providers' native tool calling, the more reliable way on models
that have it). Either way pydantic validates the data; on failure the model gets one more try
(``retries``) with the validation error, then the node fails naming the fields. The schema's
properties become the node's outputs (or one ``output_key``), so templates can read them.

Not streamed (nothing is shown to the person), so it may run in parallel; never cached: the
text it reads is usually the person's message.
"""
from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, WithJsonSchema

from ...agents.inner import taken_names
from ...agents.schema import check_schema, describe, validate
from ...errors import NodeError
from ...ports import LLMProvider, LLMRequest, ToolCall, ToolCallingProvider, ToolSpec, Usage
from ...providers.mock import MockOptions, MockProvider
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type

TOOL_NAME = "record_data"
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
DEFAULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "product": {"type": "string", "description": "The product the person asks about."},
        "quantity": {"type": "integer", "description": "How many they want."},
        "email": {"type": ["string", "null"], "description": "Their e-mail address, if given."},
    },
    "required": ["product"],
}


class ExtractConfig(NodeConfig):
    provider: str = Field("mock", description="anthropic, openai, openai_compatible or mock.")
    model: str = Field("mock-1", description="Model name as the provider knows it.")
    credential: str | None = Field(None, description="Name of a stored credential; never a key.")
    text: str = Field("{{ user_message }}", description="The text to read.", json_schema_extra={"format": "template"})
    instructions: str = Field("Extract the requested fields from the text. Leave out what the text does not say.",
                              json_schema_extra={"format": "template"})
    data_schema: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_SCHEMA),
                                        description="JSON Schema of the data (an object with properties).",
                                    json_schema_extra={"format": "json-schema"})
    mode: Literal["json", "tool"] = Field("json", description="json: a JSON answer; tool: a tool call.")
    retries: int = Field(1, ge=0, le=3, description="Tries again with the validation error this many times.")
    output_key: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                                   description="Put the data under this key (empty: each field is an output).")
    max_tokens: int = Field(1024, ge=1, le=64000)
    provider_options: Annotated[MockOptions, WithJsonSchema({"type": "object"})] = Field(
        default_factory=lambda: MockOptions(), description="Only the offline mock reads any (docs/agents.md).",
        json_schema_extra={"shown_when": {"provider": ["mock"]}},
    )


@node_type
class Extract(NodeType):
    type_id = "extract"
    title = "Extract data"
    description = "Pulls typed fields out of a text with a model, validated against a JSON Schema."
    category = "ai"
    icon = "data_object"
    Config = ExtractConfig
    outputs = ()
    cacheable = False

    def output_keys(self, config: dict[str, Any]) -> set[str]:
        if config.get("output_key"):
            return {str(config["output_key"])}
        schema = config.get("data_schema", DEFAULT_SCHEMA)
        properties = schema.get("properties") if isinstance(schema, dict) else None
        return {str(k) for k in properties} if isinstance(properties, dict) else set()

    def config_problems(self, config: dict[str, Any], flow_id: str) -> list[tuple[str, str]]:
        problem = check_schema(config.get("data_schema", DEFAULT_SCHEMA))
        if problem:
            return [("config.data_schema", problem)]
        field = "config.output_key" if config.get("output_key") else "config.data_schema"
        return taken_names(sorted(self.output_keys(config)), field)

    async def run(self, config: ExtractConfig, ctx: NodeContext) -> dict[str, Any]:
        provider = ctx.services.providers.resolve(config.provider, config.credential, ctx.tenant_id)
        schema = config.data_schema
        problem = check_schema(schema)
        if problem:
            raise NodeError(f"config field 'data_schema': {problem}")
        tool_mode = config.mode == "tool"
        if tool_mode and not isinstance(provider, ToolCallingProvider):
            raise NodeError(f"provider {config.provider!r} cannot call tools: use mode 'json'")
        options: dict[str, Any] = dict(config.provider_options)
        if isinstance(provider, MockProvider) and not options.get("text") and not options.get("script"):
            options["text"] = "" if tool_mode else json.dumps(_demo(schema, config.text))
        system = config.instructions
        if not tool_mode:
            system += "\nAnswer with only a JSON object that matches this JSON Schema:\n" + json.dumps(schema)
        messages: list[dict[str, Any]] = [{"role": "user", "content": config.text}]
        tools = [ToolSpec(TOOL_NAME, "Record the data extracted from the text.", schema)] if tool_mode else []
        error = ""
        for _attempt in range(config.retries + 1):
            request = LLMRequest(config.model, messages, system, 0, config.max_tokens, options, tools)
            text, calls = await _ask(provider, request, ctx)
            try:
                data = _read(text, calls, schema, tool_mode)
            except (ValueError, ValidationError) as exc:
                error = describe(exc) if isinstance(exc, ValidationError) else str(exc)
                messages += _correction(text, calls, error)
                continue
            return {config.output_key: data} if config.output_key else data
        raise NodeError(f"the model's data did not match the schema after {config.retries + 1} tries: {error}")


async def _ask(provider: LLMProvider, request: LLMRequest, ctx: NodeContext) -> tuple[str, list[ToolCall]]:
    parts: list[str] = []
    calls: list[ToolCall] = []
    if request.tools and isinstance(provider, ToolCallingProvider):
        stream: Any = provider.stream_tools(request)
    else:
        stream = provider.stream(request)
    async for item in stream:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, ToolCall):
            calls.append(item)
        elif isinstance(item, Usage):
            ctx.usage["tokens_in"] = ctx.usage.get("tokens_in", 0) + item.input_tokens
            ctx.usage["tokens_out"] = ctx.usage.get("tokens_out", 0) + item.output_tokens
    return "".join(parts), calls


def _read(text: str, calls: list[ToolCall], schema: dict[str, Any], tool_mode: bool) -> dict[str, Any]:
    if tool_mode:
        call = next((c for c in calls if c.name == TOOL_NAME), None)
        if call is None:
            raise ValueError(f"the model did not call {TOOL_NAME}")
        if call.arguments is None:
            raise ValueError(f"the arguments of {TOOL_NAME} are not a JSON object")
        return validate(schema, call.arguments)
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    body = fenced.group(1) if fenced else stripped
    try:
        value = json.loads(body)
    except ValueError:
        raise ValueError(f"the answer is not JSON: {stripped[:120]!r}") from None
    if not isinstance(value, dict):
        raise ValueError("the answer is JSON but not an object")
    return validate(schema, value)


def _correction(text: str, calls: list[ToolCall], error: str) -> list[dict[str, Any]]:
    """What the model is told after a wrong answer, in the conversation's own shape."""
    call = next((c for c in calls if c.name == TOOL_NAME), None)
    if call is not None:
        return [{"role": "assistant", "content": text, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call.id, "name": TOOL_NAME, "is_error": True,
                 "content": f"invalid: {error}. Call {TOOL_NAME} again with corrected arguments."}]
    return [{"role": "assistant", "content": text or "(no answer)"},
            {"role": "user", "content": f"That was not valid: {error}. Answer again with only the corrected data."}]


def _demo(schema: dict[str, Any], text: str) -> dict[str, Any]:
    """What the offline mock answers: the schema filled in validly from the text (strings get it
    whole, an enum the member the text names), so a flow with extract runs without a key."""
    from ...providers.mock_tools import demo_arguments

    return demo_arguments(schema, text)
