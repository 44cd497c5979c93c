"""Where a person sees a run's trace: the run pane's result, History and the dashboard's slowest
runs show the trace id, as a link when ``AKIS_TRACE_URL`` is set and as text otherwise; a run
without one shows nothing. The engine's events are given a trace id here (wrapping its listener),
so these tests do not depend on a tracing backend."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime.events import RUN_FINISHED, RUN_STARTED, Event
from runtime.ports import MetricRow
from storage.repos import metrics, runs
from tests.browser.run_pane_user import Page, pane_page
from tests.ui.test_dashboard import dashboard_page

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PATTERN = "https://jaeger.example.com/trace/{trace_id}?uiFind=akis"


def traced_engine(context: Any, monkeypatch: pytest.MonkeyPatch, trace_id: str = TRACE) -> None:
    """Every run's run.started and run.finished carry ``trace_id``, as they do with tracing on
    (runs start through ``engine.start``, or as inspected runs through ``start_inspected``)."""
    from editor.services import runs as runs_service

    def traced(start: Any) -> Any:
        def start_traced(*args: Any, on_event: Any = None, **kwargs: Any) -> Any:
            def with_trace(event: Event) -> None:
                if event.event in (RUN_STARTED, RUN_FINISHED):
                    event.extra = {**event.extra, "trace_id": trace_id}
                if on_event is not None:
                    on_event(event)
            return start(*args, on_event=with_trace, **kwargs)
        return start_traced

    monkeypatch.setattr(context.engine, "start", traced(context.engine.start))
    monkeypatch.setattr(runs_service, "start_inspected", traced(runs_service.start_inspected))


def only(page: Page, marker: str) -> Any:
    (element,) = page.user.find(marker=marker).elements
    return element


def assert_link(element: Any, trace_id: str = TRACE) -> None:
    assert element.props["href"] == PATTERN.replace("{trace_id}", trace_id)
    assert element.props["target"] == "_blank" and "noopener" in element.props["rel"]
    assert element.text == f"trace {trace_id[:8]}" and element.props["title"] == trace_id


async def test_the_run_pane_and_history_link_the_trace(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch):
    async with pane_page(tmp_path, caplog, "quick") as page:
        page.context.settings.trace_url = PATTERN
        traced_engine(page.context, monkeypatch)
        await page.run_to_end()
        assert page.pane.live.trace_id == TRACE
        assert_link(only(page, "run-trace"))
        await page.context.recorder.drain(5)
        (stored,) = page.context.database.call(runs.list_runs, "1", "pallet-assistant")
        assert stored.trace_id == TRACE
        await page.pane.history.refresh()
        assert_link(only(page, f"history-trace-{stored.id}"))
        await page.pane.history.open(page.pane.history.runs[0])
        assert_link(only(page, "history-dialog-trace"))


async def test_with_tracing_on_the_link_is_the_runs_own_trace(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                             spans: InMemorySpanExporter) -> None:
    """The engine's real tracing (an in-memory exporter): the pane, the stored run and the spans agree."""
    async with pane_page(tmp_path, caplog, "quick") as page:
        page.context.settings.trace_url = PATTERN
        await page.run_to_end()
        trace_id = page.pane.live.trace_id
        traces = {f"{s.context.trace_id:032x}" for s in spans.get_finished_spans()}
        assert trace_id is not None and traces == {trace_id}, "one run, one trace"
        assert_link(only(page, "run-trace"), trace_id)
        await page.context.recorder.drain(5)
        (stored,) = page.context.database.call(runs.list_runs, "1", "pallet-assistant")
        assert stored.trace_id == trace_id


async def test_without_a_trace_url_the_id_is_text(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch):
    async with pane_page(tmp_path, caplog, "quick") as page:
        assert page.context.settings.trace_url == ""
        traced_engine(page.context, monkeypatch)
        await page.run_to_end()
        shown = only(page, "run-trace")
        assert "href" not in shown.props and shown.text == f"trace {TRACE[:8]}" and shown.props["title"] == TRACE
        await page.context.recorder.drain(5)
        await page.pane.history.refresh()
        run_id = page.pane.history.runs[0].id
        listed = only(page, f"history-trace-{run_id}")
        assert "href" not in listed.props and listed.text == f"trace {TRACE[:8]}"


async def test_a_run_without_a_trace_id_shows_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "quick") as page:
        page.context.settings.trace_url = PATTERN
        await page.run_to_end()  # tracing off: no trace id in the events
        assert page.pane.live.trace_id is None and not page.has("run-trace")
        await page.context.recorder.drain(5)
        await page.pane.history.refresh()
        run_id = page.pane.history.runs[0].id
        assert page.has(f"history-run-{run_id}") and not page.has(f"history-trace-{run_id}")
        assert not [e for e in page.user.client.elements.values() if "akis-trace" in e.classes]


async def test_the_dashboard_lists_the_slowest_runs_with_their_traces(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture):
    async with dashboard_page(tmp_path, caplog) as (user, view, context):
        context.settings.trace_url = PATTERN
        started = datetime.now(UTC) - timedelta(minutes=30)
        for i in range(14):
            context.database.call(runs.record_run, "1", f"run-{i}", "shop" if i % 2 else "support",
                                  status="failed" if i == 13 else "succeeded",
                                  started_at=started + timedelta(seconds=i), duration_ms=100.0 * (i + 1),
                                  trace_id=f"{i + 1:032x}" if i != 12 else None)
        context.database.call(runs.record_run, "2", "other-tenant", "shop", status="succeeded",
                              started_at=started, duration_ms=99_000.0, trace_id="f" * 32)
        context.database.call(metrics.add_metric_rows, [  # the flow filter offers flows with metrics
            MetricRow("1", flow, "run-0", "n", "template", 1.0, "off", "succeeded") for flow in ("shop", "support")])
        await view.refresh()
        rows = [e for e in user.client.elements.values() if any(m.startswith("slow-run-") for m in e._markers)]
        shown = [next(iter(e._markers)).removeprefix("slow-run-") for e in rows]
        assert shown == [f"run-{i}" for i in range(13, 3, -1)], "the ten slowest, slowest first"
        first = user.find(marker="slow-run-run-13").elements.pop()
        cells = [d.text for d in first.descendants() if getattr(d, "text", "")]
        assert cells[:4] == ["shop", f"{started + timedelta(seconds=13):%Y-%m-%d %H:%M:%S}", "1.40 s", "failed"]
        (link,) = user.find(marker="slow-trace-run-13").elements
        assert link.props["href"] == PATTERN.replace("{trace_id}", f"{14:032x}")
        assert link.props["target"] == "_blank" and "noopener" in link.props["rel"]
        assert not [e for e in user.client.elements.values() if "slow-trace-run-12" in e._markers], "no trace id"
        assert not [e for e in user.client.elements.values() if any("other-tenant" in m for m in e._markers)]
        assert set(view.flow.options) == {"", "shop", "support"}
        view.flow.set_value("support")
        await view.refresh()
        (link,) = user.find(marker="slow-trace-run-10").elements  # the slowest of flow support
        assert link.props["href"].endswith(f"/{11:032x}?uiFind=akis")
        assert not [e for e in user.client.elements.values() if "slow-run-run-13" in e._markers]


async def test_the_dashboard_without_runs_or_a_trace_url(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with dashboard_page(tmp_path, caplog) as (user, view, context):
        await view.refresh()
        user.find(marker="slowest-empty")
        context.database.call(runs.record_run, "1", "plain", "shop", status="succeeded", duration_ms=5.0,
                              trace_id=TRACE)
        await view.refresh()
        (shown,) = user.find(marker="slow-trace-plain").elements
        assert "href" not in shown.props and shown.text == f"trace {TRACE[:8]}"


async def test_compare_shows_each_runs_trace(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                             spans: InMemorySpanExporter) -> None:
    """Compare's two runs (real tracing, in memory): each one's trace id, as a link, under the chart."""
    async with pane_page(tmp_path, caplog, "quick") as page:
        page.context.settings.trace_url = PATTERN
        await page.click("compare-button")
        await page.until(lambda: page.has("compare-timeline"), 15, "the compare chart")
        runs_traced = {f"{s.context.trace_id:032x}" for s in spans.get_finished_spans() if s.name == "akis.run"}
        assert len(runs_traced) == 2, "two runs, two traces"
        shown = {}
        for mode in ("sequential", "parallel"):
            link = only(page, f"compare-trace-{mode}")
            trace_id = link.props["title"]
            assert link.text == f"{mode} trace {trace_id[:8]}"
            assert link.props["href"] == PATTERN.replace("{trace_id}", trace_id)
            shown[mode] = trace_id
        assert set(shown.values()) == runs_traced
