"""Is the web process responsive with many streams in flight? ``GET /healthz`` latency while N
streamed runs are being relayed over SSE, and how late each relayed chunk reaches its client.

    python bench/bench_healthz.py [--tiny] [--streams N] [--stream-s S] [--queue [--redis URL]]

The app runs as a subprocess (fresh SQLite). A chat flow streams 40 chunks over about 10 s
(mock model, 4 tokens/s; ``--stream-s``: another length; long enough that all N are open at
once, the first still streaming when the last opens). N clients in this process each open ``POST /runs`` with
``Accept: text/event-stream`` on a plain socket (in waves of 100 every 0.2 s: all at once
overflow the listen backlog) and read until ``run.finished``; a client as light as can be, so
the load generator does not starve the app of the second core. Meanwhile a prober in a process
of its own (so its latency is the app's, not this process's loop) asks ``/healthz`` every 20 ms.

Reported: /healthz p50/p99/max against the idle app, in three windows: while the streams open
(N/100 waves of 100 new streams: 500 a second, a burst), with all N in flight (the last one
opened, none ended yet: the target's window), and from the last one opened to the end; how many
streams ended with ``run.finished``; the app's CPU per relayed chunk; and for every chunk the
time from the provider's yield to the client's read: the run's start on the wall clock (the
recorded run's ``started_at``) plus the chunk's ``t_ms`` (taken when the engine got the chunk),
against the client's clock when it read the frame (same machine, same clock). Targets (issue
16): /healthz p99 under 50 ms with 1000 streams in flight; the chunk latency's p99 is stated.

``--queue``: the queue placement (docs/durable_runs.md): the app queues each run in Redis and one
``akis worker`` (as many runs at once as there are streams) executes them; the app relays their
events from Redis. The worker's CPU is reported beside the app's.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _common import ROOT, cpu_seconds, database_with_token, emit, machine, percentile, process_rss_mb, table

TARGET_P99_MS = 50.0
T_MS = re.compile(rb'"t_ms":([0-9.]+)')


def probe(port: int, every_s: float, stop: Any, out: Connection) -> None:
    """In its own process: GET /healthz on one kept-alive connection until ``stop`` is set."""
    import http.client

    latencies = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        started = time.perf_counter()
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        latencies.append((time.time(), (time.perf_counter() - started) * 1000))
        assert response.status in (200, 503), response.status
        time.sleep(every_s)
    connection.close()
    out.send(latencies)


class Prober:
    """The prober's process, started and stopped around one phase."""

    def __init__(self, port: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.receive, send = context.Pipe(duplex=False)
        self.process = context.Process(target=probe, args=(port, 0.02, self.stop, send), daemon=True)
        self.process.start()

    def finish(self) -> list[tuple[float, float]]:
        """(when it was sent on the wall clock, ms) per probe."""
        self.stop.set()
        latencies: list[tuple[float, float]] = self.receive.recv()
        self.process.join(10)
        return latencies


async def one_stream(port: int, token: str, delay_s: float, runs: dict[str, list[tuple[float, float]]],
                     finished: list[float], opened: list[float]) -> None:
    """POST one streamed run and read it to ``run.finished``, noting (t_ms, read time) per chunk."""
    await asyncio.sleep(delay_s)
    body = json.dumps({"inputs": {"user_message": "hi"}}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /api/flows/slow/runs HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n"
                 b"Authorization: Bearer " + token.encode() + b"\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    opened.append(time.time())
    run_id = re.search(rb"x-akis-run-id: ([^\r]+)", head, re.IGNORECASE)
    assert run_id is not None, head
    chunks = runs[run_id.group(1).decode()] = []
    pending = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            read_at = time.time()
            frames = (pending + data).split(b"\n\n")
            pending = frames.pop()
            for frame in frames:
                if b"event: message.chunk" in frame:
                    found = T_MS.search(frame)
                    assert found is not None, frame
                    chunks.append((float(found.group(1)), read_at))
                elif b"event: run.finished" in frame:
                    finished.append(read_at)
                    return
    finally:
        writer.close()


async def chunk_latencies(client: Any, runs: dict[str, list[tuple[float, float]]]) -> tuple[list[float], list[float]]:
    """Per chunk: the client's read time minus the provider's yield (run start + t_ms), in ms.
    Two anchors for the run's start, both a little late (so both figures are lower bounds): the
    recorded run's ``started_at`` (when its task began, after ``t_ms``'s zero by the task's
    start-up; in the queue placement when it was queued, so that figure includes the wait for
    the worker), and the stream's quickest chunk (as if that one had arrived at once)."""
    latencies: list[float] = []
    beyond: list[float] = []
    for run_id, chunks in runs.items():
        if not chunks:  # a run that ended without an answer (failed or cancelled): counted apart
            continue
        stored = None
        for _ in range(100):  # the recorder writes the run just after run.finished
            response = await client.get(f"/api/runs/{run_id}")
            if response.status_code == 200:
                stored = response.json()
                break
            await asyncio.sleep(0.05)
        assert stored is not None, run_id
        start = datetime.fromisoformat(stored["started_at"]).timestamp()
        latencies.extend((read_at - start) * 1000 - t_ms for t_ms, read_at in chunks)
        quickest = min(read_at * 1000 - t_ms for t_ms, read_at in chunks)
        beyond.extend(read_at * 1000 - t_ms - quickest for t_ms, read_at in chunks)
    return latencies, beyond


async def sample_rss(pid: int, opened: list[float], finished: list[float], stop: asyncio.Event,
                     samples: list[tuple[int, float]]) -> None:
    """(streams in flight, the app's RSS in MB) every 0.1 s until ``stop``."""
    while not stop.is_set():
        samples.append((len(opened) - len(finished), process_rss_mb(pid)))
        await asyncio.sleep(0.1)


async def main_async(streams: int, redis_url: str | None, stream_s: float = 10.0) -> dict[str, Any]:
    import uuid

    import httpx
    from bench_durable import cleanup, ready, start_worker

    from tests.integration.api import harness

    workdir = Path(tempfile.mkdtemp(prefix="akis-bench-healthz-"))
    database_url = f"sqlite:///{workdir / 'akis.db'}"
    token = database_with_token(database_url)
    metrics_token = uuid.uuid4().hex
    env = {"AKIS_DATABASE_URL": database_url, "AKIS_METRICS_TOKEN": metrics_token}
    worker, prefix = None, ""
    if redis_url:
        prefix = f"akis:benchhz{uuid.uuid4().hex[:8]}:"
        env.update({"AKIS_REDIS_URL": redis_url, "AKIS_RUN_MODE": "queue", "AKIS_QUEUE_PREFIX": prefix,
                    "AKIS_SECRET_KEY": "bench-healthz"})
        worker = start_worker(harness.server_env(env), prefix, workdir / "worker.log", concurrency=streams)
        await ready(workdir / "worker.log")
    server = harness.AppServer(workdir, env=env).start()
    assert server.process is not None
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=120) as client:
            flow = harness.chat_flow("slow", chunks=40, tokens_per_second=40 / stream_s)
            assert (await client.post("/api/flows", json=flow)).status_code in (201, 409)
            prober = Prober(server.port)
            await asyncio.sleep(2.0)
            idle = [ms for _, ms in prober.finish()]
            runs: dict[str, list[tuple[float, float]]] = {}
            finished: list[float] = []
            opened: list[float] = []
            prober = Prober(server.port)
            pid = server.process.pid
            cpu0, loop0 = cpu_seconds(pid), cpu_seconds(pid, pid)
            worker0 = cpu_seconds(worker.pid) if worker is not None else 0.0
            gc0 = await gc_pauses(client, metrics_token)
            idle_rss, samples, sampled = process_rss_mb(pid), [], asyncio.Event()
            sampler = asyncio.ensure_future(sample_rss(pid, opened, finished, sampled, samples))
            started = time.perf_counter()
            await asyncio.gather(*(one_stream(server.port, token, i // 100 * 0.2, runs, finished, opened)
                                   for i in range(streams)))
            elapsed = time.perf_counter() - started
            sampled.set()
            await sampler
            in_flight, busy_rss = max(samples)  # the moment with the most streams open
            cpu, loop_cpu = cpu_seconds(pid) - cpu0, cpu_seconds(pid, pid) - loop0
            collections = gc_during(gc0, await gc_pauses(client, metrics_token))
            worker_cpu = cpu_seconds(worker.pid) - worker0 if worker is not None else 0.0
            probes = prober.finish()
            busy = [ms for _, ms in probes]
            all_open = max(opened)  # after this, no more requests: only the streams' frames
            first_end = min(finished, default=time.time())  # none ended: the window lasts to now
            opening = [ms for sent, ms in probes if sent < all_open] or [0.0]
            # every stream open and none ended yet: the target's "N streams in flight"
            all_in_flight = [ms for sent, ms in probes if all_open <= sent < first_end]
            steady = [ms for sent, ms in probes if sent >= all_open] or [0.0]
            chunks, beyond = await chunk_latencies(client, runs)
    except Exception:
        print(server.log()[-2000:], file=sys.stderr)  # why the app refused or dropped streams
        raise
    finally:
        server.stop()
        if worker is not None:
            worker.terminate()
            worker.wait(30)
            await cleanup(redis_url or "", prefix)
        shutil.rmtree(workdir, ignore_errors=True)
    return {"streams": streams, "stream_s": stream_s, "placement": "queue" if redis_url else "inline",
            "worker_cpu_s": worker_cpu,
            "opened": len(runs), "without_chunks": sum(not chunks for chunks in runs.values()),
            "finished": len(finished), "seconds": elapsed,
            "idle_p50_ms": percentile(idle, 50), "idle_p99_ms": percentile(idle, 99),
            "busy_p50_ms": percentile(busy, 50), "busy_p99_ms": percentile(busy, 99), "busy_max_ms": max(busy),
            "opening_p50_ms": percentile(opening, 50), "opening_p99_ms": percentile(opening, 99),
            "all_in_flight_probes": len(all_in_flight), "all_in_flight_s": max(0.0, first_end - all_open),
            "all_in_flight_p50_ms": percentile(all_in_flight, 50) if all_in_flight else None,
            "all_in_flight_p99_ms": percentile(all_in_flight, 99) if all_in_flight else None,
            "all_in_flight_max_ms": max(all_in_flight) if all_in_flight else None,
            "probes": len(busy), "steady_p50_ms": percentile(steady, 50), "steady_p99_ms": percentile(steady, 99),
            "steady_probes": len(steady), "opening_s": all_open - min(opened), "chunks": len(chunks), "app_cpu_s": cpu,
            "loop_cpu_s": loop_cpu, "idle_rss_mb": idle_rss, "max_in_flight": in_flight, "busy_rss_mb": busy_rss,
            "rss_kb_per_stream": (busy_rss - idle_rss) * 1024 / max(1, in_flight),
            "app_cpu_us_per_chunk": cpu / max(1, len(chunks)) * 1e6,
            "chunk_p50_ms": percentile(chunks, 50), "chunk_p99_ms": percentile(chunks, 99),
            "chunk_max_ms": max(chunks), "chunk_beyond_quickest_p50_ms": percentile(beyond, 50),
            "chunk_beyond_quickest_p99_ms": percentile(beyond, 99), "gc": collections}


async def gc_pauses(client: Any, metrics_token: str) -> dict[str, dict[str, float]]:
    """The app's garbage collector pauses so far (``akis_gc_pause_seconds`` on /metrics): per
    generation, the count, the seconds in all, and the count at or under each bucket's bound."""
    from prometheus_client.parser import text_string_to_metric_families

    response = await client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
    response.raise_for_status()
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name == "akis_gc_pause_seconds":
            for sample in family.samples:
                series = out.setdefault(sample.labels["generation"], {})
                le = sample.labels.get("le")
                series[le if le is not None else sample.name.rsplit("_", 1)[1]] = sample.value
    return out


def gc_during(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Collections between two scrapes, per generation: how many, their seconds, and the bound
    (ms) the longest of them was under (the smallest bucket that holds all of them)."""
    out: dict[str, dict[str, Any]] = {}
    for generation, now in sorted(after.items()):
        was = before.get(generation, {})
        count = now["count"] - was.get("count", 0.0)
        bounds = sorted(float(le) for le in now if le not in ("count", "sum", "+Inf"))
        under = next((b for b in bounds if now[repr(b)] - was.get(repr(b), 0.0) >= count), None)
        out[generation] = {"count": int(count), "seconds": now["sum"] - was.get("sum", 0.0),
                           "longest_under_ms": under * 1000 if under is not None and count else None}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="20 streams (smoke test)")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--stream-s", type=float, default=None,
                        help="how long each stream lasts (40 chunks; default 10, 2 with --tiny)")
    parser.add_argument("--queue", action="store_true", help="queue placement: runs execute in an akis worker")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="with --queue")
    args = parser.parse_args()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    streams = 20 if args.tiny else args.streams
    stream_s = args.stream_s or (2.0 if args.tiny else 10.0)
    r = asyncio.run(main_async(streams, args.redis if args.queue else None, stream_s))
    print(table(["/healthz", "p50 ms", "p99 ms"], [["idle app", r["idle_p50_ms"], r["idle_p99_ms"]],
                                                     ["while they open (a burst)", r["opening_p50_ms"],
                                                      r["opening_p99_ms"]],
                                                     [f"all {streams} in flight", r["all_in_flight_p50_ms"],
                                                      r["all_in_flight_p99_ms"]],
                                                     ["from the last one opened to the end", r["steady_p50_ms"],
                                                      r["steady_p99_ms"]],
                                                     ["the whole time", r["busy_p50_ms"], r["busy_p99_ms"]]],
                f"{r['opened']} streams opened, {r['finished']} ended with run.finished in {r['seconds']:.1f} s "
                f"({r['without_chunks']} without a chunk)"))
    print(f"\n{r['chunks']} chunks, provider's yield to the client's read: p50 {r['chunk_p50_ms']:.1f} ms, "
          f"p99 {r['chunk_p99_ms']:.1f} ms, max {r['chunk_max_ms']:.1f} ms (beyond the stream's "
          f"quickest chunk: p50 {r['chunk_beyond_quickest_p50_ms']:.1f}, "
          f"p99 {r['chunk_beyond_quickest_p99_ms']:.1f} ms); "
          f"app CPU {r['app_cpu_s']:.2f} s ({r['app_cpu_us_per_chunk']:.0f} us per relayed chunk), of which the "
          f"event loop's thread {r['loop_cpu_s']:.2f} s"
          + (f"; worker CPU {r['worker_cpu_s']:.2f} s" if args.queue else ""))
    names = {"0": "young", "1": "middle", "2": "full"}
    print("the app's garbage collections meanwhile: " + ", ".join(
        f"{names[g]} {c['count']} ({c['seconds'] * 1000:.0f} ms in all"
        + (f", each under {c['longest_under_ms']:g} ms)" if c["longest_under_ms"] is not None else ")")
        for g, c in r["gc"].items()))
    print(f"app RSS {r['idle_rss_mb']:.1f} MB idle, {r['busy_rss_mb']:.1f} MB with {r['max_in_flight']} streams open: "
          f"{r['rss_kb_per_stream']:.1f} KB per stream")
    if r["all_in_flight_p99_ms"] is None:
        met = False
        print(f"\nthe {streams} streams were never all in flight (the first ended before the last opened): "
              "the target is not measured; give --stream-s more seconds")
    else:
        met = r["all_in_flight_p99_ms"] < TARGET_P99_MS
        print(f"\np99 with all {streams} streams in flight {r['all_in_flight_p99_ms']:.1f} ms over "
              f"{r['all_in_flight_probes']} probes in {r['all_in_flight_s']:.1f} s (target < {TARGET_P99_MS:g}): "
              f"{'met' if met else 'MISSED'}; while they opened p99 {r['opening_p99_ms']:.1f} ms; "
              f"max over all {r['probes']} probes {r['busy_max_ms']:.1f} ms")
    emit({"benchmark": "healthz", "tiny": args.tiny, **r, "target_met": met, **machine()})


if __name__ == "__main__":
    main()
