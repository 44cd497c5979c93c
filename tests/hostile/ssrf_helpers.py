"""Shared pieces of the SSRF tests (test_ssrf_addresses, test_ssrf_pinning, test_ssrf_bodies).

No packet leaves the machine: a resolver stub answers names (differently on each call where a
test needs it), and a recording network backend connects to loopback for real but refuses any
other address as unreachable. So when a check passes a "public" address, the test sees where
the connection went instead of reaching the internet; and had the connection gone to a second
resolution's loopback answer, the loopback server would have seen the request. The ``server``
fixture that runs :class:`Server` lives in this folder's conftest.py.
"""
from __future__ import annotations

import gzip
import ipaddress
import json
import threading
import time
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore

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



def http_flow(url: str, **config: Any) -> dict[str, Any]:
    return {"akis": 1, "flow_id": "ssrf", "edges": [{"source": "in", "target": "h"}, {"source": "h", "target": "out"}],
            "nodes": [{"id": "in", "type": "user_input", "config": {}},
                      {"id": "h", "type": "http_request", "config": {"url": url, "output_key": "resp", **config}},
                      {"id": "out", "type": "output", "config": {"fields": {"resp": "{{ resp }}"}}}]}
