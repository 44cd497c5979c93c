"""The garbage collector's thresholds for a process that holds many runs in flight.

CPython collects its young generation every 700 new container objects (``gc`` thresholds
700, 10, 10). A server with a thousand runs in flight makes that many in well under a
millisecond, so it collects thousands of times a second, and every tenth young collection
walks the middle generation, where the runs in flight live. Measured (bench/bench_tracing.py,
1000 concurrent seed runs, 2 cores): Python's thresholds 2,717 runs/s, these 4,518 runs/s
(1.66x), with no full collection in either. A larger young generation holds at most that many
more objects before they are collected (about a megabyte), which bench/bench_memory.py bounds.

``akis serve`` and ``akis worker`` apply it at start-up (``AKIS_GC_THRESHOLDS``;
``700,10,10`` restores Python's); the benchmarks apply it as the app does, to every contender.

Once started, they also :func:`freeze` what start-up made (``AKIS_GC_FREEZE``): the modules,
pages, routes and pools, about 230,000 objects in the app, live as long as the process, yet a
full collection walked them all, 116-134 ms here during which no run, stream or request moved.
Frozen, they are never walked again; a full collection walks only what the process made since.
"""
from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = (10_000, 10, 10)


def parse_thresholds(text: str) -> tuple[int, int, int]:
    """``"10000,10,10"`` -> (10000, 10, 10); a ValueError that says what is wrong otherwise."""
    parts = [part.strip() for part in str(text).split(",")]
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"AKIS_GC_THRESHOLDS must be three whole numbers like 10000,10,10; got {text!r}")
    young, middle, old = (int(part) for part in parts)
    if young < 100 or middle < 1 or old < 1:
        raise ValueError(f"AKIS_GC_THRESHOLDS: the young generation's threshold must be at least 100 and the "
                         f"others at least 1 (Python's own are 700,10,10); got {text!r}")
    return young, middle, old


def apply(thresholds: tuple[int, int, int]) -> None:
    """Set the collector's thresholds, and say so in the log."""
    gc.set_threshold(*thresholds)
    log.info("garbage collection thresholds %s (AKIS_GC_THRESHOLDS; Python's own: 700,10,10)", describe())


def describe() -> str:
    """The thresholds in effect in this process, as AKIS_GC_THRESHOLDS writes them."""
    return ",".join(str(n) for n in gc.get_threshold())


def describe_freeze(enabled: bool) -> str:
    """What /settings says about ``AKIS_GC_FREEZE`` in this process."""
    if not enabled:
        return "off: every full collection walks what start-up made"
    return f"{gc.get_freeze_count():,} objects frozen at start-up: collections skip them"


def freeze() -> int:
    """Collect once, then move every object still alive into the permanent generation, which
    no collection walks; returns how many there are. Called when start-up is over: what start-up
    leaves behind lives as long as the process, so only its garbage (collected here) could be freed."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("garbage collection: froze the %d objects made at start-up (one full collection, %.0f ms); "
             "later collections skip them (AKIS_GC_FREEZE)", frozen, (time.perf_counter() - started) * 1000)
    return frozen
