"""SSRF through http_request: DNS rebinding, IPv6 forms of private addresses, redirects, and
bodies too large to hold.

No packet leaves the machine: a resolver stub answers names (differently on each call where a
test needs it), and a recording network backend connects to loopback for real but refuses any
other address as unreachable. So when a check passes a "public" address, the test sees where
the connection went instead of reaching the internet; and had the connection gone to a second
resolution's loopback answer, the loopback server would have seen the request.
"""
from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpcore
import pytest

from runtime import Engine, Services
from runtime.errors import NodeError
from runtime.net.addresses import blocked, refusal
from runtime.net.fetch import BodyTooLarge, RequestRefused, check_url, fetch

PUBLIC = "93.184.216.34"  # never contacted: the recording backend refuses every non-loopback address
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"
MiB = 1024 * 1024


# --- a resolver that answers differently per call, and a network that reaches loopback only ----
class StubResolver:
    """``answers[host]`` is a list of answers, one per call (the last repeats)."""

    def __init__(self, **answers: list[list[str]]) -> None:
        self.answers = {host.replace("_", "."): list(a) for host, a in answers.items()}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answers = self.answers[host]
        return answers[min(self.calls.count(host), len(answers)) - 1]


class LoopbackOnly(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.connects: list[str] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,  # noqa: ASYNC109 - httpcore's backend signature
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        self.connects.append(host)
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise httpcore.ConnectError(f"{host} is unreachable (test network)")
        return await self.inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                            socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


# --- a loopback server that records what reaches it -------------------------------------------
class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        route = getattr(self, "route_" + parts.path.strip("/").replace("-", "_"), None)
        if route is None:
            self.send_error(404)
            return
        try:
            route(query, body)
        except (BrokenPipeError, ConnectionResetError):
            self.server.hung_up.set()

    def reply(self, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def route_json(self, query: dict[str, str], body: bytes) -> None:
        self.reply(json.dumps({"ok": True, "host": self.headers["Host"], "method": self.command,
                               "body": body.decode()}).encode())

    def route_text(self, query: dict[str, str], body: bytes) -> None:
        self.reply("çay, şeker".encode("iso-8859-9"), "text/plain; charset=iso-8859-9")

    def route_gzip(self, query: dict[str, str], body: bytes) -> None:
        self.reply(gzip.compress(json.dumps({"zipped": True}).encode()), Content_Encoding="gzip")

    def route_redirect(self, query: dict[str, str], body: bytes) -> None:
        self.send_response(int(query.get("code", "302")))
        self.send_header("Location", query["to"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_loop(self, query: dict[str, str], body: bytes) -> None:
        self.route_redirect({"to": "/loop"}, body)

    def route_forever(self, query: dict[str, str], body: bytes) -> None:
        """A body with no length that never ends (HTTP/1.0: it ends when the connection does)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        chunk = b"x" * 65536
        while True:
            self.wfile.write(chunk)
            self.server.sent += len(chunk)

    def route_declared(self, query: dict[str, str], body: bytes) -> None:
        """Says 100 MiB and sends a trickle: the length alone must stop the client."""
        self.send_response(200)
        self.send_header("Content-Length", str(100 * MiB))
        self.end_headers()
        for _ in range(50):
            self.wfile.write(b"x" * 1024)
            self.wfile.flush()
            time.sleep(0.1)

    def route_bomb(self, query: dict[str, str], body: bytes) -> None:
        self.reply(bomb(), "application/octet-stream", Content_Encoding="gzip")

    def route_drip(self, query: dict[str, str], body: bytes) -> None:
        self.send_response(200)
        self.end_headers()
        for _ in range(100):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.2)


@cache
def bomb() -> bytes:
    """64 MiB of zeros gzipped: about 64 KB on the wire."""
    return gzip.compress(bytes(64 * MiB), compresslevel=9)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.sent = 0
        self.hung_up = threading.Event()

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def paths(self) -> list[str]:
        return [urlsplit(path).path for _, path, _, _ in self.requests]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-body, a refused TLS handshake: expected here


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = Server()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def http_flow(url: str, **config: Any) -> dict[str, Any]:
    return {"akis": 1, "flow_id": "ssrf", "edges": [{"source": "in", "target": "h"}, {"source": "h", "target": "out"}],
            "nodes": [{"id": "in", "type": "user_input", "config": {}},
                      {"id": "h", "type": "http_request", "config": {"url": url, "output_key": "resp", **config}},
                      {"id": "out", "type": "output", "config": {"fields": {"resp": "{{ resp }}"}}}]}


# --- addresses: the IPv6 forms of private addresses are judged by the IPv4 inside -------------
@pytest.mark.parametrize("address", [
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:c0a8:101:1::1",  # 6to4 of 192.168.1.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::10.0.0.1",
    "64:ff9b::169.254.169.254",
    "64:ff9b:1::a00:1",  # local-use NAT64
    "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",  # IPv4-mapped
    "::ffff:0:127.0.0.1",  # IPv4-translated
    "::127.0.0.1", "::10.0.0.1",  # IPv4-compatible
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001::7f00:1", "2001:0:a00:1::",  # Teredo carrying private addresses
    "100.64.0.1", "192.0.0.9", "198.18.0.1", "224.0.0.1", "255.255.255.255", "0.1.2.3",
    "::", "::1", "fe80::1%eth0", "fec0::1", "fc00::1", "ff02::1", "2001:db8::1", "100::1",
])
def test_private_forms_are_blocked(address: str):
    assert blocked(address)


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", PUBLIC_V6, "2606:4700:4700::1111",
                                     "2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8"])
def test_public_forms_pass(address: str):
    assert not blocked(address)


def test_the_refusal_names_the_embedded_address():
    assert refusal("2002:7f00:1::") == "the 6to4 form of 127.0.0.1, a loopback, private, link-local, " \
                                      "multicast or reserved address"
    assert "NAT64 form of 169.254.169.254, the cloud metadata address" in refusal("64:ff9b::a9fe:a9fe")
    assert "IPv4-mapped form of 10.0.0.1" in refusal("::ffff:10.0.0.1")
    assert "Teredo" in refusal("2001:0:4136:e378:8000:63bf:3fff:fdd2")


@pytest.mark.parametrize("answer", [["2002:7f00:1::"], ["64:ff9b::a9fe:a9fe"], ["::ffff:127.0.0.1"],
                                    ["2001:0:4136:e378:8000:63bf:3fff:fdd2"], [PUBLIC, "10.0.0.1"],
                                    [PUBLIC_V6, "fd00::1"], ["not-an-ip"]])
async def test_a_name_resolving_to_any_private_form_is_refused(answer: list[str]):
    with pytest.raises(RequestRefused, match="refused"):
        await check_url("https://api.example/", set(), StubResolver(api_example=[answer]))


@pytest.mark.parametrize("url", ["http://[2002:7f00:1::]/", "http://[64:ff9b::7f00:1]:8080/",
                                 "http://[::ffff:169.254.169.254]/latest", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
                                 "http://0x7f000001/", "http://2130706433/", "http://127.1/", "http://[::]/",
                                 "http://LOCALHOST./", "http://api.localhost/", "http://metadata/"])
async def test_literal_and_odd_forms_in_urls_are_refused(url: str):
    with pytest.raises(RequestRefused, match="refused"):
        await check_url(url, set())  # the system resolver: these never leave the machine


# --- DNS rebinding: the connection goes to the address that was checked -----------------------
async def test_rebinding_connects_to_the_checked_address_not_a_second_answer(server: Server):
    resolver = StubResolver(rebind_test=[[PUBLIC], ["127.0.0.1"]])
    network = LoopbackOnly()
    with pytest.raises(NodeError, match="ConnectError"):
        await fetch("GET", f"http://rebind.test:{server.port}/json", resolve=resolver, network_backend=network)
    assert resolver.calls == ["rebind.test"]  # resolved once
    assert network.connects == [PUBLIC]  # connected to what was checked
    assert server.requests == []  # and the loopback answer reached nothing


async def test_a_loopback_first_answer_is_refused_before_any_connection(server: Server):
    resolver = StubResolver(rebind_test=[["127.0.0.1"], [PUBLIC]])
    network = LoopbackOnly()
    with pytest.raises(RequestRefused, match=r"resolves to 127\.0\.0\.1"):
        await fetch("GET", f"http://rebind.test:{server.port}/json", resolve=resolver, network_backend=network)
    assert resolver.calls == ["rebind.test"] and network.connects == [] and server.requests == []


async def test_rebinding_through_the_engine(server: Server, monkeypatch: pytest.MonkeyPatch):
    network = LoopbackOnly()
    monkeypatch.setattr(httpcore, "AnyIOBackend", lambda: network)  # the node's real network, recorded
    resolver = StubResolver(rebind_test=[[PUBLIC], ["127.0.0.1"]])
    engine = Engine(services=Services(http_resolver=resolver))
    result = await engine.run(http_flow(f"http://rebind.test:{server.port}/json"), {"user_message": "hi"})
    assert result.status == "failed" and "unreachable" in result.error
    assert resolver.calls == ["rebind.test"] and network.connects == [PUBLIC] and server.requests == []
    # the same name, checked to loopback, is refused by the engine before any connection
    resolver = StubResolver(rebind_test=[["127.0.0.1"], [PUBLIC]])
    engine = Engine(services=Services(http_resolver=resolver))
    result = await engine.run(http_flow(f"http://rebind.test:{server.port}/json"), {"user_message": "hi"})
    assert result.status == "failed" and "refused: rebind.test resolves to 127.0.0.1" in result.error
    assert network.connects == [PUBLIC] and server.requests == []


async def test_rebinding_with_the_system_resolver(server: Server, monkeypatch: pytest.MonkeyPatch):
    """The default path: the loop's getaddrinfo answers public first, loopback after. (The node
    before the fix resolved twice, once to check and once to connect, and reached the server.)"""
    loop = asyncio.get_running_loop()
    real, calls = loop.getaddrinfo, []

    async def rebinding(host: str | bytes, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        host = host.decode() if isinstance(host, bytes) else host
        if host == "rebind.test":
            calls.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC if len(calls) == 1 else "127.0.0.1", port))]
        if host == PUBLIC:
            raise OSError(f"{PUBLIC} is unreachable (test network)")  # no packet leaves
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    result = await Engine().run(http_flow(f"http://rebind.test:{server.port}/json"), {"user_message": "hi"})
    assert result.status == "failed" and "ConnectError" in result.error
    assert calls == ["rebind.test"] and server.requests == []


async def test_an_allowed_name_is_pinned_and_keeps_its_host_header(server: Server):
    resolver = StubResolver(api_test=[["127.0.0.1"], ["10.9.9.9"]])
    network = LoopbackOnly()
    got = await fetch("POST", f"http://API.test:{server.port}/json", allowed=["api.test"], json={"a": 1},
                      resolve=resolver, network_backend=network)
    assert got.status == 200 and json.loads(got.body)["host"] == f"api.test:{server.port}"
    assert json.loads(json.loads(got.body)["body"]) == {"a": 1}
    assert resolver.calls == ["api.test"] and network.connects == ["127.0.0.1"]


# --- redirects: every hop resolved once, checked and pinned --------------------------------------
def chain(port: int, *hosts: str, last: str) -> str:
    """A URL on the first host that redirects through each next host and ends at ``last``."""
    url = last
    for host in reversed(hosts[1:]):
        url = f"http://{host}:{port}/redirect?to={_quote(url)}"
    return f"http://{hosts[0]}:{port}/redirect?to={_quote(url)}"


def _quote(url: str) -> str:
    return quote(url, safe="")


async def test_every_hop_is_resolved_once_and_pinned(server: Server):
    resolver = StubResolver(hop1_test=[["127.0.0.1"]], hop2_test=[["127.0.0.1"]])
    network = LoopbackOnly()
    url = chain(server.port, "127.0.0.1", "hop1.test", "hop2.test", last=f"http://hop1.test:{server.port}/json")
    got = await fetch("GET", url, allowed=["127.0.0.1", "hop1.test", "hop2.test"], resolve=resolver,
                      network_backend=network)
    assert got.status == 200 and json.loads(got.body)["host"] == f"hop1.test:{server.port}"
    # each hop resolved once (hop1 twice: it is visited twice), and each connection to what it said;
    # test_rebinding_at_a_redirect_hop shows a hop's own answer is the one connected to
    assert resolver.calls == ["hop1.test", "hop2.test", "hop1.test"]
    assert network.connects == ["127.0.0.1"] * 4
    assert server.paths == ["/redirect", "/redirect", "/redirect", "/json"]


@pytest.mark.parametrize("answer", [["10.0.0.1"], ["2002:7f00:1::"], ["64:ff9b::a9fe:a9fe"], ["::ffff:127.0.0.1"],
                                    ["2001:0:4136:e378:8000:63bf:3fff:fdd2"], ["127.0.0.1"]])
@pytest.mark.parametrize("at_hop", [1, 2, 3])
async def test_a_redirect_to_a_private_address_is_refused_at_any_hop(server: Server, answer: list[str], at_hop: int):
    hops = ["127.0.0.1", "hop1.test", "hop2.test"][:at_hop]
    resolver = StubResolver(hop1_test=[["127.0.0.1"]], hop2_test=[["127.0.0.1"]], inner_test=[answer])
    url = chain(server.port, *hops, last=f"http://inner.test:{server.port}/json")
    with pytest.raises(RequestRefused, match=r"refused: inner\.test resolves to"):
        await fetch("GET", url, allowed=["127.0.0.1", "hop1.test", "hop2.test"], resolve=resolver,
                    network_backend=LoopbackOnly())
    assert server.paths == ["/redirect"] * at_hop  # the hops before, and nothing at the private one


@pytest.mark.parametrize("target", ["http://[2002:7f00:1::]/", "http://169.254.169.254/latest/meta-data",
                                    "http://localhost/", "file:///etc/passwd", "http://[::ffff:10.0.0.1]/"])
async def test_a_redirect_to_a_literal_private_url_is_refused(server: Server, target: str):
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    url = f"http://127.0.0.1:{server.port}/redirect?to={_quote(target)}"
    result = await engine.run(http_flow(url), {"user_message": "hi"})
    assert result.status == "failed" and ("refused" in result.error or "only http" in result.error)
    assert server.paths == ["/redirect"]


async def test_rebinding_at_a_redirect_hop(server: Server):
    resolver = StubResolver(rebind_test=[[PUBLIC], ["127.0.0.1"]])
    network = LoopbackOnly()
    url = chain(server.port, "127.0.0.1", last=f"http://rebind.test:{server.port}/json")
    with pytest.raises(NodeError, match="ConnectError"):
        await fetch("GET", url, allowed=["127.0.0.1"], resolve=resolver, network_backend=network)
    assert resolver.calls == ["rebind.test"] and network.connects == ["127.0.0.1", PUBLIC]
    assert server.paths == ["/redirect"]


async def test_redirects_are_capped(server: Server):
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    result = await engine.run(http_flow(f"http://127.0.0.1:{server.port}/loop"), {"user_message": "hi"})
    assert result.status == "failed" and "more than 5 redirects" in result.error
    assert server.paths == ["/loop"] * 6


async def test_credentials_stay_with_their_host_and_303_becomes_get(server: Server):
    resolver = StubResolver(other_test=[["127.0.0.1"]])
    url = (f"http://127.0.0.1:{server.port}/redirect?code=303&to="
           + _quote(f"http://other.test:{server.port}/json"))
    got = await fetch("POST", url, allowed=["127.0.0.1", "other.test"], json={"x": 1}, resolve=resolver,
                      headers={"Authorization": "Bearer secret", "X-Trace": "1"}, network_backend=LoopbackOnly())
    assert json.loads(got.body)["method"] == "GET"
    (first_method, _, first, _), (second_method, _, second, body) = server.requests
    assert first_method == "POST" and first["Authorization"] == "Bearer secret"
    assert second_method == "GET" and "Authorization" not in second and second["X-Trace"] == "1" and body == b""


# --- bodies: streamed, and stopped at the cap ----------------------------------------------------
async def test_an_endless_body_stops_at_the_cap_quickly_and_in_bounded_memory(server: Server):
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        result = await engine.run(http_flow(f"http://127.0.0.1:{server.port}/forever"), {"user_message": "hi"})
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == "failed" and "passed the 2,097,152-byte limit; stopped reading" in result.error
    assert elapsed < 5
    assert peak < 8 * MiB, f"peak {peak:,} bytes for a 2 MiB cap"
    assert await asyncio.to_thread(server.hung_up.wait, 5)  # the client hung up: the server stopped sending
    assert server.sent < 32 * MiB


async def test_a_declared_length_over_the_cap_is_refused_before_reading(server: Server):
    t0 = time.perf_counter()
    with pytest.raises(BodyTooLarge, match="104,857,600 bytes, over the 2,097,152-byte limit"):
        await fetch("GET", f"http://127.0.0.1:{server.port}/declared", allowed=["127.0.0.1"])
    assert time.perf_counter() - t0 < 2  # the server would need 5 s to send its trickle


async def test_a_decompression_bomb_stops_at_the_cap(server: Server):
    assert len(bomb()) < 256 * 1024  # made before measuring
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge, match="limit"):
            await fetch("GET", f"http://127.0.0.1:{server.port}/bomb", allowed=["127.0.0.1"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"peak {peak:,} bytes inflating a 64 MiB bomb"


async def test_a_slow_drip_is_bounded_by_the_timeout(server: Server):
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    t0 = time.perf_counter()
    result = await engine.run(http_flow(f"http://127.0.0.1:{server.port}/drip", timeout_s=1), {"user_message": "hi"})
    assert result.status == "failed" and "timed out after 1 s" in result.error
    assert time.perf_counter() - t0 < 3


# --- the happy path ------------------------------------------------------------------------------
async def test_allowed_loopback_still_works(server: Server):
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    base = f"http://127.0.0.1:{server.port}"
    result = await engine.run(http_flow(base + "/json", method="POST", body={"q": "{{ user_message }}"}),
                              {"user_message": "hi"})
    assert result.status == "succeeded", result.error
    assert result.output["resp"]["json"]["body"] == '{"q":"hi"}'
    result = await engine.run(http_flow(base + "/gzip"), {"user_message": "hi"})
    assert result.output["resp"] == {"status": 200, "json": {"zipped": True}}
    result = await engine.run(http_flow(base + "/text"), {"user_message": "hi"})
    assert result.output["resp"] == {"status": 200, "text": "çay, şeker"}


# --- TLS: the pinned connection still verifies the certificate against the name -----------------
def _certificates(tmp: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a certificate for ``name``, client context trusting its CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def make(subject: str, issuer: x509.Name | None, key: Any, signer: Any, ca: bool) -> x509.Certificate:
        subject_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject_name)
            .issuer_name(issuer or subject_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = make("Test CA", None, ca_key, ca_key, True)
    leaf = make(name, ca.subject, leaf_key, ca_key, False)
    (tmp / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp / "leaf.key").write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tmp / "leaf.pem", tmp / "leaf.key")
    client_context = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server_context, client_context


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, ssl.SSLContext, list[str | None]]]:
    server_context, client_context = _certificates(tmp_path, "api.test")
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)
    httpd = Server()
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd, client_context, names
    httpd.shutdown()
    httpd.server_close()


async def test_tls_is_verified_against_the_name_not_the_pinned_address(tls_server):
    httpd, client_context, names = tls_server
    resolver = StubResolver(api_test=[["127.0.0.1"]], wrong_test=[["127.0.0.1"]])
    got = await fetch("GET", f"https://api.test:{httpd.port}/json", allowed=["api.test"], resolve=resolver,
                      verify=client_context, network_backend=LoopbackOnly())
    assert got.status == 200 and json.loads(got.body)["host"] == f"api.test:{httpd.port}"
    assert names == ["api.test"]  # SNI: the name
    # the same server and address under another name: the certificate does not match, refused
    with pytest.raises(NodeError, match=r"CERTIFICATE_VERIFY_FAILED|hostname"):
        await fetch("GET", f"https://wrong.test:{httpd.port}/json", allowed=["wrong.test"], resolve=resolver,
                    verify=client_context, network_backend=LoopbackOnly())
    assert names == ["api.test", "wrong.test"] and httpd.paths == ["/json"]
