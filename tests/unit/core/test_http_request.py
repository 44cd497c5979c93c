"""SSRF guards of the http_request node; a loopback server stands in for an allowed API."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from runtime import Engine, Services
from runtime.errors import NodeError
from runtime.nodes.builtins.http_request import blocked, check_url

from .flows import flow, node


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "::1", "fe80::1", "0.0.0.0", "::ffff:127.0.0.1", "fd00::1"])
def test_blocked_addresses(address: str):
    assert blocked(address)


def test_public_address_not_blocked():
    assert not blocked("93.184.216.34")


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://localhost:8080/x", "http://[::1]/",
                                 "http://169.254.169.254/latest/meta-data", "http://metadata.google.internal/",
                                 "file:///etc/passwd", "gopher://x", "http://10.0.0.1/"])
async def test_check_url_refuses(url: str):
    with pytest.raises(NodeError):
        await check_url(url, set())


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect-inside":
            self.send_response(302)
            self.send_header("Location", "http://10.0.0.1/secret")
            self.end_headers()
            return
        body = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def http_flow(url: str) -> dict:
    return flow([node("in", "user_input"), node("h", "http_request", url=url, output_key="resp"),
                 node("out", "output", fields={"resp": "{{ resp }}"})], [("in", "h"), ("h", "out")])


async def test_loopback_refused_by_default(server: str):
    result = await Engine().run(http_flow(server + "/x"), {"user_message": "hi"})
    assert result.status == "failed" and "refused" in result.error


async def test_allowed_host_reaches_server_and_redirect_is_rechecked(server: str):
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    result = await engine.run(http_flow(server + "/x?q={{ user_message }}"), {"user_message": "hi"})
    assert result.status == "succeeded", result.error
    assert result.output["resp"] == {"status": 200, "json": {"ok": True, "path": "/x?q=hi"}}
    result = await engine.run(http_flow(server + "/redirect-inside"), {"user_message": "hi"})
    assert result.status == "failed" and "10.0.0.1" in result.error
