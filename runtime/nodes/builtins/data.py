"""Lookups: category detection, product search, conversation history."""
from __future__ import annotations

import unicodedata
from typing import Any, Literal

from pydantic import Field

from ...ports import LLMRequest, Usage
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type

DEFAULT_RULES: dict[str, list[str]] = {
    "pallet_jack": ["transpalet", "pallet jack", "palet", "pallet truck", "el arabası"],
    "forklift": ["forklift", "istif", "stacker", "reach truck", "lift truck"],
    "spare_parts": ["yedek parça", "spare part", "tekerlek", "wheel", "battery", "akü"],
}


def fold(text: str) -> str:
    """Case- and accent-insensitive form, so 'Transpalet' matches 'transpalet' and 'İstif' 'istif'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ı", "i")


class CategoryDetectionConfig(NodeConfig):
    text: str = Field("{{ user_message }}", description="The text to classify.")
    mode: Literal["keywords", "llm"] = "keywords"
    rules: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    default_category: str = "general"
    provider: str = "mock"
    model: str = "mock-1"
    credential: str | None = None


@node_type
class CategoryDetection(NodeType):
    type_id = "category_detection"
    title = "Category detection"
    description = "Finds the product category a message is about, by keyword rules or an LLM."
    category = "data"
    icon = "category"
    Config = CategoryDetectionConfig
    outputs = ("category",)
    cacheable = True

    async def run(self, config: CategoryDetectionConfig, ctx: NodeContext) -> dict[str, Any]:
        if config.mode == "llm":
            return {"category": await self._ask_llm(config, ctx)}
        text = fold(config.text)
        best, best_hits = config.default_category, 0
        for category, keywords in config.rules.items():
            hits = sum(1 for keyword in keywords if fold(keyword) in text)
            if hits > best_hits:
                best, best_hits = category, hits
        return {"category": best}

    async def _ask_llm(self, config: CategoryDetectionConfig, ctx: NodeContext) -> str:
        choices = [*config.rules, config.default_category]
        provider = ctx.services.providers.resolve(config.provider, config.credential, ctx.tenant_id)
        request = LLMRequest(
            model=config.model,
            system="Answer with exactly one of these category names and nothing else: " + ", ".join(choices),
            messages=[{"role": "user", "content": config.text}],
            max_tokens=16,
            temperature=0,
            options={"delay_ms": 0, "tokens_per_second": 0, "text": _keyword_guess(config)},
        )
        parts: list[str] = []
        async for item in provider.stream(request):
            if isinstance(item, Usage):
                ctx.usage["tokens_in"] = ctx.usage.get("tokens_in", 0) + item.input_tokens
                ctx.usage["tokens_out"] = ctx.usage.get("tokens_out", 0) + item.output_tokens
            else:
                parts.append(item)
        answer = fold("".join(parts)).strip().strip(".")
        return next((c for c in choices if fold(c) == answer or fold(c) in answer), config.default_category)


def _keyword_guess(config: CategoryDetectionConfig) -> str:
    """What the offline mock answers in LLM mode: the keyword result, so demos stay sensible."""
    text = fold(config.text)
    for category, keywords in config.rules.items():
        if any(fold(k) in text for k in keywords):
            return category
    return config.default_category


class ProductSearchConfig(NodeConfig):
    query: str = Field("{{ user_message }}", description="Words to look for.")
    category: str | None = Field("{{ category | default(none) }}", description="Only this category.")
    limit: int = Field(5, ge=1, le=100)


@node_type
class ProductSearch(NodeType):
    type_id = "product_search"
    title = "Product search"
    description = "Searches the tenant's product catalogue."
    category = "data"
    icon = "search"
    Config = ProductSearchConfig
    outputs = ("products",)
    cacheable = True

    async def run(self, config: ProductSearchConfig, ctx: NodeContext) -> dict[str, Any]:
        category = config.category or None
        products = await ctx.services.catalogue.search(ctx.tenant_id, config.query, category, config.limit)
        if not products and category:
            products = await ctx.services.catalogue.search(ctx.tenant_id, config.query, None, config.limit)
        return {"products": products}


class ConversationHistoryConfig(NodeConfig):
    limit: int = Field(10, ge=0, le=200, description="How many earlier messages to include.")


@node_type
class ConversationHistory(NodeType):
    type_id = "conversation_history"
    title = "Conversation history"
    description = "Earlier messages of this session, oldest first."
    category = "data"
    icon = "history"
    Config = ConversationHistoryConfig
    outputs = ("history",)

    async def run(self, config: ConversationHistoryConfig, ctx: NodeContext) -> dict[str, Any]:
        messages = await ctx.services.conversations.history(ctx.tenant_id, ctx.session_id, config.limit)
        return {"history": [{"role": m.role, "content": m.content} for m in messages]}
