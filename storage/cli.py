"""Storage commands for the ``akis`` CLI: db, metrics, export/import, flows, token, user, worker.

Mount them on the top-level app with :func:`register` (``akis metrics ...``), or run this
module alone (``python -m storage.cli ...``). Every failure prints one ``error:`` line.
"""
from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from runtime import FlowLoadError, gc_policy, load_flow, tracing, validate_flow
from runtime.logs import configure_logging
from runtime.redis_clients import job_timeouts
from runtime.settings import get_settings
from runtime.wiring import build_registry

from .db import Database, init_db
from .durable.wiring import runs_factory
from .errors import StorageError
from .jobs.codec import JOB_TIMEOUT_S
from .jobs.defaults import engine_executor, stored_flows_warmup
from .jobs.worker import WorkerOptions, load_object, run_worker
from .migrate import current_revision, head_revision, upgrade
from .repos import flows, metrics, sessions, tokens, users

P = ParamSpec("P")
R = TypeVar("R")
DEFAULT_TENANT = "1"  # the engine's default tenant, as in `akis run`
TENANT = typer.Option(DEFAULT_TENANT, "--tenant", "-t", help="The tenant id.")

app = typer.Typer(help="Akis storage: database, flows, metrics, tokens, users, worker.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
flows_app = typer.Typer(help="Stored flows and their versions.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)
user_app = typer.Typer(help="Editor users (argon2 password hashes).", no_args_is_help=True)
console = Console()

_wiring: dict[str, Any] = {"executor_factory": None, "warmup_factory": None, "metrics_factory": None}


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn storage and database failures into one line instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except StorageError as exc:
            fail(str(exc))
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            fail(f"database error: {reason}")

    return wrapper


def open_db() -> Database:
    """The configured database (``AKIS_DATABASE_URL`` or ./akis.db), migrated to the head."""
    return init_db(get_settings().sqlalchemy_url)


def parse_since(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d`` -> a duration."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not match:
        raise StorageError(f"--since {text!r}: use a number and s, m, h or d (for example 24h)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


# --- db --------------------------------------------------------------------------------------
@db_app.command("upgrade")
@friendly
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply pending migrations (also done on every start). Existing rows are kept."""
    database = Database(get_settings().sqlalchemy_url)
    before = current_revision(database)
    upgrade(database, revision)
    typer.echo(f"{database.describe()}: {before or 'empty'} -> {current_revision(database)}")


@db_app.command("current")
@friendly
def db_current() -> None:
    """Show the schema revision of the database and the newest one this version ships."""
    database = Database(get_settings().sqlalchemy_url)
    typer.echo(f"{database.describe()}: at {current_revision(database) or 'empty'}, head {head_revision(database)}")


# --- metrics ---------------------------------------------------------------------------------
@friendly
def metrics_command(
    tenant: str = TENANT,
    since: str = typer.Option("24h", "--since", help="Window: 30m, 24h, 7d, ..."),
    flow: str | None = typer.Option(None, "--flow", help="Only this flow."),
    by: str = typer.Option("node_type", "--by", help="Group by node_type or node_id."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line instead of a table."),
) -> None:
    """Average duration and count per node type over a window, slowest first."""
    window = parse_since(since)
    if by not in ("node_type", "node_id"):
        raise StorageError("--by must be node_type or node_id")
    stats = open_db().call(metrics.summary, tenant, window, flow_id=flow, by=by)
    if as_json:
        rows = [{by: s.key, "avg_ms": s.avg_ms, "count": s.count, "max_ms": s.max_ms,
                 "cache_hit_rate": s.hit_rate, "failures": s.failures} for s in stats]
        typer.echo(json.dumps({"tenant": tenant, "since": since, "rows": rows}))
        return
    table = Table(title=f"tenant {tenant}, last {since}" + (f", flow {flow}" if flow else ""))
    for name in (by, "avg ms", "count", "max ms", "cache hits", "failed"):
        table.add_column(name, justify="left" if name == by else "right")
    for s in stats:
        table.add_row(s.key, f"{s.avg_ms:.1f}", str(s.count), f"{s.max_ms:.1f}", f"{s.hit_rate:.0f}%", str(s.failures))
    if not stats:
        typer.echo(f"no metrics for tenant {tenant} in the last {since}")
        return
    console.print(table)


# --- export / import -------------------------------------------------------------------------
@friendly
def export_command(
    flow_id: str = typer.Argument(..., help="The flow to export."),
    tenant: str = TENANT,
    version: int | None = typer.Option(None, "--version", help="A stored version (default: current)."),
) -> None:
    """Print a stored flow as JSON: akis export FLOW_ID > flow.json"""
    document = open_db().call(flows.get_document, tenant, flow_id, version)
    if document is None:
        which = f"version {version} of flow" if version else "flow"
        fail(f"{which} {flow_id!r} not found for tenant {tenant}")
    sys.stdout.write(document.dump_json() + "\n")


@friendly
def import_command(
    flow_file: Path = typer.Argument(..., help="A flow JSON file ('-' reads stdin)."),
    tenant: str = TENANT,
    comment: str | None = typer.Option(None, "--comment", "-c", help="Why this version."),
) -> None:
    """Validate a flow file, then store it as the flow's newest version."""
    source: Any = sys.stdin.read() if str(flow_file) == "-" else flow_file
    try:
        document = load_flow(source)
    except FlowLoadError as exc:
        fail(f"{flow_file}: " + "; ".join(p.message for p in exc.problems))
    problems = validate_flow(document, build_registry(), tenant)
    if problems:
        lines = "\n".join(f"  - {p.message}" for p in problems)
        fail(f"{flow_file}: not imported, {len(problems)} problem(s):\n{lines}")
    saved = open_db().call(flows.save_flow, tenant, document, comment or f"imported from {flow_file}")
    typer.echo(f"imported flow {saved.flow_id!r} as version {saved.version} for tenant {tenant}")


# --- flows -----------------------------------------------------------------------------------
@flows_app.command("list")
@friendly
def flows_list(tenant: str = TENANT) -> None:
    """The tenant's flows with their current version."""
    rows = open_db().call(flows.list_flows, tenant)
    if not rows:
        typer.echo(f"no flows for tenant {tenant}")
    for row in rows:
        typer.echo(f"{row.id:32} v{row.current_version:<4} {row.updated_at:%Y-%m-%d %H:%M}  {row.name}")


@flows_app.command("versions")
@friendly
def flows_versions(flow_id: str, tenant: str = TENANT) -> None:
    """Every saved version of a flow, newest first (* marks the current one)."""
    database = open_db()
    flow = database.call(flows.get_flow, tenant, flow_id)
    if flow is None:
        fail(f"flow {flow_id!r} not found for tenant {tenant}")
    for row in database.call(flows.list_versions, tenant, flow_id):
        mark = "*" if row.version == flow.current_version else " "
        typer.echo(f"{mark} v{row.version:<4} {row.created_at:%Y-%m-%d %H:%M:%S}  {row.comment or ''}")


@flows_app.command("use")
@friendly
def flows_use(flow_id: str, version: int, tenant: str = TENANT) -> None:
    """Make a stored version current again (roll back or forward)."""
    open_db().call(flows.set_current_version, tenant, flow_id, version)
    typer.echo(f"flow {flow_id!r} now at version {version}")


# --- tokens ----------------------------------------------------------------------------------
@token_app.command("create")
@friendly
def token_create(tenant: str = TENANT, name: str = typer.Option("", "--name", help="What it is for.")) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    row, plaintext = open_db().call(tokens.create_token, tenant, name)
    typer.echo(plaintext)
    typer.echo(f"token {row.id} for tenant {tenant}: keep it now, it cannot be shown again", err=True)


@token_app.command("list")
@friendly
def token_list(tenant: str = TENANT) -> None:
    rows = open_db().call(tokens.list_tokens, tenant)
    if not rows:
        typer.echo(f"no tokens for tenant {tenant}")
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        typer.echo(f"{row.id}  {state:18} {used:28} {row.name}")


@token_app.command("revoke")
@friendly
def token_revoke(
    token_id: str = typer.Argument(..., help="The id shown by `token list`."), tenant: str = TENANT
) -> None:
    if not open_db().call(tokens.revoke_token, tenant, token_id):
        fail(f"no active token {token_id!r} for tenant {tenant}")
    typer.echo(f"revoked token {token_id}")


# --- users -----------------------------------------------------------------------------------
@user_app.command("create")
@friendly
def user_create(
    tenant: str = typer.Option(DEFAULT_TENANT, "--tenant", "-t",
                               help="The tenant id (default: 1, the tenant the editor used before any user)."),
    username: str = typer.Option(..., "--username", "-u"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    new_tenant: bool = typer.Option(False, "--new-tenant",
                                    help="The first user may start a tenant without the editor's flows."),
) -> None:
    """Create an editor user (the password is asked for, or read from stdin).

    Until the first user exists the editor acts for tenant 1; from then on for the signed-in
    user's tenant. So the first user is refused in a tenant without flows while tenant 1 has
    the editor's flows (they would seem gone), unless --new-tenant says that is meant."""
    database = open_db()
    if not new_tenant:
        check_first_user_tenant(database, tenant)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = database.call(users.create_user, tenant, username, password)
    typer.echo(f"created user {user.username!r} for tenant {tenant}")


def check_first_user_tenant(database: Database, tenant: str) -> None:
    """Fail, naming the fix, when the first user would not see the flows made before users existed."""
    if tenant == DEFAULT_TENANT or database.call(users.any_users) or database.call(flows.list_flows, tenant):
        return
    before = [f.id for f in database.call(flows.list_flows, DEFAULT_TENANT)]
    if before:
        shown = ", ".join(before[:5]) + (f" and {len(before) - 5} more" if len(before) > 5 else "")
        fail(f"this is the first user: from now on the editor needs a sign-in and shows the signed-in user's "
             f"tenant, but the flows made so far ({shown}) are in tenant {DEFAULT_TENANT} and tenant {tenant} has "
             f"none. Create the user in tenant {DEFAULT_TENANT} (leave out --tenant), or pass --new-tenant to "
             f"start tenant {tenant} without them.")


@user_app.command("list")
@friendly
def user_list(tenant: str = TENANT) -> None:
    for user in open_db().call(users.list_users, tenant):
        typer.echo(f"{user.username:24} created {user.created_at:%Y-%m-%d}")


@user_app.command("passwd")
@friendly
def user_passwd(
    tenant: str = TENANT,
    username: str = typer.Option(..., "--username", "-u"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the new password from stdin."),
) -> None:
    """Set a user's password; every session of the user ends (signed in with the old one)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    database = open_db()
    live = len(database.call(sessions.list_sessions, tenant, username))
    database.call(users.set_password, tenant, username, password)
    typer.echo(f"password changed for {username!r} of tenant {tenant}; {live} session(s) ended")


@user_app.command("sessions")
@friendly
def user_sessions(
    tenant: str = TENANT,
    username: str = typer.Option(..., "--username", "-u"),
    revoke: list[str] | None = typer.Option(None, "--revoke", help="End this session (an id from the list)."),
    revoke_all: bool = typer.Option(False, "--revoke-all", help="End every session of the user."),
    show_ended: bool = typer.Option(False, "--all", help="List revoked and expired sessions too."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line instead of a table."),
) -> None:
    """A user's editor sessions (signed-in browsers), newest first; --revoke ID or --revoke-all ends them."""
    database = open_db()
    if database.call(users.get_user, tenant, username) is None:
        fail(f"user {username!r} not found for tenant {tenant}")
    if revoke_all:
        count = database.call(sessions.revoke_user_sessions, tenant, username)
        typer.echo(f"ended {count} session(s) of {username!r}")
        return
    if revoke:
        for session_id in revoke:
            if not database.call(sessions.revoke_session, tenant, username, session_id):
                fail(f"no live session {session_id!r} of {username!r} for tenant {tenant}")
            typer.echo(f"ended session {session_id}")
        return
    rows = database.call(sessions.list_sessions, tenant, username, include_ended=show_ended)
    if as_json:
        typer.echo(json.dumps([{
            "id": r.id, "created_at": r.created_at.isoformat(), "last_seen_at": r.last_seen_at.isoformat(),
            "expires_at": r.expires_at.isoformat(), "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            "user_agent": r.user_agent, "address": r.address} for r in rows]))
        return
    if not rows:
        typer.echo(f"no {'' if show_ended else 'live '}sessions of {username!r} for tenant {tenant}")
    for r in rows:
        state = f"ended {r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else f"until {r.expires_at:%Y-%m-%d %H:%M}"
        typer.echo(f"{r.id}  signed in {r.created_at:%Y-%m-%d %H:%M}  seen {r.last_seen_at:%Y-%m-%d %H:%M}  "
                   f"{state:22} {r.address:15} {r.user_agent[:60]}")


# --- worker ----------------------------------------------------------------------------------
@friendly
def worker_command(
    executor: str | None = typer.Option(None, "--executor", help="module:factory(services) -> execute(job)."),
    warmup: str | None = typer.Option(None, "--warmup", help="module:factory(services, db) -> async warm()."),
    queue: str = typer.Option("akis:jobs", "--queue", help="The arq queue name."),
    max_jobs: int = typer.Option(10, "--max-jobs", help="Jobs run at once by this worker."),
    concurrency: int = typer.Option(4, "--concurrency", min=0,
                                    help="Whole runs executed at once by this worker (queue mode); 0: none."),
    job_timeout: float = typer.Option(JOB_TIMEOUT_S, "--job-timeout", help="Seconds before a job is cancelled."),
    max_tries: int = typer.Option(5, "--max-tries"),
    burst: bool = typer.Option(False, "--burst", help="Exit when the queue is empty."),
    in_progress_timeout: float | None = typer.Option(None, "--in-progress-timeout", hidden=True),
    poll_delay: float = typer.Option(0.5, "--poll-delay", hidden=True),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", min=0, max=65535,
        help="Serve this worker's Prometheus /metrics on this port (AKIS_WORKER_METRICS_PORT; 0: off)."),
    metrics_host: str | None = typer.Option(None, "--metrics-host", help="Its address (AKIS_WORKER_METRICS_HOST)."),
) -> None:
    """Run queued runs (queue mode) and background jobs, and warm the cache on schedule."""
    settings = get_settings()
    if not settings.redis_url:
        fail("akis worker needs a queue: set AKIS_REDIS_URL (for example redis://127.0.0.1:6379/0)")
    executor_factory = load_object(executor) if executor else _provided("executor_factory") or engine_executor
    warmup_factory = load_object(warmup) if warmup else _provided("warmup_factory") or stored_flows_warmup
    configure_logging(settings, text_format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gc_policy.apply(settings.gc_threshold_values)  # many runs in flight: fewer, larger young collections
    options = WorkerOptions(
        redis_url=settings.redis_url, database_url=settings.sqlalchemy_url, queue_name=queue, max_jobs=max_jobs,
        job_timeout_s=job_timeout, max_tries=max_tries, burst=burst, in_progress_timeout_s=in_progress_timeout,
        warmup_interval_s=settings.warmup_interval_s, poll_delay_s=poll_delay, timeouts=job_timeouts(settings),
        gc_freeze=settings.gc_freeze,
    )
    if tracing.configure("akis-worker"):  # only the standard OTEL_* variables turn traces on
        typer.echo("traces: OTLP/HTTP export on (OTEL_* variables)", err=True)
    metrics_factory = _provided("metrics_factory")  # the app's: this worker's own /metrics
    port = settings.worker_metrics_port if metrics_port is None else metrics_port
    host = metrics_host or settings.worker_metrics_host
    observer = metrics_factory(settings, port, host) if metrics_factory is not None else None
    try:
        runs = (runs_factory(settings, concurrency, queue, observer)
                if concurrency > 0 and settings.queued_runs else None)
        run_worker(options, executor_factory, warmup_factory, runs,
                   observer.background_done if observer is not None else None)
    finally:
        tracing.shutdown()  # export what is still buffered
        if observer is not None:
            observer.close()


def _provided(name: str) -> Any:
    provider = _wiring[name]
    return provider() if provider is not None else None


# --- mounting --------------------------------------------------------------------------------
TOP_LEVEL: dict[str, Callable[..., Any]] = {
    "metrics": metrics_command, "export": export_command, "import": import_command, "worker": worker_command,
}
GROUPS = {"db": db_app, "flows": flows_app, "token": token_app, "user": user_app}


def register(root: typer.Typer, *, executor_factory: Any = None, warmup_factory: Any = None,
             metrics_factory: Any = None) -> None:
    """Mount the storage commands on ``root``.

    The two arguments are *providers*, called with no arguments when ``akis worker`` starts
    (so the app's wiring is only imported by the worker): ``executor_factory()`` returns
    ``factory(services) -> execute(job)``, ``warmup_factory()`` returns
    ``factory(services[, database]) -> async warm()``. Left out, the worker uses
    :mod:`storage.jobs.defaults`. ``metrics_factory()`` returns
    ``factory(settings, port, host) -> RunObserver | None``: the worker's own ``/metrics``.
    """
    _wiring.update(executor_factory=executor_factory, warmup_factory=warmup_factory, metrics_factory=metrics_factory)
    for name, fn in TOP_LEVEL.items():
        root.command(name)(fn)
    for name, group in GROUPS.items():
        root.add_typer(group, name=name)


for _name, _fn in TOP_LEVEL.items():
    app.command(_name)(_fn)
for _name, _group in GROUPS.items():
    app.add_typer(_group, name=_name)


if __name__ == "__main__":
    app()
