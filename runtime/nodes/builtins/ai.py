"""ai_response: streams the model's answer word by word. Never cached: an answer belongs to
one conversation and must not be replayed in another. Never run in parallel with another node
of its run: it reads the whole context the others build (docs/cache.md, docs/providers.md)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from ...errors import NodeError
from ...knowledge.cite import CITE_INSTRUCTION, citations_from, extractive_answer, sources_block
from ...ports import LLMRequest, Usage
from ...providers.mock import MockOptions
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type


class AiResponseConfig(NodeConfig):
    provider: str = Field("mock", description="anthropic, openai, openai_compatible or mock.")
    model: str = Field("mock-1", description="Model name as the provider knows it.")
    credential: str | None = Field(None, description="Name of a stored credential; never a key.")
    system_prompt: str = Field(
        "You are a helpful sales assistant for a shop that sells forklifts and pallet jacks.",
        json_schema_extra={"format": "template"},
    )
    prompt: str = Field(
        "{{ context | default(user_message) }}",
        description="The user turn sent to the model.",
        json_schema_extra={"format": "template"},
    )
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int = Field(1024, ge=1, le=64000)
    include_history: bool = Field(False, description="Send earlier turns (needs conversation_history).")
    citations: list[dict[str, Any]] | None = Field(
        None, description="Passages to cite, such as {{ passages }} from knowledge_retrieval: the prompt lists "
        "them numbered, the model cites [1], [2], and the node's 'citations' output keeps the numbers.",
        json_schema_extra={"format": "template"},
    )
    stream: bool = True
    # Checked against the mock's own MockOptions, but described as a plain object: the mock's
    # knobs are not part of this node's schema, and the inspector shows them for the mock only.
    provider_options: Annotated[MockOptions, WithJsonSchema({"type": "object"})] = Field(
        default_factory=lambda: MockOptions(),
        description="The provider's own settings. Only the offline mock reads any: delay_ms, tokens_per_second, "
        "chunks, text (docs/providers.md), also when it stands in for a provider without a key.",
        json_schema_extra={"shown_when": {"provider": ["mock"]}},
    )


@node_type
class AiResponse(NodeType):
    type_id = "ai_response"
    title = "AI response"
    description = "Asks a language model and streams its answer."
    category = "ai"
    icon = "smart_toy"
    Config = AiResponseConfig
    outputs = ("answer",)
    cacheable = False
    parallel_safe = False
    streams = True

    def output_keys(self, config: dict[str, Any]) -> set[str]:
        return {"answer", "citations"} if config.get("citations") is not None else {"answer"}

    def run(self, config: AiResponseConfig, ctx: NodeContext) -> AsyncIterator[str | Usage | dict[str, Any]]:
        """The provider's own stream when streaming (the engine forwards its chunks and counts its
        usage: no generator of ours in between on every chunk); else the whole answer at once."""
        provider = ctx.services.providers.resolve(config.provider, config.credential, ctx.tenant_id)
        cited = _citations(config) if config.citations is not None else None
        messages: list[dict[str, str]] = []
        if config.include_history:
            for item in ctx.values.get("history") or []:
                if isinstance(item, dict) and item.get("role") in {"user", "assistant"}:
                    messages.append({"role": item["role"], "content": str(item.get("content", ""))})
        prompt, system, options = config.prompt, config.system_prompt, dict(config.provider_options)
        if cited is not None:
            prompt = f"{prompt}\n\n{sources_block(cited)}"
            system = f"{system}\n\n{CITE_INSTRUCTION}".strip()
            if provider.name == "mock" and not options.get("text"):
                options["text"] = extractive_answer(cited, config.prompt)  # offline: an answer that really cites
        messages.append({"role": "user", "content": prompt})
        request = LLMRequest(
            model=config.model,
            messages=messages,
            system=system or None,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            options=options,
        )
        stream = provider.stream(request)
        stream = stream if config.stream else _whole(stream)
        return stream if cited is None else _with_citations(stream, cited)

    def stream_result(self, text: str) -> dict[str, Any]:
        return {"answer": text}


def _citations(config: AiResponseConfig) -> list[dict[str, Any]]:
    try:
        return citations_from(config.citations)
    except ValueError as exc:
        raise NodeError(f"config field 'citations': {exc}") from None


async def _with_citations(stream: AsyncIterator[str | Usage], cited: list[dict[str, Any]]
                          ) -> AsyncIterator[str | Usage | dict[str, Any]]:
    """The stream, then the result with the numbered citations beside the answer."""
    parts: list[str] = []
    try:
        async for item in stream:
            if isinstance(item, str):
                parts.append(item)
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    yield {"answer": "".join(parts), "citations": cited}


async def _whole(stream: AsyncIterator[str | Usage]) -> AsyncIterator[str | Usage]:
    """``stream: false``: the answer as one chunk once it is complete."""
    parts: list[str] = []
    try:
        async for item in stream:
            if isinstance(item, str):
                parts.append(item)
            else:
                yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()  # closes the upstream HTTP stream on cancel or error
    if parts:
        yield "".join(parts)
