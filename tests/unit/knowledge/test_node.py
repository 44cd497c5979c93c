"""The knowledge_retrieval node in a real engine: the example flow offline with citations, the
cache (tenant in the key, the base's tag invalidated after a document change), validation."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from runtime import Engine, load_flow
from runtime.cache import CacheEvents, build_cache
from runtime.data import EXAMPLES_DIR
from runtime.flow.validate import validate_flow
from runtime.knowledge.memory import MemoryKnowledge
from runtime.knowledge.port import cache_tag
from runtime.services import Services
from runtime.settings import AkisSettings

QUICK = {"delay_ms": 0, "tokens_per_second": 0}


def example(**changes: Any) -> dict[str, Any]:
    document = json.loads((EXAMPLES_DIR / "support_assistant.json").read_text(encoding="utf-8"))
    answer = next(n for n in document["nodes"] if n["type"] == "ai_response")
    answer["config"]["provider_options"] = dict(QUICK)
    retrieval = next(n for n in document["nodes"] if n["type"] == "knowledge_retrieval")
    retrieval["config"].update(changes)
    return document


async def test_the_example_flow_answers_offline_with_numbered_citations() -> None:
    result = await Engine().run(load_flow(example()), {"user_message": "Is there a restocking fee on returns?",
                                                       "tenant_id": 2})
    assert result.status == "succeeded", result.error
    answer, citations = result.output["answer"], result.output["citations"]
    assert citations[0]["n"] == 1 and citations[0]["document"] == "returns.html"
    assert "restocking fee of 10%" in citations[0]["text"]
    assert "restocking fee of 10% applies" in answer and "[1]" in answer
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1)) and len(citations) <= 3


async def test_the_prompt_lists_the_sources_numbered_and_asks_for_citations() -> None:
    seen: list[Any] = []

    class Recording:
        name = "mock"

        async def stream(self, request: Any) -> Any:
            seen.append(request)
            yield "See [1]."

    class Resolver:
        def resolve(self, provider: str, credential: str | None, tenant_id: str) -> Any:
            return Recording()

    engine = Engine(services=Services(providers=Resolver()))
    result = await engine.run(load_flow(example()), {"user_message": "how long is the warranty", "tenant_id": 2})
    assert result.output["answer"] == "See [1]."
    prompt = seen[0].messages[-1]["content"]
    assert prompt.startswith("how long is the warranty\n\nSources:\n[1] (warranty.md, part 1) # Warranty")
    assert "cite its source by number in square brackets" in seen[0].system


async def test_retrieval_is_cached_per_tenant_and_a_document_change_invalidates_its_base() -> None:
    cache = build_cache(AkisSettings(cache_tiers="memory", redis_url="", memcached="", cache_prefix=""))
    knowledge = MemoryKnowledge(examples=False)
    await knowledge.add("2", "faq", "delivery.md", b"Delivery takes five working days.")
    await knowledge.add("3", "faq", "delivery.md", b"Delivery takes one working day.")
    engine = Engine(services=Services(knowledge=knowledge), cache=cache)
    flow = load_flow(example(knowledge_bases=["faq"]))

    async def ask(tenant: str) -> tuple[str, str]:
        result = await engine.run(flow, {"user_message": "How long does delivery take?", "tenant_id": tenant})
        assert result.status == "succeeded", result.error
        return result.nodes["node_2"].cache, result.output["citations"][0]["text"]

    assert await ask("2") == ("miss", "Delivery takes five working days.")
    assert await ask("2") == ("hit", "Delivery takes five working days.")
    assert await ask("3") == ("miss", "Delivery takes one working day.")  # the tenant is in the key
    await knowledge.add("2", "faq", "delivery.md", b"Delivery takes two working days.")
    assert await cache.invalidate("2", [cache_tag("faq")])  # what the knowledge service does on a change
    assert await ask("2") == ("miss", "Delivery takes two working days.")
    assert await ask("3") == ("hit", "Delivery takes one working day.")  # another tenant's entry stays
    assert await CacheEvents(cache).emit("3", "knowledge.updated") == ["knowledge"]
    await knowledge.add("3", "faq", "delivery.md", b"Delivery takes three working days.")
    assert await ask("3") == ("miss", "Delivery takes three working days.")
    await cache.close()


def test_validation_refuses_templated_or_missing_bases_and_knows_the_outputs() -> None:
    base = example()
    templated = copy.deepcopy(base)
    templated["nodes"][1]["config"]["knowledge_bases"] = ["{{ kb }}"]
    problems = validate_flow(load_flow(templated))
    assert any("name a knowledge base, not a template" in p.message and p.node_id == "node_2" for p in problems)
    empty = copy.deepcopy(base)
    empty["nodes"][1]["config"]["knowledge_bases"] = []
    assert any("name at least one knowledge base" in p.message for p in validate_flow(load_flow(empty)))
    racing = copy.deepcopy(base)
    racing["nodes"].append({"id": "node_9", "type": "knowledge_retrieval", "config": {"knowledge_bases": ["x"]}})
    racing["edges"].append({"source": "node_1", "target": "node_9"})
    assert any(p.code == "output_race" and p.field == "passages" for p in validate_flow(load_flow(racing)))
    assert validate_flow(load_flow(base)) == []


async def test_a_citations_value_that_is_not_passages_fails_the_node_by_field() -> None:
    document = example()
    document["nodes"][3]["config"]["citations"] = "{{ user_message }}"
    result = await Engine().run(load_flow(document), {"user_message": "hi", "tenant_id": 2})
    assert result.status == "failed"
    assert "citations" in (result.error or "")


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
async def test_a_mode_that_needs_embeddings_fails_with_the_reason(mode: str) -> None:
    result = await Engine().run(load_flow(example(mode=mode)), {"user_message": "warranty", "tenant_id": 2})
    assert result.status == "failed"
    assert f"{mode} search needs embeddings" in (result.error or "")
