"""The ``akis`` command line: run, validate and describe flows. Other packages mount their
sub-commands (cache, db, metrics, ...) on ``app``. Errors print a clear message, never a
traceback."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import typer

from . import tracing
from .errors import AkisError, FlowLoadError, FlowValidationError
from .events import RUN_FINISHED, Event
from .flow.loader import load_flow
from .flow.model import FlowDocument
from .flow.storable import check_storable
from .flow.wiring_checks import wiring_warnings
from .report import RunReport, node_table, print_problems, totals_line
from .services import MemoryFlowSource
from .wiring import build_engine, build_registry

app = typer.Typer(
    name="akis", help="Akis: visual editor and runtime for AI chatbot workflows.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)


class Recording(Protocol):
    """``akis run --record``: the run goes through the app's runs service (the app's wiring
    provides it), so it is recorded and executed as the app's runs are (inline, or by a worker)."""

    async def run(self, flow: FlowDocument, values: dict[str, Any], tenant: str, session: str,
                  listener: Callable[[Event], None], trace_parent: dict[str, str] | None) -> None: ...

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
    registry = build_registry()
    flow, problems = check_storable(flow_file, registry, tenant)
    if flow is None or problems:
        print_problems(flow_file, problems)
        raise typer.Exit(1)
    warnings = wiring_warnings(flow, registry, tenant)  # it runs, but probably not as meant: exit 0
    typer.echo(f"{flow_file}: valid ({len(flow.nodes)} nodes, {len(flow.edges)} edges)"
               + (f", {len(warnings)} warning{'s' * (len(warnings) != 1)}" if warnings else ""))
    for warning in warnings:
        typer.echo(f"  warning: {warning.message}", err=True)


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
    flows: list[Path] = typer.Option([], "--flows", help="Flow files (or folders of them) that sub-flows, "
                                     "iterate and an agent's flow tools may run."),
) -> None:
    """Run a flow: the answer streams to stdout, then a table per node and the totals."""
    flow = read_flow(flow_file)
    callable_flows = read_flows(flows, tenant)
    values = parse_inputs(inputs)
    if message is not None:
        values["user_message"] = message
    if record and not _recording_factory:
        fail("--record needs the storage package (run the full `akis` command)")
    traced = tracing.configure("akis-cli")  # only the standard OTEL_* variables turn traces on
    try:
        code = asyncio.run(_run(flow, values, tenant, session, as_json, record, env_trace_parent(), callable_flows))
    except FlowValidationError as exc:
        print_problems(flow_file, exc.problems)
        raise typer.Exit(1) from None
    except AkisError as exc:
        fail(str(exc))
    finally:
        if traced:
            tracing.shutdown()  # export the run's spans before the process ends
    raise typer.Exit(code)


def env_trace_parent() -> dict[str, str] | None:
    """``TRACEPARENT`` (and ``TRACESTATE``) in the environment, the OpenTelemetry convention for
    a process started by a traced one (a CI job, a script): the run joins that trace."""
    carrier = {key.lower(): value for key, value in os.environ.items() if key in ("TRACEPARENT", "TRACESTATE")}
    return tracing.incoming(carrier) if tracing.enabled else None


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


def read_flows(paths: list[Path], tenant: str) -> MemoryFlowSource | None:
    """``--flows``: each file, or each ``*.json`` in a folder, as a flow the run may call."""
    if not paths:
        return None
    source = MemoryFlowSource()
    for path in paths:
        for file in sorted(path.glob("*.json")) if path.is_dir() else [path]:
            source.add(tenant, read_flow(file))
    return source


async def recorded(recording: Recording, flow: FlowDocument, values: dict[str, Any], tenant: str, session: str,
                   trace_parent: dict[str, str] | None) -> AsyncIterator[Event]:
    """The run's events as the app's runs service delivers them, until ``run.finished``."""
    queue: asyncio.Queue[Event] = asyncio.Queue()
    task = asyncio.ensure_future(recording.run(flow, values, tenant, session, queue.put_nowait, trace_parent))
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                task.result()  # the run could not start: its error, as the engine's would be
                return
            event = getter.result()
            yield event
            if event.event == RUN_FINISHED:
                await task
                return
    finally:
        if not task.done():
            task.cancel()


async def _run(flow: FlowDocument, values: dict[str, Any], tenant: str, session: str, as_json: bool,
               record: bool = False, trace_parent: dict[str, str] | None = None,
               flows: MemoryFlowSource | None = None) -> int:
    recording = _recording_factory[0]() if record else None
    engine = build_engine()
    if flows is not None:
        engine.services.flows = flows
    finished = None
    report = RunReport()
    streamed_from: str | None = None
    events = engine.stream(flow, values, tenant_id=tenant, session_id=session, trace_parent=trace_parent) \
        if recording is None else recorded(recording, flow, values, tenant, session, trace_parent)
    async for event in events:
        report.observe(event)
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
        if finished is not None and finished.extra.get("trace_id"):
            typer.echo(f"trace {finished.extra['trace_id']}", err=True)
    return 1 if result_failed else 0


def main() -> None:
    """Console entry point when only the runtime is installed."""
    app()


if __name__ == "__main__":
    main()
