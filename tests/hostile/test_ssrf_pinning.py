"""SSRF through http_request: DNS rebinding, pinning (the connection goes to the address that
was checked), redirects (every hop resolved once, checked and pinned), and TLS verified against the
name rather than the pinned address. No packet leaves the machine (see ssrf_helpers)."""
from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpcore
import pytest

from runtime import Engine, Services
from runtime.errors import NodeError
from runtime.net.fetch import RequestRefused, fetch
from tests.hostile.ssrf_helpers import PUBLIC, LoopbackOnly, Server, StubResolver, http_flow


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
