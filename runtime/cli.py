"""The ``akis`` command line: run, validate and describe flows. Other packages mount their
sub-commands (cache, db, metrics, ...) on ``app``. Errors print a clear message, never a
traceback."""
from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import typer

from .errors import AkisError, FlowLoadError, FlowValidationError
from .flow.loader import load_flow
from .flow.model import FlowDocument
from .flow.storable import check_storable
from .report import RunReport, node_table, print_problems, totals_line
from .wiring import build_engine, build_registry

app = typer.Typer(
    name="akis", help="Akis: visual editor and runtime for AI chatbot workflows.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)


class Recording(Protocol):
    """Where ``akis run --record`` stores runs and metrics (the storage package provides it)."""

    metrics: Any

    def observe(self, event: Any) -> None: ...

    async def drain(self) -> None: ...


_recording_factory: list[Callable[[], Recording]] = []


def set_recording_factory(factory: Callable[[], Recording]) -> None:
    """Called by the app's wiring so that ``--record`` can store runs without runtime importing storage."""
    _recording_factory[:] = [factory]


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def read_flow(path: Path) -> FlowDocument:
    try:
        return load_flow(path)
    except FlowLoadError as exc:
        print_problems(path, exc.problems)
        raise typer.Exit(1) from None


@app.command()
def validate(
    flow_file: Path = typer.Argument(..., help="A flow JSON file."),
    tenant: str = typer.Option("1", "--tenant", help="Validate as this tenant (plugin node types)."),
) -> None:
    """Check a flow; exit 0 when valid, 1 with every problem listed when not (the same checks
    as saving through the API: strict JSON, validation, and the stored copy read back)."""
    flow, problems = check_storable(flow_file, build_registry(), tenant)
    if flow is None or problems:
        print_problems(flow_file, problems)
        raise typer.Exit(1)
    typer.echo(f"{flow_file}: valid ({len(flow.nodes)} nodes, {len(flow.edges)} edges)")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the flow document."""
    typer.echo(json.dumps(FlowDocument.model_json_schema(), indent=2))


@app.command("nodes")
def list_nodes(tenant: str = typer.Option("1", "--tenant")) -> None:
    """List the node types this tenant can use."""
    for node_type in build_registry().types_for(tenant):
        flags = [f for f in ("cacheable", "background", "streams") if getattr(node_type, f)]
        if not node_type.parallel_safe:
            flags.append("never parallel")
        owner = f" [tenant {node_type.tenant_id}]" if node_type.tenant_id else ""
        typer.echo(f"{node_type.type_id:22} {node_type.category:12} {', '.join(flags)}{owner}")


@app.command()
def run(
    flow_file: Path = typer.Argument(..., help="A flow JSON file."),
    message: str | None = typer.Option(None, "--message", "-m", help="The user message."),
    tenant: str = typer.Option("1", "--tenant"),
    session: str = typer.Option("cli", "--session"),
    inputs: list[str] = typer.Option([], "--input", "-i", help="Extra input key=value (value may be JSON)."),
    as_json: bool = typer.Option(False, "--json", help="Print the engine's events, one JSON object per line."),
    record: bool = typer.Option(False, "--record", help="Store the run and its node metrics in the database."),
) -> None:
    """Run a flow: the answer streams to stdout, then a table per node and the totals."""
    flow = read_flow(flow_file)
    values = parse_inputs(inputs)
    if message is not None:
        values["user_message"] = message
    if record and not _recording_factory:
        fail("--record needs the storage package (run the full `akis` command)")
    try:
        code = asyncio.run(_run(flow, values, tenant, session, as_json, record))
    except FlowValidationError as exc:
        print_problems(flow_file, exc.problems)
        raise typer.Exit(1) from None
    except AkisError as exc:
        fail(str(exc))
    raise typer.Exit(code)


def parse_inputs(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            fail(f"--input {pair!r}: expected key=value")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


async def _run(flow: FlowDocument, values: dict[str, Any], tenant: str, session: str, as_json: bool,
               record: bool = False) -> int:
    recording = _recording_factory[0]() if record else None
    engine = build_engine(**({"metrics": recording.metrics} if recording else {}))
    finished = None
    report = RunReport()
    streamed_from: str | None = None
    async for event in engine.stream(flow, values, tenant_id=tenant, session_id=session):
        report.observe(event)
        if recording is not None:
            recording.observe(event)
        if as_json:
            sys.stdout.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        elif event.event == "message.chunk":
            if streamed_from not in (None, event.node_id):
                sys.stdout.write("\n\n")
            streamed_from = event.node_id
            sys.stdout.write(event.text or "")
            sys.stdout.flush()
        if event.event == "run.finished":
            finished = event
    await engine.metrics.flush()
    if recording is not None:
        await recording.drain()
        if not as_json and finished is not None:
            typer.echo(f"recorded run {finished.run_id}", err=True)
    result_failed = finished is None or finished.status != "succeeded"
    if not as_json:
        if streamed_from is None and finished is not None and finished.output:
            sys.stdout.write(json.dumps(finished.output, ensure_ascii=False, indent=2))
        sys.stdout.write("\n\n")
        for notice in engine.services.notices:
            typer.echo(f"note: {notice}", err=True)
        typer.echo(node_table(report))
        typer.echo(totals_line(report))
        if result_failed and finished is not None:
            typer.echo(f"run {finished.status}: {finished.error}", err=True)
    return 1 if result_failed else 0


def main() -> None:
    """Console entry point when only the runtime is installed."""
    app()


if __name__ == "__main__":
    main()
