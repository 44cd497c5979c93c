"""The statistics of an A/B test, from the per-variant figures SQL grouped (issue 17).

Which tests, and why:

* **Latencies** (time to first chunk, total duration) are skewed and heavy-tailed, so no mean or
  t-test: the **Mann-Whitney rank test** (normal approximation with the tie correction; exact
  enough from about 20 runs a side) says whether one variant is faster, and its inversion gives
  the **Hodges-Lehmann shift** (variant minus control, in ms) with a 95% interval. Both are computed
  on 1 ms histograms, so 1,000,000 runs cost a few thousand bins, not a million values in memory.
* **Rates** (errors, positive feedback, cache hits) get a **Wilson score interval** each, and the
  difference of two rates **Newcombe's hybrid score interval** (built from the two Wilson ones),
  which keeps its coverage near 0% and 100% where the textbook Wald interval does not.

The normal distribution is the standard library's :class:`statistics.NormalDist` (no hand-written
distribution, and no numpy/scipy: these tests need nothing else and the app stays light).
With more than one challenger the level is split between them (Bonferroni), so an A/A/A test does
not call a winner more often than an A/B one.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from statistics import NormalDist

Histogram = Mapping[int, int]  # value (ms, rounded) -> how many runs had it
NORMAL = NormalDist()


def critical_z(alpha: float) -> float:
    """The two-sided critical value: 1.96 for alpha 0.05."""
    return NORMAL.inv_cdf(1.0 - alpha / 2.0)


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


def size(histogram: Histogram) -> int:
    return sum(histogram.values())


def quantile(histogram: Histogram, q: float) -> float | None:
    """The q-quantile (nearest rank) of the histogram's values; None when it is empty."""
    total = size(histogram)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return float(max(histogram))


class _Ranks:
    """The control's histogram sorted once, so many shifted comparisons are cheap."""

    def __init__(self, control: Histogram) -> None:
        self.values = sorted(v for v, c in control.items() if c > 0)
        self.counts = [control[v] for v in self.values]
        self.below = [0, *accumulate(self.counts)]  # below[i]: runs with a value < values[i]
        self.lookup = dict(zip(self.values, self.counts, strict=True))
        self.n = self.below[-1]

    def z(self, variant: Histogram, shift: int = 0) -> float:
        """Mann-Whitney z of ``variant - shift`` against the control: > 0 when the variant is larger."""
        n1, n2 = size(variant), self.n
        if n1 == 0 or n2 == 0:
            return 0.0
        u = 0.0
        ties = 0.0
        for raw, count in variant.items():
            value = raw - shift
            index = bisect_left(self.values, value)
            equal = self.lookup.get(value, 0)
            u += count * (self.below[index] + 0.5 * equal)
            t = count + equal  # runs of both sides at this value: the tie correction's term
            ties += t**3 - t
        ties += sum(c**3 - c for v, c in self.lookup.items() if (v + shift) not in variant)
        n = n1 + n2
        variance = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
        if variance <= 0:
            return 0.0
        return (u - n1 * n2 / 2.0) / math.sqrt(variance)


def shift_interval(control: Histogram, variant: Histogram, alpha: float = 0.05) -> Interval | None:
    """Hodges-Lehmann shift of the variant against the control (ms; > 0: the variant is slower) and
    its 1-alpha interval: the shifts the Mann-Whitney test does not reject. None without data."""
    if size(control) == 0 or size(variant) == 0:
        return None
    ranks = _Ranks(control)
    zc = critical_z(alpha)
    low_bound = min(variant) - max(control) - 1
    high_bound = max(variant) - min(control) + 1

    def first_shift_where_z_below(limit: float) -> int:
        """The smallest integer shift with z(shift) < limit (z falls as the shift grows)."""
        lo, hi = low_bound, high_bound
        while lo < hi:
            mid = (lo + hi) // 2
            if ranks.z(variant, mid) < limit:
                hi = mid
            else:
                lo = mid + 1
        return lo

    low = first_shift_where_z_below(zc)  # shifts below this are rejected (variant still larger)
    high = first_shift_where_z_below(-zc) - 1  # shifts above this are rejected (variant now smaller)
    centre = first_shift_where_z_below(0.0)
    before = centre - 1
    estimate = before if abs(ranks.z(variant, before)) < abs(ranks.z(variant, centre)) else centre
    return Interval(float(estimate), float(low), float(max(high, low)))


def rank_z(control: Histogram, variant: Histogram) -> float:
    """The Mann-Whitney z of the variant against the control (> 0: the variant's values are larger)."""
    return _Ranks(control).z(variant, 0)


def wilson(successes: int, trials: int, alpha: float = 0.05) -> Interval | None:
    """The rate and its Wilson score interval; None with no trials."""
    if trials <= 0:
        return None
    z = critical_z(alpha)
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def rate_difference(control: tuple[int, int], variant: tuple[int, int], alpha: float = 0.05) -> Interval | None:
    """Variant rate minus control rate with Newcombe's hybrid score interval (method 10);
    each side is (successes, trials). None when a side has no trials."""
    a, b = wilson(*control, alpha), wilson(*variant, alpha)
    if a is None or b is None:
        return None
    difference = b.estimate - a.estimate
    low = difference - math.sqrt((b.estimate - b.low) ** 2 + (a.high - a.estimate) ** 2)
    high = difference + math.sqrt((b.high - b.estimate) ** 2 + (a.estimate - a.low) ** 2)
    return Interval(difference, low, high)


def spread(histogram: Histogram) -> float | None:
    """The standard deviation of the histogram's values; None with fewer than two."""
    n = size(histogram)
    if n < 2:
        return None
    mean = sum(v * c for v, c in histogram.items()) / n
    return math.sqrt(sum(c * (v - mean) ** 2 for v, c in histogram.items()) / (n - 1))


def detectable_shift(control: Histogram, runs: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """About the smallest latency shift (ms) a rank test with ``runs`` per variant finds with
    ``power``: the two-sample normal formula with the control's spread, divided by the rank test's
    efficiency against the t-test (3/pi, its value for normal data; it is higher for skewed latencies)."""
    sd = spread(control)
    if sd is None or runs <= 0:
        return None
    z = critical_z(alpha) + NORMAL.inv_cdf(power)
    return z * sd * math.sqrt(2.0 / runs) / math.sqrt(3.0 / math.pi)


def detectable_rate_difference(rate: float, runs: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """About the smallest difference (a fraction) from ``rate`` that ``runs`` per variant find with ``power``."""
    if runs <= 0:
        return None
    rate = min(max(rate, 0.01), 0.99)  # a control at 0% still varies: a 1% floor keeps the estimate honest
    z = critical_z(alpha) + NORMAL.inv_cdf(power)
    return z * math.sqrt(2.0 * rate * (1.0 - rate) / runs)
