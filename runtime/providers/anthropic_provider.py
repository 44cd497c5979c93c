"""Anthropic through the official SDK: Messages API with ``stream=True`` (raw SSE events).

The raw event stream rather than the ``messages.stream()`` helper: we need only text deltas,
``tool_use`` blocks (their JSON arguments arrive in ``input_json_delta`` pieces), the usage
in ``message_start``/``message_delta`` and ``message_stop`` as the end marker, and
the raw stream lets us close the HTTP response the moment the consumer stops.
"""
from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

from ..ports import LLMRequest, Usage
from .streaming import Part, StreamingProvider
from .tool_format import anthropic_messages, anthropic_tools, parse_arguments
from .translate import SdkErrors


class AnthropicProvider(StreamingProvider):
    """``max_retries`` is 0 by default: the node's retry policy decides, not the SDK, so a
    rate limit is retried once per policy attempt and never after a chunk was shown."""

    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "",
        read_timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        max_retries: int = 0,
        http_client: Any = None,
    ) -> None:
        import anthropic  # lazy: the embedded default starts without it

        self.errors = SdkErrors(anthropic.APIStatusError, anthropic.APITimeoutError, anthropic.APIConnectionError)
        self.where = base_url or "api.anthropic.com"
        kwargs: dict[str, Any] = {
            "api_key": api_key,
            "timeout": anthropic.Timeout(read_timeout_s, connect=connect_timeout_s),
            "max_retries": max_retries,
        }
        if base_url:
            kwargs["base_url"] = base_url
        if http_client is not None:
            kwargs["http_client"] = http_client
        self.client = anthropic.AsyncAnthropic(**kwargs)
        # Recent SDKs dropped ``temperature`` from the Messages API; send it only where it exists.
        self._takes_temperature = "temperature" in inspect.signature(self.client.messages.create).parameters

    async def _open(self, request: LLMRequest, headers: dict[str, str] | None = None) -> Any:
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": anthropic_messages(request.messages),
            "stream": True,
        }
        if request.tools:
            params["tools"] = anthropic_tools(request.tools)
        if request.system:
            params["system"] = request.system
        if request.temperature is not None and self._takes_temperature:
            params["temperature"] = request.temperature
        if headers:
            params["extra_headers"] = headers  # the model span's traceparent
        return await self.client.messages.create(**params)

    async def _parse(self, upstream: Any) -> AsyncIterator[Part]:
        tools: dict[int, tuple[str, str, list[str]]] = {}  # block index -> (id, name, JSON pieces)
        async for event in upstream:
            kind = getattr(event, "type", "")
            if kind == "content_block_delta":
                delta = event.delta
                delta_type = getattr(delta, "type", "")
                if delta_type == "text_delta" and delta.text:
                    yield "text", delta.text
                elif delta_type == "input_json_delta" and event.index in tools:
                    tools[event.index][2].append(delta.partial_json or "")
            elif kind == "content_block_start":
                block = event.content_block
                if getattr(block, "type", "") == "tool_use":
                    tools[event.index] = (block.id, block.name, [])
            elif kind == "content_block_stop" and getattr(event, "index", None) in tools:
                call_id, name, pieces = tools.pop(event.index)
                yield "tool", parse_arguments(call_id, name, "".join(pieces))
            elif kind == "message_start":
                yield "usage", _usage(getattr(event.message, "usage", None))
            elif kind == "message_delta":
                yield "usage", _usage(getattr(event, "usage", None))
            elif kind == "message_stop":
                for call_id, name, pieces in tools.values():  # cut off (max_tokens): the model is told
                    yield "tool", parse_arguments(call_id, name, "".join(pieces))
                yield "end", None

    async def aclose(self) -> None:
        await self.client.close()


def _usage(raw: Any) -> Usage:
    """Input tokens include cached ones (the prompt's real size); output tokens are cumulative."""
    if raw is None:
        return Usage()
    fields = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    counted = [getattr(raw, f, None) or 0 for f in fields]
    return Usage(input_tokens=sum(counted), output_tokens=getattr(raw, "output_tokens", None) or 0)
