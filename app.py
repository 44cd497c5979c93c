"""Akis: wiring only. settings -> storage, cache, providers, engine -> pages -> ui.run().

``python app.py`` starts the app; ``akis ...`` is the command line (``akis serve`` starts it too).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError

from editor.eval_cli import eval_command
from editor.experiment_cli import app as experiment_app
from editor.knowledge_cli import app as knowledge_app
from runtime.cache.cli import cache_app
from runtime.cli import app as cli
from runtime.cli import set_recording_factory
from runtime.settings import AkisSettings, get_settings
from storage import cli as storage_cli

if TYPE_CHECKING:
    from editor.context import CliRecording


def _worker_metrics() -> Any:
    from editor.observability.worker_metrics import worker_metrics  # lazy: only the worker needs it

    return worker_metrics


def build_cli() -> typer.Typer:
    """The runtime's commands plus the cache and storage sub-commands and ``serve``."""
    cli.add_typer(cache_app, name="cache")
    # akis worker runs the engine's executor and the stored-flows warm-up, and serves its own metrics
    storage_cli.register(cli, metrics_factory=_worker_metrics)
    cli.command("serve")(serve)
    cli.command("eval")(eval_command)  # evaluations for CI: exit 1 when the gate fails (issue 22)
    cli.add_typer(knowledge_app, name="kb")  # knowledge bases (issue 19)
    cli.add_typer(experiment_app, name="experiment")  # A/B tests of flow versions (issue 17)
    cli.command("desktop")(desktop)
    set_recording_factory(_cli_recording)
    return cli


def _cli_recording() -> CliRecording:
    """``akis run --record``: the run row and its node metrics go to the configured database."""
    from editor.context import cli_recording  # lazy: only ``--record`` needs the app's storage wiring

    return cli_recording(get_settings())


def serve(
    host: str = typer.Option(None, "--host", help="Address to bind (default AKIS_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Port (default AKIS_PORT, 8080)."),
) -> None:
    """Start the editor, the HTTP API and the runtime in one process."""
    settings = _settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    from editor.server import run_server  # lazy: the web stack (NiceGUI) loads only for ``serve``

    run_server(settings)


def desktop() -> None:
    """Open the editor in its own window (one person, no login, data in the per-user folder)."""
    from editor.desktop import missing_message  # lazy: the web stack loads only for the window

    problem = missing_message()
    if problem is not None:
        typer.echo(problem, err=True)
        raise typer.Exit(1)
    settings = _settings()
    from editor.desktop.launch import run_desktop

    run_desktop(settings)


def _settings() -> AkisSettings:
    """The settings, or one ``error:`` line per setting that is wrong (no traceback) and exit 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        for problem in exc.errors():
            name = "_".join(str(part) for part in problem["loc"]).upper()
            name = name if name.startswith(("AKIS_", "ANTHROPIC_", "OPENAI_")) else f"AKIS_{name}"
            message = problem["msg"].removeprefix("Value error, ")
            typer.echo(f"error: {message}" if name in message else f"error: {name}: {message}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    build_cli()()


if __name__ in {"__main__", "__mp_main__"}:
    import sys

    from editor.server import run_server

    try:
        if sys.argv[1:2] == ["desktop"]:  # python app.py desktop: the same as akis desktop
            desktop()
        else:
            run_server(_settings())
    except typer.Exit as stop:
        raise SystemExit(stop.exit_code) from None
