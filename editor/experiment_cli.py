"""``akis experiment``: A/B tests of flow versions from the command line, through the same service
as the editor and the API. Every refusal prints one ``error:`` line and exits 1.

    akis experiment create pallet-assistant A=6:50 B=7:50 --name "shorter prompt" --min-runs 2000 --start
    akis experiment list --tenant 2 | akis experiment results EXPERIMENT_ID [--json]
    akis experiment weights EXPERIMENT_ID A=80 B=20 | akis experiment pause|start|stop EXPERIMENT_ID
    akis experiment promote EXPERIMENT_ID B
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import asdict
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from runtime.settings import get_settings
from runtime.wiring import build_registry
from storage.db import init_db
from storage.errors import StorageError

from .charts.style import fmt_ms
from .services.active_runs import ActiveRuns
from .services.errors import ServiceError
from .services.experiment_report import Analysis
from .services.experiment_stats import Interval
from .services.experiments import METRICS, ExperimentInfo, ExperimentService, VariantSpec
from .services.flows import FlowService

T = TypeVar("T")
app = typer.Typer(help="A/B tests: split a flow's conversations between versions, read the results.",
                  no_args_is_help=True)
TENANT = typer.Option("1", "--tenant", "-t", help="The tenant id.")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _service() -> ExperimentService:
    settings = get_settings()
    database = init_db(settings.sqlalchemy_url)
    return ExperimentService(database, FlowService(database, build_registry(settings), None), ActiveRuns())


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except (ServiceError, StorageError) as exc:
        _fail(getattr(exc, "detail", None) or str(exc))


def parse_variant(text: str) -> VariantSpec:
    """``NAME=VERSION:WEIGHT`` or ``NAME=FLOW@VERSION:WEIGHT`` (a version of another flow)."""
    name, _, rest = text.partition("=")
    target, _, weight = rest.rpartition(":")
    flow_id, _, version = target.rpartition("@")
    if not name or not version.isdigit() or not weight.isdigit():
        _fail(f"variant {text!r}: use NAME=VERSION:WEIGHT, e.g. A=6:50 (or NAME=FLOW@VERSION:WEIGHT)")
    return VariantSpec(name, int(version), int(weight), flow_id or None)


def _line(e: ExperimentInfo) -> str:
    arms = ", ".join(f"{v.name}={v.flow_id}@{v.version}:{v.weight}%" for v in e.variants)
    return f"{e.id}  {e.status:<8}  {e.flow_id}  {e.name}  [{arms}]"


@app.command("create")
def create(flow_id: str, variants: list[str] = typer.Argument(..., help="NAME=VERSION:WEIGHT, the control first."),
           tenant: str = TENANT, name: str = typer.Option("", "--name"),
           metric: str = typer.Option("first_chunk_ms", "--metric", help=f"What decides: {', '.join(METRICS)}."),
           min_runs: int = typer.Option(1000, "--min-runs", help="Planned runs per variant before any verdict."),
           start: bool = typer.Option(False, "--start", help="Start routing new sessions at once.")) -> None:
    """Create an experiment on a flow (a draft unless --start)."""
    specs = [parse_variant(v) for v in variants]
    created = _run(_service().create(tenant, flow_id, specs, name=name, primary_metric=metric, min_runs=min_runs,
                                     start=start))
    typer.echo(_line(created))


@app.command("list")
def list_experiments(tenant: str = TENANT, flow: str | None = typer.Option(None, "--flow")) -> None:
    """The tenant's experiments, newest first."""
    for experiment in _run(_service().list_experiments(tenant, flow)):
        typer.echo(_line(experiment))


@app.command("start")
def start(experiment_id: str, tenant: str = TENANT) -> None:
    """Start or resume routing new sessions."""
    typer.echo(_line(_run(_service().start(tenant, experiment_id))))


@app.command("pause")
def pause(experiment_id: str, tenant: str = TENANT) -> None:
    """New sessions run the control, outside the analysis; assigned sessions keep their variant."""
    typer.echo(_line(_run(_service().pause(tenant, experiment_id))))


@app.command("stop")
def stop(experiment_id: str, tenant: str = TENANT) -> None:
    """End without a winner."""
    typer.echo(_line(_run(_service().stop(tenant, experiment_id))))


@app.command("weights")
def weights(experiment_id: str, shares: list[str] = typer.Argument(..., help="NAME=WEIGHT for every variant."),
            tenant: str = TENANT) -> None:
    """New weights for new sessions (assigned sessions keep their variant)."""
    parsed: dict[str, int] = {}
    for share in shares:
        name, _, weight = share.partition("=")
        if not name or not weight.isdigit():
            _fail(f"{share!r}: use NAME=WEIGHT, e.g. A=80")
        parsed[name] = int(weight)
    typer.echo(_line(_run(_service().set_weights(tenant, experiment_id, parsed))))


@app.command("promote")
def promote(experiment_id: str, variant: str, tenant: str = TENANT) -> None:
    """Make the variant's version the flow's current one and end the experiment."""
    typer.echo(_line(_run(_service().promote(tenant, experiment_id, variant))))


@app.command("results")
def results(experiment_id: str, tenant: str = TENANT, as_json: bool = typer.Option(False, "--json")) -> None:
    """Per-variant figures with 95% intervals, the difference to the control and the verdict."""
    analysis = _run(_service().analysis(tenant, experiment_id))
    if as_json:
        typer.echo(json.dumps(asdict(analysis), default=str))
        return
    _print(analysis)


def _pct(value: Interval | None) -> str:
    return "-" if value is None else f"{100 * value.estimate:.1f}% [{100 * value.low:.1f}, {100 * value.high:.1f}]"


def _print(analysis: Analysis) -> None:
    e = analysis.experiment
    metric = e.primary_metric
    console = Console()
    console.print(f"[bold]{e.name}[/bold] ({e.id}, {e.status}) on flow {e.flow_id}: decided by {metric}, "
                  f"planned {e.min_runs} per variant")
    table = Table()
    for column in ("variant", "version", "runs", "first chunk p50/p95", "total p50/p95", "errors", "feedback +",
                   f"{metric} vs control [95%]", "verdict", "runs needed"):
        table.add_column(column)
    for r in analysis.variants:
        difference = r.comparisons.get(metric)
        d = difference.difference if difference is not None else None
        scale, unit = (100.0, " pts") if metric in ("error_rate", "positive_feedback") else (1.0, " ms")
        shown = "-" if d is None else f"{scale * d.estimate:+.1f}{unit} [{scale * d.low:+.1f}, {scale * d.high:+.1f}]"
        table.add_row(r.name, f"{r.flow_id}@{r.version}", str(r.runs),
                      f"{fmt_ms(r.first_chunk_p50)} / {fmt_ms(r.first_chunk_p95)}",
                      f"{fmt_ms(r.duration_p50)} / {fmt_ms(r.duration_p95)}", _pct(r.error_rate),
                      f"{_pct(r.positive_feedback)} of {r.feedback_count}", shown, r.verdict, str(r.more_needed))
    console.print(table)
    console.print(f"winner: {analysis.winner}" if analysis.winner else "winner: none yet")
    for note in analysis.notes:
        console.print(note)
