"""The services a run may use, with in-process defaults so a fresh install needs no server."""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from importlib import resources
from itertools import islice
from typing import TYPE_CHECKING, Any

from .errors import NodeError
from .knowledge.memory import MemoryKnowledge
from .knowledge.port import KnowledgeBases
from .ports import ChatMessage, ConversationStore, FlowSource, LLMProvider, ProductCatalog, ProviderResolver
from .providers.mock import MOCK

if TYPE_CHECKING:
    from .engine.engine import Engine
    from .flow.model import FlowDocument
    from .net.addresses import Resolver


class MemoryConversationStore:
    """Conversations in memory: the default until storage is configured. Bounded, as a
    long-lived ``Engine()`` saves on every run:

    - each session keeps its last ``max_session_messages`` messages (default 200, the most
      ``conversation_history`` can ask for); older ones are dropped, and a later save of a
      dropped turn is skipped as already stored;
    - at most ``max_sessions`` sessions (default 10,000) and ``max_messages`` messages in all
      (default 100,000) are kept: past either, the least recently used session (saved to or
      read) is dropped whole.

    So the store never holds more than ``max_messages`` messages: about 17 MB at 100,000
    (~170 bytes each, measured with tracemalloc) plus their text. ``AKIS_MEMORY_CONVERSATION_SESSIONS``,
    ``AKIS_MEMORY_CONVERSATION_SESSION_MESSAGES`` and ``AKIS_MEMORY_CONVERSATION_MESSAGES`` set
    the limits (``runtime.wiring.build_services``). Storage's ``SqlConversationStore`` keeps every
    message.
    """

    def __init__(self, max_sessions: int = 10_000, max_session_messages: int = 200,
                 max_messages: int = 100_000) -> None:
        if min(max_sessions, max_session_messages) < 1 or max_messages < max_session_messages:
            raise ValueError("the limits must be positive, and max_messages at least max_session_messages")
        self.max_sessions, self.max_session_messages = max_sessions, max_session_messages
        self.max_messages = max_messages
        # (tenant, session) -> {seq: message}, each in seq order; least recently used session first
        self._sessions: OrderedDict[tuple[str, str], dict[int, ChatMessage]] = OrderedDict()
        self._floors: dict[tuple[str, str], int] = {}  # sessions that dropped messages: the lowest seq kept
        self._count = 0

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    @property
    def message_count(self) -> int:
        return self._count

    async def history(self, tenant_id: str, session_id: str, limit: int) -> list[ChatMessage]:
        key = (tenant_id, session_id)
        rows = self._sessions.get(key)
        if rows is None or limit <= 0:
            return []
        self._sessions.move_to_end(key)
        if limit >= len(rows):
            return list(rows.values())
        last = list(islice(reversed(rows.values()), limit))
        last.reverse()
        return last

    async def save(self, tenant_id: str, session_id: str, messages: list[ChatMessage]) -> int:
        key = (tenant_id, session_id)
        sessions = self._sessions
        found = sessions.get(key)
        saved_runs: set[tuple[str | None, str]] | tuple[()]
        if found is None:
            rows, saved_runs = {}, ()
        else:
            rows = found
            sessions.move_to_end(key)
            saved_runs = {(m.run_id, m.role) for m in rows.values() if m.run_id}
        floor = self._floors.get(key, 0) if self._floors else 0
        added = 0
        unordered = False
        for message in messages:
            seq = message.seq
            if seq in rows or seq < floor or (message.run_id, message.role) in saved_runs:
                continue
            if rows and seq < next(reversed(rows)):
                unordered = True
            rows[seq] = message
            added += 1
        if not added:
            return 0
        if unordered:
            rows = dict(sorted(rows.items()))
            sessions[key] = rows
        elif found is None:
            sessions[key] = rows
        self._count += added
        if len(rows) > self.max_session_messages:
            self._trim(key, rows)
        if len(sessions) > self.max_sessions or self._count > self.max_messages:
            self._evict()
        return added

    async def next_seq(self, tenant_id: str, session_id: str) -> int:
        key = (tenant_id, session_id)
        rows = self._sessions.get(key)
        if rows:
            return next(reversed(rows)) + 1
        return self._floors.get(key, 0) if self._floors else 0

    def _trim(self, key: tuple[str, str], rows: dict[int, ChatMessage]) -> None:
        """Drop a session's oldest messages down to ``max_session_messages``."""
        excess = len(rows) - self.max_session_messages
        oldest = list(islice(rows, excess))
        for seq in oldest:
            del rows[seq]
        self._floors[key] = oldest[-1] + 1
        self._count -= excess

    def _evict(self) -> None:
        """Drop least recently used sessions until both overall limits hold."""
        sessions, floors = self._sessions, self._floors
        while len(sessions) > self.max_sessions or self._count > self.max_messages:
            key, rows = sessions.popitem(last=False)
            self._count -= len(rows)
            if floors:
                floors.pop(key, None)


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
        score = sum(1 for w in words if w in haystack or (w[:-3] in haystack and len(w) > 6))
        if score or not words or category:
            scored.append((-score, position, product))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [product for _, _, product in scored[:limit]]


class MemoryFlowSource:
    """Flows other flows may call (sub-flow, iterate, flow tools), per tenant, in memory: the
    default without storage (the CLI, tests). ``add`` a document; its versions count from 1."""

    def __init__(self) -> None:
        self._flows: dict[tuple[str, str], list[FlowDocument]] = {}

    def add(self, tenant_id: str, document: FlowDocument | dict[str, Any]) -> int:
        from .flow.loader import load_flow  # the flow package imports the engine's templating

        loaded = load_flow(document)
        versions = self._flows.setdefault((str(tenant_id), str(loaded.flow_id)), [])
        versions.append(loaded)
        return len(versions)

    async def load(self, tenant_id: str, flow_id: str, version: int | None = None) -> FlowDocument:
        versions = self._flows.get((str(tenant_id), flow_id))
        if not versions:
            raise NodeError(f"flow {flow_id!r} does not exist for this tenant")
        if version is None:
            return versions[-1]
        if not 1 <= version <= len(versions):
            raise NodeError(f"flow {flow_id!r} has no version {version}")
        return versions[version - 1]


class MockOnlyResolver:
    """Resolves every provider name to the offline mock: the default with no keys configured."""

    def resolve(self, provider: str, credential: str | None, tenant_id: str) -> LLMProvider:
        return MOCK


@dataclass
class Services:
    """Everything a node may call. Replace fields to plug in storage, real providers, etc."""

    catalogue: ProductCatalog = field(default_factory=MemoryProductCatalog)
    conversations: ConversationStore = field(default_factory=MemoryConversationStore)
    providers: ProviderResolver = field(default_factory=MockOnlyResolver)
    knowledge: KnowledgeBases = field(default_factory=MemoryKnowledge)  # storage's SqlKnowledge in the app
    http_allow_hosts: tuple[str, ...] = ()  # hosts http_request may reach despite SSRF guards
    http_resolver: Resolver | None = None  # host -> addresses for http_request; None: the system's
    notices: list[str] = field(default_factory=list)  # e.g. "no ANTHROPIC_API_KEY: using mock"
    flows: FlowSource = field(default_factory=MemoryFlowSource)  # other flows of the tenant (sub-flows)
    engine: Engine | None = None  # set by the first Engine made with these services: runs inner flows
