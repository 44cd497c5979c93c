"""The evaluation pages with NiceGUI's simulated ``User`` over the real app context: create a
dataset, add and edit cases, scorers refused with the reason, run two versions from the page and
read the results (summary, the comparison, the changed cases, run links that open the run in the
flow editor, for the tenant's own runs only); and History's one-click "Add to dataset"."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction
from nicegui.testing.user_simulation import user_simulation

from tests.browser.run_pane_user import pane_page
from tests.integration.evals.flows import BROKEN, echo_flow, fifty_cases, jsonl

TENANT = "1"  # the tenant of a one-person install (no editor user): what the pages show


@pytest.fixture
async def eval_user(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[tuple[User, object]]:
    from editor.auth import pages as auth_pages
    from editor.context import create_context
    from editor.pages import evaluations, flow_editor
    from runtime.settings import AkisSettings

    settings = AkisSettings(database_url=f"sqlite:///{tmp_path / 'akis.db'}", warmup_interval_s=0,
                            plugins_dir=tmp_path / "plugins", data_dir=tmp_path / "data")
    async with user_simulation() as user:
        context = create_context(settings)
        auth_pages.use_database(context.database)
        evaluations.register(context)
        flow_editor.register(context)  # where a case's run link leads
        yield user, context
        await asyncio.sleep(0.2)
        context.database.dispose()
    errors = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"unexpected ERROR logs: {errors}"


def with_testid(user: User, testid: str) -> list[ui.element]:
    assert user.client is not None
    return [e for e in user.client.elements.values() if e.props.get("data-testid") == testid]


def one(user: User, testid: str) -> ui.element:
    (found,) = with_testid(user, testid)
    return found


def click(user: User, testid: str) -> None:
    UserInteraction(user, {one(user, testid)}, None).click()


async def test_create_a_dataset_edit_cases_and_scorers(eval_user):
    user, context = eval_user
    await user.open("/evaluations")
    await user.should_see("No dataset yet", retries=100)
    one(user, "dataset-name").set_value("smoke")
    click(user, "dataset-create")
    await user.should_see("Run an evaluation", retries=100)  # navigated to the dataset's page
    (dataset,) = await context.datasets.summaries(TENANT)
    assert dataset.dataset.name == "smoke" and dataset.cases == 0
    click(user, "case-add")
    await user.should_see("New case", retries=100)
    one(user, "case-message").set_value("Transpalet arıyorum")
    one(user, "case-expected").set_value("pallet")
    click(user, "case-save")
    await user.should_see("Cases (1)", retries=100)
    (case,) = await context.datasets.cases(TENANT, dataset.dataset.id)
    assert (case.message, case.expected) == ("Transpalet arıyorum", "pallet")
    one(user, "scorers-json").set_value('[{"kind": "regex", "pattern": "("}]')
    click(user, "scorers-save")
    await user.should_see("scorer 1 (regex): pattern: not a regular expression", retries=100)
    one(user, "scorers-json").set_value('[{"kind": "contains"}]')
    click(user, "scorers-save")
    await user.should_see("Scorers (1)", retries=100)
    assert (await context.datasets.get(TENANT, "smoke")).scorers == [{"kind": "contains"}]
    click(user, "export-jsonl")
    exported = (await user.download.next()).content.decode()
    assert '"name": "smoke"' in exported and "Transpalet arıyorum" in exported
    click(user, "dataset-delete")
    await user.should_see("Delete 'smoke' with its cases and evaluations?", retries=100)
    click(user, "dataset-delete-confirm")
    await user.should_see("No dataset yet", retries=100)
    assert await context.datasets.summaries(TENANT) == []


async def until(condition, what: str, limit_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_run_two_versions_from_the_page_and_read_the_results(eval_user):
    user, context = eval_user
    await context.flows.create(TENANT, json.dumps(echo_flow("echo")))
    await context.flows.save_version(TENANT, "echo", json.dumps(echo_flow("echo", broken=True)))
    scorers = [{"kind": "exact"}, {"kind": "latency", "budget_ms": 60000}]
    dataset, _ = await context.datasets.import_text(TENANT, jsonl("regression", fifty_cases()[:24], scorers), "jsonl")
    await user.open(f"/datasets/{dataset.id}")
    await user.should_see("Cases (24)", retries=100)
    one(user, "run-flow").set_value("echo")
    await until(lambda: one(user, "run-versions").options, "the flow's versions")
    one(user, "run-versions").set_value([1, 2])
    one(user, "run-baseline").set_value(1)
    one(user, "run-concurrency").set_value(3)
    one(user, "run-cache").set_value(False)
    click(user, "run-evaluation")
    await until(lambda: bool(with_testid(user, "evaluation")), "the results page")
    (evaluation,) = await context.evaluations.recent(TENANT)
    assert (evaluation.versions, evaluation.baseline, evaluation.concurrency, evaluation.use_cache) == (
        [1, 2], 1, 3, False)
    await context.evaluations.wait(TENANT, evaluation.id)
    await until(lambda: one(user, "evaluation-status").text == "finished", "the page to show it finished")
    # cases 03, 11 and 20 of the 24 changed
    await user.should_see("v2 against v1: 3 changed, 3 regressed, 0 fixed", retries=100)
    table = one(user, "evaluation-summary")
    assert [(r["version"], r["pass"], r["exact"]) for r in table.rows] == [
        ("v1 (baseline)", "100.0%", "1.000"), ("v2", "87.5%", "0.875")]
    charts = {t: one(user, t).figure for t in ("chart-scores", "chart-latency", "chart-tokens")}
    bars = {d["name"]: d["y"] for d in charts["chart-scores"]["data"]}
    assert bars["v1 (baseline)"][0] == 1.0 and bars["v2"][0] == 0.875
    assert len(with_testid(user, "eval-cases")[0].default_slot.children) == 24
    one(user, "only-changed").set_value(True)
    shown = [c.props["data-testid"] for c in one(user, "eval-cases").default_slot.children]
    assert shown == [f"case-{c}" for c in BROKEN[:3]]
    report = await context.evaluations.report(TENANT, evaluation.id)
    run_id = report.cases[3].results[2].run_id
    run_href = one(user, f"run-link-{run_id}").props["href"]  # each case links to its run in the flow editor
    assert run_href == f"/flows/echo?run={run_id}"
    click(user, f"accept-{BROKEN[0]}-v2")  # the change was intended: v2's answer becomes the expected text
    await user.should_see("expected text updated", retries=100)
    (case,) = [c for c in await context.datasets.cases(TENANT, dataset.id) if c.id == BROKEN[0]]
    assert case.expected == "oops"
    click(user, "report-download")
    downloaded = json.loads((await user.download.next()).content)
    assert downloaded["evaluation"]["id"] == evaluation.id and len(downloaded["cases"]) == 24
    click(user, "results-csv")
    lines = (await user.download.next()).content.decode().splitlines()
    assert len(lines) == 1 + 48 and lines[0].startswith("case_id,message,expected,version")
    await user.open(run_href)  # the link: the flow editor with the run's History entry open
    await until(lambda: bool(with_testid(user, "history-dialog")), "the run's History entry")
    await until(lambda: bool(with_testid(user, "inspect-node-t")), "the run's nodes")
    assert not with_testid(user, "run-link-notice")
    shown = [e.content for e in with_testid(user, "history-dialog")[0].descendants() if isinstance(e, ui.code)]
    assert any("oops" in text for text in shown) and any("message 3!" in text for text in shown)


async def test_a_run_link_opens_only_the_tenants_run_of_that_flow(editor_user):
    from storage.repos import runs

    context = editor_user.context
    await context.flows.create(TENANT, json.dumps(echo_flow("echo")))
    for tenant, run_id, flow_id in (("2", "theirs", "echo"), (TENANT, "mine", "echo"), (TENANT, "other", "chat")):
        context.database.call(runs.record_run, tenant, run_id, flow_id, status="succeeded",
                              inputs={"user_message": f"asked by {tenant}"}, output={"answer": f"{run_id} answer"})
    await editor_user.open("/flows/echo?run=mine")
    await editor_user.find("history-dialog")
    await editor_user.find("inspect-message")  # no node records for this hand-made run: said so
    assert not editor_user.has("run-link-notice")
    for unknown in ("theirs", "nothing"):  # another tenant's run reads as one that does not exist
        await editor_user.open(f"/flows/echo?run={unknown}")
        await editor_user.user.should_see(f"There is no run {unknown!r} of this flow.")
        assert not editor_user.has("history-dialog")
        shown = " ".join(f"{getattr(e, 'text', '')} {getattr(e, 'content', '')}"
                         for e in editor_user.user.client.elements.values())
        assert "asked by 2" not in shown and "theirs answer" not in shown
    await editor_user.open("/flows/echo?run=other")
    await editor_user.user.should_see("Run 'other' is a run of flow 'chat', not of this one.")
    assert editor_user.one("run-link-elsewhere").props["href"] == "/flows/chat?run=other"
    assert not editor_user.has("history-dialog")


async def test_history_adds_a_case_from_a_run_in_one_click(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "quick") as page:
        await page.run_to_end()
        await page.context.recorder.drain(5)
        await page.pane.history.refresh()
        run = page.pane.history.runs[0]
        await page.pane.history.open(run)
        page.user.find(marker="add-case-new").click()
        flow_id = run.flow_id
        await until(lambda: page.context.database.call(_datasets, "1"), "the new dataset")
        (dataset,) = await page.context.datasets.summaries("1")
        assert dataset.dataset.name == f"from {flow_id}"
        (case,) = await page.context.datasets.cases("1", dataset.dataset.id)
        assert case.message == run.inputs["user_message"] and case.source_run_id == run.id
        assert case.expected  # the run's answer, to edit if it was wrong
        # "New dataset" clicked again (the menu was built before), or twice at once: the same dataset
        from editor.run_pane.add_case import new_or_made

        again = await asyncio.gather(*(new_or_made(page.context, "1", dataset.dataset.name) for _ in range(3)))
        assert set(again) == {dataset.dataset.id}
        racing = await asyncio.gather(*(new_or_made(page.context, "1", "made twice at once") for _ in range(3)))
        assert len(set(racing)) == 1 and len(await page.context.datasets.summaries("1")) == 2
        await page.pane.history.open(run)  # the dataset is now offered by name
        page.user.find(marker=f"add-case-to-{dataset.dataset.id}").click()
        await until(lambda: len(page.context.database.call(_cases, "1", dataset.dataset.id)) == 2, "a second case")
        # an evaluation's runs are in History like any other, marked with their evaluation
        from storage.repos import runs

        page.context.database.call(runs.record_run, "1", "eval-run", flow_id, status="succeeded",
                                   inputs={"user_message": "from a dataset"}, evaluation_id="ev123")
        await page.pane.history.refresh()
        await page.user.should_see("evaluation ev123", retries=100)


def _datasets(session, tenant):
    from storage.repos.evaluations import list_datasets

    return list_datasets(session, tenant)


def _cases(session, tenant, dataset_id):
    from storage.repos.evaluations import list_cases

    return list_cases(session, tenant, dataset_id)


async def test_evaluate_a_version_from_the_versions_panel(editor_user):
    from runtime.evals import Case

    context = editor_user.context
    stored = await context.flows.read(TENANT, "pallet-assistant")
    await context.flows.save_version(TENANT, "pallet-assistant", stored.document.model_copy(deep=True), "second")
    dataset = await context.datasets.create(TENANT, "pallets", scorers=[{"kind": "contains", "value": "pallet"}])
    await context.datasets.add_cases(TENANT, dataset.id, [Case(message="Transpalet arıyorum")])
    await editor_user.open("/flows/pallet-assistant")
    editor_user.by("versions").click()
    (await editor_user.find("evaluate-1")).click()
    (await editor_user.find(f"evaluate-1-{dataset.id}")).click()
    await editor_user.until(lambda: editor_user.has("evaluation"), "the results page", limit_s=30)
    (evaluation,) = await context.evaluations.recent(TENANT)
    assert (evaluation.flow_id, evaluation.versions, evaluation.baseline) == ("pallet-assistant", [2, 1], 2)
    finished = await context.evaluations.wait(TENANT, evaluation.id)
    assert finished.status == "finished" and finished.done == 2
