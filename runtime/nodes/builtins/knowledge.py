"""knowledge_retrieval: the passages of the tenant's knowledge bases that best match a query.

Cacheable: the tenant is in every key, and each entry carries the tag ``knowledge:<base>`` of
every base it read, which a document change in that base invalidates, and the tag ``knowledge``
that the event ``knowledge.updated`` clears for the whole tenant (docs/knowledge.md).
The search itself is the ``knowledge`` port's plain async function, which an agent's tool can
call as well.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from ...engine.templating import is_template
from ...knowledge.port import ALL_KNOWLEDGE, KB_ID_PATTERN, SearchMode, cache_tag
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type


class KnowledgeRetrievalConfig(NodeConfig):
    query: str = Field("{{ user_message }}", description="What to look for.", json_schema_extra={"format": "template"})
    knowledge_bases: list[str] = Field(
        default_factory=list, description="Ids of the knowledge bases to search, as listed under Knowledge "
        "(/knowledge) or by `akis kb list`; names, not templates.",
        max_length=20, json_schema_extra={"format": "knowledge-bases"},
    )
    top_k: int = Field(5, ge=1, le=50, description="How many passages at most.")
    min_score: float = Field(0.0, ge=0, description="Drop passages scoring below this (the mode's own score).")
    mode: SearchMode = Field("auto", description="auto: hybrid when the bases have embeddings, else lexical (BM25).")

    @field_validator("knowledge_bases")
    @classmethod
    def _named(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one knowledge base")
        for item in value:
            if is_template(item):
                raise ValueError(f"{item!r}: name a knowledge base, not a template (its cache tag must be known)")
            if not re.fullmatch(KB_ID_PATTERN, item):
                raise ValueError(f"{item!r} is not a knowledge base id (letters, digits, '_.-', at most 54)")
        return value


@node_type
class KnowledgeRetrieval(NodeType):
    type_id = "knowledge_retrieval"
    title = "Knowledge retrieval"
    description = "Finds the passages of your knowledge bases that answer the query (BM25, embeddings or both)."
    category = "data"
    icon = "menu_book"
    Config = KnowledgeRetrievalConfig
    outputs = ("passages",)
    cacheable = True

    def cache_tags(self, config: dict[str, Any]) -> tuple[str, ...]:
        bases = config.get("knowledge_bases")
        if not isinstance(bases, list):
            return ()
        named = (cache_tag(b) for b in bases if isinstance(b, str) and not is_template(b))
        return ALL_KNOWLEDGE, *dict.fromkeys(named)

    async def run(self, config: KnowledgeRetrievalConfig, ctx: NodeContext) -> dict[str, Any]:
        passages = await ctx.services.knowledge.search(
            ctx.tenant_id, config.knowledge_bases, config.query, config.top_k, config.min_score, config.mode)
        return {"passages": [p.to_dict() for p in passages]}
