"""Counters and histograms cheap enough to update on every engine event, exposed to
``prometheus_client`` through a collector at scrape time.

``prometheus_client``'s own ``Counter`` and ``Histogram`` take a lock on every update and scan
the buckets in Python (about 0.3 and 0.7 µs); here an update is a list slot incremented and a
C ``bisect`` (about 0.1 µs). No lock is needed: runs, their events and ``/metrics`` all live on
the app's one event loop thread, so an update and a scrape never interleave.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector


class Hist:
    """One histogram series: a count per bucket (the last one is +Inf) and the sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # le semantics: value <= bound
        self.total += value


class Counters:
    """A counter family; ``labels(...)`` is a one-slot list to add to (``child[0] += n``)."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = list(labels)
        self.children: dict[tuple[str, ...], list[float]] = {}

    def labels(self, *values: str) -> list[float]:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = [0.0]
        return child

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.label_names)
        for values, (count,) in self.children.items():
            family.add_metric(list(values), count)
        return family


class Histograms:
    """A histogram family; ``labels(...)`` is a :class:`Hist` to observe into."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = list(labels)
        self.bounds = tuple(sorted(buckets))
        self.children: dict[tuple[str, ...], Hist] = {}

    def labels(self, *values: str) -> Hist:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = Hist(self.bounds)
        return child

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)
        edges = [_le(bound) for bound in self.bounds] + ["+Inf"]
        for values, hist in self.children.items():
            cumulative, buckets = 0, []
            for edge, count in zip(edges, hist.counts, strict=True):
                cumulative += count
                buckets.append((edge, float(cumulative)))
            family.add_metric(list(values), buckets, hist.total)
        return family


class FamiliesCollector(Collector):
    """Hands the families to ``prometheus_client`` when it scrapes."""

    def __init__(self, families: Sequence[Counters | Histograms]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.family()


def _le(bound: float) -> str:
    return repr(float(bound))  # 0.5 -> "0.5", 1 -> "1.0": what prometheus_client writes
