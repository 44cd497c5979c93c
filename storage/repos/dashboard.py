"""The dashboard's aggregates, computed by the database: no metric row is loaded into Python.

The whole dashboard is two scans of the metric rows in the range (distributions per node and
per node type in one; the time series, from the index alone) plus small queries on the runs. Percentiles come
from :mod:`.dashboard_stats` (exact ``percentile_cont`` on PostgreSQL, log-bucket counts on
SQLite). Time buckets are floored in SQL on both databases. Every query filters on the tenant
and the time range first, which the (tenant_id, created_at, ...) indexes serve.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, case, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from ..models import NodeMetric, Run
from ..types import utcnow
from ._common import tenant_key
from .dashboard_stats import Distribution, distributions, postgres
from .runs import slowest_runs

DEFAULT_RANGE = timedelta(hours=24)
SLOWEST = 10
HIT = case((col(NodeMetric.cache) == "hit", 1), else_=0)
MISS = case((col(NodeMetric.cache) == "miss", 1), else_=0)
METRIC_COLUMNS = {"flow_id": col(NodeMetric.flow_id), "node_id": col(NodeMetric.node_id),
                  "node_type": col(NodeMetric.node_type), "cache": col(NodeMetric.cache)}
BY_TYPE: tuple[str, ...] = ("node_type",)
BY_NODE: tuple[str, ...] = ("flow_id", "node_id", "node_type")


@dataclass(frozen=True, slots=True)
class Filters:
    """What the dashboard shows: one tenant, optionally one flow and node type, a time range."""

    tenant_id: str
    flow_id: str | None = None
    node_type: str | None = None
    since: datetime | None = None  # default: 24 hours before ``until``
    until: datetime | None = None  # default: now

    def window(self) -> tuple[datetime, datetime]:
        until = self.until or utcnow()
        return self.since or until - DEFAULT_RANGE, until


@dataclass(frozen=True, slots=True)
class PercentileRow:
    key: str  # node_type, or node_id (with flow_id) for the per-node view
    node_type: str
    flow_id: str | None
    count: int
    p50_ms: float
    p95_ms: float
    avg_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class NodeAggregate:
    """One node of one flow, as the optimisation suggestions read it (``runtime.suggestions.NodeStats``)."""

    node_id: str
    node_type: str
    count: int
    p50_ms: float
    p95_ms: float
    hits: int = 0
    misses: int = 0
    p50_hit_ms: float | None = None
    p50_miss_ms: float | None = None


@dataclass(frozen=True, slots=True)
class RunTotals:
    runs: int
    failed: int
    cancelled: int

    @property
    def error_rate(self) -> float:
        return round(100.0 * self.failed / self.runs, 2) if self.runs else 0.0


@dataclass(slots=True)
class DashboardData:
    """Everything the dashboard page shows, read in one unit of work."""

    by_type: list[PercentileRow]
    by_node: list[PercentileRow]
    durations: list[tuple[datetime, str, float, int]]
    bucket_s: int
    cache_types: dict[str, dict[str, Any]]
    runs: list[tuple[datetime, int, int]]
    run_bucket_s: int
    totals: RunTotals
    first_chunk_width: float
    first_chunk: list[tuple[float, int]]
    first_chunk_p50: float | None
    first_chunk_p95: float | None
    tokens: list[tuple[datetime, int, int]]
    slowest: list[Run]  # the slowest runs in the range (at most SLOWEST), slowest first


# --- filters and time buckets ----------------------------------------------------------------
def _metric_where(f: Filters) -> list[ColumnElement[bool]]:
    since, until = f.window()
    where = [col(NodeMetric.tenant_id) == tenant_key(f.tenant_id), col(NodeMetric.created_at) >= since,
             col(NodeMetric.created_at) < until]
    if f.flow_id:
        where.append(col(NodeMetric.flow_id) == str(f.flow_id))
    if f.node_type:
        where.append(col(NodeMetric.node_type) == f.node_type)
    return where


def _run_where(f: Filters) -> list[ColumnElement[bool]]:
    """Runs have no node type: the node-type filter does not narrow them."""
    since, until = f.window()
    where = [col(Run.tenant_id) == tenant_key(f.tenant_id), col(Run.started_at) >= since, col(Run.started_at) < until]
    if f.flow_id:
        where.append(col(Run.flow_id) == str(f.flow_id))
    return where


def _floor_div(session: Session, value: Any, width: float) -> ColumnElement[Any]:
    """floor(value / width) for non-negative values, as an integer, on either database."""
    if postgres(session):
        return cast(func.floor(value / width), Integer)
    return cast(value / width, Integer)  # SQLite: CAST truncates, which is floor for value >= 0


def _bucket(session: Session, column: Any, bucket_s: int) -> ColumnElement[Any]:
    """The start of the row's bucket: a timestamp on PostgreSQL (``date_bin``), seconds since
    the epoch on SQLite. Grouping by the plain expression keeps the scan cheap."""
    if postgres(session):
        return func.date_bin(literal(timedelta(seconds=bucket_s)), column,
                             literal(datetime(1970, 1, 1, tzinfo=UTC)))
    epoch = func.unixepoch(column) if sqlite3.sqlite_version_info >= (3, 38) else func.strftime("%s", column)
    return cast(cast(epoch, Integer) / bucket_s, Integer) * bucket_s


def _as_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), tz=UTC)


def pick_bucket(f: Filters, points: int = 60) -> int:
    """A bucket width in seconds giving about ``points`` buckets over the range (a round number)."""
    since, until = f.window()
    span = max(1.0, (until - since).total_seconds())
    for width in (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if span / width <= points:
            return width
    return 86400 * 7


# --- durations and the cache -----------------------------------------------------------------
def _node_distributions(session: Session, f: Filters) -> dict[tuple[str, ...], dict[tuple[Any, ...], Distribution]]:
    return distributions(session, columns=METRIC_COLUMNS, value=col(NodeMetric.duration_ms), where=_metric_where(f),
                         rollups=(BY_TYPE, BY_NODE), sums={"hits": HIT, "misses": MISS})


def _percentile_rows(groups: dict[tuple[Any, ...], Distribution], rollup: tuple[str, ...],
                     limit: int) -> list[PercentileRow]:
    rows = []
    for key, d in groups.items():
        named = dict(zip(rollup, key, strict=True))
        rows.append(PercentileRow(str(named.get("node_id", named["node_type"])), str(named["node_type"]),
                                  named.get("flow_id"), d.count, _r(d.quantiles[0.5]), _r(d.quantiles[0.95]),
                                  _r(d.mean), _r(d.maximum)))
    rows.sort(key=lambda r: (-r.p50_ms, r.key, r.flow_id or ""))
    return rows[:limit]


def _cache_rates(groups: dict[tuple[Any, ...], Distribution]) -> dict[str, dict[str, Any]]:
    """Hit rates per node type, ``{type: {"total", "hits", "rate"}}`` as the cache's own stats
    report them (cached nodes only)."""
    out = {}
    for (node_type,), d in groups.items():
        hits, total = int(d.sums["hits"]), int(d.sums["hits"] + d.sums["misses"])
        if total:
            out[str(node_type)] = {"total": total, "hits": hits, "rate": round(100.0 * hits / total, 2)}
    return dict(sorted(out.items(), key=lambda item: (-item[1]["total"], item[0])))


def node_percentiles(session: Session, f: Filters, by: str = "node_type", limit: int = 50) -> list[PercentileRow]:
    """p50 and p95 (with mean and max) per node type or per node (of a flow), slowest p50 first."""
    if by not in ("node_type", "node_id"):
        raise ValueError("by must be 'node_type' or 'node_id'")
    rollup = BY_TYPE if by == "node_type" else BY_NODE
    found = distributions(session, columns=METRIC_COLUMNS, value=col(NodeMetric.duration_ms),
                          where=_metric_where(f), rollups=(rollup,))
    return _percentile_rows(found[rollup], rollup, limit)


def cache_by_node_type(session: Session, f: Filters) -> dict[str, dict[str, Any]]:
    hits, lookups = func.sum(HIT), func.sum(HIT + MISS)
    query = (select(col(NodeMetric.node_type), hits, lookups).where(*_metric_where(f))
             .group_by(col(NodeMetric.node_type)))
    groups = {}
    for node_type, n_hits, n_lookups in session.execute(query):
        d = Distribution()
        d.sums = {"hits": float(n_hits or 0), "misses": float((n_lookups or 0) - (n_hits or 0))}
        groups[(node_type,)] = d
    return _cache_rates(groups)


def flow_node_stats(session: Session, tenant_id: str, flow_id: str,
                    since: timedelta | datetime = timedelta(days=7)) -> dict[str, NodeAggregate]:
    """What the optimisation suggestions need per node of one flow: count, p50, p95, cache hits
    and misses, and the p50 of hits and of misses (the lookup cost and the computing cost)."""
    start = utcnow() - since if isinstance(since, timedelta) else since
    f = Filters(tenant_id, flow_id=flow_id, since=start, until=utcnow() + timedelta(seconds=1))
    found = distributions(session, columns=METRIC_COLUMNS, value=col(NodeMetric.duration_ms), where=_metric_where(f),
                          rollups=(("node_id", "node_type"), ("node_id", "cache")))
    by_cache = found[("node_id", "cache")]
    stats: dict[str, NodeAggregate] = {}
    for (node_id, node_type), d in found[("node_id", "node_type")].items():
        hit, miss = by_cache.get((node_id, "hit")), by_cache.get((node_id, "miss"))
        previous = stats.get(node_id)
        if previous is not None and previous.count >= d.count:
            continue  # a node whose type changed between versions: the busier type wins
        stats[node_id] = NodeAggregate(
            node_id, str(node_type), d.count, _r(d.quantiles[0.5]), _r(d.quantiles[0.95]),
            hits=hit.count if hit else 0, misses=miss.count if miss else 0,
            p50_hit_ms=_r(hit.quantiles[0.5]) if hit else None, p50_miss_ms=_r(miss.quantiles[0.5]) if miss else None,
        )
    return stats


# --- over time -------------------------------------------------------------------------------
def durations_over_time(session: Session, f: Filters,
                        bucket_s: int | None = None) -> list[tuple[datetime, str, float, int]]:
    """(bucket start, node type, mean duration ms, executions), oldest first. Reads only indexed
    columns (tenant, time, node type, duration): an index-only scan on both databases."""
    bucket = _bucket(session, col(NodeMetric.created_at), bucket_s or pick_bucket(f)).label("bucket")
    query = (select(bucket, col(NodeMetric.node_type), func.avg(NodeMetric.duration_ms), func.count())
             .where(*_metric_where(f)).group_by(bucket, col(NodeMetric.node_type)).order_by(bucket))
    return [(_as_time(b), str(t), _r(avg), int(n)) for b, t, avg, n in session.execute(query)]


def tokens_over_time(session: Session, f: Filters, bucket_s: int | None = None) -> list[tuple[datetime, int, int]]:
    """(bucket start, tokens in, tokens out) over the runs (each run stores its total), oldest
    first; buckets without tokens are left out. The node-type filter does not apply."""
    bucket = _bucket(session, col(Run.started_at), bucket_s or pick_bucket(f)).label("bucket")
    tokens_in, tokens_out = func.sum(Run.tokens_in), func.sum(Run.tokens_out)
    query = (select(bucket, tokens_in, tokens_out).where(*_run_where(f))
             .group_by(bucket).having(tokens_in + tokens_out > 0).order_by(bucket))
    return [(_as_time(b), int(i or 0), int(o or 0)) for b, i, o in session.execute(query)]


# --- runs ------------------------------------------------------------------------------------
def runs_over_time(session: Session, f: Filters, bucket_s: int = 60) -> list[tuple[datetime, int, int]]:
    """(bucket start, runs started, runs failed), oldest first: runs per minute and errors."""
    bucket = _bucket(session, col(Run.started_at), bucket_s).label("bucket")
    failed = func.sum(case((col(Run.status) == "failed", 1), else_=0))
    query = select(bucket, func.count(), failed).where(*_run_where(f)).group_by(bucket).order_by(bucket)
    return [(_as_time(b), int(n), int(x or 0)) for b, n, x in session.execute(query)]


def run_totals(session: Session, f: Filters) -> RunTotals:
    failed = func.sum(case((col(Run.status) == "failed", 1), else_=0))
    cancelled = func.sum(case((col(Run.status) == "cancelled", 1), else_=0))
    n, x, c = session.execute(select(func.count(), failed, cancelled).where(*_run_where(f))).one()
    return RunTotals(int(n), int(x or 0), int(c or 0))


def first_chunk_histogram(session: Session, f: Filters,
                          width_ms: float | None = None) -> tuple[float, list[tuple[float, int]]]:
    """(bucket width, [(bucket start ms, runs)]) of the time to the first streamed chunk."""
    where = [*_run_where(f), col(Run.first_chunk_ms).is_not(None)]
    if width_ms is None:
        top = session.execute(select(func.max(Run.first_chunk_ms)).where(*where)).scalar()
        width_ms = _nice_width(float(top or 0) / 30)
    bucket = _floor_div(session, col(Run.first_chunk_ms), width_ms).label("bucket")
    query = select(bucket, func.count()).where(*where).group_by(bucket).order_by(bucket)
    return width_ms, [(int(b) * width_ms, int(n)) for b, n in session.execute(query)]


def first_chunk_percentiles(session: Session, f: Filters) -> tuple[float | None, float | None]:
    """p50 and p95 of the time to the first chunk, over the runs that streamed."""
    where = [*_run_where(f), col(Run.first_chunk_ms).is_not(None)]
    found = distributions(session, columns={}, value=col(Run.first_chunk_ms), where=where, rollups=((),))
    d = found[()].get(())
    return (None, None) if d is None else (_r(d.quantiles[0.5]), _r(d.quantiles[0.95]))


def input_repeat_rate(session: Session, tenant_id: str, flow_id: str, names: list[str],
                      since: timedelta | datetime = timedelta(days=7)) -> tuple[int, float] | None:
    """(runs, share of runs whose values of the input ``names`` an earlier run already had).

    Read from the stored run inputs; None when no run of the flow was recorded in the range.
    """
    if not names:
        return None
    start = utcnow() - since if isinstance(since, timedelta) else since
    parts = [func.coalesce(col(Run.inputs)[name].as_string(), "") for name in sorted(names)]
    combined: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        combined = combined + cast(literal("\x1f"), String) + part
    query = select(func.count(), func.count(func.distinct(combined))).where(
        col(Run.tenant_id) == tenant_key(tenant_id), col(Run.flow_id) == str(flow_id), col(Run.started_at) >= start)
    runs, distinct = session.execute(query).one()
    if not runs:
        return None
    return int(runs), round((int(runs) - int(distinct)) / int(runs), 4)


# --- the page --------------------------------------------------------------------------------
def dashboard_data(session: Session, f: Filters) -> DashboardData:
    bucket = pick_bucket(f)
    run_bucket = max(60, bucket)
    found = _node_distributions(session, f)
    width, histogram = first_chunk_histogram(session, f)
    p50, p95 = first_chunk_percentiles(session, f)
    return DashboardData(
        by_type=_percentile_rows(found[BY_TYPE], BY_TYPE, 50), by_node=_percentile_rows(found[BY_NODE], BY_NODE, 50),
        durations=durations_over_time(session, f, bucket), bucket_s=bucket, cache_types=_cache_rates(found[BY_TYPE]),
        runs=runs_over_time(session, f, run_bucket), run_bucket_s=run_bucket, totals=run_totals(session, f),
        first_chunk_width=width, first_chunk=histogram, first_chunk_p50=p50, first_chunk_p95=p95,
        tokens=tokens_over_time(session, f, bucket),
        slowest=slowest_runs(session, f.tenant_id, *f.window(), flow_id=f.flow_id, limit=SLOWEST),
    )


def activity_marker(session: Session, tenant_id: str) -> tuple[Any, ...]:
    """Changes whenever a metric row or a run of the tenant is written (index lookups only):
    the live dashboard re-reads its aggregates only when it does."""
    tenant = tenant_key(tenant_id)
    last_metric = select(func.max(NodeMetric.created_at)).where(col(NodeMetric.tenant_id) == tenant)
    metric = session.execute(last_metric).scalar()
    runs = session.execute(select(func.count(), func.max(Run.started_at)).where(col(Run.tenant_id) == tenant)).one()
    return metric, *runs


def metric_flows(session: Session, f: Filters) -> list[str]:
    """Flow ids with metrics in the range (for the filter)."""
    g = Filters(f.tenant_id, since=f.since, until=f.until)
    query = select(col(NodeMetric.flow_id)).where(*_metric_where(g)).group_by(col(NodeMetric.flow_id))
    return sorted(str(v) for (v,) in session.execute(query))


def metric_node_types(session: Session, f: Filters) -> list[str]:
    g = Filters(f.tenant_id, flow_id=f.flow_id, since=f.since, until=f.until)
    query = select(col(NodeMetric.node_type)).where(*_metric_where(g)).group_by(col(NodeMetric.node_type))
    return sorted(str(v) for (v,) in session.execute(query))


def _nice_width(raw: float) -> float:
    for width in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if raw <= width:
            return float(width)
    return 30000.0


def _r(value: Any) -> float:
    return round(float(value), 3) if value is not None else 0.0
