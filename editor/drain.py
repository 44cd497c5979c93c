"""A graceful stop: on SIGTERM readiness fails first, in-flight work finishes, then the process exits.

A load balancer or an orchestrator sends SIGTERM and keeps routing to the instance until its
readiness check fails. So SIGTERM does not stop the server at once: ``/healthz/ready`` answers
503 from that moment, the server keeps serving for at least ``delay_s`` (the balancer's checks
notice and stop sending new work; skipped when nothing ever asked for readiness, as with one
process on a laptop), then it waits until no run executes in this process and no
API request (a streamed run, a resumed stream) is open, at most ``timeout_s`` after the signal.
Only then does uvicorn's own shutdown run (it stops listening, closes what is left, and runs
the app's shutdown). An API stream still open then (a run relayed from a worker in queue mode)
is ended cleanly first, and its client resumes on another instance with ``Last-Event-ID``; a
channel follower is closed by uvicorn and reconnects likewise.
A second SIGTERM skips the wait. SIGINT (Ctrl-C) stops at once, as before.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("akis")

Handler = Callable[[int, FrameType | None], Any]


def _counts(scope: Scope) -> bool:
    """API requests and sockets count as in flight; channel followers (open-ended) do not."""
    path: str = scope.get("path", "")
    return scope["type"] in ("http", "websocket") and path.startswith("/api/") and not path.startswith("/api/channels/")


class Drain:
    """The stop sequence's state: whether this instance is draining, and what is in flight."""

    def __init__(self, delay_s: float = 2.0, timeout_s: float = 30.0,
                 running: Callable[[], int] = lambda: 0) -> None:
        self.delay_s = delay_s
        self.timeout_s = timeout_s
        self.running = running  # runs executing in this process
        self.requests = 0  # API requests and sockets open now (the middleware counts them)
        self.draining = False
        self.probed = False  # readiness was asked for: a balancer or an orchestrator is watching
        self.closed = False  # the drain is over: requests still open are ended
        self.tasks: set[asyncio.Task[Any]] = set()  # the tasks serving them
        self.since: float | None = None
        self._stop: Handler | None = None
        self._task: asyncio.Task[None] | None = None

    def configure(self, delay_s: float, timeout_s: float, running: Callable[[], int]) -> None:
        self.delay_s, self.timeout_s, self.running = max(0.0, delay_s), max(0.0, timeout_s), running

    def in_flight(self) -> int:
        return self.running() + self.requests

    def install(self) -> None:
        """At start-up, in the server's loop: take SIGTERM over from uvicorn, keeping its handler
        to call once drained. Without one (not the main thread, a test) nothing changes."""
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return
        self._stop = previous
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.begin)

    def begin(self) -> None:
        """SIGTERM: fail readiness now, stop once drained (a second SIGTERM: stop now)."""
        if self.draining:
            log.warning("SIGTERM again while draining: stopping now (%d in flight)", self.in_flight())
            self._finish()
            return
        self.draining = True
        self.since = time.monotonic()
        log.info("SIGTERM: readiness fails from now; draining %d in-flight runs and requests "
                 "(at least %.1f s, at most %.1f s)", self.in_flight(), self.delay_s, self.timeout_s)
        self._task = asyncio.get_running_loop().create_task(self._drain(), name="akis-drain")

    async def _drain(self) -> None:
        start = time.monotonic()
        if self.probed:  # something watches readiness (a balancer): give it time to see it fail
            await asyncio.sleep(min(self.delay_s, self.timeout_s))
        deadline = start + self.timeout_s
        while self.in_flight() > 0 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls counts others keep
            await asyncio.sleep(0.05)
        left = self.in_flight()
        if left:
            log.warning("drain: %d runs and requests still in flight after %.1f s; stopping anyway "
                        "(open streams resume elsewhere with Last-Event-ID)", left, self.timeout_s)
        else:
            log.info("drain: nothing in flight after %.1f s; stopping", time.monotonic() - start)
        self._finish()

    def _finish(self) -> None:
        stop, self._stop = self._stop, None
        if stop is None:
            return
        self.closed = True
        for task in list(self.tasks):  # what is still open ends now (InFlight answers it)
            task.cancel()
        stop(signal.SIGTERM, None)  # uvicorn's handler: its normal shutdown from here


class InFlight:
    """A pure ASGI middleware (nothing buffered) counting the API requests and sockets open, and
    ending those still open when the drain is over: a stream gets its last (empty) chunk, so the
    client sees it end cleanly and resumes elsewhere; a request not answered yet gets 503."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _counts(scope):
            await self.app(scope, receive, send)
            return
        drain = self.drain
        task = asyncio.current_task()
        sent = Sent(send)
        drain.requests += 1
        if task is not None:
            drain.tasks.add(task)
        try:
            await self.app(scope, receive, sent)
        except asyncio.CancelledError:
            if not drain.closed or task is None:
                raise
            task.uncancel()  # the drain's own cancel: answered here, not passed on
            await sent.close(scope)
        finally:
            drain.requests -= 1
            if task is not None:
                drain.tasks.discard(task)


class Sent:
    """The ``send`` of one request, remembering how far the response got, so the drain can end it."""

    __slots__ = ("ended", "send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = self.ended = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start" or kind == "websocket.accept":
            self.started = True
        elif (kind == "http.response.body" and not message.get("more_body", False)) or kind == "websocket.close":
            self.ended = True
        await self.send(message)

    async def close(self, scope: Scope) -> None:
        """A 503 when nothing was answered yet; else the stream's last (empty) chunk, or the socket's close."""
        if self.ended:
            return
        with contextlib.suppress(Exception):  # the client may be gone already: nothing to end then
            if scope["type"] == "websocket":
                await self.send({"type": "websocket.close", "code": 1012, "reason": "server restarting"})
            elif not self.started:
                await self.send({"type": "http.response.start", "status": 503,
                                 "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1")]})
                await self.send({"type": "http.response.body", "more_body": False,
                                 "body": b'{"detail": "this instance is stopping; try again"}'})
            else:
                await self.send({"type": "http.response.body", "body": b"", "more_body": False})
