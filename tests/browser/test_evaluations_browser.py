"""The evaluation results page in headless Chromium: the Plotly charts draw, the side-by-side
cases filter to the changed ones and show the diff, a case's run link opens the run in the flow
editor; screenshots in artifacts/evaluations/."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import free_port, stop_process

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("evaluations_app.py")
ARTIFACTS = ROOT / "artifacts" / "evaluations"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_CURRENT_TEST", "ANTHROPIC_API_KEY", "OPENAI_API_KEY") and not k.startswith("AKIS_")}
    env["PYTHONPATH"] = str(ROOT)
    log_path = ARTIFACTS / "app.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, str(APP), "--port", str(port), "--data",
                                 str(tmp_path_factory.mktemp("evaluations"))], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    state: dict[str, str] = {}
    while time.monotonic() < deadline and proc.poll() is None and not state.get("evaluation"):
        try:
            with urllib.request.urlopen(url + "/test/evaluation", timeout=5) as response:
                state = json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    if not state.get("evaluation"):
        stop_process(proc)
        pytest.fail(f"the evaluations app did not start:\n{log_path.read_text()[-3000:]}", pytrace=False)
    try:
        yield url, state
    finally:
        stop_process(proc)
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]


def test_the_results_page_draws_its_charts_and_filters_the_changed_cases(page: Any, app_url):
    url, state = app_url
    page.set_viewport_size({"width": 1440, "height": 1400})
    page.goto(f"{url}/evaluations/{state['evaluation']}")
    for chart in ("scores", "latency", "tokens"):
        page.wait_for_selector(f"[data-testid=chart-{chart}] .main-svg", timeout=15000)
    assert page.locator("[data-testid=chart-scores] .bars .point").count() == 10  # 2 versions x (pass rate + 4)
    assert page.locator("[data-testid=chart-latency] .bars .point").count() == 8
    assert page.get_by_text("v2 against v1: 3 changed, 3 regressed, 0 fixed").is_visible()
    summary = page.locator("[data-testid=evaluation-summary]")
    assert "v1 (baseline)" in summary.inner_text() and "87.5%" in summary.inner_text()
    page.screenshot(path=str(ARTIFACTS / "evaluation_results.png"), full_page=True)
    page.click("[data-testid=only-changed]")
    page.wait_for_function("document.querySelectorAll('[data-testid=eval-cases] > .q-expansion-item').length === 3",
                           timeout=10000)
    page.click("[data-testid=case-case-03] .q-item")
    diff = page.locator("[data-testid=case-case-03] ins.akis-ins")
    diff.first.wait_for(timeout=10000)
    assert "sorry, I cannot help" in diff.first.inner_text()
    assert page.locator("[data-testid=case-case-03] del.akis-del").first.inner_text().startswith("answer:")
    page.wait_for_timeout(500)  # the expansion's animation, for the screenshot only
    page.screenshot(path=str(ARTIFACTS / "evaluation_changed_cases.png"), full_page=True)
    run_link = page.locator("[data-testid=case-case-03] a[data-testid^=run-link-]").last.get_attribute("href")
    assert run_link and run_link.startswith("/flows/chat?run=")
    page.goto(url + run_link)  # the flow editor, the run's History entry open
    page.wait_for_selector("[data-testid=history-timeline] .main-svg", timeout=15000)
    page.wait_for_selector("[data-testid=inspect-node-ai]", timeout=15000)
    page.goto(f"{url}/datasets/{state['dataset']}")
    page.wait_for_selector("[data-testid=run-form]", timeout=15000)
    assert page.get_by_text("Cases (24)").is_visible()
    page.screenshot(path=str(ARTIFACTS / "dataset.png"), full_page=True)
    page.goto(f"{url}/evaluations")
    page.wait_for_selector(f"[data-testid=dataset-{state['dataset']}]", timeout=15000)
    assert page.get_by_text("24 case(s) · 4 scorer(s)").is_visible()
    page.screenshot(path=str(ARTIFACTS / "evaluations.png"), full_page=True)
