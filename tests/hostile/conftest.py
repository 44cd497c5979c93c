"""Fixtures for the hostile tests: the loopback server the SSRF tests point requests at."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.hostile.ssrf_helpers import Server


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = Server()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
