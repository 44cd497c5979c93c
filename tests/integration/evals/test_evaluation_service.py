"""The evaluations service in process, with the real app context: two versions of a flow (a
template, then a model on the mock provider) over a 50-case dataset (the comparison lists exactly
the 5 broken cases), the real LLM judge on the mock provider with per-case scripted verdicts, the
concurrency limit, caches off, and a case captured from a recorded run."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from runtime.ports import LLMProvider, LLMRequest, Usage
from storage.repos import runs as runs_repo

from .flows import BROKEN, JUDGE_BY_CASE, SCORERS, chat_flow, echo_flow, fifty_cases, jsonl, mock_model_flow

TENANT = "2"


def make_context(database_url: str, tmp_path: Path):
    from editor.context import create_context
    from runtime.settings import AkisSettings

    return create_context(AkisSettings(database_url=database_url, warmup_interval_s=0,
                                       plugins_dir=tmp_path / "plugins", data_dir=tmp_path / "data"))


@pytest.fixture
def context(tmp_path: Path) -> Iterator[object]:
    made = make_context(f"sqlite:///{tmp_path / 'akis.db'}", tmp_path)
    yield made
    made.database.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_database_context(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """The context on SQLite, then on a private PostgreSQL schema (skips, or fails under CI, without it)."""
    from tests.integration.storage.conftest import PgSchema

    schema = PgSchema(request.getfixturevalue("postgres_url")) if request.param == "postgres" else None
    made = make_context(schema.url if schema else f"sqlite:///{tmp_path / 'akis.db'}", tmp_path)
    try:
        yield made
    finally:
        made.database.dispose()
        if schema is not None:
            schema.drop()


class CountingProvider:
    """Counts how many streams are open at once (each waits until released): a test double, as
    the mock cannot hold its answers back until the test releases them."""

    name = "counting"

    def __init__(self) -> None:
        self.open = 0
        self.most = 0
        self.release = asyncio.Event()
        self.three_open = asyncio.Event()
        self.first_open = asyncio.Event()

    async def stream(self, request: LLMRequest) -> AsyncIterator[str | Usage]:
        self.open += 1
        self.most = max(self.most, self.open)
        self.first_open.set()
        if self.open >= 3:
            self.three_open.set()
        try:
            await self.release.wait()
            yield "done"
        finally:
            self.open -= 1


class Resolver:
    def __init__(self, provider: object) -> None:
        self.provider = provider

    def resolve(self, provider: str, credential: str | None, tenant_id: str) -> LLMProvider:
        return self.provider  # type: ignore[return-value]  # a test double of the protocol


async def two_versions(context, flow_id: str = "echo") -> None:
    await context.flows.create(TENANT, json.dumps(echo_flow(flow_id)))
    await context.flows.save_version(TENANT, flow_id, json.dumps(echo_flow(flow_id, broken=True)))


async def test_two_versions_fifty_cases_the_comparison_lists_exactly_the_broken_ones(any_database_context):
    """Version 1 a template, version 2 a model (ai_response on the mock); the judge is the real
    LLMJudge through the app's resolver and the mock, which fails cases 0, 10, ... 40 by script."""
    context = any_database_context
    await context.flows.create(TENANT, json.dumps(echo_flow("echo")))
    await context.flows.save_version(TENANT, "echo", json.dumps(mock_model_flow("echo")))
    scorers = [*SCORERS[:3], JUDGE_BY_CASE]
    dataset, count = await context.datasets.import_text(TENANT, jsonl("regression", fifty_cases(), scorers), "jsonl")
    assert count == 50
    started = await context.evaluations.start(TENANT, dataset.id, "echo", [1, 2], concurrency=8)
    finished = await context.evaluations.wait(TENANT, started.id)
    assert (finished.status, finished.done, finished.total) == ("finished", 100, 100)
    report = await context.evaluations.report(TENANT, started.id)
    one, two = report.summary(1), report.summary(2)
    assert (one.cases, one.pass_rate, two.pass_rate) == (50, 0.9, 0.82)  # the judge fails 5 cases in both
    assert one.scorers["exact"].pass_rate == 1.0 and two.scorers["exact"].pass_rate == 0.9
    assert one.scorers["judge"].mean == pytest.approx(0.83) and two.scorers["judge"].mean == pytest.approx(0.83)
    judged = [r.scores["judge"]["detail"] for row in report.cases for r in row.results.values()]
    assert len(judged) == 100 and all(d.startswith("judged 0.") for d in judged)  # the judge answered all
    low = next(r for r in report.cases if r.case_id == "case-10").results[1].scores["judge"]
    assert (low["value"], low["passed"], low["detail"]) == (
        0.2, False, "judged 0.20 < 0.50: Not what was asked. SCORE: 0.2")
    (comparison,) = report.comparisons
    assert sorted(comparison.changed) == BROKEN
    assert sorted(comparison.regressed) == [c for c in BROKEN if c != "case-20"]  # the judge failed it on v1 too
    assert sorted(r.case_id for r in report.cases if r.changed) == BROKEN
    broken = next(r for r in report.cases if r.case_id == BROKEN[0])
    assert broken.results[2].text == "oops" and broken.results[1].text == "answer: message 3!"
    # every case's run is recorded like any other run, tagged with the evaluation
    await context.recorder.drain()
    run = await context.database.run(runs_repo.get_run, TENANT, broken.results[2].run_id)
    assert run.evaluation_id == started.id and run.flow_version == 2


async def test_judge_through_the_mock_and_the_cases_without_a_judge_pass(context):
    await two_versions(context)
    dataset, _ = await context.datasets.import_text(TENANT, jsonl("mocked", fifty_cases()[:10], SCORERS), "jsonl")
    started = await context.evaluations.start(TENANT, dataset.id, "echo")  # the current version: 2
    await context.evaluations.wait(TENANT, started.id)
    report = await context.evaluations.report(TENANT, started.id)
    (summary,) = report.summaries
    assert summary.version == 2 and summary.scorers["judge"].mean == pytest.approx(0.9)
    assert summary.pass_rate == 0.9  # case-03 is broken in version 2


async def test_the_concurrency_limit_holds(context):
    counting = CountingProvider()
    context.services.providers = Resolver(counting)
    await context.flows.create(TENANT, json.dumps(chat_flow("chat")))
    dataset = await context.datasets.create(TENANT, "twenty")
    from runtime.evals import Case

    await context.datasets.add_cases(TENANT, dataset.id, [Case(message=f"q{i}") for i in range(20)])
    started = await context.evaluations.start(TENANT, dataset.id, "chat", concurrency=3)
    await asyncio.wait_for(counting.three_open.wait(), 30)
    await asyncio.sleep(0.05)  # give a fourth run every chance to start, if the limit leaked
    assert counting.open == 3
    counting.release.set()
    finished = await context.evaluations.wait(TENANT, started.id)
    assert finished.status == "finished" and counting.most == 3
    report = await context.evaluations.report(TENANT, started.id)
    assert report.summary(1).pass_rate == 1.0 and report.cases[0].results[1].text == "done"


async def test_caches_off_runs_an_uncached_copy(context):
    from editor.services.evaluations import cache_off
    from runtime.flow.model import FlowDocument

    document = FlowDocument.model_validate({**echo_flow("c"), "cache_strategy": {"template": {"enabled": True}}})
    uncached = cache_off(document)
    assert uncached.cache_strategy["template"].enabled is False and document.cache_strategy["template"].enabled
    await two_versions(context)
    dataset, _ = await context.datasets.import_text(TENANT, jsonl("c", fifty_cases()[:3], []), "jsonl")
    started = await context.evaluations.start(TENANT, dataset.id, "echo", [1], use_cache=False)
    finished = await context.evaluations.wait(TENANT, started.id)
    assert finished.use_cache is False and finished.status == "finished"
    from editor.services.errors import Invalid, NotFound

    with pytest.raises(Invalid, match="versions are numbers from 1"):
        await context.evaluations.start(TENANT, dataset.id, "echo", [0])
    with pytest.raises(NotFound):
        await context.evaluations.start(TENANT, dataset.id, "echo", [7])
    with pytest.raises(Invalid, match="concurrency must be 1 to 64"):
        await context.evaluations.start(TENANT, dataset.id, "echo", [1], concurrency=65)


async def test_a_case_from_a_recorded_run(context):
    await two_versions(context)
    started = await context.runs.start_stored(TENANT, "echo", {"user_message": "hi there", "category": "x"},
                                              version=1)
    await started.handle.result()
    await context.recorder.drain()
    dataset = await context.datasets.create(TENANT, "captured")
    row = await context.datasets.case_from_run(TENANT, dataset.id, started.run_id)
    assert (row.message, row.expected, row.inputs, row.source_run_id) == (
        "hi there", "answer: hi there", {"category": "x"}, started.run_id)
    from editor.services.errors import NotFound

    with pytest.raises(NotFound):  # another tenant's run
        await context.datasets.case_from_run("3", dataset.id, started.run_id)


async def test_an_evaluation_whose_process_stopped_shows_as_interrupted_and_shutdown_cancels(context):
    from datetime import timedelta

    from storage.repos import evaluations as repo
    from storage.types import utcnow

    await two_versions(context)
    dataset, _ = await context.datasets.import_text(TENANT, jsonl("stale", fifty_cases()[:2], []), "jsonl")
    # a row another process left running: it beat last three minutes ago
    row = await context.database.run(repo.create_evaluation, TENANT, dataset.id, "echo", [1], baseline=None,
                                     concurrency=1, use_cache=True, scorers=[], total=2)

    def silent(session):
        stored = repo.get_evaluation(session, TENANT, row.id)
        stored.heartbeat_at = utcnow() - timedelta(minutes=3)
        session.add(stored)

    await context.database.run(silent)
    shown = await context.evaluations.get(TENANT, row.id)
    assert shown.status == "interrupted" and "start it again" in shown.error
    # a long evaluation of this process: the app's shutdown stops it and stores it as cancelled
    counting = CountingProvider()
    context.services.providers = Resolver(counting)
    await context.flows.create(TENANT, json.dumps(chat_flow("slow")))
    started = await context.evaluations.start(TENANT, dataset.id, "slow", concurrency=1)
    await asyncio.wait_for(counting.first_open.wait(), 30)
    await context.evaluations.aclose()
    assert (await context.evaluations.get(TENANT, started.id)).status == "cancelled"


async def test_a_case_from_a_chat_run_keeps_the_turns_before_it(context):
    from runtime.ports import ChatMessage
    from storage.repos import messages

    await two_versions(context)
    turns = [ChatMessage("user", "Transpalet arıyorum", seq=0, run_id="earlier"),
             ChatMessage("assistant", "Elektrikli mi, manuel mi?", seq=1, run_id="earlier")]
    await context.database.run(messages.save_messages, TENANT, "chat-1", turns)
    started = await context.runs.start_stored(TENANT, "echo", {"user_message": "Elektrikli"}, session_id="chat-1")
    await started.handle.result()
    await context.recorder.drain()
    later = [ChatMessage("user", "Elektrikli", seq=2, run_id=started.run_id),
             ChatMessage("assistant", "answer: Elektrikli", seq=3, run_id=started.run_id),
             ChatMessage("user", "a later question", seq=4, run_id="later")]
    await context.database.run(messages.save_messages, TENANT, "chat-1", later)
    dataset = await context.datasets.create(TENANT, "chats")
    row = await context.datasets.case_from_run(TENANT, dataset.id, started.run_id)
    assert row.history == [{"role": "user", "content": "Transpalet arıyorum"},
                           {"role": "assistant", "content": "Elektrikli mi, manuel mi?"}]
    assert (row.message, row.expected) == ("Elektrikli", "answer: Elektrikli")


async def test_a_case_whose_run_cannot_start_fails_alone_saying_why(context):
    from runtime.evals import Case

    await two_versions(context)
    dataset = await context.datasets.create(TENANT, "mixed", scorers=[{"kind": "contains", "value": "answer"}])
    await context.datasets.add_cases(TENANT, dataset.id, [
        Case(message="fine"), Case(message="odd", inputs={"session_id": "not-this-one"}), Case(message="also fine")])
    started = await context.evaluations.start(TENANT, dataset.id, "echo", [1])
    finished = await context.evaluations.wait(TENANT, started.id)
    assert (finished.status, finished.done) == ("finished", 3)
    report = await context.evaluations.report(TENANT, started.id)
    results = {row.message: row.results[1] for row in report.cases}
    assert results["fine"].passed and results["also fine"].passed
    odd, why = results["odd"], "session_id differs between the body and its inputs"
    await context.datasets.add_cases(TENANT, dataset.id, [Case(message="=HYPERLINK(1)")])  # a formula to a spreadsheet
    assert (odd.status, odd.passed, odd.error) == ("failed", False, why)
    assert odd.scores["contains"]["detail"] == f"run failed: {why}"
    again = await context.evaluations.start(TENANT, dataset.id, "echo", [1])
    await context.evaluations.wait(TENANT, again.id)
    table = (await context.evaluations.report(TENANT, again.id)).to_csv()
    assert ",'=HYPERLINK(1),," in table and "answer: =HYPERLINK(1)" in table  # the message quoted; the answer safe
