"""Engine overhead per node: Akis vs a minimal asyncio scheduler vs LangGraph, same graphs.

    python bench/bench_engine.py [--tiny] [--reps N]

Graphs of no-op nodes (a chain, a fan-out 1 -> n -> 1, a lattice where each node waits for
the whole previous layer). Akis runs with events on (a listener, and separately a ``stream``
consumer) and metrics on (the default in-memory sink). The minimal scheduler is one task per
node, started when its last parent finishes: the floor any asyncio engine pays. Contenders
are interleaved in a rotating order and each run is timed alone; the median is reported.
"""
from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import emit, machine, median, rotated, table
from _graphs import Graph, NoopNode, as_flow, chain, fan_out, lattice

from runtime import Engine, load_flow
from runtime.nodes.registry import default_registry

TARGET_RATIO = 3.0
Runner = Callable[[], Awaitable[Any]]


# -- the minimal scheduler -------------------------------------------------------------------
async def noop() -> dict[str, Any]:
    return {}


async def run_minimal(graph: Graph, succs: list[list[int]]) -> None:
    """One task per node, started when its last parent finishes; nothing else."""
    loop = asyncio.get_running_loop()
    remaining = [len(p) for p in graph.preds]
    done = loop.create_future()
    finished = 0
    tasks: set[asyncio.Task[None]] = set()

    async def node(i: int) -> None:
        nonlocal finished
        await noop()
        finished += 1
        for s in succs[i]:
            remaining[s] -= 1
            if remaining[s] == 0:
                start(s)
        if finished == graph.size:
            done.set_result(None)

    def start(i: int) -> None:
        task = loop.create_task(node(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    start(0)
    await done


# -- LangGraph ---------------------------------------------------------------------------------
def langgraph_runner(graph: Graph) -> Runner | None:
    """The graph as a LangGraph StateGraph of async no-op nodes (None if LangGraph is missing)."""
    try:
        from typing import TypedDict

        from langgraph.graph import END, START, StateGraph
    except ImportError:
        return None

    class State(TypedDict, total=False):
        x: int

    async def lg_noop(state: State) -> dict[str, Any]:
        return {}

    builder = StateGraph(State)
    for i in range(graph.size):
        builder.add_node(graph.node_name(i), lg_noop)
    builder.add_edge(START, graph.node_name(0))
    for i, parents in enumerate(graph.preds):
        if len(parents) == 1:
            builder.add_edge(graph.node_name(parents[0]), graph.node_name(i))
        elif parents:  # a join: wait for every parent
            builder.add_edge([graph.node_name(p) for p in parents], graph.node_name(i))
    builder.add_edge(graph.node_name(graph.size - 1), END)
    compiled = builder.compile()
    config = {"recursion_limit": graph.size + 10}
    return lambda: compiled.ainvoke({"x": 0}, config)


# -- Akis --------------------------------------------------------------------------------------
def akis_runners(graph: Graph, engine: Engine) -> tuple[Runner, Runner, list[int]]:
    flow = load_flow(as_flow(graph))
    events = [0]

    def listener(event: Any) -> None:
        events[0] += 1

    async def with_listener() -> None:
        result = await engine.run(flow, {}, on_event=listener)
        assert result.status == "succeeded", result.error

    async def with_stream() -> None:
        async for _ in engine.stream(flow, {}, include_background=False):
            events[0] += 1

    return with_listener, with_stream, events


# -- the benchmark -------------------------------------------------------------------------------
async def measure(graph: Graph, reps: int, warmup: int) -> dict[str, Any]:
    registry = default_registry(entry_point_group=None)
    registry.add(NoopNode)
    engine = Engine(registry=registry)
    succs = graph.succs
    listener_run, stream_run, events = akis_runners(graph, engine)
    contenders: dict[str, Runner] = {
        "minimal": lambda: run_minimal(graph, succs),
        "akis": listener_run,
        "akis_stream": stream_run,
    }
    lg = langgraph_runner(graph)
    if lg is not None:
        contenders["langgraph"] = lg
    for run in contenders.values():
        for _ in range(warmup):
            await run()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for rep in range(reps):
        for name in rotated(names, rep):
            t0 = time.perf_counter()
            await contenders[name]()
            samples[name].append(time.perf_counter() - t0)
    rows = len(engine.metrics.rows)  # type: ignore[attr-defined]
    assert events[0] > 0 and rows > 0, "events and metrics must be on"
    out: dict[str, Any] = {"nodes": graph.size, "events": events[0], "metric_rows": rows}
    for name, values in samples.items():
        out[f"{name}_run_ms"] = median(values) * 1000
        out[f"{name}_us_per_node"] = median(values) / graph.size * 1e6
    base = out["minimal_us_per_node"]
    out["akis_vs_minimal"] = out["akis_us_per_node"] / base
    out["akis_stream_vs_minimal"] = out["akis_stream_us_per_node"] / base
    if lg is not None:
        out["langgraph_vs_minimal"] = out["langgraph_us_per_node"] / base
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small graphs, few repetitions (smoke test)")
    parser.add_argument("--reps", type=int, default=None, help="timed runs per contender and graph")
    args = parser.parse_args()
    if args.tiny:
        graphs, reps, warmup = [chain(8), fan_out(8), lattice(3, 3)], args.reps or 5, 2
    else:
        graphs, reps, warmup = [chain(100), fan_out(100), lattice(10, 10)], args.reps or 300, 20
    results = {g.name: asyncio.run(measure(g, reps, warmup)) for g in graphs}
    have_lg = all("langgraph_us_per_node" in r for r in results.values())

    headers = ["graph", "nodes", "minimal us/node", "akis us/node", "akis stream us/node", "akis/minimal",
               "stream/minimal"] + (["langgraph us/node", "langgraph/minimal"] if have_lg else [])
    rows = []
    for name, r in results.items():
        row = [name, r["nodes"], r["minimal_us_per_node"], r["akis_us_per_node"], r["akis_stream_us_per_node"],
               r["akis_vs_minimal"], r["akis_stream_vs_minimal"]]
        if have_lg:
            row += [r["langgraph_us_per_node"], r["langgraph_vs_minimal"]]
        rows.append(row)
    print(table(headers, rows, f"Engine overhead, median of {reps} runs each (events and metrics on)"))
    worst = max(r["akis_vs_minimal"] for r in results.values())
    print(f"\nworst akis/minimal ratio {worst:.2f} (target <= {TARGET_RATIO:g}): "
          f"{'met' if worst <= TARGET_RATIO else 'MISSED'}")
    if not have_lg:
        print("note: LangGraph is not installed (pip install -e '.[bench]'); its columns are left out")
    emit({"benchmark": "engine", "tiny": args.tiny, "reps": reps, "graphs": results,
          "worst_akis_vs_minimal": worst, "target_ratio": TARGET_RATIO, "target_met": worst <= TARGET_RATIO,
          "langgraph": have_lg, **machine()})


if __name__ == "__main__":
    main()
