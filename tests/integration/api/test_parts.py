"""The small parts on their own: session signing, origins, SSE framing and batching, limits."""
from __future__ import annotations

import asyncio
import json

from editor.api import sse
from editor.api.limits import origin_allowed, parse_origins
from editor.auth.guard import is_public
from editor.auth.login import _safe_next
from editor.auth.sessions import SessionSigner, SessionUser
from runtime.events import Event


def test_session_cookies_are_signed_and_expire() -> None:
    signer = SessionSigner("secret-one")
    value = signer.sign(SessionUser("2", "alice"))
    assert signer.read(value) == SessionUser("2", "alice")
    assert SessionSigner("secret-two").read(value) is None  # another key: forged
    assert signer.read(value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]) is None
    assert signer.read("") is None and signer.read(None) is None and signer.read("garbage") is None
    assert SessionSigner("secret-one", max_age_s=-1).read(value) is None  # expired


def test_origin_rules() -> None:
    allowed = parse_origins(" http://shop.example/ ,https://b.example")
    host = {"host": "127.0.0.1:8080"}
    assert origin_allowed(host, allowed)  # no Origin: not a browser
    assert origin_allowed({**host, "origin": "http://shop.example"}, allowed)
    assert origin_allowed({**host, "origin": "http://127.0.0.1:8080"}, allowed)  # same origin
    assert not origin_allowed({**host, "origin": "http://127.0.0.1:8081"}, allowed)
    assert not origin_allowed({**host, "origin": "http://evil.example"}, allowed)
    assert not origin_allowed({**host, "origin": "null"}, set())


def test_redirect_after_login_stays_local() -> None:
    for target in ("//evil.example", "https://evil.example", "\\\\evil", "", None, "javascript:x"):
        assert _safe_next(target) == "/"
    assert _safe_next("/flows/a?x=1") == "/flows/a?x=1"


def test_public_paths_are_an_explicit_list() -> None:
    assert all(is_public(p) for p in ("/login", "/healthz", "/widget", "/widget/widget.js", "/_nicegui/3/x"))
    assert not any(is_public(p) for p in ("/", "/dashboard", "/flows/x", "/api/flows", "/widgetx", "/login/x"))


def test_sse_frames() -> None:
    event = Event("message.chunk", "r1", 1.5, index=7, node_id="ai", text="a\nb", seq=0, extra={"cursor": 3})
    text = sse.event_frame(event, 7).decode()
    lines = text.split("\n")
    assert lines[0] == "id: 7" and lines[1] == "event: message.chunk" and text.endswith("\n\n")
    data = json.loads(lines[2][len("data: "):])
    assert data["text"] == "a\nb" and "cursor" not in data
    assert sse.parse_last_event_id("12") == 12
    assert sse.parse_last_event_id("-1") is None and sse.parse_last_event_id("x") is None
    assert sse.parse_last_event_id("9" * 30) is None and sse.parse_last_event_id(None) is None


async def test_keepalive_batches_and_comments() -> None:
    gate = asyncio.Event()

    async def source():
        for i in range(5):
            yield f"{i}".encode()
        await gate.wait()
        yield b"end"

    writes = []
    stream = sse.with_keepalive(source(), every_s=0.05)
    async for chunk in stream:
        writes.append(chunk)
        if chunk.startswith(b":"):
            gate.set()
    assert writes[0] == b"01234"  # what was waiting went out as one write
    assert b": keep-alive\n\n" in writes and writes[-1] == b"end"


async def test_keepalive_passes_a_source_failure_on() -> None:
    async def source():
        yield b"a"
        raise RuntimeError("boom")

    got = []
    try:
        async for chunk in sse.with_keepalive(source()):
            got.append(chunk)
    except RuntimeError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("the failure was swallowed")
    assert got == [b"a"]


def test_login_throttle() -> None:
    from editor.auth.login import Throttle

    throttle = Throttle(limit=3, window_s=60)
    for _ in range(3):
        assert not throttle.blocked("10.0.0.1")
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1") and not throttle.blocked("10.0.0.2")
    assert not Throttle(limit=3, window_s=0).blocked("10.0.0.1")
