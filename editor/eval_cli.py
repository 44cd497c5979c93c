"""``akis eval``: run a dataset through a flow version and gate a deploy on the result (CI).

    akis eval cases.jsonl --flow pallet-assistant@3 --baseline 2 --min-pass 0.9 --tolerance 0.02

DATASET is a stored dataset (id or name) or a ``.jsonl``/``.csv`` file, imported first into the
dataset of its header's name (or the file's stem), its cases replaced. Exit codes: 0 the gate
passed, 1 it failed (the pass rate is under ``--min-pass``, or a scorer or the pass rate fell
from the baseline by more than ``--tolerance``), 2 the evaluation could not run (one ``error:``
line says why). Runs against the configured database (``AKIS_DATABASE_URL``; the embedded
SQLite file by default), so CI needs no server.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from runtime.settings import get_settings

if TYPE_CHECKING:
    from editor.context import AkisContext
    from editor.services.datasets import FileFormat
    from editor.services.evaluations import EvaluationReport

EXIT_GATE, EXIT_ERROR = 1, 2
PROGRESS_S = 5.0


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_ERROR)


def parse_flow(text: str) -> tuple[str, int | None]:
    """``flow`` or ``flow@3``."""
    flow_id, _, version = text.partition("@")
    if not flow_id or (version and not version.isdigit()):
        _fail(f"--flow {text!r}: use FLOW or FLOW@VERSION (a version number)")
    return flow_id, int(version) if version else None


def eval_command(
    dataset: str = typer.Argument(..., help="A stored dataset (id or name), or a .jsonl/.csv file to import first."),
    flow: str = typer.Option(..., "--flow", "-f", help="FLOW or FLOW@VERSION (default: the current version)."),
    baseline: int | None = typer.Option(None, "--baseline", "-b", help="Also run this version and compare."),
    min_pass: float | None = typer.Option(None, "--min-pass", min=0.0, max=1.0, help="Fail under this pass rate."),
    tolerance: float = typer.Option(0.0, "--tolerance", min=0.0, max=1.0,
                                    help="How far a scorer's mean (or the pass rate) may fall below the baseline."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, max=64, help="Case runs at once."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run with every node's cache off."),
    tenant: str = typer.Option("1", "--tenant", "-t", help="The tenant id."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of tables."),
    cases: bool = typer.Option(False, "--cases", help="Also list the cases that changed or failed."),
) -> None:
    """Run a dataset through a flow version, print the scores, exit 1 when the gate fails."""
    flow_id, version = parse_flow(flow)
    file = read_dataset_file(dataset)
    try:
        verdict, payload = asyncio.run(_evaluate(dataset, file, flow_id, version, baseline, min_pass, tolerance,
                                                 concurrency, not no_cache, tenant))
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - one error line (the service's words), never a traceback
        problems = "".join(f"\n  - {p.message}" for p in getattr(exc, "problems", []) or [])
        _fail((getattr(exc, "detail", None) or str(exc) or type(exc).__name__) + problems)
    report, reasons = verdict
    if as_json:
        typer.echo(json.dumps({**payload, "passed": not reasons, "reasons": reasons}, default=str))
    else:
        _print(report, reasons, cases)
    if reasons:
        raise typer.Exit(EXIT_GATE)


async def _evaluate(dataset: str, file: DatasetFile | None, flow_id: str, version: int | None,
                    baseline: int | None, min_pass: float | None, tolerance: float, concurrency: int,
                    use_cache: bool, tenant: str) -> tuple[tuple[EvaluationReport, list[str]], dict[str, Any]]:
    from editor.context import create_context  # lazy: the app's wiring loads only for this command
    from runtime.evals.report import gate

    context = create_context(get_settings())
    try:
        dataset_id = await _dataset(context, tenant, dataset, file)
        candidate = version or (await context.flows.read(tenant, flow_id)).version
        versions = [baseline, candidate] if baseline is not None and baseline != candidate else [candidate]
        started = await context.evaluations.start(tenant, dataset_id, flow_id, versions, baseline=baseline,
                                                  concurrency=concurrency, use_cache=use_cache)
        finished = await _wait(context, tenant, started.id)
        if finished.status != "finished":
            _fail(f"evaluation {finished.id} {finished.status}: {finished.error or ''}".rstrip(": "))
        report = await context.evaluations.report(tenant, started.id)
        base = report.summary(baseline) if baseline is not None and baseline != candidate else None
        reasons = gate(report.summary(candidate), min_pass, base, tolerance)
        payload = report.to_dict(changed_only=True)
        payload["candidate"] = candidate
        return (report, reasons), payload
    finally:
        await context.recorder.drain()
        await context.shutdown()


@dataclass(frozen=True, slots=True)
class DatasetFile:
    """A dataset file given on the command line, read before the event loop starts."""

    name: str
    fmt: FileFormat
    text: str


def read_dataset_file(dataset: str) -> DatasetFile | None:
    """The file DATASET names (None: DATASET is a stored dataset's id or name)."""
    from runtime.evals import DatasetFileError, parse_csv, parse_jsonl  # lazy: every `akis` start imports this module

    path = Path(dataset)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv") or not path.is_file():
        return None
    fmt: FileFormat = "csv" if suffix == ".csv" else "jsonl"
    try:
        text = path.read_text(encoding="utf-8-sig")
        header = (parse_jsonl(text) if fmt == "jsonl" else parse_csv(text)).name
    except (OSError, UnicodeDecodeError, DatasetFileError) as exc:
        _fail(f"{path}: {exc}")
    return DatasetFile(header or path.stem, fmt, text)


async def _wait(context: AkisContext, tenant: str, evaluation_id: str) -> Any:
    """The evaluation once it ended; its progress on stderr every ``PROGRESS_S`` meanwhile (CI logs)."""
    waiting = asyncio.ensure_future(context.evaluations.wait(tenant, evaluation_id))
    shown = -1
    while True:
        done, _ = await asyncio.wait({waiting}, timeout=PROGRESS_S)
        if done:
            return waiting.result()
        row = await context.evaluations.get(tenant, evaluation_id)
        if row.done != shown:
            shown = row.done
            typer.echo(f"progress: {row.done}/{row.total} case runs", err=True)


async def _dataset(context: AkisContext, tenant: str, dataset: str, file: DatasetFile | None) -> str:
    if file is not None:
        row, _ = await context.datasets.import_text(tenant, file.text, file.fmt, file.name, replace=True)
        return row.id
    return (await context.datasets.get(tenant, dataset)).id


def _print(report: EvaluationReport, reasons: list[str], show_cases: bool) -> None:
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # CI logs: every column whole rather than cut to 80 characters
    evaluation = report.evaluation
    table = Table(title=f"{report.dataset_name}: flow {evaluation.flow_id}, evaluation {evaluation.id}")
    table.add_column("version", justify="right")
    names = list(report.summaries[0].scorers) if report.summaries else []
    for name in ("cases", "pass rate", *names, "p50 ms", "p95 ms", "first chunk p50", "tokens"):
        table.add_column(name, justify="right")
    for s in report.summaries:
        mark = " (baseline)" if len(report.summaries) > 1 and s.version == report.baseline else ""
        table.add_row(f"v{s.version}{mark}", str(s.cases), f"{s.pass_rate:.1%}",
                      *(f"{s.scorers[n].mean:.3f}" if n in s.scorers else "-" for n in names),
                      _ms(s.duration_p50), _ms(s.duration_p95), _ms(s.first_chunk_p50), str(s.tokens_in + s.tokens_out))
    console.print(table)
    for comparison in report.comparisons:
        console.print(f"v{comparison.candidate} against v{comparison.baseline}: {len(comparison.changed)} changed, "
                      f"{len(comparison.regressed)} regressed ({', '.join(comparison.regressed[:10]) or 'none'}), "
                      f"{len(comparison.fixed)} fixed")
    if show_cases:
        for row in report.cases:
            failed = [v for v, r in row.results.items() if not r.passed]
            if row.changed or failed:
                texts = " | ".join(f"v{v}: {r.text[:60]!r}" for v, r in sorted(row.results.items()))
                console.print(f"  {row.case_id} {row.message[:50]!r}: {texts}")
    if reasons:
        for reason in reasons:
            typer.echo(f"FAILED: {reason}", err=True)
    else:
        typer.echo("passed")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
