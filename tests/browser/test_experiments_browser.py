"""An A/B test in headless Chromium (issue 17): started from a flow's versions panel, then its page
over 2,200 seeded runs draws every chart and calls the faster variant; screenshots under
artifacts/editor/experiments/ for a person to look at."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from .editor_app import ARTIFACTS, EditorApp

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "experiments"


def seed_runs(app: EditorApp, flow_id: str, experiment_id: str, arms: dict[str, tuple[int, float]]) -> None:
    """1,100 finished runs per variant (``arms``: name -> (version, mock delay ms)), a few failed,
    some with thumbs, and their cache lookups, written in one transaction."""
    from storage.models import NodeMetric, Run
    from storage.tables.experiments import ExperimentAssignment, RunFeedback

    rng = random.Random(17)
    now = datetime.now(UTC)
    runs, metrics, feedback, sessions = [], [], [], []
    for variant, (version, delay) in arms.items():
        for n in range(1100):
            run_id = f"{variant}-{n}"
            first = delay + rng.lognormvariate(3.0, 0.9)
            runs.append({"id": run_id, "tenant_id": "1", "flow_id": flow_id, "flow_version": version,
                         "session_id": f"s-{variant}-{n - n % 2}",
                         "status": "failed" if rng.random() < 0.02 else "succeeded",
                         "inputs": {}, "timings": {}, "started_at": now - timedelta(minutes=n % 90),
                         "finished_at": now, "duration_ms": first + 450 + rng.lognormvariate(4, 0.5),
                         "first_chunk_ms": first, "tokens_in": 120, "tokens_out": 80 + n % 40, "attempts": 0,
                         "experiment_id": experiment_id, "variant": variant})
            metrics.append({"tenant_id": "1", "flow_id": flow_id, "run_id": run_id, "node_id": "node_3",
                            "node_type": "product_search", "duration_ms": 20.0,
                            "cache": "hit" if rng.random() < 0.6 else "miss", "status": "succeeded",
                            "tokens_in": 0, "tokens_out": 0, "created_at": now, "experiment_id": experiment_id,
                            "variant": variant})
            if n % 2 == 0:  # two runs per conversation
                sessions.append({"tenant_id": "1", "experiment_id": experiment_id, "session_id": f"s-{variant}-{n}",
                                 "variant": variant, "counted": True, "created_at": now})
            if n % 5 == 0:
                liked = rng.random() < (0.62 if variant == "B" else 0.55)
                feedback.append({"tenant_id": "1", "run_id": run_id, "rating": 1 if liked else -1,
                                 "comment": None, "created_at": now, "updated_at": now})
    with app.database.session() as session:
        session.execute(insert(Run), runs)
        session.execute(insert(NodeMetric), metrics)
        session.execute(insert(RunFeedback), feedback)
        session.execute(insert(ExperimentAssignment), sessions)


def test_start_an_experiment_and_read_its_results(editor_page: Any, editor_app: EditorApp) -> None:
    page = editor_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    flow_id = "ab-browser"
    document = editor_app.put_flow(flow_id)
    document["nodes"][2]["config"]["limit"] = 3
    editor_app.put_flow(flow_id, document)  # version 2, the current one
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{editor_app.url}/flows/{flow_id}")
    page.get_by_test_id("versions").click()
    page.get_by_test_id("new-experiment").click()
    page.get_by_test_id("experiment-dialog").wait_for()
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "create_dialog.png"))
    page.get_by_test_id("create-experiment").click()
    page.wait_for_url("**/experiments/*", timeout=15000)
    experiment_id = page.url.rsplit("/", 1)[1]
    page.get_by_test_id("experiment-status").wait_for()
    assert page.get_by_test_id("experiment-status").inner_text() == "running"
    seed_runs(editor_app, flow_id, experiment_id, {"A": (2, 330.0), "B": (1, 300.0)})
    page.reload()
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4", timeout=20000)
    assert "B is better on time to first chunk" in page.get_by_test_id("verdict").inner_text()
    rows = page.locator("[data-testid=variants] tbody tr")
    assert rows.count() == 2 and "better" in rows.nth(1).inner_text()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "results.png"), full_page=True)
    page.goto(f"{editor_app.url}/")
    page.get_by_test_id(f"ab-{flow_id}").wait_for()
    page.screenshot(path=str(SHOTS / "flows_list.png"))
