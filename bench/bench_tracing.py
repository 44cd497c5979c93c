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
"""
from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import emit, machine, per_run, round_ratio, rounds_from_args, table
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
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


class Exported:
    """Counts what the exporter sent (and failed to send): the receiver got every span."""

    def __init__(self) -> None:
        self.spans = 0
        self.failed = 0


def traced_provider(endpoint: str, counts: Exported, queue: int, ratio: float = 1.0) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    class Counting(OTLPSpanExporter):
        def export(self, spans: Any) -> Any:
            result = super().export(spans)
            if result == SpanExportResult.SUCCESS:
                counts.spans += len(spans)
            else:
                counts.failed += len(spans)
            return result

    # the default sampler (parent-based, always on), or a ratio of the traces
    provider = TracerProvider() if ratio >= 1 else TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(BatchSpanProcessor(Counting(endpoint=endpoint), max_queue_size=queue,
                                                   max_export_batch_size=512, schedule_delay_millis=100))
    return provider


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
    counts, tenth = Exported(), Exported()
    providers = {"on": traced_provider(endpoint, counts, queue=runs * 20),
                 "sampled": traced_provider(endpoint, tenth, queue=runs * 20, ratio=0.1),
                 "unsampled": traced_provider(endpoint, tenth, queue=runs * 20, ratio=0.0)}
    await engine_round(engine, flow, 10, "warmup")
    for provider in providers.values():
        tracing.enable(provider)
        await engine_round(engine, flow, 10, "warmup-t")
        provider.force_flush()
        tracing.disable()
    walls: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    cpus: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    before = counts.spans
    for r in range(rounds):
        for k in range(len(CONTENDERS)):
            who = CONTENDERS[(r + k) % len(CONTENDERS)]
            gc.collect()
            provider = providers.get(who)
            if provider is not None:
                tracing.enable(provider)
            cpu0 = time.process_time()
            walls[who].append(await engine_round(engine, flow, runs, f"{who}{r}"))
            if provider is not None:
                provider.force_flush()
                tracing.disable()
            cpus[who].append(time.process_time() - cpu0)
    for provider in providers.values():
        provider.shutdown()
    out: dict[str, Any] = {"spans_exported": counts.spans - before, "spans_failed": counts.failed,
                           "spans_per_run": (counts.spans - before) / (runs * rounds)}
    out.update(per_run(walls, cpus, runs, CONTENDERS))
    out["spans_failed"] += tenth.failed
    for who in CONTENDERS[1:]:
        out[f"{who}_vs_off"] = round_ratio(walls[who], walls["off"])
        out[f"{who}_vs_off_cpu"] = round_ratio(cpus[who], cpus["off"])
    return out


def main() -> None:
    args = rounds_from_args(__doc__.splitlines()[0])
    runs, rounds = args.runs, args.rounds
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        endpoint = f"http://127.0.0.1:{receiver.stdout.readline().strip()}/v1/traces"
        r = asyncio.run(measure(runs, rounds, args.scale, endpoint))
    finally:
        receiver.terminate()
        receiver.wait(10)
    rows = [[who, r[f"{who}_runs_per_s"], r[f"{who}_cpu_us_per_run"]] for who in CONTENDERS]
    print(table(["tracing", "runs/s", "CPU us/run"], rows,
                f"{runs} concurrent seed runs at scale 1/{args.scale:g}, median of {rounds} rounds"))
    met = r["on_vs_off"] >= TARGET_RATIO
    print(f"\nthroughput with tracing / without {r['on_vs_off']:.3f} (by CPU time {r['on_vs_off_cpu']:.3f}; "
          f"target >= {TARGET_RATIO:g}): {'met' if met else 'MISSED'}; {r['spans_exported']} spans exported "
          f"({r['spans_per_run']:.1f} a run), {r['spans_failed']} failed; 10% sampled / off {r['sampled_vs_off']:.3f} "
          f"(by CPU time {r['sampled_vs_off_cpu']:.3f}); none sampled / off {r['unsampled_vs_off']:.3f} "
          f"(by CPU time {r['unsampled_vs_off_cpu']:.3f})")
    emit({"benchmark": "tracing", "tiny": args.tiny, "runs": runs, "rounds": rounds, "scale": args.scale,
          **r, "target_met": met, **machine()})


if __name__ == "__main__":
    main()
