"""An agent's tools: each a name, a description and a JSON Schema for its arguments, and what
calling it does. Kinds:

- ``product_search`` / ``knowledge_retrieval``: the built-in lookup node of that type, its
  ``config`` with the arguments on top, through the run's cache (per tenant, like the node);
- ``http_request``: an HTTP preset (``config``: url, method, headers, body); ``{name}`` in the
  url or a string of the body is replaced by that argument (url-encoded in the url), and without
  ``parameters`` each such name is a required string argument; the same SSRF guards as the node;
- ``flow``: another flow of the tenant (``flow_id``, ``version`` or the current one), the
  arguments as its inputs; the result is its output.
"""
from __future__ import annotations

import json
import re
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from ..errors import NodeError
from ..nodes.base import NodeConfig, NodeContext, NodeType
from ..ports import CachePolicy, ToolSpec
from .schema import validate

ToolKind = Literal["product_search", "knowledge_retrieval", "http_request", "flow"]
LOOKUPS = ("product_search", "knowledge_retrieval")
LOOKUP_TTL_S = 300
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")

DEFAULT_PARAMETERS: dict[str, dict[str, Any]] = {
    "product_search": {"type": "object", "properties": {
        "query": {"type": "string", "description": "Words to look for in the catalogue."},
        "category": {"type": "string", "description": "Only this product category (optional)."}},
        "required": ["query"]},
    "knowledge_retrieval": {"type": "object", "properties": {
        "query": {"type": "string", "description": "What to look up in the knowledge base."}},
        "required": ["query"]},
    "http_request": {"type": "object", "properties": {}},
    "flow": {"type": "object", "properties": {
        "user_message": {"type": "string", "description": "The request for the flow."}},
        "required": ["user_message"]},
}
DEFAULT_DESCRIPTIONS = {
    "product_search": "Searches the shop's product catalogue; returns matching products.",
    "knowledge_retrieval": "Looks up passages of the knowledge base relevant to a query.",
    "http_request": "Calls an HTTP API.",
    "flow": "Runs another flow of this workspace and returns its output.",
}


class ToolConfig(NodeConfig):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="What the model calls it.")
    kind: ToolKind
    description: str = Field("", description="What it does, for the model (a default per kind).")
    parameters: dict[str, Any] | None = Field(None, description="JSON Schema of its arguments (a default per kind).")
    config: dict[str, Any] = Field(default_factory=dict, description="Fixed settings: the lookup node's config, "
                                                                     "or the HTTP preset (url, method, headers, body).")
    flow_id: str | None = Field(None, description="kind flow: the flow to run.")
    version: int | None = Field(None, ge=1, description="kind flow: a version (empty: the current one).")

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description or DEFAULT_DESCRIPTIONS[self.kind],
                        self.parameters if self.parameters is not None else self._default_parameters())

    def _default_parameters(self) -> dict[str, Any]:
        """An HTTP preset's default: one required string per ``{name}`` in its url and body."""
        if self.kind != "http_request":
            return DEFAULT_PARAMETERS[self.kind]
        names = dict.fromkeys(_PLACEHOLDER.findall(json.dumps([self.config.get("url"), self.config.get("body")])))
        return {"type": "object", "properties": {n: {"type": "string"} for n in names}, "required": list(names)}


def check_tool(tool: ToolConfig) -> str | None:
    """What is wrong with a tool's settings, found without running it (None: fine)."""
    from .schema import check_schema

    problem = check_schema(tool.spec().parameters)
    if problem:
        return f"tool {tool.name!r}: parameters: {problem}"
    if tool.kind == "flow" and not tool.flow_id:
        return f"tool {tool.name!r}: a flow tool needs flow_id"
    if tool.kind == "http_request" and not str(tool.config.get("url") or ""):
        return f"tool {tool.name!r}: an http_request tool needs config.url"
    if tool.kind == "knowledge_retrieval" and not tool.config.get("knowledge_bases"):
        return f"tool {tool.name!r}: a knowledge_retrieval tool needs config.knowledge_bases (the bases to search)"
    return None


async def call_tool(tool: ToolConfig, arguments: dict[str, Any], ctx: NodeContext) -> Any:
    """Validate the arguments against the tool's schema, then call it. Raises with a message
    the model can act on (it is sent back as the tool's error)."""
    arguments = validate(tool.spec().parameters, arguments)
    arguments = {k: v for k, v in arguments.items() if v is not None}
    if tool.kind in LOOKUPS:
        return await _lookup(tool, arguments, ctx)
    if tool.kind == "http_request":
        return await _http(tool, arguments, ctx)
    from .inner import run_flow_output

    assert tool.flow_id is not None  # check_tool
    inputs = {"user_message": ctx.values.get("user_message", ""), **arguments}  # the same conversation
    return await run_flow_output(ctx, tool.flow_id, tool.version, inputs)


async def _lookup(tool: ToolConfig, arguments: dict[str, Any], ctx: NodeContext) -> Any:
    engine = ctx.services.engine
    node_type = engine.registry.get(tool.kind, ctx.tenant_id) if engine is not None else None
    if node_type is None:
        raise NodeError(f"the {tool.kind} node type is not available in this installation")
    config = node_type.Config.model_validate({**_settings(node_type, tool, arguments, ctx), **arguments})

    async def compute() -> dict[str, Any]:
        result: dict[str, Any] = await node_type.run(config, ctx)
        return result

    if engine is None or engine.cache is None:
        return await compute()
    policy = CachePolicy(LOOKUP_TTL_S, config.model_dump(mode="json"))
    value, _hit = await engine.cache.get_or_compute(ctx.tenant_id, tool.kind, policy, compute)
    return value


def _settings(node_type: NodeType, tool: ToolConfig, arguments: dict[str, Any], ctx: NodeContext) -> dict[str, Any]:
    """The lookup's config apart from the arguments: the tool's fixed settings and the type's
    defaults, whose templates (``{{ user_message }}``) read this run as in a flow. The model's
    arguments are never rendered: a template in them stays text."""
    from ..engine.plan import with_defaults
    from ..engine.templating import compile_config, has_templates

    base = {k: v for k, v in with_defaults(node_type, tool.config).items() if k not in arguments}
    if has_templates(base):
        rendered: dict[str, Any] = compile_config(base, f"tool {tool.name}")(ctx.values)
        return rendered
    return base


def _fill(text: str, arguments: dict[str, Any], url: bool) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in arguments:
            raise NodeError(f"argument {name!r} is needed by the request but was not given")
        value = arguments[name]
        value = value if isinstance(value, str) else json.dumps(value)
        return quote(value, safe="") if url else value

    return _PLACEHOLDER.sub(one, text)


def _fill_body(body: Any, arguments: dict[str, Any]) -> Any:
    if isinstance(body, str):
        whole = _PLACEHOLDER.fullmatch(body)
        if whole and whole.group(1) in arguments:
            return arguments[whole.group(1)]  # "{limit}" alone keeps the argument's own type
        return _fill(body, arguments, url=False)
    if isinstance(body, dict):
        return {k: _fill_body(v, arguments) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill_body(v, arguments) for v in body]
    return body


async def _http(tool: ToolConfig, arguments: dict[str, Any], ctx: NodeContext) -> Any:
    from ..nodes.builtins.http_request import HttpRequest, HttpRequestConfig

    preset = dict(tool.config)
    preset["url"] = _fill(str(preset.get("url", "")), arguments, url=True)
    if "body" in preset:
        preset["body"] = _fill_body(preset["body"], arguments)
    elif preset.get("method", "GET") in {"POST", "PUT", "PATCH"}:
        preset["body"] = arguments
    preset["output_key"] = "response"
    result = await HttpRequest().run(HttpRequestConfig.model_validate(preset), ctx)
    return result["response"]
