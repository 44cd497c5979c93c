"""Shared test helpers: real services on loopback, and the CI rule that a missing one fails."""
from __future__ import annotations

import gc
import os
import socket
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime import gc_policy, tracing

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
MEMCACHED_HOST, MEMCACHED_PORT = "127.0.0.1", int(os.environ.get("AKIS_TEST_MEMCACHED_PORT", "11211"))
POSTGRES_URL = os.environ.get("AKIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CHROMIUM = "/usr/bin/chromium"


# The tests' own process collects as the app does: with Python's thresholds the session's heap
# (every module, fixture and app the tests made) was walked so often that tests/ui took 141 s
# instead of 114 s (with the freeze below).
gc.set_threshold(*gc_policy.DEFAULT_THRESHOLDS)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collecting imported lives for the whole session: frozen, no collection walks it."""
    gc.collect()
    gc.freeze()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(condition: bool, what: str) -> None:
    """Skip when a service or the browser is missing; under CI=true fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not available", pytrace=False)
    pytest.skip(f"{what} not available")


@pytest.fixture
def redis_url() -> str:
    require(port_open(REDIS_HOST, REDIS_PORT), f"Redis at {REDIS_HOST}:{REDIS_PORT}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def memcached_address() -> str:
    require(port_open(MEMCACHED_HOST, MEMCACHED_PORT), f"Memcached at {MEMCACHED_HOST}:{MEMCACHED_PORT}")
    return f"{MEMCACHED_HOST}:{MEMCACHED_PORT}"


@pytest.fixture
def postgres_url() -> str:
    require(port_open("127.0.0.1", 5432), "PostgreSQL at 127.0.0.1:5432")
    return POSTGRES_URL


@pytest.fixture
def chromium_path() -> str:
    require(os.path.exists(CHROMIUM), f"Chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The engine's tracing turned on for one test, its finished spans kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert tracing.enable(provider)
    try:
        yield exporter
    finally:
        tracing.disable()
