"""The dashboard's aggregates, computed by the database: no metric row is loaded into Python.

Percentiles are ``percentile_cont`` on PostgreSQL. SQLite has no ordered-set aggregates, so
there the same linear interpolation is done with window functions (``row_number`` and
``count`` over each group, then the two rows around the wanted rank), which gives the same
numbers. Time buckets are whole seconds since the epoch, floored in SQL on both databases.
Every query filters on the tenant first, which the (tenant_id, created_at, ...) indexes serve.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, extract, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from ..models import NodeMetric, Run
from ..types import utcnow
from ._common import tenant_key

DEFAULT_RANGE = timedelta(hours=24)


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
        finished = self.runs
        return round(100.0 * self.failed / finished, 2) if finished else 0.0


# --- filters and dialect helpers -------------------------------------------------------------
def _metric_where(f: Filters) -> list[ColumnElement[bool]]:
    since, until = f.window()
    where = [NodeMetric.tenant_id == tenant_key(f.tenant_id), col(NodeMetric.created_at) >= since,
             col(NodeMetric.created_at) < until]
    if f.flow_id:
        where.append(NodeMetric.flow_id == str(f.flow_id))
    if f.node_type:
        where.append(NodeMetric.node_type == f.node_type)
    return where


def _run_where(f: Filters) -> list[ColumnElement[bool]]:
    """Runs have no node type: the node-type filter does not narrow them."""
    since, until = f.window()
    where = [Run.tenant_id == tenant_key(f.tenant_id), col(Run.started_at) >= since, col(Run.started_at) < until]
    if f.flow_id:
        where.append(Run.flow_id == str(f.flow_id))
    return where


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _floor_div(session: Session, value: Any, width: float) -> ColumnElement[Any]:
    """floor(value / width) for non-negative values, as an integer, on either database."""
    if _postgres(session):
        return cast(func.floor(value / width), Integer)
    return cast(value / width, Integer)  # SQLite: CAST truncates, which is floor for value >= 0


def _epoch(session: Session, column: Any) -> ColumnElement[Any]:
    if _postgres(session):
        return extract("epoch", column)
    return cast(func.strftime("%s", column), Integer)


def _bucket(session: Session, column: Any, bucket_s: int) -> ColumnElement[Any]:
    return _floor_div(session, _epoch(session, column), float(bucket_s)) * bucket_s


def _as_time(epoch_s: Any) -> datetime:
    return datetime.fromtimestamp(float(epoch_s), tz=timezone.utc)


def pick_bucket(f: Filters, points: int = 60) -> int:
    """A bucket width in seconds giving about ``points`` buckets over the range (a round number)."""
    since, until = f.window()
    span = max(1.0, (until - since).total_seconds())
    for width in (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if span / width <= points:
            return width
    return 86400 * 7


# --- percentiles -----------------------------------------------------------------------------
def _percentiles(session: Session, keys: list[Any], where: list[ColumnElement[bool]],
                 value: Any, quantiles: tuple[float, ...]) -> Any:
    """A subquery with the key columns, ``n`` and one column ``q<i>`` per quantile (no keys: one
    row over everything)."""
    if _postgres(session):
        columns = [func.percentile_cont(q).within_group(value.asc()).label(f"q{i}") for i, q in enumerate(quantiles)]
        return select(*keys, func.count().label("n"), *columns).where(*where).group_by(*keys).subquery()
    partition = keys or None
    ranked = select(
        *keys, value.label("v"),
        func.row_number().over(partition_by=partition, order_by=value).label("rn"),
        func.count().over(partition_by=partition).label("n"),
    ).where(*where).subquery()
    key_cols = [ranked.c[k.key] for k in keys]
    columns, wanted = [], []
    for i, q in enumerate(quantiles):
        position = 1 + q * (ranked.c.n - 1)  # 1-based rank, fractional
        low = cast(position, Integer)
        fraction = position - low
        below = func.max(case((ranked.c.rn == low, ranked.c.v)))
        above = func.coalesce(func.max(case((ranked.c.rn == low + 1, ranked.c.v))), below)
        columns.append((below + func.max(fraction) * (above - below)).label(f"q{i}"))
        wanted += [ranked.c.rn == low, ranked.c.rn == low + 1]
    return (select(*key_cols, func.max(ranked.c.n).label("n"), *columns)
            .where(or_(*wanted)).group_by(*key_cols).subquery())


def node_percentiles(session: Session, f: Filters, by: str = "node_type", limit: int = 50) -> list[PercentileRow]:
    """p50 and p95 (with mean and max) per node type or per node, slowest p50 first."""
    if by not in ("node_type", "node_id"):
        raise ValueError("by must be 'node_type' or 'node_id'")
    where = _metric_where(f)
    if by == "node_type":
        keys = [col(NodeMetric.node_type)]
    else:
        keys = [col(NodeMetric.flow_id), col(NodeMetric.node_id), col(NodeMetric.node_type)]
    q = _percentiles(session, keys, where, col(NodeMetric.duration_ms), (0.5, 0.95))
    extra = select(*keys, func.avg(NodeMetric.duration_ms).label("avg"),
                   func.max(NodeMetric.duration_ms).label("mx")).where(*where).group_by(*keys).subquery()
    join = and_(*[q.c[k.key] == extra.c[k.key] for k in keys])
    query = (select(q, extra.c.avg, extra.c.mx).select_from(q.join(extra, join))
             .order_by(q.c.q0.desc()).limit(limit))
    rows = []
    for row in session.execute(query).mappings():
        key = row["node_type"] if by == "node_type" else row["node_id"]
        rows.append(PercentileRow(str(key), str(row["node_type"]), row.get("flow_id"), int(row["n"]),
                                  _r(row["q0"]), _r(row["q1"]), _r(row["avg"]), _r(row["mx"])))
    return rows


def flow_node_stats(session: Session, tenant_id: str, flow_id: str,
                    since: timedelta | datetime = timedelta(days=7)) -> dict[str, NodeAggregate]:
    """What the optimisation suggestions need per node of one flow: count, p50, p95, cache hits
    and misses, and p50 of hits and of misses (the lookup cost and the computing cost)."""
    start = utcnow() - since if isinstance(since, timedelta) else since
    f = Filters(tenant_id, flow_id=flow_id, since=start, until=utcnow() + timedelta(seconds=1))
    where = _metric_where(f)
    node = [col(NodeMetric.node_id)]
    overall = _percentiles(session, node, where, col(NodeMetric.duration_ms), (0.5, 0.95))
    by_cache = _percentiles(session, [*node, col(NodeMetric.cache)],
                            [*where, col(NodeMetric.cache).in_(("hit", "miss"))], col(NodeMetric.duration_ms), (0.5,))
    types = select(col(NodeMetric.node_id), func.max(NodeMetric.node_type)).where(*where).group_by(col(NodeMetric.node_id))
    node_type = {node_id: str(t) for node_id, t in session.execute(types)}
    cache: dict[tuple[str, str], tuple[int, float]] = {
        (row.node_id, row.cache): (int(row.n), _r(row.q0)) for row in session.execute(select(by_cache))
    }
    stats: dict[str, NodeAggregate] = {}
    for row in session.execute(select(overall)):
        hit, miss = cache.get((row.node_id, "hit")), cache.get((row.node_id, "miss"))
        stats[row.node_id] = NodeAggregate(
            row.node_id, node_type.get(row.node_id, ""), int(row.n), _r(row.q0), _r(row.q1),
            hits=hit[0] if hit else 0, misses=miss[0] if miss else 0,
            p50_hit_ms=hit[1] if hit else None, p50_miss_ms=miss[1] if miss else None,
        )
    return stats


# --- over time -------------------------------------------------------------------------------
def durations_over_time(session: Session, f: Filters, bucket_s: int | None = None) -> list[tuple[datetime, str, float, int]]:
    """(bucket start, node type, mean duration ms, executions), oldest first."""
    bucket_s = bucket_s or pick_bucket(f)
    bucket = _bucket(session, col(NodeMetric.created_at), bucket_s).label("bucket")
    query = (select(bucket, col(NodeMetric.node_type), func.avg(NodeMetric.duration_ms), func.count())
             .where(*_metric_where(f)).group_by(bucket, col(NodeMetric.node_type)).order_by(bucket))
    return [(_as_time(b), str(t), _r(avg), int(n)) for b, t, avg, n in session.execute(query)]


def tokens_over_time(session: Session, f: Filters, bucket_s: int | None = None) -> list[tuple[datetime, int, int]]:
    """(bucket start, tokens in, tokens out), oldest first; buckets without tokens are left out."""
    bucket_s = bucket_s or pick_bucket(f)
    bucket = _bucket(session, col(NodeMetric.created_at), bucket_s).label("bucket")
    tokens_in, tokens_out = func.sum(NodeMetric.tokens_in), func.sum(NodeMetric.tokens_out)
    query = (select(bucket, tokens_in, tokens_out).where(*_metric_where(f))
             .group_by(bucket).having(tokens_in + tokens_out > 0).order_by(bucket))
    return [(_as_time(b), int(i or 0), int(o or 0)) for b, i, o in session.execute(query)]


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


# --- cache and first chunk -------------------------------------------------------------------
def cache_by_node_type(session: Session, f: Filters) -> dict[str, dict[str, Any]]:
    """The seed's shape per node type: ``{type: {"total", "hits", "rate"}}`` (cached nodes only)."""
    hits = func.sum(case((col(NodeMetric.cache) == "hit", 1), else_=0))
    query = (select(col(NodeMetric.node_type), func.count(), hits)
             .where(*_metric_where(f), col(NodeMetric.cache).in_(("hit", "miss")))
             .group_by(col(NodeMetric.node_type)).order_by(func.count().desc()))
    out: dict[str, dict[str, Any]] = {}
    for node_type, total, n_hits in session.execute(query):
        total, n_hits = int(total), int(n_hits or 0)
        out[str(node_type)] = {"total": total, "hits": n_hits, "rate": round(100.0 * n_hits / total, 2) if total else 0.0}
    return out


def first_chunk_histogram(session: Session, f: Filters, width_ms: float | None = None) -> tuple[float, list[tuple[float, int]]]:
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
    q = _percentiles(session, [], where, col(Run.first_chunk_ms), (0.5, 0.95))
    row = session.execute(select(q)).first()
    return (None, None) if row is None or not row.n else (_r(row.q0), _r(row.q1))


def input_repeat_rate(session: Session, tenant_id: str, flow_id: str, names: list[str],
                      since: timedelta | datetime = timedelta(days=7)) -> tuple[int, float] | None:
    """(runs, share of runs whose values of the input ``names`` an earlier run already had).

    Read from the stored run inputs; None when no run of the flow was recorded in the range.
    """
    if not names:
        return None
    start = utcnow() - since if isinstance(since, timedelta) else since
    parts = [func.coalesce(col(Run.inputs)[name].as_string(), "") for name in sorted(names)]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined + cast(literal("\x1f"), String) + part
    query = select(func.count(), func.count(func.distinct(combined))).where(
        Run.tenant_id == tenant_key(tenant_id), Run.flow_id == str(flow_id), col(Run.started_at) >= start)
    runs, distinct = session.execute(query).one()
    if not runs:
        return None
    return int(runs), round((int(runs) - int(distinct)) / int(runs), 4)


def metric_flows(session: Session, f: Filters) -> list[str]:
    """Flow ids with metrics in the range (for the filter)."""
    g = Filters(f.tenant_id, since=f.since, until=f.until)
    query = select(col(NodeMetric.flow_id)).where(*_metric_where(g)).group_by(col(NodeMetric.flow_id))
    return sorted(str(v) for (v,) in session.execute(query))


def metric_node_types(session: Session, f: Filters) -> list[str]:
    g = Filters(f.tenant_id, flow_id=f.flow_id, since=f.since, until=f.until)
    query = select(col(NodeMetric.node_type)).where(*_metric_where(g)).group_by(col(NodeMetric.node_type))
    return sorted(str(v) for (v,) in session.execute(query))


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


def dashboard_data(session: Session, f: Filters) -> DashboardData:
    bucket = pick_bucket(f)
    run_bucket = max(60, bucket)
    width, histogram = first_chunk_histogram(session, f)
    p50, p95 = first_chunk_percentiles(session, f)
    return DashboardData(
        by_type=node_percentiles(session, f, "node_type"), by_node=node_percentiles(session, f, "node_id"),
        durations=durations_over_time(session, f, bucket), bucket_s=bucket, cache_types=cache_by_node_type(session, f),
        runs=runs_over_time(session, f, run_bucket), run_bucket_s=run_bucket, totals=run_totals(session, f),
        first_chunk_width=width, first_chunk=histogram, first_chunk_p50=p50, first_chunk_p95=p95,
        tokens=tokens_over_time(session, f, bucket),
    )


def _nice_width(raw: float) -> float:
    for width in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if raw <= width:
            return float(width)
    return 30000.0


def _r(value: Any) -> float:
    return round(float(value), 3) if value is not None else 0.0
