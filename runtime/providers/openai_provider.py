"""OpenAI Chat Completions streaming through the official SDK; with a ``base_url`` the same
code speaks to any OpenAI-compatible server (vLLM, Ollama, LM Studio).

The SDK swallows the ``[DONE]`` line, so the end marker is a choice with a ``finish_reason``;
usage arrives in the last chunk when ``stream_options.include_usage`` is asked for. Tool
calls stream as ``delta.tool_calls`` pieces keyed by index; they are complete at the finish.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..ports import LLMRequest, Usage
from .streaming import Part, StreamingProvider
from .tool_format import OpenAIToolCalls, openai_messages, openai_tools
from .translate import SdkErrors

# OpenAI-compatible servers often need no key, but the SDK refuses an empty one.
NO_KEY = "no-key-needed"


class OpenAIProvider(StreamingProvider):
    """``compatible=True`` is the ``openai_compatible`` provider: ``max_tokens`` instead of
    ``max_completion_tokens`` (which older vLLM/Ollama builds do not know) and no key needed."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "",
        compatible: bool = False,
        include_usage: bool = True,
        read_timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        max_retries: int = 0,
        http_client: Any = None,
    ) -> None:
        import openai  # lazy: the embedded default starts without it

        self.errors = SdkErrors(openai.APIStatusError, openai.APITimeoutError, openai.APIConnectionError)
        self.name = "openai_compatible" if compatible else "openai"
        self.compatible = compatible
        self.include_usage = include_usage
        self.where = base_url or "api.openai.com"
        kwargs: dict[str, Any] = {
            "api_key": api_key or NO_KEY,
            "timeout": openai.Timeout(read_timeout_s, connect=connect_timeout_s),
            "max_retries": max_retries,
        }
        if base_url:
            kwargs["base_url"] = base_url
        if http_client is not None:
            kwargs["http_client"] = http_client
        self.client = openai.AsyncOpenAI(**kwargs)

    async def _open(self, request: LLMRequest, headers: dict[str, str] | None = None) -> Any:
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.extend(openai_messages(request.messages))
        params: dict[str, Any] = {"model": request.model, "messages": messages, "stream": True}
        if request.tools:
            params["tools"] = openai_tools(request.tools)
        params["max_tokens" if self.compatible else "max_completion_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if self.include_usage:
            params["stream_options"] = {"include_usage": True}
        if headers:
            params["extra_headers"] = headers  # the model span's traceparent
        return await self.client.chat.completions.create(**params)

    async def _parse(self, upstream: Any) -> AsyncIterator[Part]:
        calls = OpenAIToolCalls()
        async for chunk in upstream:
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                yield "usage", Usage(
                    input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                    output_tokens=getattr(usage, "completion_tokens", 0) or 0,
                )
            for choice in chunk.choices or ():
                if getattr(choice, "index", 0) != 0:
                    continue
                delta = choice.delta
                content = getattr(delta, "content", None) if delta is not None else None
                if content:
                    yield "text", content
                if delta is not None and getattr(delta, "tool_calls", None):
                    calls.feed(delta.tool_calls)  # name and JSON arguments arrive in pieces
                if choice.finish_reason is not None:
                    for call in calls.done():
                        yield "tool", call
                    yield "end", None

    async def aclose(self) -> None:
        await self.client.close()
