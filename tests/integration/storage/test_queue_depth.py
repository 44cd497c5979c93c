"""The arq runner's queue depth (the ``akis_job_queue_depth`` gauge of /metrics): the shared
queue's length while jobs wait, ``None`` when Redis does not answer, and the gauge follows."""
from __future__ import annotations

import math

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from editor.observability.metrics import AppMetrics, app_metrics
from runtime.settings import AkisSettings
from storage.jobs import ArqRunner
from tests.processes import free_port

from .jobs_helpers import RedisNames, save_job


def gauges(metrics: AppMetrics) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


async def test_queue_depth_counts_waiting_jobs_and_feeds_the_gauge(redis_url: str) -> None:
    names = RedisNames(redis_url)
    runner = ArqRunner(redis_url, queue_name=names.queue, poll_interval_s=0.05, result_timeout_s=1.0)
    metrics = app_metrics(AkisSettings(_env_file=None, metrics_token=SecretStr("t")), lambda: 0, runner, None)
    try:
        assert await runner.queue_depth() == 0
        for n in range(3):
            runner.submit(save_job(names.run_id(n), n))
        assert await runner.drain(5.0) == 0  # in Redis now; no worker takes them
        assert await runner.queue_depth() == 3
        assert runner.pending == 3
        await metrics.refresh()
        got = gauges(metrics)
        assert got["akis_job_queue_depth"] == 3 and got["akis_background_jobs_pending"] == 3
    finally:
        await runner.aclose()
        await names.cleanup()


async def test_queue_depth_is_unknown_while_redis_does_not_answer() -> None:
    runner = ArqRunner(f"redis://127.0.0.1:{free_port()}/0")
    metrics = app_metrics(AkisSettings(_env_file=None, metrics_token=SecretStr("t")), lambda: 0, runner, None)
    try:
        assert await runner.queue_depth() is None
        await metrics.refresh()
        assert math.isnan(gauges(metrics)["akis_job_queue_depth"])
    finally:
        await runner.aclose()
