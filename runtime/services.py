"""The services a run may use, with in-process defaults so a fresh install needs no server."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from .ports import ChatMessage, ConversationStore, LLMProvider, ProductCatalog, ProviderResolver


class MemoryConversationStore:
    """Conversations in a dict: the default until storage is configured."""

    def __init__(self) -> None:
        self._messages: dict[tuple[str, str], dict[int, ChatMessage]] = defaultdict(dict)

    async def history(self, tenant_id: str, session_id: str, limit: int) -> list[ChatMessage]:
        rows = self._messages[(tenant_id, session_id)]
        return [rows[seq] for seq in sorted(rows)][-limit:] if limit > 0 else []

    async def save(self, tenant_id: str, session_id: str, messages: list[ChatMessage]) -> int:
        rows = self._messages[(tenant_id, session_id)]
        saved_runs = {(m.run_id, m.role) for m in rows.values() if m.run_id}
        added = 0
        for message in messages:
            if message.seq not in rows and (message.run_id, message.role) not in saved_runs:
                rows[message.seq] = message
                added += 1
        return added

    async def next_seq(self, tenant_id: str, session_id: str) -> int:
        rows = self._messages[(tenant_id, session_id)]
        return max(rows) + 1 if rows else 0


def load_demo_catalogue() -> list[dict[str, Any]]:
    """The demo catalogue of forklifts and pallet jacks shipped with the package."""
    text = resources.files("runtime.data").joinpath("catalogue.json").read_text(encoding="utf-8")
    return json.loads(text)


class MemoryProductCatalog:
    """Keyword search over the demo catalogue; storage replaces it with a table."""

    def __init__(self, products: list[dict[str, Any]] | None = None) -> None:
        self._products = products if products is not None else load_demo_catalogue()

    async def search(
        self, tenant_id: str, query: str, category: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return search_products(self._products, query, category, limit)


def search_products(
    products: list[dict[str, Any]], query: str, category: str | None, limit: int
) -> list[dict[str, Any]]:
    """Rank products by how many query words appear in their name, description and keywords."""
    words = [w for w in query.casefold().split() if len(w) > 2]
    scored: list[tuple[int, int, dict[str, Any]]] = []
    for position, product in enumerate(products):
        if category and product.get("category") != category:
            continue
        haystack = " ".join(
            [product.get("name", ""), product.get("description", ""), " ".join(product.get("keywords", []))]
        ).casefold()
        score = sum(1 for w in words if w in haystack or w[:-3] in haystack and len(w) > 6)
        if score or not words or category:
            scored.append((-score, position, product))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [product for _, _, product in scored[:limit]]


class MockOnlyResolver:
    """Resolves every provider name to the offline mock: the default with no keys configured."""

    def resolve(self, provider: str, credential: str | None, tenant_id: str) -> LLMProvider:
        return _mock()


@dataclass
class Services:
    """Everything a node may call. Replace fields to plug in storage, real providers, etc."""

    catalogue: ProductCatalog = field(default_factory=MemoryProductCatalog)
    conversations: ConversationStore = field(default_factory=MemoryConversationStore)
    providers: ProviderResolver = field(default_factory=MockOnlyResolver)
    http_allow_hosts: tuple[str, ...] = ()  # hosts http_request may reach despite SSRF guards
    notices: list[str] = field(default_factory=list)  # e.g. "no ANTHROPIC_API_KEY: using mock"


@cache
def _mock() -> LLMProvider:
    from .providers.mock import MOCK  # imported on first use: the providers package is heavier

    return MOCK
