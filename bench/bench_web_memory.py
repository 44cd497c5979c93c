"""The web process's memory after many finished runs: does it stay bounded?

    python bench/bench_web_memory.py [--tiny] [--runs N] [--kept K]

The app runs as a subprocess (fresh SQLite, the in-process channel hub). A chat flow streams 40
chunks with no pauses; N runs (10,000 by default), each a conversation of its own, go through
``POST /runs`` (JSON), 16 at a time. The app's RSS (``/proc/<pid>/statm``) is read idle and
after every tenth of the runs. What a finished run leaves is mostly its events, kept by the
channel hub for resumes: bounded in all by ``AKIS_CHANNEL_KEPT_EVENTS`` (``--kept``, 100,000 by
default; give a very large one to see the hub without that bound), so the growth over the last
third of the runs is the figure to read: none there means none beyond what that bound holds.
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import ROOT, database_with_token, emit, machine, process_rss_mb, table

CONCURRENCY = 16


async def measure(runs: int, kept: int) -> dict[str, Any]:
    import httpx

    from tests.integration.api import harness

    workdir = Path(tempfile.mkdtemp(prefix="akis-bench-web-memory-"))
    database_url = f"sqlite:///{workdir / 'akis.db'}"
    token = database_with_token(database_url)
    server = harness.AppServer(workdir, env={"AKIS_DATABASE_URL": database_url,
                                             "AKIS_CHANNEL_KEPT_EVENTS": str(kept)}).start()
    assert server.process is not None
    pid = server.process.pid
    steps: list[tuple[int, float]] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=60) as client:
            flow = harness.chat_flow("answer", chunks=40)  # no pause between chunks
            assert (await client.post("/api/flows", json=flow)).status_code in (201, 409)
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(i: int) -> None:
                async with gate:
                    response = await client.post("/api/flows/answer/runs",
                                                 json={"inputs": {"user_message": "hi", "session_id": f"s{i}"}})
                    assert response.status_code == 200 and response.json()["status"] == "succeeded", response.text

            await one(-1)  # warm: the plan, the first imports
            steps.append((0, process_rss_mb(pid)))
            tenth = max(1, runs // 10)
            for start in range(0, runs, tenth):
                await asyncio.gather(*(one(i) for i in range(start, min(runs, start + tenth))))
                steps.append((min(runs, start + tenth), process_rss_mb(pid)))
    except Exception:
        print(server.log()[-2000:], file=sys.stderr)
        raise
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    last_third = [rss for done, rss in steps if done >= runs * 2 // 3]
    return {"runs": runs, "kept_events": kept, "idle_mb": steps[0][1], "final_mb": steps[-1][1],
            "steps": [[done, round(rss, 1)] for done, rss in steps],
            "growth_last_third_mb": last_third[-1] - last_third[0],
            "kb_per_run": (steps[-1][1] - steps[0][1]) * 1024 / runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="300 runs (smoke test)")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--kept", type=int, default=100_000, help="AKIS_CHANNEL_KEPT_EVENTS for the app")
    args = parser.parse_args()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    runs = 300 if args.tiny else args.runs
    r = asyncio.run(measure(runs, args.kept))
    print(table(["finished runs", "app RSS MB"], r["steps"],
                f"{runs} finished chat runs of 40 chunks, each its own conversation "
                f"(AKIS_CHANNEL_KEPT_EVENTS={args.kept})"))
    print(f"\n{r['idle_mb']:.1f} MB idle -> {r['final_mb']:.1f} MB ({r['kb_per_run']:.1f} KB per run on average); "
          f"over the last third of the runs {r['growth_last_third_mb']:+.1f} MB")
    emit({"benchmark": "web_memory", "tiny": args.tiny, **r, **machine()})


if __name__ == "__main__":
    main()
