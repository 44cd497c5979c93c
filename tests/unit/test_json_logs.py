"""JSON log lines (``runtime.logs``): their fields, the run's ids through tasks and worker jobs,
and secrets masked whatever logged them. The app end to end: tests/integration/api/test_prometheus.py."""
from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from runtime.logs import JsonFormatter, RunContextFilter, configure_logging, run_context, secret_values
from runtime.ports import BackgroundJob
from runtime.settings import AkisSettings
from storage.jobs.codec import job_to_dict
from storage.jobs.worker import WorkerOptions, run_background_job

CANARY = "canary-3f9a1c7e55d2b8"
FIELDS = {"time", "level", "logger", "message", "run_id", "tenant_id", "trace_id", "span_id"}


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """A JSON handler on a test logger, writing to a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter([CANARY]))
    handler.addFilter(RunContextFilter())
    logger = logging.getLogger("tests.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_object_with_the_fields(lines: io.StringIO) -> None:
    logging.getLogger("tests.json").info("hello %s", "world")
    [record] = records(lines)
    assert record.keys() == FIELDS
    assert record["message"] == "hello world" and record["level"] == "INFO" and record["logger"] == "tests.json"
    assert record["run_id"] is None and record["trace_id"] is None
    assert record["time"].endswith("+00:00")


async def test_a_run_and_the_tasks_it_starts_carry_its_ids(lines: io.StringIO) -> None:
    log = logging.getLogger("tests.json")

    async def child() -> None:
        await asyncio.sleep(0)
        log.info("in a task the run started")

    async def the_run() -> None:
        log.info("in the run")
        await asyncio.create_task(child())

    with run_context("run-1", "7"):
        task = asyncio.create_task(the_run())  # created inside: inherits the ids
    log.info("outside")
    await task
    by_message = {r["message"]: r for r in records(lines)}
    assert by_message["in the run"]["run_id"] == "run-1" and by_message["in the run"]["tenant_id"] == "7"
    assert by_message["in a task the run started"]["run_id"] == "run-1"
    assert by_message["outside"]["run_id"] is None


def test_secrets_are_masked_in_message_arguments_and_tracebacks(lines: io.StringIO) -> None:
    log = logging.getLogger("tests.json")
    log.warning("key=%s", CANARY)
    try:
        raise ValueError(f"bad key {CANARY}")
    except ValueError:
        log.exception("failed")
    text = lines.getvalue()
    assert CANARY not in text
    warning, failure = records(lines)
    assert warning["message"] == "key=[secret]"
    assert "bad key [secret]" in failure["exception"]


def test_secret_values_are_every_secret_field_and_url_password() -> None:
    settings = AkisSettings(_env_file=None, secret_key=SecretStr("app-secret-123"),
                            metrics_token=SecretStr("scrape-token-456"),
                            database_url="postgresql://akis:db-password-789@localhost/akis",
                            redis_url="redis://:redis-pass-000@localhost:6379/0")
    found = set(secret_values(settings))
    assert {"app-secret-123", "scrape-token-456", "db-password-789", "redis-pass-000"} <= found


def test_json_configuration_replaces_the_root_handlers() -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        configure_logging(AkisSettings(_env_file=None, log_format="json",
                                       secret_key=SecretStr(CANARY)))
        [handler] = root.handlers
        assert isinstance(handler.formatter, JsonFormatter) and CANARY in handler.formatter.secrets
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


async def test_a_worker_job_logs_with_its_run_and_tenant(lines: io.StringIO) -> None:
    job = BackgroundJob("run-42", "flow", "5", "session", "save", "save_message", {})

    async def execute(_: BackgroundJob) -> None:
        logging.getLogger("tests.json").info("saving")

    ctx = {"options": WorkerOptions(redis_url="redis://unused"), "execute": execute, "job_try": 1, "job_id": "j"}
    outcome = await run_background_job(ctx, job_to_dict(job))
    assert outcome["status"] == "succeeded"
    [record] = records(lines)
    assert record["run_id"] == "run-42" and record["tenant_id"] == "5"
