"""A worker's own ``/metrics`` (``akis worker --metrics-port``, docs/observability.md).

In queue mode the runs execute in ``akis worker`` processes, so their run, node, cache and
token series are counted there, not in the web process that queued them. Each worker serves
them on a port of its own, read by the same rules as the app's ``/metrics``: the bearer token
of ``AKIS_METRICS_TOKEN`` or an address on ``AKIS_METRICS_ALLOW``. The worker's event loop
is not touched: Prometheus's WSGI exposition runs in a thread of its own.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from runtime.events import Event
from runtime.ports import BackgroundJob, BackgroundOutcome
from runtime.settings import AkisSettings

from .metrics import NO_CREDENTIAL, OFF, REFUSED, AppMetrics

log = logging.getLogger("akis.metrics")
StartResponse = Callable[..., Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would fill the worker's log."""


class WorkerMetrics:
    """The worker's registry (the app's metric families), its runs' observers, its server."""

    def __init__(self, settings: AkisSettings) -> None:
        self.metrics = AppMetrics(settings)
        self._exposition = make_wsgi_app(self.metrics.registry)
        self._server: WSGIServer | None = None

    def observer(self, tenant: str, flow_id: str) -> Callable[[Event], None]:
        """The listener for one run's events (shared per flow, as in the app)."""
        return self.metrics.observer(tenant, flow_id)

    def watch(self, running: Callable[[], int]) -> None:
        """Runs this worker holds right now, read at scrape (``akis_runs_in_flight``)."""
        self.metrics.watch(running, lambda: 0)

    def background_done(self, job: BackgroundJob, outcome: BackgroundOutcome) -> None:
        """A background job this worker ran has ended (its node's duration, by status)."""
        self.metrics.background_done(job, outcome)

    def serve(self, host: str, port: int) -> int:
        """Start serving in a daemon thread; the port bound (``port`` 0: any free one)."""
        self._server = make_server(host, port, self._app, server_class=_Server, handler_class=_QuietHandler)
        threading.Thread(target=self._server.serve_forever, name="akis-worker-metrics", daemon=True).start()
        bound = int(self._server.server_address[1])
        log.info("worker metrics at http://%s:%d/metrics", host, bound)
        return bound

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            return _plain(start_response, "404 Not Found", "not found: the worker serves /metrics only")
        allowed = self.metrics.allowed(environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"))
        if allowed is None:
            return _plain(start_response, "401 Unauthorized", NO_CREDENTIAL, [("WWW-Authenticate", "Bearer")])
        if not allowed:
            return _plain(start_response, "403 Forbidden", REFUSED)
        return self._exposition(environ, start_response)


def _plain(start_response: StartResponse, status: str, text: str,
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = (text + "\n").encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            *(headers or [])])
    return [body]


def worker_metrics(settings: AkisSettings, port: int, host: str) -> WorkerMetrics | None:
    """The worker's metrics served on ``host:port`` when a port is given; None when off (no
    port, or neither ``AKIS_METRICS_TOKEN`` nor ``AKIS_METRICS_ALLOW``: nobody could read them)."""
    if port <= 0:
        return None
    if not settings.metrics_enabled:
        log.warning("--metrics-port %d: %s; the worker serves no metrics", port, OFF)
        return None
    metrics = WorkerMetrics(settings)
    metrics.serve(host, port)
    return metrics
