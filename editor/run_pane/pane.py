"""The live test-run pane of the flow editor: run the flow as it is on the canvas and watch it.

    RunPane(context, flow_provider, canvas, tenant_id, on_apply=None, *, pick_tenant=False)

``flow_provider`` returns the canvas's flow (saved or not); ``canvas`` gets one ``update_node``
per node event; ``on_apply`` receives the flow changed by an optimisation suggestion.

``tenant_id`` is the page's tenant, taken from the signed-in user's session: runs, history,
chat and suggestions act for it and the pane only shows it (no field holds it, so nothing sent
over the page's socket can change it). ``pick_tenant`` (only while no editor user exists, one
person's install) makes it an editable field instead, as before users existed.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from cachetools import FIFOCache
from nicegui import background_tasks, ui
from nicegui.events import ValueChangeEventArguments

from editor.canvas import FlowCanvas
from editor.context import AkisContext
from editor.services.errors import FlowProblems, ServiceError
from runtime.engine.engine import RunHandle
from runtime.errors import AkisError, Problem
from runtime.events import BACKGROUND_FINISHED, MESSAGE_CHUNK, RUN_FINISHED, Event
from runtime.flow.model import FlowDocument
from runtime.flow.validate import validate_flow
from runtime.providers.notices import flow_providers, used_notices

from ..charts.style import fmt_ms
from ..charts.timeline import timeline_figure
from ..trace_link import trace_id_view
from .answers import AnswerPanes
from .chat import ChatView
from .citations import citations_view
from .compare import run_compare
from .data import stored_version
from .history import HistoryView
from .inspecting import InspectingPane
from .live import LiveRun, Patch
from .marks import fixed, fixed_plot, tag
from .suggestions_view import SuggestionsView

log = logging.getLogger("akis.run_pane")
DEFAULT_MESSAGE = "Transpalet arıyorum"
KEEP_RUNS = 20


def text_of(value: object) -> str:
    """A field's value as text: a page can send any JSON value (true, 3) for a text field."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def new_session_id() -> str:
    return f"editor-{uuid.uuid4().hex[:8]}"


class RunPane(InspectingPane, ui.column):
    """Run the canvas's flow and watch it; see the module docstring for the arguments."""

    def __init__(self, context: AkisContext, flow_provider: Callable[[], FlowDocument], canvas: FlowCanvas | None,
                 tenant_id: str, on_apply: Callable[[FlowDocument], None] | None = None, *,
                 pick_tenant: bool = False) -> None:
        super().__init__()
        self.context, self.flow_provider, self.canvas = context, flow_provider, canvas
        self._tenant_id = tenant_id
        self.tenant_input: ui.input | None = None
        self._on_apply = on_apply
        self.handle: RunHandle | None = None
        self.live: LiveRun | None = None
        self.recent: FIFOCache[str, LiveRun] = FIFOCache(maxsize=KEEP_RUNS)  # the newest runs, for History
        self._stopping = False
        self._started = 0.0
        self.timeline_plot: ui.plotly | None = None
        self.idle = asyncio.Event()  # set when no run, compare or follow-up work is in progress
        self.idle.set()
        tag(self, "run-pane").classes("w-full h-full gap-2 q-pa-sm no-wrap").style("overflow-y: auto")
        with self:
            with ui.tabs().props("dense align=left").classes("w-full") as tabs:
                self.tabs = tabs
                ui.tab("run", "Test run", icon="play_circle")
                ui.tab("history", "History", icon="history")
            with ui.tab_panels(tabs, value="run").classes("w-full").props("keep-alive"):
                with ui.tab_panel("run").classes("q-pa-none gap-2"):
                    self._build_run(tenant_id, pick_tenant)
                with ui.tab_panel("history").classes("q-pa-none"):
                    self.history = HistoryView(context, self.tenant, flow_provider, self.recent.get,
                                               on_select=self.show_node, run_node=self._in_run_tab(self.run_node),
                                               run_from=self._in_run_tab(self.run_from), pins=self.pins)
        tabs.on_value_change(self._tab_changed)
        self._ticker = ui.timer(0.1, self._tick, active=False)
        self.suggestions.set_visibility(False)
        self.client.on_delete(self._cancel_on_close)  # a closed page does not leave its run going

    # -- layout -------------------------------------------------------------------------------
    def _build_run(self, tenant_id: str, pick_tenant: bool) -> None:
        self.message = tag(ui.textarea("Message", value=DEFAULT_MESSAGE), "run-message").props(
            "outlined dense autogrow").classes("w-full")
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            if pick_tenant:
                self.tenant_input = tag(ui.input("Tenant", value=tenant_id), "run-tenant").props(
                    "outlined dense").classes("w-24")
            else:
                with tag(ui.label(f"Tenant {tenant_id}"), "run-tenant").classes("text-body2 text-grey-8"):
                    ui.tooltip("Runs act for your tenant")
            self.session_input = tag(ui.input("Session", value=new_session_id()), "run-session").props(
                "outlined dense").classes("col")
            ui.button(icon="restart_alt", on_click=self.new_session).props("flat dense round").tooltip("New session")
        with ui.expansion("More inputs (JSON)").classes("w-full").props("dense"):
            self.extra_inputs = tag(ui.textarea(placeholder='{"amount": 120}'), "run-extra").props(
                "outlined dense autogrow").classes("w-full")
        with ui.row().classes("w-full items-center gap-2"):
            self.run_button = tag(ui.button("Run", icon="play_arrow", on_click=self.run), "run-button").props(
                "unelevated no-caps")
            self.stop_button = tag(ui.button("Stop", icon="stop", on_click=self.stop), "stop-button").props(
                "unelevated no-caps color=negative")
            self.stop_button.set_enabled(False)
            self.compare_button = tag(ui.button("Compare", icon="compare_arrows", on_click=self.compare),
                                      "compare-button").props("outline no-caps")
            self.compare_button.tooltip("Run sequentially, then in parallel (caches off in both)")
            ui.space()
            self.chat_switch = tag(ui.switch("Chat", on_change=lambda e: self._chat_mode(e.value)),
                                   "chat-switch").props("dense")
        self.problems = tag(ui.column(), "run-problems").classes("w-full gap-1")
        self.status = tag(ui.label("Ready."), "run-status").classes("text-body2 text-grey-8")
        self.chat = ChatView(self.context)
        self.chat.set_visibility(False)
        self.answers = AnswerPanes()
        self.result_box = ui.column().classes("w-full gap-1")
        self.timeline_box = ui.column().classes("w-full")
        self._build_inspection()  # the run's nodes: what each received and returned; run one (docs/run_pane.md)
        self.compare_box = ui.column().classes("w-full")
        self.suggestions = SuggestionsView(self.context, self.tenant, self.flow_provider, self._on_apply, self.canvas)

    async def _tab_changed(self, event: ValueChangeEventArguments) -> None:
        if event.value == "history":
            await self.history.refresh()

    # -- inputs -------------------------------------------------------------------------------
    def tenant(self) -> str:
        """The tenant runs act for: the page's (its session's), or the field's without users."""
        if self.tenant_input is None:
            return self._tenant_id
        return text_of(self.tenant_input.value).strip()

    def session(self) -> str:
        return text_of(self.session_input.value).strip()

    def inputs(self) -> dict[str, Any]:
        """The message plus any extra inputs; raises ValueError naming what is wrong."""
        extra_text = text_of(self.extra_inputs.value).strip()
        extra: dict[str, Any] = {}
        if extra_text:
            try:
                extra = json.loads(extra_text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"More inputs is not JSON: {exc.msg} (line {exc.lineno})") from None
            if not isinstance(extra, dict):
                raise ValueError("More inputs must be a JSON object, like {\"amount\": 120}")
        return {**extra, "user_message": text_of(self.message.value)}

    def new_session(self) -> None:
        self.session_input.set_value(new_session_id())
        if self.chat_switch.value:
            background_tasks.create(self.chat.refresh(self.tenant(), self.session()))

    def _chat_mode(self, on: bool) -> None:
        self.chat.set_visibility(on)
        if on:
            background_tasks.create(self.chat.refresh(self.tenant(), self.session()))

    # -- running ------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.handle is not None or not self.run_button.enabled

    def _prepare(self) -> tuple[FlowDocument, dict[str, Any]] | None:
        """The flow and inputs, or None after showing why the run cannot start."""
        try:
            document = self.flow_provider()
            inputs = self.inputs()
        except (ValueError, AkisError) as exc:
            self._show_problems([Problem("input", str(exc))])
            return None
        problems = validate_flow(document, self.context.registry, self.tenant() or None)
        if problems:
            self._show_problems(problems)
            return None
        self.problems.clear()
        return document, inputs

    def _show_problems(self, problems: list[Problem]) -> None:
        self.problems.clear()
        with self.problems:
            ui.label(f"Not run: {len(problems)} problem(s)").classes("text-negative text-weight-medium")
            for problem in problems:
                with ui.row().classes("items-start no-wrap gap-1"):
                    ui.icon("error_outline", size="16px").classes("text-negative q-mt-xs")
                    ui.label(problem.message).classes("text-negative text-body2")
        self.status.set_text("Fix the problems above, then run again.")

    async def run(self) -> None:
        await self._exclusively(self._run)

    async def _exclusively(self, action: Callable[[FlowDocument, dict[str, Any]], Awaitable[None]]) -> None:
        """One run or compare at a time, on the flow as validated by ``_prepare``."""
        if self.busy:
            return
        prepared = self._prepare()
        if prepared is None:
            return
        self.idle.clear()
        try:
            await action(*prepared)
        finally:
            self.idle.set()

    async def _run(self, document: FlowDocument, inputs: dict[str, Any]) -> None:
        live = LiveRun.for_flow(document, self.context.registry, self.tenant())
        self._begin(live, "Running…")
        version = await stored_version(self.context, self.tenant(), document)
        try:
            started = await self.context.runs.start(self.tenant(), document, inputs, session_id=self.session(),
                                                    version=version, listener=self._listener(live))
        except ServiceError as exc:
            self._end()
            self._show_problems(exc.problems if isinstance(exc, FlowProblems) else [Problem("input", exc.detail)])
            return
        self.handle = started.handle
        self.recent[started.handle.run_id] = live
        try:
            await self._await_handle(started.handle)
        finally:
            self._end()
        self._show_result(live)
        await self._inspect(started.handle.run_id)
        if live.status == "succeeded":
            if self.chat_switch.value:
                self.message.set_value("")
            await self._after_run()  # a stopped or failed run says nothing new about speed

    async def _await_handle(self, handle: RunHandle) -> None:
        """Wait for the run; Stop's cancellation ends the wait, the page's own does not."""
        try:
            await handle.result()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._stopping or (task is not None and task.cancelling()):
                raise
        except Exception as exc:  # the engine reports failures in its result; this is a bug
            log.exception("the run ended with an error")
            self.status.set_text(f"The run ended unexpectedly: {exc}")

    def stop(self) -> None:
        if self.handle is not None and not self.handle.done():
            self._stopping = True
            self.status.set_text("Stopping…")
            self.handle.cancel()

    def _cancel_on_close(self) -> None:
        if self.handle is not None and not self.handle.done():
            self.handle.cancel()

    def _listener(self, live: LiveRun) -> Callable[[Event], None]:
        def on_event(event: Event) -> None:
            try:
                for patch in live.observe(event):
                    self._patch(patch)
                if event.event in (MESSAGE_CHUNK, RUN_FINISHED):
                    self.answers.touch()
                elif event.event == BACKGROUND_FINISHED and not self.is_deleted:
                    self._background_done(live)
            except Exception:  # the run must never fail because the page could not be updated
                log.exception("the run pane could not show %s", event.event)
        return on_event

    def _background_done(self, live: LiveRun) -> None:
        """A background node finished after the answer: add its bar, show the saved turn."""
        if self.timeline_plot is not None and self.live is live:
            self.timeline_plot.update_figure(fixed(self._timeline(live, self.selected_node)))
        if self.chat_switch.value:
            background_tasks.create(self.chat.refresh(self.tenant(), self.session()))

    def _patch(self, patch: Patch) -> None:
        node_id, fields = patch
        if self.canvas is None or self.is_deleted or self.canvas.node(node_id) is None:
            return
        self.canvas.update_node(node_id, fields)

    def _begin(self, live: LiveRun | None, status: str) -> None:
        self.live = live
        self._stopping = False
        self._started = time.perf_counter()
        self.result_box.clear()
        self.timeline_box.clear()
        self.timeline_plot = None
        self.inspection.set_visibility(False)
        self.compare_box.clear()
        self.problems.clear()
        self.status.set_text(status)
        self.run_button.set_enabled(False)
        self.compare_button.set_enabled(False)
        self.stop_button.set_enabled(True)
        if live is not None:
            for patch in live.start_patches():
                self._patch(patch)
            self.answers.start(live)
        self._ticker.activate()

    def _end(self) -> None:
        self.handle = None
        self._ticker.deactivate()
        self.run_button.set_enabled(True)
        self.compare_button.set_enabled(True)
        self.stop_button.set_enabled(False)
        self.answers.flush()

    def _tick(self) -> None:
        if self.live is not None and not self.live.finished:
            self.status.set_text(f"Running… {time.perf_counter() - self._started:.1f} s")

    def _show_result(self, live: LiveRun) -> None:
        report = live.report
        parts = [f"{live.status or 'stopped'} in {fmt_ms(report.result_ms)}"]
        if report.first_chunk_ms is not None:
            parts.append(f"first chunk {fmt_ms(report.first_chunk_ms)}")
        self.status.set_text(" · ".join(parts).capitalize())
        with self.result_box:
            trace_id_view(live.trace_id, self.context.settings, "run-trace")
            # e.g. no API key: the offline mock answered (only for the providers this flow uses)
            for notice in used_notices(self.context.services.notices, flow_providers(live.document)):
                tag(ui.label(f"Note: {notice}"), "run-notice").classes("text-caption text-grey-7 w-full")
            if live.error:
                tag(ui.label(live.error), "run-error").classes("text-negative text-body2 w-full").style(
                    "white-space: pre-wrap")
            citations_view(live.output)  # an answer that cites: its numbered sources (issue 19)
            if live.output:
                ui.label("Output").classes("text-weight-medium")
                output = json.dumps(live.output, indent=2, ensure_ascii=False)
                tag(ui.code(output, language="json"), "run-output").classes("w-full")
        with self.timeline_box:
            self.timeline_plot = tag(fixed_plot(self._timeline(live, self.selected_node)), "run-timeline").classes(
                "w-full")
            self._watch_timeline()  # a click on a bar selects its node

    @staticmethod
    def _timeline(live: LiveRun, selected: str | None = None) -> dict[str, Any]:
        report = live.report
        return timeline_figure(live.bars(), critical=live.critical_path(), first_chunk_ms=report.first_chunk_ms,
                               result_ms=report.result_ms, title="Timeline", selected=selected)

    async def _after_run(self) -> None:
        if self.is_deleted:
            return
        self.suggestions.set_visibility(True)
        await self.suggestions.refresh()

    # -- compare ------------------------------------------------------------------------------
    async def compare(self) -> None:
        await self._exclusively(self._compare)

    async def _compare(self, document: FlowDocument, inputs: dict[str, Any]) -> None:
        self._begin(None, "Compare: sequential run…")
        lives: dict[str, LiveRun] = {}
        version = await stored_version(self.context, self.tenant(), document)

        def on_start(mode: str, handle: RunHandle) -> None:
            self.handle = handle
            self.status.set_text(f"Compare: {mode} run…")
            lives[mode] = LiveRun.for_flow(document, self.context.registry, self.tenant())
            for patch in lives[mode].start_patches():
                self._patch(patch)

        def on_event(mode: str, event: Event) -> None:
            try:
                for patch in lives[mode].observe(event):
                    self._patch(patch)
            except Exception:
                log.exception("the run pane could not show %s", event.event)

        try:
            result = await run_compare(self.context.runs, document, inputs, tenant_id=self.tenant(),
                                       session_id=f"compare-{uuid.uuid4().hex[:8]}", version=version,
                                       on_event=on_event, on_start=on_start)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._stopping or (task is not None and task.cancelling()):
                raise
            self._end()
            self.status.set_text("Compare stopped.")
            return
        except AkisError as exc:
            self._end()
            self._show_problems([Problem("input", str(exc))])
            return
        self._end()
        if not result.complete:
            self.status.set_text(f"Compare did not finish: {result.error}")
            return
        saved = result.saved_ms
        sequential, parallel = fmt_ms(result.total_ms("sequential")), fmt_ms(result.total_ms("parallel"))
        self.status.set_text(f"Sequential {sequential}, parallel {parallel}: {fmt_ms(max(saved, 0))} saved "
                             "(caches off in both).")
        with self.compare_box:
            tag(fixed_plot(result.figure()), "compare-timeline").classes("w-full")
            with ui.row().classes("items-center gap-4"):  # each run's trace, to open it beside the other
                for mode, live in lives.items():
                    trace_id_view(live.trace_id, self.context.settings, f"compare-trace-{mode}",
                                  prefix=f"{mode} trace ")
        await self._after_run()
