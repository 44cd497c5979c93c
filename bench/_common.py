"""Small helpers shared by the benchmarks: statistics, a plain table and the one JSON line.

Benchmarks print a readable table first and exactly one JSON line last, so a script (or the
smoke test) can read the numbers with ``json.loads(output.splitlines()[-1])``.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/NAME.py` from anywhere finds the runtime package
    sys.path.insert(0, str(ROOT))


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
    return {"python": sys.version.split()[0], "cpus": os.cpu_count()}


def emit(data: dict[str, Any]) -> None:
    """Print the one JSON line (always the last line of a benchmark's output)."""
    sys.stdout.flush()
    print(json.dumps(data, sort_keys=True), flush=True)
