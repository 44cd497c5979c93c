"""The A/B test pages with NiceGUI's simulated ``User`` (issue 17): start a test from the versions
panel, the flows list marks the flow, the experiment page shows the variants, the verdict and the
notes, and Pause and Promote act."""
from __future__ import annotations

from typing import TYPE_CHECKING

from editor.services.experiments import VariantSpec
from storage.recorder import RunLabels
from storage.repos.runs import record_run

if TYPE_CHECKING:
    from .conftest import EditorUI

DEMO = "pallet-assistant"
TENANT = "1"


async def second_version(ui_: EditorUI) -> None:
    stored = await ui_.context.flows.read(TENANT, DEMO)
    document = stored.document.model_copy(deep=True)
    document.name = "Pallet-jack assistant, shorter prompt"
    await ui_.context.flows.save_version(TENANT, DEMO, document, "shorter prompt")


async def test_start_a_test_from_the_versions_panel_and_see_it_on_the_flows_list(editor_user: EditorUI) -> None:
    await second_version(editor_user)
    await editor_user.open(f"/flows/{DEMO}")
    editor_user.by("versions").click()
    (await editor_user.find("new-experiment")).click()
    await editor_user.find("experiment-dialog")
    editor_user.one("arm-weight-0").set_value(70)
    await editor_user.until(lambda: "must add up to 100" in editor_user.one("weights-total").text, "the sum warning")
    editor_user.one("arm-weight-1").set_value(30)
    await editor_user.until(lambda: editor_user.one("weights-total").text == "Weights add up to 100%", "the sum")
    editor_user.by("create-experiment").click()
    await editor_user.until(lambda: editor_user.has("experiment"), "the experiment page")
    (experiment,) = await editor_user.context.experiments.list_experiments(TENANT)
    assert experiment.status == "running"
    # the control is the current version (v2, just saved), the challenger the one before it
    assert [(v.name, v.version, v.weight) for v in experiment.variants] == [("A", 2, 70), ("B", 1, 30)]
    await editor_user.open("/")
    await editor_user.find(f"ab-{DEMO}")
    await editor_user.open(f"/flows/{DEMO}")
    editor_user.by("versions").click()
    await editor_user.find("open-experiment")  # a live test: the panel links to it instead


async def test_experiment_page_shows_results_and_pause_and_promote_act(editor_user: EditorUI) -> None:
    context = editor_user.context
    await second_version(editor_user)
    experiment = await context.experiments.create(TENANT, DEMO, [VariantSpec("control", 1, 50),
                                                                 VariantSpec("short", 2, 50)],
                                                  name="Shorter prompt", min_runs=20, start=True)
    for n in range(8):
        for variant, version, delay in (("control", 1, 300.0), ("short", 2, 250.0)):
            context.database.call(record_run, TENANT, f"{variant}-{n}", DEMO, status="succeeded", flow_version=version,
                                  duration_ms=delay + 400 + n, first_chunk_ms=delay + n, tokens_in=10, tokens_out=20,
                                  **vars_of(RunLabels(experiment.id, variant)))
    await editor_user.open(f"/experiments/{experiment.id}")
    await editor_user.user.should_see("Shorter prompt")
    rows = editor_user.one("variants").rows
    assert [(r["name"], r["runs"], r["more"]) for r in rows] == [("control", 8, 12), ("short", 8, 12)]
    assert rows[1]["verdict"] == "not enough data" and rows[1]["difference"].startswith("-50 ms")
    await editor_user.user.should_see("Not enough data yet to call a winner.")
    notes = " ".join(n.text for n in editor_user.elements("note"))
    assert "Peeking" in notes and "control: 12 more, short: 12 more" in notes
    editor_user.by("weights").click()
    await editor_user.find("weight-control")
    editor_user.one("weight-control").set_value(80)
    editor_user.by("weights-save").click()
    await editor_user.until(lambda: "add up to 130" in editor_user.one("weights-error").text, "the refusal")
    editor_user.one("weight-short").set_value(20)
    editor_user.by("weights-save").click()
    await editor_user.until(lambda: editor_user.one("variants").rows[0]["weight"] == "80%", "the new weights")
    assert [v.weight for v in (await context.experiments.get(TENANT, experiment.id)).variants] == [80, 20]
    editor_user.by("pause").click()
    await editor_user.until(lambda: editor_user.one("experiment-status").text == "paused", "the pause")
    editor_user.by("promote").click()
    await editor_user.find("promote-warning")  # no winner yet: promoting is said to be a judgement call
    editor_user.one("promote-choice").set_value("short")
    editor_user.by("promote-confirm").click()
    await editor_user.until(lambda: editor_user.one("experiment-status").text == "promoted", "the promotion")
    assert (await context.flows.read(TENANT, DEMO)).current_version == 2
    await editor_user.open("/experiments")
    await editor_user.find(f"experiment-{experiment.id}")


async def test_an_unknown_experiment_says_so(editor_user: EditorUI) -> None:
    await editor_user.open("/experiments/nope")
    assert "experiment 'nope' not found" in editor_user.one("experiment-error").text


def vars_of(labels: RunLabels) -> dict[str, str | None]:
    return {"experiment_id": labels.experiment_id, "variant": labels.variant}
