"""Providers as the engine uses them: ai_response and category_detection in a flow, keys from
(test) environment credentials, the SDKs pointed at the fake server."""
from __future__ import annotations

from typing import Any

import pytest

from runtime import Engine, Services
from runtime.engine.metrics import MemoryMetricsSink
from runtime.events import MESSAGE_CHUNK, NODE_FAILED, Event
from runtime.providers import EnvCredentials, EnvProviderResolver
from runtime.settings import AkisSettings
from tests.fakes.llm_server import FakeLLMServer, drop, normal, status, utf8_split

PROVIDERS = ["anthropic", "openai", "openai_compatible"]


def flow(provider: str, model: str = "model-x", config: dict[str, Any] | None = None, **node: Any) -> dict[str, Any]:
    return {
        "akis": 1,
        "flow_id": "provider-flow",
        "nodes": [
            {"id": "in", "type": "user_input"},
            {
                "id": "ai",
                "type": "ai_response",
                "config": {"provider": provider, "model": model, **(config or {})},
                **node,
            },
            {"id": "out", "type": "output"},
        ],
        "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}],
    }


def engine_for(server: FakeLLMServer | None, metrics: MemoryMetricsSink | None = None) -> Engine:
    env: dict[str, str] = {}
    if server is not None:
        env = {
            "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": server.anthropic_url,
            "OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": server.openai_url,
            "OPENAI_COMPATIBLE_BASE_URL": server.openai_url,
        }
    settings = AkisSettings(_env_file=None)  # type: ignore[call-arg]
    services = Services()
    services.providers = EnvProviderResolver(settings, EnvCredentials(settings, env), notices=services.notices)
    return Engine(services=services, metrics=metrics or MemoryMetricsSink())


async def run_events(engine: Engine, document: dict[str, Any], message: str = "Transpalet arıyorum") -> list[Event]:
    inputs = {"user_message": message, "tenant_id": "2", "session_id": "abc123"}
    return [event async for event in engine.stream(document, inputs, include_background=False)]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_ai_response_streams_through_the_sdk_and_records_usage(provider: str, llm_server: FakeLLMServer) -> None:
    chunks = ["Elektrikli ", "transpalet ", "öneririm: ", "TP-2500 👍"]
    llm_server.script(utf8_split(chunks, usage=(120, 0)))
    metrics = MemoryMetricsSink()
    events = await run_events(engine_for(llm_server, metrics), flow(provider))
    streamed = [e for e in events if e.event == MESSAGE_CHUNK]
    finished = events[-1]
    assert finished.event == "run.finished" and finished.status == "succeeded", finished.error
    assert [e.seq for e in streamed] == list(range(len(chunks)))
    answer = "".join(e.text or "" for e in streamed)
    assert answer.encode() == "".join(chunks).encode() == finished.output["answer"].encode()  # type: ignore[index]
    assert finished.usage == {"tokens_in": 120, "tokens_out": len(chunks)}
    row = next(r for r in metrics.rows if r.node_id == "ai")
    assert (row.tokens_in, row.tokens_out, row.status) == (120, len(chunks), "succeeded")


async def test_without_keys_the_flow_runs_on_the_mock_and_says_so() -> None:
    engine = engine_for(None)
    result = await engine.run(
        flow("anthropic", config={"provider_options": {"delay_ms": 0}}), {"user_message": "hi", "session_id": "s1"}
    )
    assert result.status == "succeeded" and result.answer
    assert result.notices == ("no ANTHROPIC_API_KEY: using the offline mock provider instead of anthropic",)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_rate_limit_is_retried_by_the_node_policy(provider: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(status(429, retry_after=0), normal(["fine"]))
    document = flow(provider, retry={"attempts": 2, "backoff_s": 0.01})
    events = await run_events(engine_for(llm_server), document)
    assert events[-1].status == "succeeded", events[-1].error
    assert events[-1].output == {"answer": "fine"}
    assert len(llm_server.requests) == 2


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_dropped_stream_fails_the_node_and_keeps_the_partial_text(
    provider: str, llm_server: FakeLLMServer
) -> None:
    llm_server.script(drop(2, ["Half ", "an ", "answer"]), normal(["never used"]))
    document = flow(provider, retry={"attempts": 3, "backoff_s": 0.01})
    events = await run_events(engine_for(llm_server), document)
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert failed.node_id == "ai" and "dropped mid-answer" in (failed.error or "")
    assert failed.extra == {"partial": True, "partial_text": "Half an "}
    assert events[-1].status == "failed"
    assert len(llm_server.requests) == 1  # text was shown: no retry, so nothing is said twice


async def test_unknown_model_fails_with_a_clear_message() -> None:
    async with FakeLLMServer(known_models={"model-x"}) as server:
        events = await run_events(engine_for(server), flow("openai", model="gpt-nope"))
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert "model 'gpt-nope' was not found" in (failed.error or "")
    assert "Traceback" not in (failed.error or "")


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_category_detection_llm_mode_uses_the_same_providers(provider: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(normal(["Fork", "lift"]))
    document = {
        "akis": 1,
        "flow_id": "categorise",
        "nodes": [
            {"id": "in", "type": "user_input"},
            {
                "id": "cat",
                "type": "category_detection",
                "config": {"mode": "llm", "provider": provider, "model": "model-x"},
            },
            {"id": "out", "type": "output", "config": {"fields": {"category": "{{ category }}"}}},
        ],
        "edges": [{"source": "in", "target": "cat"}, {"source": "cat", "target": "out"}],
    }
    events = await run_events(engine_for(llm_server), document, message="I need something for high racks")
    assert events[-1].status == "succeeded", events[-1].error
    assert events[-1].output == {"category": "forklift"}
    sent = llm_server.requests[-1].body
    assert "forklift" in str(sent.get("system", "")) + str(sent["messages"])
