"""Distributions per group (count, mean, min, max, p50, p95, sums), computed by the database.

PostgreSQL: exact, with ``percentile_cont`` and one scan for several groupings (GROUPING SETS).
SQLite has no ordered-set aggregates, and sorting every row per group with window functions
takes seconds at a million rows. So there the database counts rows per group and per
logarithmic duration bucket (``ln(1 + ms)`` in steps of 1/50: buckets 2% wide), a plain GROUP BY,
and the percentiles are read off those few thousand counts: within about 1% of the exact value,
exact for a group whose rows are all equal. Where SQLite was built without ``ln`` the exact
window-function form is used instead.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from sqlalchemy import Integer, case, cast, func, or_, select, tuple_
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

LN_SCALE = 50
Rollup = tuple[str, ...]


@dataclass(slots=True)
class Distribution:
    count: int = 0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    sums: dict[str, float] = field(default_factory=dict)
    quantiles: dict[float, float] = field(default_factory=dict)
    histogram: dict[int, int] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def add(self, count: int, total: float, low: float, high: float, sums: Mapping[str, Any]) -> None:
        self.count += count
        self.total += total
        self.minimum = min(self.minimum, low)
        self.maximum = max(self.maximum, high)
        for name, value in sums.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value or 0)


def postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def distributions(session: Session, *, columns: Mapping[str, Any], value: Any, where: Sequence[Any],
                  rollups: Sequence[Rollup], quantiles: Sequence[float] = (0.5, 0.95),
                  sums: Mapping[str, Any] | None = None) -> dict[Rollup, dict[tuple[Any, ...], Distribution]]:
    """For each rollup (a tuple of names from ``columns``), the distribution of ``value`` per
    group. ``sums``: extra per-group sums (name -> SQL expression), e.g. cache hits."""
    sums = dict(sums or {})
    if postgres(session):
        return _exact(session, columns, value, where, rollups, quantiles, sums)
    if _has_ln(session):
        return _from_histogram(session, columns, value, where, rollups, quantiles, sums)
    return _windowed(session, columns, value, where, rollups, quantiles, sums)


def _keys(rollups: Sequence[Rollup]) -> list[str]:
    return list(dict.fromkeys(name for rollup in rollups for name in rollup))


def _aggregates(value: Any, sums: Mapping[str, Any]) -> list[Any]:
    return [func.count().label("n"), func.sum(value).label("total"), func.min(value).label("low"),
            func.max(value).label("high"), *[func.sum(expr).label(f"s_{name}") for name, expr in sums.items()]]


def _row_sums(row: Any, sums: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[f"s_{name}"] for name in sums}


# --- PostgreSQL: exact -----------------------------------------------------------------------
def _exact(session: Session, columns: Mapping[str, Any], value: Any, where: Sequence[Any], rollups: Sequence[Rollup],
           quantiles: Sequence[float], sums: Mapping[str, Any]) -> dict[Rollup, dict[tuple[Any, ...], Distribution]]:
    keys = _keys(rollups)
    cols = [columns[k].label(k) for k in keys]
    percentiles = [func.percentile_cont(q).within_group(value.asc()).label(f"q{i}") for i, q in enumerate(quantiles)]
    query = select(*cols, *_aggregates(value, sums), *percentiles).where(*where)
    if keys:
        sets = [tuple_(*[columns[k] for k in r]) if r else tuple_() for r in rollups]
        query = query.add_columns(func.grouping(*[columns[k] for k in keys]).label("g")).group_by(
            func.grouping_sets(*sets))
    masks = {sum(1 << (len(keys) - 1 - i) for i, k in enumerate(keys) if k not in r): r for r in rollups}
    out: dict[Rollup, dict[tuple[Any, ...], Distribution]] = {r: {} for r in rollups}
    for row in session.execute(query).mappings():
        if not row["n"]:
            continue
        rollup = masks[row["g"]] if keys else rollups[0]
        dist = Distribution()
        dist.add(int(row["n"]), float(row["total"]), float(row["low"]), float(row["high"]), _row_sums(row, sums))
        dist.quantiles = {q: float(row[f"q{i}"]) for i, q in enumerate(quantiles)}
        out[rollup][tuple(row[k] for k in rollup)] = dist
    return out


# --- SQLite: from log-bucket counts ----------------------------------------------------------
# Whether an engine's SQLite was built with ln(), by id(engine): asked once per engine, and
# bounded, since tests and tools open many engines in one process.
_LN: LRUCache[int, bool] = LRUCache(maxsize=64)


def _has_ln(session: Session) -> bool:
    engine = session.get_bind().engine
    key = id(engine)
    found = _LN.get(key)
    if found is None:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT ln(2.0)").scalar()
            found = True
        except OperationalError:
            found = False
        _LN[key] = found
    return found


def _from_histogram(session: Session, columns: Mapping[str, Any], value: Any, where: Sequence[Any],
                    rollups: Sequence[Rollup], quantiles: Sequence[float],
                    sums: Mapping[str, Any]) -> dict[Rollup, dict[tuple[Any, ...], Distribution]]:
    keys = _keys(rollups)
    bucket = cast(func.ln(value + 1) * LN_SCALE, Integer).label("b")  # CAST truncates: floor for value >= 0
    cols = [columns[k].label(k) for k in keys]
    query = select(*cols, bucket, *_aggregates(value, sums)).where(*where).group_by(*[columns[k] for k in keys], bucket)
    out: dict[Rollup, dict[tuple[Any, ...], Distribution]] = {r: {} for r in rollups}
    for row in session.execute(query).mappings():
        for rollup in rollups:
            dist = out[rollup].setdefault(tuple(row[k] for k in rollup), Distribution())
            dist.add(int(row["n"]), float(row["total"]), float(row["low"]), float(row["high"]), _row_sums(row, sums))
            dist.histogram[int(row["b"])] = dist.histogram.get(int(row["b"]), 0) + int(row["n"])
    for groups in out.values():
        for dist in groups.values():
            dist.quantiles = {q: histogram_quantile(dist, q) for q in quantiles}
            dist.histogram = {}
    return out


def histogram_quantile(dist: Distribution, q: float) -> float:
    """percentile_cont from bucket counts: the values at the two ranks around q * (n - 1), each
    placed inside its bucket by its order there, interpolated like percentile_cont does."""
    if dist.minimum == dist.maximum:
        return dist.minimum
    rank = q * (dist.count - 1)
    low_rank = int(rank)
    below = _value_at(dist, low_rank)
    if low_rank + 1 >= dist.count:
        return below
    return below + (rank - low_rank) * (_value_at(dist, low_rank + 1) - below)


def _value_at(dist: Distribution, k: int) -> float:
    """The k-th smallest value (from 0), estimated: exact at both ends."""
    if k <= 0:
        return dist.minimum
    if k >= dist.count - 1:
        return dist.maximum
    seen = 0
    for b in sorted(dist.histogram):
        n = dist.histogram[b]
        if k < seen + n:
            low, high = math.exp(b / LN_SCALE) - 1, math.exp((b + 1) / LN_SCALE) - 1
            return min(max(low + (high - low) * (k - seen + 0.5) / n, dist.minimum), dist.maximum)
        seen += n
    return dist.maximum


# --- SQLite without ln(): exact, slower ------------------------------------------------------
def _windowed(session: Session, columns: Mapping[str, Any], value: Any, where: Sequence[Any],
              rollups: Sequence[Rollup], quantiles: Sequence[float],
              sums: Mapping[str, Any]) -> dict[Rollup, dict[tuple[Any, ...], Distribution]]:
    out: dict[Rollup, dict[tuple[Any, ...], Distribution]] = {}
    for rollup in rollups:
        cols = [columns[k] for k in rollup]
        groups: dict[tuple[Any, ...], Distribution] = {}
        labelled = [c.label(k) for c, k in zip(cols, rollup, strict=True)]
        basic = select(*labelled, *_aggregates(value, sums)).where(*where)
        for row in session.execute(basic.group_by(*cols) if cols else basic).mappings():
            if row["n"]:
                dist = groups.setdefault(tuple(row[k] for k in rollup), Distribution())
                dist.add(int(row["n"]), float(row["total"]), float(row["low"]), float(row["high"]),
                         _row_sums(row, sums))
        ranked = select(*labelled, value.label("v"),
                        func.row_number().over(partition_by=cols or None, order_by=value).label("rn"),
                        func.count().over(partition_by=cols or None).label("n")).where(*where).subquery()
        key_cols = [ranked.c[k] for k in rollup]
        picks, wanted = [], []
        for i, q in enumerate(quantiles):
            position = 1 + q * (ranked.c.n - 1)
            low = cast(position, Integer)
            below = func.max(case((ranked.c.rn == low, ranked.c.v)))
            above = func.coalesce(func.max(case((ranked.c.rn == low + 1, ranked.c.v))), below)
            picks.append((below + func.max(position - low) * (above - below)).label(f"q{i}"))
            wanted += [ranked.c.rn == low, ranked.c.rn == low + 1]
        query = select(*key_cols, *picks).where(or_(*wanted))
        for row in session.execute(query.group_by(*key_cols) if key_cols else query).mappings():
            ranked_dist = groups.get(tuple(row[k] for k in rollup))
            if ranked_dist is not None:
                ranked_dist.quantiles = {q: float(row[f"q{i}"]) for i, q in enumerate(quantiles)}
        out[rollup] = groups
    return out
