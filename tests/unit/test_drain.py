"""The drain's logic in one process (the cluster tests stop real processes): it stops only once
nothing is in flight or its bound has passed, a second SIGTERM stops at once, and the requests
still open at the end are answered by the middleware (a stream's last chunk, or a 503), never
cancelled into an error. The warning for a cluster without a shared secret."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from editor.drain import Drain, InFlight
from editor.server import warn_unshared_secret
from runtime.settings import AkisSettings


class Stop:
    """Stands in for uvicorn's SIGTERM handler: records that the server was told to stop."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, sig: int, frame: Any) -> None:
        self.calls += 1


def draining(delay_s: float = 0.0, timeout_s: float = 30.0, running: list[int] | None = None) -> tuple[Drain, Stop]:
    counts = running if running is not None else [0]
    drain = Drain(delay_s, timeout_s, lambda: counts[0])
    stop = Stop()
    drain._stop = stop  # what install() keeps from uvicorn
    return drain, stop


async def until(condition: Any) -> None:
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_it_stops_once_the_last_run_has_ended() -> None:
    running = [2]
    drain, stop = draining(running=running)
    drain.begin()
    assert drain.draining and drain.in_flight() == 2
    for _ in range(10):
        await asyncio.sleep(0.06)
        assert stop.calls == 0  # two runs still going: no stop
    running[0] = 0
    await until(lambda: stop.calls == 1)
    assert drain.closed


async def test_it_stops_at_its_bound_with_work_left_and_a_second_sigterm_stops_at_once(
        caplog: pytest.LogCaptureFixture) -> None:
    drain, stop = draining(timeout_s=0.1, running=[1])
    with caplog.at_level(logging.WARNING, logger="akis"):
        drain.begin()
        await until(lambda: stop.calls == 1)
    assert "1 runs and requests still in flight after 0.1 s" in caplog.text
    drain, stop = draining(timeout_s=60.0, running=[1])
    drain.begin()
    drain.begin()
    assert stop.calls == 1


async def test_the_balancer_wait_happens_only_when_readiness_was_asked_for() -> None:
    drain, stop = draining(delay_s=60.0)
    drain.begin()  # nothing ever probed readiness: no 60 s wait
    await until(lambda: stop.calls == 1)
    drain, stop = draining(delay_s=60.0)
    drain.probed = True
    drain.begin()
    await asyncio.sleep(0.2)
    assert stop.calls == 0  # a balancer is watching: it gets its time to see readiness fail
    drain.begin()  # (a second SIGTERM ends the wait)
    assert stop.calls == 1


async def streaming_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while True:
        await send({"type": "http.response.body", "body": b"data: x\n\n", "more_body": True})
        await asyncio.sleep(0.01)


async def waiting_app(scope: Any, receive: Any, send: Any) -> None:
    await asyncio.sleep(3600)


@pytest.mark.parametrize(("app", "expected"), [(streaming_app, "stream"), (waiting_app, "503")])
async def test_requests_open_at_the_end_are_answered_not_broken(app: Any, expected: str) -> None:
    drain, stop = draining(timeout_s=0.2, running=[0])  # the request outlives the drain's bound
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {}

    middleware = InFlight(app, drain)
    request = asyncio.create_task(middleware({"type": "http", "path": "/api/runs/r1/events"}, receive, send))
    await until(lambda: drain.requests == 1 and (sent or expected == "503"))
    drain.begin()
    await asyncio.wait_for(request, 5.0)  # ends normally: no CancelledError escapes to the server
    assert drain.requests == 0 and stop.calls == 1
    assert sent[-1] == {"type": "http.response.body", "body": sent[-1]["body"], "more_body": False}
    if expected == "503":
        assert sent[0]["status"] == 503 and (b"retry-after", b"1") in sent[0]["headers"]
    else:
        assert sent[0]["status"] == 200 and sent[-1]["body"] == b""


async def test_channel_followers_and_pages_are_not_counted() -> None:
    drain, _ = draining()
    seen: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(drain.requests)

    middleware = InFlight(app, drain)
    for path in ("/api/channels/tenant.2.conversation.s/events", "/", "/healthz/ready"):
        await middleware({"type": "http", "path": path}, None, None)
    await middleware({"type": "http", "path": "/api/flows"}, None, None)
    assert seen == [0, 0, 0, 1] and drain.requests == 0


def test_a_cluster_without_a_shared_secret_is_told_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="akis"):
        warn_unshared_secret(AkisSettings(_env_file=None, redis_url=""))
        warn_unshared_secret(AkisSettings(_env_file=None, redis_url="redis://127.0.0.1:6379/0", secret_key="s"))
        assert caplog.text == ""  # one instance, or a configured secret: nothing to say
        warn_unshared_secret(AkisSettings(_env_file=None, redis_url="redis://127.0.0.1:6379/0"))
    assert "AKIS_SECRET_KEY is not set" in caplog.text and "docs/deploy.md" in caplog.text
