"""The run pane in queue mode (``AKIS_RUN_MODE=queue``): the run executes in a worker (here an
in-process run executor on a private Redis prefix), its events come back through Redis, and the
pane streams, finishes and stops runs as it does inline."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from editor.context import AkisContext, create_context
from runtime.settings import AkisSettings
from storage.durable.wiring import runs_factory
from storage.repos import runs
from tests.browser import run_pane_user
from tests.browser.run_pane_user import pane_page
from tests.integration.durable.conftest import delete_prefix

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def queue_mode(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """``pane_page`` builds a queue-mode context; the test starts the executor on its database."""
    state: dict[str, Any] = {"prefix": f"akis:ui{uuid.uuid4().hex[:8]}:", "redis_url": redis_url}

    def make_context(data_dir: Path) -> AkisContext:
        settings = AkisSettings(_env_file=None, database_url=f"sqlite:///{data_dir / 'akis.db'}",  # type: ignore[call-arg]
                                data_dir=data_dir / ".akis", warmup_interval_s=0, plugins_dir=ROOT / "plugins",
                                redis_url=redis_url, queue_prefix=state["prefix"], run_mode="queue")
        context = create_context(settings)
        state["settings"], state["context"] = settings, context
        return context

    monkeypatch.setattr(run_pane_user, "make_context", make_context)
    yield state


@pytest.fixture
async def executor(queue_mode: dict[str, Any]) -> AsyncIterator[Any]:
    holder: dict[str, Any] = {}

    def start(context: AkisContext) -> None:
        holder["executor"] = runs_factory(queue_mode["settings"], 2, f"{queue_mode['prefix']}jobs")(context.database)
        holder["executor"].start()

    yield start
    if "executor" in holder:
        await holder["executor"].stop(2.0)
    await delete_prefix(queue_mode["redis_url"], queue_mode["prefix"])


async def test_a_queued_run_streams_into_the_pane_and_is_recorded_by_the_worker(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, queue_mode: dict[str, Any], executor: Any) -> None:
    async with pane_page(tmp_path, caplog, "quick") as page:
        assert page.context.runs.queued is not None
        executor(page.context)
        lengths: set[int] = set()
        await page.click("run-button")
        while not (page.pane.live and page.pane.live.finished and page.pane.run_button.enabled):
            lengths.add(len(page.pane.answers.text_of("node_6")))
            await asyncio.sleep(0.01)
        answer = page.pane.live.output["answer"]
        assert page.pane.answers.text_of("node_6") == answer and answer.startswith("Thanks for your message")
        assert len(lengths - {0, len(answer)}) >= 2, f"the answer should grow in steps, saw {sorted(lengths)}"
        for node_id in ("node_1", "node_2", "node_6"):
            assert page.statuses(node_id)[:2] == ["waiting", "running"], node_id
        assert page.pane.status.text.startswith("Succeeded in")

        def stored() -> list[Any]:
            return page.context.database.call(runs.list_runs, "1", "pallet-assistant")

        await page.until(lambda: [r.status for r in stored()] == ["succeeded"], what="the worker's row")
        assert stored()[0].worker and stored()[0].output["answer"] == answer


async def test_stop_cancels_a_queued_run_in_its_worker(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, queue_mode: dict[str, Any], executor: Any) -> None:
    async with pane_page(tmp_path, caplog, "slow") as page:
        executor(page.context)
        await page.click("run-button")
        await page.until(lambda: len(page.pane.answers.text_of("node_6")) > 0, what="the first words")
        await page.click("stop-button")
        await page.until(lambda: page.pane.run_button.enabled and page.pane.live.finished, what="the stop")
        assert page.pane.live.status == "cancelled"
        await page.until(lambda: [r.status for r in page.context.database.call(runs.list_runs, "1", "slow-assistant")]
                         == ["cancelled"], what="the cancelled row")
