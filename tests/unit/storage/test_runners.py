"""The in-process runner, the job codec and the buffered metrics sink (no database needed)."""
from __future__ import annotations

import asyncio

import pytest

from runtime.ports import BackgroundJob, MetricRow
from storage.cli import parse_since
from storage.errors import StorageError
from storage.jobs import InProcessRunner, make_runner
from storage.jobs.arq_runner import ArqRunner
from storage.jobs.codec import deserialize, job_from_dict, job_id, job_to_dict, serialize
from storage.metrics_sink import BufferedSink


def job(run: str = "r1", node: str = "node_7", **config: object) -> BackgroundJob:
    return BackgroundJob(run, "6", "2", "abc123", node, "save_message", dict(config))


def test_a_job_crosses_the_queue_as_json():
    original = job(user_message="Transpalet arıyorum", turn=None)
    assert job_from_dict(deserialize(serialize(job_to_dict(original)))) == original
    assert job_id(original) == "akis:2:r1:node_7" != job_id(job(node="node_8"))


async def test_jobs_report_their_outcome_and_one_that_waits_goes_on_as_a_task():
    seen: list[str] = []
    gate = asyncio.Event()

    async def execute(j: BackgroundJob) -> None:
        if j.config.get("wait"):
            await gate.wait()
        seen.append(j.node_id)
        if j.config.get("fail"):
            raise ValueError("disk full")

    runner = InProcessRunner(execute)
    ok, bad = runner.submit(job()), runner.submit(job(node="n2", fail=True))
    assert ok.done() and bad.done() and seen == ["node_7", "n2"]  # never waited: ran inside submit, no task
    waiting = runner.submit(job(node="n3", wait=True))
    assert not waiting.done() and runner.pending == 1  # waits: carried on by a task
    gate.set()
    good, failed, later = await ok, await bad, await waiting
    assert (good.status, good.error, good.started_at > 0) == ("succeeded", None, True)
    assert failed.status == "failed" and failed.error == "ValueError: disk full"
    assert later.status == "succeeded" and seen[-1] == "n3" and runner.pending == 0
    assert (runner.completed, runner.failed) == (2, 1)


async def test_submitting_the_same_run_and_node_twice_runs_it_once():
    calls = 0
    gate = asyncio.Event()

    async def execute(j: BackgroundJob) -> None:
        nonlocal calls
        calls += 1
        if j.config.get("wait"):
            await gate.wait()

    runner = InProcessRunner(execute)
    first, second = runner.submit(job()), runner.submit(job())  # the first finished inside submit
    assert await first == await second and calls == 1
    running, again = runner.submit(job(node="n2", wait=True)), runner.submit(job(node="n2", wait=True))
    assert running is again  # still running: the same task
    gate.set()
    assert (await running).status == "succeeded" and calls == 2


async def test_drain_waits_then_cancels_what_is_left():
    gate = asyncio.Event()

    async def execute(j: BackgroundJob) -> None:
        if j.node_id == "slow":
            await asyncio.sleep(3600)
        gate.set()

    runner = InProcessRunner(execute)
    runner.submit(job(node="fast"))
    slow = runner.submit(job(node="slow"))
    assert await runner.drain(timeout_s=0.2) == 1
    assert gate.is_set() and slow.cancelled() and runner.pending == 0


def test_make_runner_picks_the_queue_only_with_redis():
    async def execute(j: BackgroundJob) -> None:
        return None

    assert isinstance(make_runner(execute), InProcessRunner)
    assert isinstance(make_runner(execute, "redis://127.0.0.1:6379/0"), ArqRunner)


class FlakySink(BufferedSink):
    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.batches: list[int] = []
        self.down = False

    async def write_batch(self, rows: list[MetricRow]) -> None:
        if self.down:
            raise ConnectionError("database down")
        self.batches.append(len(rows))


def metric(i: int) -> MetricRow:
    return MetricRow("2", "6", "r", f"n{i}", "delay", float(i), "off", "succeeded")


async def test_rows_are_written_in_batches_and_kept_while_the_database_is_down():
    sink = FlakySink(batch_size=4, interval_s=3600)
    sink.down = True
    for i in range(10):
        sink.record(metric(i))
    with pytest.raises(RuntimeError, match="10 rows still buffered"):
        await sink.flush()
    assert sink.pending == 10 and sink.failed_batches >= 1
    sink.down = False
    await sink.flush()
    assert sink.batches == [4, 4, 2] and sink.written == 10
    await sink.aclose()


def test_record_never_blocks_and_the_buffer_is_bounded():
    sink = FlakySink(batch_size=4, max_buffer=5)
    for i in range(8):  # no event loop here: rows wait in the buffer
        sink.record(metric(i))
    assert sink.pending == 5 and sink.dropped == 3


def test_since_windows():
    assert parse_since("24h").total_seconds() == 86400
    assert parse_since("90m").total_seconds() == 5400
    assert parse_since("7d").days == 7
    with pytest.raises(StorageError, match="--since"):
        parse_since("yesterday")
