"""The garbage collector's pauses on ``/metrics``: how long each collection stopped the process.

While a collection walks its generation nothing else in the process moves: no run, no stream,
no request. With 1000 streams in flight a collection of the middle generation took 40-60 ms
here (docs/benchmarks.md), the longest wait a client saw. Python counts collections but does
not time them, so one ``gc.callbacks`` hook per process does, into a histogram per generation;
``akis_gc_frozen_objects`` says how many objects start-up froze (runtime/gc_policy.py).

A collection runs in whichever thread made it, with the interpreter's lock held, and never two
at once, so the hook needs no lock of its own; a scrape that reads a histogram while the hook
adds to it sees the pause a moment later.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .families import Histograms

PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class GcPauses:
    """Times every collection of this process, by generation (0 young, 1 middle, 2 full)."""

    def __init__(self) -> None:
        self.pauses = Histograms("akis_gc_pause_seconds", "Garbage collector pauses (the process stands still), "
                                 "by generation: 0 young, 1 middle, 2 full.", ["generation"], PAUSE_BUCKETS)
        self._by_generation = [self.pauses.labels(str(generation)) for generation in range(3)]
        self._started = 0.0

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)


_installed: GcPauses | None = None


def gc_pauses() -> GcPauses:
    """The process's one recorder, hooked into ``gc.callbacks`` when first asked for."""
    global _installed
    if _installed is None:
        _installed = GcPauses()
        gc.callbacks.append(_installed.callback)
    return _installed


class GcCollector(Collector):
    """The pauses and the frozen count, read when Prometheus scrapes."""

    def __init__(self, pauses: GcPauses) -> None:
        self.recorder = pauses

    def collect(self) -> Iterator[Metric]:
        yield self.recorder.pauses.family()
        yield GaugeMetricFamily("akis_gc_frozen_objects", "Objects start-up froze: no collection walks them "
                                "(AKIS_GC_FREEZE).", value=gc.get_freeze_count())
