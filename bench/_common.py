"""Small helpers shared by the benchmarks: statistics, a plain table and the one JSON line.

Benchmarks print a readable table first and exactly one JSON line last, so a script (or the
smoke test) can read the numbers with ``json.loads(output.splitlines()[-1])``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/NAME.py` from anywhere finds the runtime package
    sys.path.insert(0, str(ROOT))

from runtime import gc_policy  # noqa: E402 - after the path is set

# The collector as ``akis serve`` and ``akis worker`` set it, for every contender alike;
# BENCH_GC_THRESHOLDS=700,10,10 measures with Python's own thresholds instead.
_CHOSEN = os.environ.get("BENCH_GC_THRESHOLDS")
GC_THRESHOLDS = gc_policy.parse_thresholds(_CHOSEN) if _CHOSEN else gc_policy.DEFAULT_THRESHOLDS
gc_policy.apply(GC_THRESHOLDS)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): an observed value, never an interpolation."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rotated(items: Sequence[Any], step: int) -> list[Any]:
    """``items`` started at position ``step``: interleaving contenders in a changing order keeps
    one of them from always running right after another (caches, GC, CPU frequency)."""
    k = step % len(items)
    return list(items[k:]) + list(items[:k])


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "") -> str:
    """A fixed-width text table; floats get 3 significant decimals."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"
    return "-" if value is None else str(value)


def machine() -> dict[str, Any]:
    return {"python": sys.version.split()[0], "cpus": os.cpu_count(), "gc_thresholds": list(GC_THRESHOLDS)}


def emit(data: dict[str, Any]) -> None:
    """Print the one JSON line (always the last line of a benchmark's output)."""
    sys.stdout.flush()
    print(json.dumps(data, sort_keys=True), flush=True)


@dataclass(frozen=True)
class Rounds:
    """What a concurrent-runs benchmark was asked for: runs per round, rounds, time scale."""

    tiny: bool
    runs: int
    rounds: int
    scale: float


def rounds_from_args(description: str) -> Rounds:
    """``--tiny/--runs/--rounds/--scale``, shared by the throughput, metrics and tracing benchmarks."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tiny", action="store_true", help="50 runs, one round (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="concurrent runs per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 7)")
    parser.add_argument("--scale", type=float, default=100.0, help="divide every wait by this (default 100)")
    args = parser.parse_args()
    runs = args.runs or (50 if args.tiny else 1000)
    rounds = args.rounds or (1 if args.tiny else 7)
    if runs <= 0 or rounds <= 0 or args.scale <= 0:
        parser.error("--runs, --rounds and --scale must be positive")
    return Rounds(args.tiny, runs, rounds, args.scale)


def per_run(walls: dict[str, list[float]], cpus: dict[str, list[float]], runs: int,
            contenders: Sequence[str]) -> dict[str, float]:
    """Runs per second and CPU microseconds per run of each contender (medians over rounds)."""
    out: dict[str, float] = {}
    for who in contenders:
        out[f"{who}_runs_per_s"] = runs / median(walls[who])
        out[f"{who}_cpu_us_per_run"] = median(cpus[who]) / runs * 1e6
    return out


def round_ratio(contender: Sequence[float], baseline: Sequence[float]) -> float:
    """The contender's throughput as a fraction of the baseline's, from their times per round:
    the ratio within each round (neighbours in time, so a noisy machine moves both alike), then
    the median over rounds."""
    return median([base / own for own, base in zip(contender, baseline, strict=True)])


def private_schema(postgres_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh schema on a PostgreSQL server: (the URL that uses it, the function that drops it)."""
    import uuid

    from sqlalchemy import create_engine

    schema = f"akis_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

    return f"{postgres_url}?options=-csearch_path%3D{schema}", drop


def process_rss_mb(pid: int) -> float:
    """Resident memory of another process (``/proc/<pid>/statm``), in MB."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU so far of a process, or of one of its threads (the main one: the loop's)."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_serving(url: str, process: Any, timeout_s: float = 90.0) -> None:
    """Until the server at ``url`` answers HTTP (any status); RuntimeError if ``process`` (a
    ``subprocess.Popen``) exits first or ``timeout_s`` passes."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url + "/healthz", timeout=1)
            return
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{process.args} did not start serving {url}") from None
            time.sleep(0.2)


def database_with_token(database_url: str, name: str = "bench") -> str:
    """Migrate a fresh database for the app under test and return an API token of tenant 1."""
    from storage.db import init_db
    from storage.repos.tokens import create_token

    database = init_db(database_url, seed_demo=False)
    try:
        _, token = database.call(create_token, "1", name)
    finally:
        database.dispose()
    return token
