"""The small parts on their own: session signing, origins, SSE framing and batching, limits."""
from __future__ import annotations

import asyncio
import json

from editor.api import sse
from editor.api.limits import origin_allowed, parse_origins, same_origin_request
from editor.auth.guard import is_public
from editor.auth.login import _safe_next
from editor.auth.sessions import SessionRef, SessionSigner
from runtime.events import Event


def test_session_cookies_are_signed_and_expire() -> None:
    signer = SessionSigner("secret-one")
    value = signer.sign(SessionRef("0123abcd", "the-secret"))
    assert signer.read(value) == SessionRef("0123abcd", "the-secret")
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


def test_same_origin_rules_for_cookie_state_changes() -> None:
    host = {"host": "127.0.0.1:8080"}
    assert same_origin_request(host, set())  # no Origin, Referer or Sec-Fetch-Site: not a browser page
    assert same_origin_request({**host, "origin": "http://127.0.0.1:8080"}, set())
    assert not same_origin_request({**host, "origin": "http://evil.example"}, set())
    assert not same_origin_request({**host, "origin": "null"}, set())
    assert same_origin_request({**host, "origin": "http://shop.example"}, {"http://shop.example"})
    assert same_origin_request({**host, "referer": "http://127.0.0.1:8080/login?next=/"}, set())
    assert not same_origin_request({**host, "referer": "http://evil.example/page"}, set())
    assert not same_origin_request({**host, "referer": "about:blank"}, set())
    assert not same_origin_request({**host, "sec-fetch-site": "cross-site"}, set())
    assert not same_origin_request({**host, "sec-fetch-site": "same-site"}, set())  # a sibling subdomain
    assert same_origin_request({**host, "sec-fetch-site": "same-origin"}, set())
    assert same_origin_request({**host, "sec-fetch-site": "none"}, set())  # typed into the address bar


def test_form_tokens_are_bound_to_what_they_were_made_for() -> None:
    signer = SessionSigner("secret-one")
    token = signer.token("login", "nonce-1")
    assert signer.check_token("login", "nonce-1", token)
    assert not signer.check_token("login", "nonce-2", token)  # another browser's pre-session cookie
    assert not signer.check_token("logout", "nonce-1", token)
    assert not SessionSigner("secret-two").check_token("login", "nonce-1", token)
    assert not signer.check_token("login", "nonce-1", "") and not signer.check_token("login", "", token)


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


async def test_login_throttle_delays_grow_per_account_and_address() -> None:
    from editor.auth.throttle import ACCOUNT, ADDRESS, PAIR, Attempt, LoginThrottle, digest

    assert [PAIR.delay(n) for n in range(4, 12)] == [0, 2, 4, 8, 16, 32, 64, 128]
    assert PAIR.delay(30) == PAIR.delay(10_000) == 900 and ADDRESS.delay(19) == ACCOUNT.delay(19) == 0
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    alice = Attempt("2", "alice", "10.0.0.1")
    for _ in range(5):
        assert await throttle.wait_s(alice) == 0
        await throttle.failed(alice)
    assert await throttle.wait_s(alice) == 2  # the sixth try waits 2 s, the next ones longer
    assert await throttle.wait_s(Attempt("2", "alice", "10.0.0.2")) == 0  # another address
    assert await throttle.wait_s(Attempt("2", "bob", "10.0.0.1")) == 0  # another account
    assert await throttle.wait_s(Attempt("2", "alice", "10.0.0.1", device="known")) == 0  # a known browser
    now[0] += 2
    assert await throttle.wait_s(alice) == 0  # goes ahead and takes the slot: a parallel try waits
    assert await throttle.wait_s(alice) == 2
    await throttle.failed(alice)
    assert await throttle.wait_s(alice) == 4
    now[0] += 4
    assert await throttle.wait_s(alice) == 0
    await throttle.succeeded(alice)
    assert await throttle.wait_s(alice) == 0
    now[0] += 3600
    assert await throttle.memory.failures("address:" + digest("10.0.0.1")) == 0  # forgotten an hour later


async def test_login_throttle_address_and_account_limits() -> None:
    from editor.auth.throttle import Attempt, LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for n in range(20):  # one address, twenty accounts: each pair stays free, the address does not
        await throttle.failed(Attempt("2", f"user{n}", "10.0.0.9"))
    assert await throttle.wait_s(Attempt("2", "someone-else", "10.0.0.9")) == 2
    for n in range(20):  # one account from twenty addresses
        await throttle.failed(Attempt("3", "carol", f"10.1.0.{n}"))
    assert await throttle.wait_s(Attempt("3", "carol", "10.2.0.1")) == 2  # a new address waits too
    assert await throttle.wait_s(Attempt("3", "carol", "10.2.0.1", device="carols-laptop")) == 0  # not her browser
    await throttle.succeeded(Attempt("3", "carol", "10.2.0.1", device="carols-laptop"))
    assert await throttle.wait_s(Attempt("3", "carol", "10.2.0.2")) == 2  # the owner's browser reset only itself
    for _ in range(5):
        await throttle.failed(Attempt("3", "carol", "10.2.0.1", device="stolen"))
    assert await throttle.wait_s(Attempt("3", "carol", "10.2.0.1", device="stolen")) == 2  # five guesses, then waits
