"""What OpenTelemetry traces cost a run: the throughput benchmark's seed runs, tracing off and on.

    python bench/bench_tracing.py [--tiny] [--runs N] [--rounds R] [--scale S]

The workload is bench_throughput.py's ``akis`` contender (many concurrent seed runs at
times/100, one event loop, a listener per run). ``off`` is the engine as it runs when no
``OTEL_*`` variable is set; ``on`` is tracing as the app wires it (SDK tracer provider, every
trace sampled, batch span processor, OTLP/HTTP protobuf exporter) sending to a receiver in a
process of its own on loopback, which accepts and drops the batches. The batch queue holds a
whole round, so no span is dropped, and each ``on`` round ends with a flush that is counted in
its CPU time (the exporter's thread is this process's CPU too). Each round runs both in a
rotating order; ratios are taken within a round, medians over rounds (target: ``on`` within
15% of ``off``). ``off`` against the code before tracing is measured on bench_throughput.py's
round itself: callgrind's instructions per run on both trees (docs/observability.md).

The collector's young/middle/full collections per round are reported. The collector runs with
the thresholds ``akis serve`` sets (bench/_common.py, runtime/gc_policy.py): 7-9 young
collections a round. With Python's own (``BENCH_GC_THRESHOLDS=700,10,10``) ``off`` makes 10
middle collections a round, one short of the interpreter's trigger for a full one, so any object
a traced run keeps alive tips every traced round into a full collection of everything in flight;
``BENCH_GC_THRESHOLD2=1000`` raises that trigger for every contender alike.
"""
from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import emit, machine, median, per_run, round_ratio, rounds_from_args, table
from _seedflow import PARALLEL, scaled_document

from runtime import Engine, FlowDocument, load_flow, tracing
from runtime.events import Event
from runtime.services import MemoryConversationStore

MESSAGE = "I need a pallet jack for a small warehouse"
TARGET_RATIO = 0.85
# sampled: OTEL_TRACES_SAMPLER=parentbased_traceidratio with arg 0.1; unsampled: arg 0 (tracing on, no trace kept)
CONTENDERS = ("off", "on", "sampled", "unsampled")
RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a collector does
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def traced(endpoint: str, queue: int, ratio: float = 1.0) -> tracing.Wiring:
    """Tracing as the app wires it (tracing.wire: the SDK provider, its batch processor and
    the engine's span records through the OTLP/HTTP exporter's client), sending to ``endpoint``."""
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    # the default sampler (parent-based, always on), or a ratio of the traces
    sampler = None if ratio >= 1 else ParentBased(TraceIdRatioBased(ratio))
    return tracing.wire("akis-bench", tracing.otlp_exporter(endpoint), sampler, queue=queue)


async def engine_round(engine: Engine, flow: FlowDocument, runs: int, tag: str) -> float:
    """Wall seconds until the last of ``runs`` concurrent runs finished."""
    events = [0]
    engine.services.conversations = MemoryConversationStore()

    def count(_: Event) -> None:
        events[0] += 1

    async def one(i: int) -> Any:
        result = await engine.run(flow, {"user_message": MESSAGE, "session_id": f"{tag}-{i}"}, on_event=count)
        if result.status != "succeeded":
            raise RuntimeError(f"a seed run failed: {result.error}")
        return result

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(runs)))
    wall = time.perf_counter() - t0
    await asyncio.gather(*[future for result in results for future in result.background])
    assert events[0] > 0
    return wall


async def measure(runs: int, rounds: int, scale: float, endpoint: str) -> dict[str, Any]:
    flow = load_flow(scaled_document(PARALLEL, scale))
    engine = Engine()
    wirings = {"on": traced(endpoint, queue=runs * 20), "sampled": traced(endpoint, queue=runs * 20, ratio=0.1),
               "unsampled": traced(endpoint, queue=runs * 20, ratio=0.0)}
    await engine_round(engine, flow, 10, "warmup")
    for wiring in wirings.values():
        tracing.enable(wiring.provider, wiring.records)
        await engine_round(engine, flow, 10, "warmup-t")
        wiring.flush()
        tracing.disable()
    on = wirings["on"].records
    assert on is not None, "this OTLP exporter has no client to send the engine's spans through"
    before = on.sent
    walls: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    cpus: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    collections = [0, 0, 0]  # young, middle, full: a full one walks every run in flight
    gcs: dict[str, list[list[int]]] = {who: [] for who in CONTENDERS}

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections[info["generation"]] += 1

    gc.callbacks.append(count)
    for r in range(rounds):
        for k in range(len(CONTENDERS)):
            who = CONTENDERS[(r + k) % len(CONTENDERS)]
            gc.collect()
            collections[:] = [0, 0, 0]
            wiring = wirings.get(who)
            if wiring is not None:
                tracing.enable(wiring.provider, wiring.records)
            cpu0 = time.process_time()
            walls[who].append(await engine_round(engine, flow, runs, f"{who}{r}"))
            if wiring is not None:
                wiring.flush()
                tracing.disable()
            cpus[who].append(time.process_time() - cpu0)
            gcs[who].append(collections[:])
    gc.callbacks.remove(count)
    for wiring in wirings.values():
        wiring.shutdown()
    failed = sum(w.records.failed + w.records.dropped for w in wirings.values() if w.records is not None)
    out: dict[str, Any] = {"spans_exported": on.sent - before, "spans_failed": failed,
                           "spans_per_run": (on.sent - before) / (runs * rounds)}
    out.update(per_run(walls, cpus, runs, CONTENDERS))
    for who in CONTENDERS:
        out[f"{who}_collections"] = [median([float(g[k]) for g in gcs[who]]) for k in range(3)]
    for who in CONTENDERS[1:]:
        out[f"{who}_vs_off"] = round_ratio(walls[who], walls["off"])
        out[f"{who}_vs_off_cpu"] = round_ratio(cpus[who], cpus["off"])
    return out


def main() -> None:
    args = rounds_from_args(__doc__.splitlines()[0])
    runs, rounds = args.runs, args.rounds
    full_gc = os.environ.get("BENCH_GC_THRESHOLD2", "").strip()
    if full_gc:  # e.g. 1000: no full collection within a round, for every contender alike
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, int(full_gc))
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        endpoint = f"http://127.0.0.1:{receiver.stdout.readline().strip()}/v1/traces"
        r = asyncio.run(measure(runs, rounds, args.scale, endpoint))
    finally:
        receiver.terminate()
        receiver.wait(10)
    rows = [[who, r[f"{who}_runs_per_s"], r[f"{who}_cpu_us_per_run"],
             "/".join(f"{n:g}" for n in r[f"{who}_collections"])] for who in CONTENDERS]
    print(table(["tracing", "runs/s", "CPU us/run", "GC young/mid/full"], rows,
                f"{runs} concurrent seed runs at scale 1/{args.scale:g}, median of {rounds} rounds"))
    met = r["on_vs_off"] >= TARGET_RATIO
    print(f"\nthroughput with tracing / without {r['on_vs_off']:.3f} (by CPU time {r['on_vs_off_cpu']:.3f}; "
          f"target >= {TARGET_RATIO:g}): {'met' if met else 'MISSED'}; {r['spans_exported']} spans exported "
          f"({r['spans_per_run']:.1f} a run), {r['spans_failed']} failed; 10% sampled / off {r['sampled_vs_off']:.3f} "
          f"(by CPU time {r['sampled_vs_off_cpu']:.3f}); none sampled / off {r['unsampled_vs_off']:.3f} "
          f"(by CPU time {r['unsampled_vs_off_cpu']:.3f})")
    emit({"benchmark": "tracing", "tiny": args.tiny, "runs": runs, "rounds": rounds, "scale": args.scale,
          "gc_threshold": list(gc.get_threshold()),
          **r, "target_met": met, **machine()})


if __name__ == "__main__":
    main()
