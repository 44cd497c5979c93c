"""Fixtures for the multi-process tests: a private PostgreSQL schema and a Redis database of
their own per cluster, haproxy (installed by scripts/test.sh), and ``cluster``: a factory that
starts N web and M worker processes behind haproxy and stops every one of them by pid.

Redis database 13 is these tests' own (flushed before and after each cluster), so the job
queue, the channels, the cache and the login counters of a cluster meet no other test's keys;
on pytest-xdist's second worker (scripts/test.sh runs two) database 12, on a third 11.
Under CI=true a missing PostgreSQL, Redis or haproxy fails the test instead of skipping it.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from storage.db import init_db
from tests.conftest import REDIS_HOST, REDIS_PORT, require
from tests.integration.storage.conftest import PgSchema

from .cluster import HAPROXY, Cluster

_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_DB = int(os.environ.get("AKIS_TEST_CLUSTER_REDIS_DB", str(13 - _WORKER)))
SECRET = "cluster-test-shared-secret-0123456789abcdef"  # one AKIS_SECRET_KEY for every instance


@pytest.fixture
def cluster_database(postgres_url: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL schema: the processes find it at the newest revision."""
    schema = PgSchema(postgres_url)
    try:
        init_db(schema.url, seed_demo=True).dispose()
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def cluster_redis(redis_url: str) -> Iterator[str]:
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def haproxy() -> str:
    require(os.path.exists(HAPROXY), f"haproxy at {HAPROXY} (scripts/test.sh installs it)")
    return HAPROXY


MakeCluster = Callable[..., Cluster]


@pytest.fixture
def cluster(cluster_database: str, cluster_redis: str, haproxy: str, tmp_path: Path,
            request: pytest.FixtureRequest) -> Iterator[MakeCluster]:
    """``cluster(web=2, workers=2, env={...}, worker_args=(...))`` -> a started :class:`Cluster`.
    Its logs are printed when the test fails."""
    made: list[Cluster] = []

    def make(web: int = 2, workers: int = 2, env: dict[str, str] | None = None,
             worker_args: tuple[str, ...] = ()) -> Cluster:
        settings = {"AKIS_SECRET_KEY": SECRET, **(env or {})}
        started = Cluster(tmp_path, cluster_database, cluster_redis, settings)
        made.append(started)
        return started.start(web=web, workers=workers, worker_args=worker_args)

    try:
        yield make
    finally:
        for started in made:
            started.stop()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            for started in made:
                print(started.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]  # read back by the cluster fixture
    return report
