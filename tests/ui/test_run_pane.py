"""The run pane with NiceGUI's simulated ``User``: a real engine, storage on a private SQLite
file, the canvas's ``updateNode`` calls captured on their way to the browser."""
from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runtime.ports import MetricRow
from storage.repos import messages, metrics, runs
from tests.browser.run_pane_user import pane_page


async def test_a_run_streams_the_answer_updates_nodes_and_is_recorded(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "quick") as page:
        lengths: set[int] = set()
        await page.click("run-button")
        while not (page.pane.live and page.pane.live.finished and page.pane.run_button.enabled):
            lengths.add(len(page.pane.answers.text_of("node_6")))
            await asyncio.sleep(0.01)
        live = page.pane.live
        answer = live.output["answer"]
        assert page.pane.answers.text_of("node_6") == answer and answer.startswith("Thanks for your message")
        assert len(lengths - {0, len(answer)}) >= 3, f"the answer should grow in steps, saw lengths {sorted(lengths)}"
        meta = page.user.find(marker="answer-meta-node_6").elements.pop().text
        assert meta.startswith("first chunk ") and "done" in meta
        # every node: waiting, then running, then done (or served from the cache); the background node too
        for node_id in ("node_1", "node_2", "node_3", "node_4", "node_5", "node_6", "node_8"):
            assert page.statuses(node_id)[:2] == ["waiting", "running"], node_id
            assert page.statuses(node_id)[-1] in ("done", "cached"), node_id
        await page.until(lambda: page.statuses("node_7")[-1:] == ["done"], what="save_message to finish")
        assert all(set(p) <= {"status", "duration_ms", "error"} for _, p in page.patches), "patches stay small"
        page.user.find(marker="run-timeline")
        page.user.find(marker="run-output")
        assert page.pane.status.text.startswith("Succeeded in")
        await page.context.recorder.drain(5)
        stored = page.context.database.call(runs.list_runs, "1", "pallet-assistant")
        assert [(r.status, r.inputs["user_message"]) for r in stored] == [("succeeded", "Transpalet arıyorum")]
        assert stored[0].first_chunk_ms is not None and stored[0].output["answer"] == answer


async def test_a_provider_without_a_key_falls_back_to_the_mock_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("AKIS_ANTHROPIC_API_KEY", raising=False)
    async with pane_page(tmp_path, caplog, "keyless") as page:
        await page.click("run-button")
        await page.until(lambda: page.has("run-notice"), what="the fallback notice")
        notice = page.user.find(marker="run-notice").elements.pop().text
        assert "ANTHROPIC_API_KEY" in notice and "offline mock provider" in notice
        assert page.pane.live.output["answer"].startswith("Thanks for your message")


async def test_a_second_run_hits_the_cache_and_shows_it(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "quick") as page:
        await page.run_to_end()
        page.patches.clear()
        await page.run_to_end()
        assert page.statuses("node_3")[-1] == "cached" and page.statuses("node_2")[-1] == "cached"
        assert page.statuses("node_4")[-1] == "done", "conversation_history is not cacheable"
        bars = {b.node_id: b.outcome for b in page.pane.live.bars()}
        assert bars["node_3"] == "cached" and bars["node_6"] == "done"


async def test_problems_are_shown_instead_of_running(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "broken") as page:
        await page.click("run-button")
        await page.user.should_see("Not run: 1 problem(s)")
        await page.user.should_see("the flow has no output node")
        assert page.pane.live is None and page.patches == []
        page.pane.extra_inputs.set_value("[1, 2]")
        await page.click("run-button")
        await page.user.should_see("More inputs must be a JSON object")


async def test_a_failing_node_shows_its_error_on_the_canvas_and_in_full(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "failing") as page:
        await page.run_to_end()
        live = page.pane.live
        assert live.status == "failed" and page.pane.status.text.startswith("Failed in")
        errors = [p["error"] for n, p in page.patches if n == "call" and p.get("status") == "failed"]
        assert len(errors) == 1 and "127.0.0.1" in errors[0], errors
        assert page.statuses("quick")[-1] == "done" and page.statuses("out")[-1] == "skipped"
        shown = page.user.find(marker="run-error").elements.pop().text
        assert shown == live.error and shown.startswith("node 'Stock API' (http_request) failed:")  # by its label
        assert {b.node_id: b.outcome for b in live.bars()}["call"] == "failed"
        page.user.find(marker="run-timeline")


async def test_a_tenant_or_session_the_engine_refuses_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "quick") as page:
        page.pane.session_input.set_value("not a session!")
        await page.click("run-button")
        await page.user.should_see("session id 'not a session!' is not valid")
        assert page.pane.run_button.enabled and page.pane.handle is None
        assert page.context.database.call(runs.list_runs, "1") == []


async def test_stop_cancels_a_long_run(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "slow") as page:
        await page.click("run-button")
        await page.until(lambda: len(page.pane.answers.text_of("node_6")) > 0, what="the first words")
        await page.click("stop-button")
        await page.until(lambda: page.pane.run_button.enabled and page.pane.live.finished, what="the stop")
        live = page.pane.live
        assert live.status == "cancelled"
        assert page.statuses("node_6")[-1] == "skipped"
        assert [e for n, p in page.patches if n == "node_6" for e in [p.get("error")] if e] == [
            "cancelled: the run was stopped"]
        text = page.pane.answers.text_of("node_6")
        assert 0 < len(text) < len(" ".join(f"word{i}" for i in range(200)))
        assert "stopped" in page.user.find(marker="answer-meta-node_6").elements.pop().text
        await page.context.recorder.drain(5)
        assert [r.status for r in page.context.database.call(runs.list_runs, "1", "slow-assistant")] == ["cancelled"]


async def test_chat_mode_keeps_the_history_and_the_flow_reads_it(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "chat") as page:
        page.user.find(marker="chat-switch").click()
        await page.user.should_see("No messages in session")
        session = page.pane.session()
        page.pane.message.set_value("I need a pallet jack")
        await page.run_to_end()
        assert page.pane.live.output["seen"] == 0
        assert page.pane.message.value == "", "chat mode clears the box for the next turn"
        await page.until(lambda: page.pane.chat.count == 2, what="the first turn to be saved and shown")
        page.pane.message.set_value("For 2 tonnes")
        await page.run_to_end()
        assert page.pane.live.output["seen"] == 2, "conversation_history read the first turn"
        await page.until(lambda: page.pane.chat.count == 4, what="the second turn")
        stored = page.context.database.call(messages.history, "1", session)
        assert [(m.role, m.content) for m in stored][::2] == [
            ("user", "I need a pallet jack"),
            ("user", "For 2 tonnes"),
        ]
        page.pane.new_session()
        assert page.pane.session() != session
        await page.until(lambda: page.pane.chat.count == 0, what="the new, empty session")


async def test_compare_runs_both_ways_and_shows_the_time_saved(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "seed_fast") as page:
        await page.click("compare-button")
        await page.until(lambda: page.has("compare-timeline"), 15, "the compare chart")
        text = page.pane.status.text
        match = re.match(r"Sequential ([\d.]+) (s|ms), parallel ([\d.]+) (s|ms): ([\d.]+) (s|ms) saved", text)
        assert match, text
        to_ms = {"s": 1000.0, "ms": 1.0}
        sequential = float(match[1]) * to_ms[match[2]]
        parallel = float(match[3]) * to_ms[match[4]]
        assert sequential > parallel, text
        figure = page.user.find(marker="compare-timeline").elements.pop().figure
        assert {t.get("yaxis") for t in figure["data"] if t["type"] == "bar"} == {"y", "y2"}
        await page.context.recorder.drain(5)
        assert len(page.context.database.call(runs.list_runs, "1", "seed-scenario")) == 2


async def test_history_lists_runs_and_opens_a_stored_one(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "quick") as page:
        started = datetime.now(UTC) - timedelta(minutes=3)
        page.context.database.call(runs.record_run, "1", "old-run", "pallet-assistant", status="failed",
                                   started_at=started, duration_ms=900.0, error="node 'node_3' failed: boom",
                                   inputs={"user_message": "an older question"})
        page.context.database.call(metrics.add_metric_rows, [
            MetricRow("1", "pallet-assistant", "old-run", "node_1", "user_input", 5.0, "off", "succeeded",
                      created_at=started + timedelta(milliseconds=5)),
            MetricRow("1", "pallet-assistant", "old-run", "node_3", "product_search", 880.0, "miss", "failed",
                      created_at=started + timedelta(milliseconds=890)),
        ])
        await page.run_to_end()
        await page.context.recorder.drain(5)
        await page.pane.history.refresh()
        assert [r.id for r in page.pane.history.runs][1:] == ["old-run"]
        await page.pane.history.open(page.pane.history.runs[1])
        dialog_plot = page.user.find(marker="history-timeline").elements.pop()
        bars = {x for t in dialog_plot.figure["data"] if t["type"] == "bar" for x in t["y"]}
        assert bars == {"User message", "Search products"}
        await page.user.should_see("node 'node_3' failed: boom")
        await page.pane.history.open(page.pane.history.runs[0])  # this session's run: from its events
        newest = page.user.find(marker="history-timeline").elements.pop()
        assert len({x for t in newest.figure["data"] if t["type"] == "bar" for x in t["y"]}) == 8
