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

numpy carries the rank arithmetic (a histogram as sorted value and count arrays: ``searchsorted``
for the ranks, cumulative sums, the tie correction vectorised) and the standard library's
:class:`statistics.NormalDist` the normal quantiles; scipy is not a dependency and nothing here needs it.
With more than one challenger the level is split between them (Bonferroni), so an A/A/A test does
not call a winner more often than an A/B one.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

Histogram = Mapping[int, int]  # value (ms, rounded) -> how many runs had it
Ints = NDArray[np.int64]
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


def _arrays(histogram: Histogram) -> tuple[Ints, Ints]:
    """The histogram's values, sorted, and their counts; bins without runs are left out."""
    values = np.fromiter(histogram.keys(), dtype=np.int64, count=len(histogram))
    counts = np.fromiter(histogram.values(), dtype=np.int64, count=len(histogram))
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    kept = counts > 0
    return values[kept], counts[kept]


EXACT_RUNS = 2_000_000  # up to here a tie group's t**3 (at most n**3) fits in int64, so the tie sums are exact


def _tie_terms(runs: Ints, exact: bool) -> int | float:
    """Sum of t**3 - t over tie groups of t runs: integers while they fit in int64, else floats."""
    if exact:
        return int(np.sum(runs * runs * runs - runs))
    t = runs.astype(np.float64)
    return float(np.sum(t * t * t - t))


class _Ranks:
    """The control's histogram as arrays built once, so many shifted comparisons are cheap."""

    def __init__(self, control: Histogram) -> None:
        self.values, self.counts = _arrays(control)
        self.below: Ints = np.concatenate(([0], np.cumsum(self.counts)))  # below[i]: runs with a value < values[i]
        self.n = int(self.below[-1])
        # the control's tie groups: exact when it is small enough, in floats for larger comparisons
        self.ties = (_tie_terms(self.counts, self.n <= EXACT_RUNS), _tie_terms(self.counts, False))

    def z(self, variant: Histogram, shift: int = 0) -> float:
        """Mann-Whitney z of ``variant - shift`` against the control: > 0 when the variant is larger."""
        return self.z_arrays(*_arrays(variant), shift)

    def z_arrays(self, values: Ints, counts: Ints, shift: int = 0) -> float:
        """:meth:`z` for a variant already turned into arrays (the shift search reuses them)."""
        n1, n2 = int(counts.sum()), self.n
        if n1 == 0 or n2 == 0:
            return 0.0
        n = n1 + n2
        shifted = values - shift
        below = self.below[np.searchsorted(self.values, shifted, side="left")]
        equal = self.below[np.searchsorted(self.values, shifted, side="right")] - below  # control runs at each value
        twice_u = int(np.dot(counts, 2 * below + equal))  # U counts a tie as half a win: 2U stays an integer
        # the control's tie groups, with each one a variant value lands on grown by that value's runs
        exact = n <= EXACT_RUNS
        ties = self.ties[0 if exact else 1] - _tie_terms(equal, exact) + _tie_terms(counts + equal, exact)
        # n1*n2/12 * ((n+1) - ties/(n(n-1))), the bracket as one fraction: its terms nearly cancel
        # when most runs share a bin, and exact integers keep that from eating the digits
        variance = n1 * n2 / 12.0 * ((n * (n * n - 1) - ties) / (n * (n - 1)))
        if variance <= 0:
            return 0.0
        return (twice_u / 2.0 - n1 * n2 / 2.0) / math.sqrt(variance)


def shift_interval(control: Histogram, variant: Histogram, alpha: float = 0.05) -> Interval | None:
    """Hodges-Lehmann shift of the variant against the control (ms; > 0: the variant is slower) and
    its 1-alpha interval: the shifts the Mann-Whitney test does not reject. None without data."""
    if size(control) == 0 or size(variant) == 0:
        return None
    ranks = _Ranks(control)
    values, counts = _arrays(variant)
    zc = critical_z(alpha)
    low_bound = int(values[0]) - int(ranks.values[-1]) - 1
    high_bound = int(values[-1]) - int(ranks.values[0]) + 1

    def z(shift: int) -> float:
        return ranks.z_arrays(values, counts, shift)

    def first_shift_where_z_below(limit: float) -> int:
        """The smallest integer shift with z(shift) < limit (z falls as the shift grows)."""
        lo, hi = low_bound, high_bound
        while lo < hi:
            mid = (lo + hi) // 2
            if z(mid) < limit:
                hi = mid
            else:
                lo = mid + 1
        return lo

    low = first_shift_where_z_below(zc)  # shifts below this are rejected (variant still larger)
    high = first_shift_where_z_below(-zc) - 1  # shifts above this are rejected (variant now smaller)
    centre = first_shift_where_z_below(0.0)
    before = centre - 1
    estimate = before if abs(z(before)) < abs(z(centre)) else centre
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
