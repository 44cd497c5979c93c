"""Provider notices only for the providers a flow uses (issue 18, item 6)."""
from __future__ import annotations

import itertools
from typing import Any

from runtime import Engine, Services, load_flow
from runtime.providers import EnvCredentials, EnvProviderResolver
from runtime.providers.notices import flow_providers, used_notices
from runtime.settings import AkisSettings

ANTHROPIC = "no ANTHROPIC_API_KEY: using the offline mock provider instead of anthropic"
OPENAI = "no OPENAI_API_KEY: using the offline mock provider instead of openai"


def flow(*providers: str, **extra_node: Any) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "in", "type": "user_input"}]
    for i, provider in enumerate(providers):
        nodes.append({"id": f"ai{i}", "type": "ai_response",
                      "config": {"provider": provider, "provider_options": {"delay_ms": 0}}})
    if extra_node:
        nodes.append({"id": "x", **extra_node})
    nodes.append({"id": "out", "type": "output"})
    ids = [n["id"] for n in nodes]
    return {"akis": 1, "flow_id": "f", "nodes": nodes,
            "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(ids)]}


def keyless_engine() -> Engine:
    settings = AkisSettings(_env_file=None)  # type: ignore[call-arg]  # no .env: no keys at all
    services = Services()
    services.providers = EnvProviderResolver(settings, EnvCredentials(settings, {}), notices=services.notices)
    return Engine(services=services)


def test_the_providers_a_flow_names():
    assert flow_providers(load_flow(flow("openai"))) == {"openai"}
    assert flow_providers(load_flow(flow("anthropic", "mock"))) == {"anthropic", "mock"}
    assert flow_providers(load_flow(flow("{{ which }}"))) is None  # known only at run time
    sub = flow("openai", type="subflow", config={"flow_id": "other"})
    assert flow_providers(load_flow(sub)) is None  # the other flow may use any provider


def test_only_the_notices_of_used_providers_are_kept():
    notices = [ANTHROPIC, OPENAI, "some other note"]
    assert used_notices(notices, frozenset({"openai"})) == (OPENAI, "some other note")
    assert used_notices(notices, frozenset({"mock"})) == ("some other note",)
    assert used_notices(notices, None) == tuple(notices)


async def test_an_openai_flow_does_not_repeat_another_flows_anthropic_notice():
    engine = keyless_engine()
    first = await engine.run(flow("anthropic"), {"user_message": "hi"})
    assert first.notices == (ANTHROPIC,)
    second = await engine.run(flow("openai"), {"user_message": "hi"})
    assert second.status == "succeeded" and second.notices == (OPENAI,)
    third = await engine.run(flow("mock"), {"user_message": "hi"})
    assert third.notices == ()
    both = await engine.run(flow("anthropic", "openai"), {"user_message": "hi"})
    assert both.notices == (ANTHROPIC, OPENAI)
