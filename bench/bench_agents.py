"""What the issue-20 nodes cost the engine, as ratios measured side by side in one process.

1. A sub-flow call against the same work inline: ``in -> template -> out`` run directly, and
   ``in -> subflow(that flow) -> out``; the overhead of one call is the difference per run.
2. An iteration step against an inline node: ``iterate`` over K items of a one-template flow,
   and a chain of K template nodes; per item / per node.
3. An agent's overhead beyond the model's own time, against the fake LLM server (loopback, no
   delay): the agent node (2 model turns through the OpenAI SDK, one product_search call) and
   the same two SDK streams called directly in a loop with the same lookup in between.

Contenders alternate within each round (``rotated``); medians over rounds.
``python bench/bench_agents.py [--tiny] [--rounds N]``
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import time
from typing import Any

from _common import emit, machine, median, rotated, table

from runtime import Engine, Services, load_flow
from runtime.engine.metrics import MemoryMetricsSink
from runtime.ports import LLMRequest, ToolCall, ToolSpec
from runtime.providers import EnvCredentials, EnvProviderResolver
from runtime.providers.openai_provider import OpenAIProvider
from runtime.services import MemoryFlowSource
from runtime.settings import AkisSettings
from tests.fakes.llm_server import FakeLLMServer, normal, tool_calls

INPUTS = {"user_message": "transpalet", "tenant_id": "2"}


def chain(flow_id: str, *middle: dict[str, Any]) -> dict[str, Any]:
    nodes = [{"id": "in", "type": "user_input"}, *middle,
             {"id": "out", "type": "output", "config": {"fields": {"x": "{{ x | default('') }}"}}}]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"akis": 1, "flow_id": flow_id, "nodes": nodes, "edges": edges}


def template(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "template", "config": {"template": "{{ user_message }}!", "output_key": "x"}}


async def timed(engine: Engine, document: Any, runs: int) -> float:
    """Microseconds per run of ``runs`` runs one after another."""
    start = time.perf_counter()
    for _ in range(runs):
        result = await engine.run(document, INPUTS)
        assert result.status == "succeeded", result.error
    return (time.perf_counter() - start) / runs * 1e6


async def engine_part(runs: int, rounds: int, items: int) -> dict[str, float]:
    flows = MemoryFlowSource()
    flows.add("2", chain("inner", template("t")))
    engine = Engine(services=Services(flows=flows), metrics=MemoryMetricsSink())
    documents = {
        "inline": load_flow(chain("inline", template("t"))),
        "subflow": load_flow(chain("outer", {"id": "s", "type": "subflow",
                                              "config": {"flow_id": "inner", "stream": False}})),
        "chain": load_flow(chain("chain", *(template(f"t{i}") for i in range(items)))),
        "iterate": load_flow(chain("loop", {"id": "it", "type": "iterate", "config": {
            "flow_id": "inner", "items": list(range(items)), "concurrency": 1}})),
    }
    for document in documents.values():
        await timed(engine, document, 3)  # warm: plans compiled, code paths hot
    samples: dict[str, list[float]] = {name: [] for name in documents}
    for r in range(rounds):
        for name in rotated(list(documents), r):
            gc.collect()
            samples[name].append(await timed(engine, documents[name], runs))
    us = {name: median(values) for name, values in samples.items()}
    return {
        "inline_us_per_run": us["inline"], "subflow_us_per_run": us["subflow"],
        "subflow_call_overhead_us": us["subflow"] - us["inline"], "subflow_vs_inline": us["subflow"] / us["inline"],
        "chain_us_per_node": us["chain"] / items, "iterate_us_per_item": us["iterate"] / items,
        "iterate_step_vs_inline_node": us["iterate"] / us["chain"],
    }


SEARCH = ToolSpec("product_search", "Searches the catalogue.",
                  {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]})


async def agent_part(runs: int, rounds: int) -> dict[str, float]:
    server = await FakeLLMServer().start()
    try:
        settings = AkisSettings(_env_file=None)  # type: ignore[call-arg]  # no .env in a benchmark
        env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.openai_url}
        services = Services()
        services.providers = EnvProviderResolver(settings, EnvCredentials(settings, env), notices=services.notices)
        engine = Engine(services=services, metrics=MemoryMetricsSink())
        document = load_flow(chain("agent", {"id": "ag", "type": "agent", "config": {
            "provider": "openai", "model": "m", "prompt": "{{ user_message }}"}}))
        provider = OpenAIProvider("k", base_url=server.openai_url)

        def script() -> None:
            server.script(tool_calls(("product_search", {"query": "transpalet"})), normal(["TP-2500 ", "it is."]))

        async def agent_once() -> None:
            script()
            result = await engine.run(document, INPUTS)
            assert result.status == "succeeded", result.error

        async def direct_once() -> None:
            script()
            messages: list[dict[str, Any]] = [{"role": "user", "content": "transpalet"}]
            calls = [i async for i in provider.stream_tools(LLMRequest("m", messages, tools=[SEARCH]))
                     if isinstance(i, ToolCall)]
            found = await services.catalogue.search("2", "transpalet", None, 5)
            messages += [{"role": "assistant", "content": "", "tool_calls": calls},
                         {"role": "tool", "tool_call_id": calls[0].id, "content": str(found)}]
            [i async for i in provider.stream_tools(LLMRequest("m", messages, tools=[SEARCH]))]

        contenders = {"agent": agent_once, "direct": direct_once}
        for once in contenders.values():
            await once()
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for r in range(rounds):
            for name in rotated(list(contenders), r):
                gc.collect()
                start = time.perf_counter()
                for _ in range(runs):
                    await contenders[name]()
                samples[name].append((time.perf_counter() - start) / runs * 1e3)
        ms = {name: median(values) for name, values in samples.items()}
        await provider.aclose()
        await services.providers.aclose()  # type: ignore[attr-defined]  # EnvProviderResolver
        return {"agent_ms_per_run": ms["agent"], "direct_ms_per_run": ms["direct"],
                "agent_overhead_ms": ms["agent"] - ms["direct"], "agent_vs_direct": ms["agent"] / ms["direct"]}
    finally:
        await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a smoke-test size")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.tiny else 7)
    runs, items, agent_runs = (5, 5, 2) if args.tiny else (300, 20, 20)
    engine = await engine_part(runs, rounds, items)
    agent = await agent_part(agent_runs, rounds)
    print(table(["what", "value"], [
        ("inline flow, us per run", engine["inline_us_per_run"]),
        ("same flow as a sub-flow, us per run", engine["subflow_us_per_run"]),
        ("one sub-flow call, overhead us", engine["subflow_call_overhead_us"]),
        ("sub-flow / inline", engine["subflow_vs_inline"]),
        (f"inline template node, us (chain of {items})", engine["chain_us_per_node"]),
        (f"iteration step, us (iterate over {items})", engine["iterate_us_per_item"]),
        ("iteration step / inline node", engine["iterate_step_vs_inline_node"]),
        ("agent run (2 turns, 1 tool), ms", agent["agent_ms_per_run"]),
        ("same SDK calls and lookup directly, ms", agent["direct_ms_per_run"]),
        ("agent overhead beyond the model, ms", agent["agent_overhead_ms"]),
        ("agent / direct", agent["agent_vs_direct"]),
    ], title=f"bench_agents: {rounds} round(s)"))
    emit({"benchmark": "agents", "tiny": args.tiny, "rounds": rounds, "runs": runs, "items": items,
          "agent_runs": agent_runs, **engine, **agent, "machine": machine()})


if __name__ == "__main__":
    asyncio.run(main())
