"""The experiments service on SQLite and PostgreSQL (issue 17): sticky assignment across two
instances and a restart, weights changes, pause, stop, promote, feedback, tenant isolation and
node metric rows tagged with the run's variant."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlmodel import select

from editor.services.active_runs import ActiveRun, ActiveRuns
from editor.services.errors import Conflict, Invalid, NotFound
from editor.services.experiments import ExperimentService, VariantSpec
from editor.services.flows import FlowService
from runtime.channels import channel_for
from runtime.nodes.registry import default_registry
from runtime.ports import MetricRow
from storage.db import Database
from storage.metrics_sink import SqlMetricsSink
from storage.models import NodeMetric
from storage.recorder import RunLabels, RunRecorder
from storage.repos.runs import record_run

TENANT, OTHER = "2", "3"


def flow(flow_id: str, text: str) -> str:
    return json.dumps({"akis": 1, "flow_id": flow_id, "name": flow_id, "nodes": [
        {"id": "in", "type": "user_input"},
        {"id": "t", "type": "template", "config": {"template": text, "output_key": "answer"}},
        {"id": "out", "type": "output"}], "edges": [{"source": "in", "target": "t"}, {"source": "t", "target": "out"}]})


def service(database: Database) -> ExperimentService:
    """One app instance's service: its own caches over the shared database."""
    return ExperimentService(database, FlowService(database, default_registry(), None), ActiveRuns())


async def two_versions(experiments: ExperimentService, flow_id: str = "shop") -> None:
    await experiments.flows.create(TENANT, flow(flow_id, "one"))
    await experiments.flows.save_version(TENANT, flow_id, flow(flow_id, "two"))


async def versions_of(experiments: ExperimentService, sessions: list[str], flow_id: str = "shop") -> dict[str, int]:
    out = {}
    for session in sessions:
        pick = await experiments.choose(TENANT, flow_id, session)
        out[session] = pick.version if pick is not None else 0
    return out


SESSIONS = [f"web-{n}" for n in range(200)]


async def test_sticky_across_two_instances_and_a_restart(db: Database, database_url: str) -> None:
    first = service(db)
    await two_versions(first)
    experiment = await first.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 2, 50)], start=True)
    seen = await versions_of(first, SESSIONS)
    split = Counter(seen.values())
    assert set(split) == {1, 2} and 70 < split[1] < 130  # both variants get sessions, about half each
    assert await versions_of(service(db), SESSIONS) == seen  # a second instance agrees
    restarted = Database(database_url)  # a restart: a new connection pool, empty caches
    try:
        assert await versions_of(service(restarted), SESSIONS) == seen
    finally:
        restarted.dispose()
    pick = await first.choose(TENANT, "shop", SESSIONS[0])
    assert pick is not None and pick.labels == RunLabels(experiment.id, "A" if seen[SESSIONS[0]] == 1 else "B")
    assert await first.choose(OTHER, "shop", SESSIONS[0]) is None  # another tenant's flow of that id: untouched


async def test_weights_change_moves_new_sessions_only_and_pause_sends_them_to_the_control(db: Database) -> None:
    experiments = service(db)
    await two_versions(experiments)
    experiment = await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 2, 50)],
                                          start=True)
    before = await versions_of(experiments, SESSIONS[:50])
    await experiments.set_weights(TENANT, experiment.id, {"A": 0, "B": 100})
    assert await versions_of(service(db), SESSIONS[:50]) == before  # existing sessions keep their variant
    assert set((await versions_of(experiments, SESSIONS[50:100])).values()) == {2}  # new ones follow the weights
    await experiments.pause(TENANT, experiment.id)
    paused = [await experiments.choose(TENANT, "shop", s) for s in SESSIONS[100:150]]
    assert {p.version for p in paused if p} == {1} and all(p and p.labels.experiment_id is None for p in paused)
    assert await versions_of(experiments, SESSIONS[:50]) == before  # assigned sessions keep theirs while paused
    await experiments.start(TENANT, experiment.id)
    assert set((await versions_of(experiments, SESSIONS[100:150])).values()) == {1}  # pinned to the control
    await experiments.stop(TENANT, experiment.id)
    assert await experiments.choose(TENANT, "shop", SESSIONS[0]) is None  # ended: the current version for all


async def test_promote_makes_the_version_current_and_ends_the_experiment(db: Database) -> None:
    experiments = service(db)
    await two_versions(experiments)
    await experiments.flows.make_current(TENANT, "shop", 1)
    experiment = await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 2, 50)],
                                          start=True)
    assert (await experiments.running_flows(TENANT)) == {"shop": experiment.id}
    with pytest.raises(Conflict, match="already has experiment"):
        other = await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("C", 2, 50)])
        await experiments.start(TENANT, other.id)
    done = await experiments.promote(TENANT, experiment.id, "B")
    assert done.status == "promoted" and done.winner == "B" and done.ended_at is not None
    assert (await experiments.flows.read(TENANT, "shop")).version == 2
    assert await experiments.choose(TENANT, "shop", "a-new-session") is None  # new sessions: the current, v2
    assert await experiments.running_flows(TENANT) == {}
    with pytest.raises(Conflict):
        await experiments.start(TENANT, experiment.id)


async def test_a_variant_from_another_flow_is_promoted_as_a_new_version(db: Database) -> None:
    experiments = service(db)
    await experiments.flows.create(TENANT, flow("shop", "one"))
    await experiments.flows.create(TENANT, flow("shop-copy", "rewritten"))
    experiment = await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50),
                                                            VariantSpec("B", 1, 50, flow_id="shop-copy")], start=True)
    await experiments.promote(TENANT, experiment.id, "B")
    current = await experiments.flows.read(TENANT, "shop")
    assert current.version == 2 and "rewritten" in current.document.dump_json()


async def test_a_variant_whose_flow_is_deleted_sends_its_sessions_to_the_control(db: Database) -> None:
    experiments = service(db)
    await experiments.flows.create(TENANT, flow("shop", "one"))
    await experiments.flows.create(TENANT, flow("shop-copy", "rewritten"))
    experiment = await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 0),
                                                            VariantSpec("B", 1, 100, flow_id="shop-copy")], start=True)
    pick = await experiments.choose(TENANT, "shop", "s1")
    assert pick is not None and (pick.flow_id, pick.labels.variant) == ("shop-copy", "B")
    await experiments.flows.delete(TENANT, "shop-copy")
    fresh = service(db)  # another instance (or this one once its 2 s cache lapsed)
    pick = await fresh.choose(TENANT, "shop", "s1")
    assert pick is not None and (pick.flow_id, pick.version, pick.labels.experiment_id) == ("shop", 1, None)
    assert (await fresh.get(TENANT, experiment.id)).status == "running"  # the others go on as before


async def test_bad_experiments_are_refused_with_the_variant_named(db: Database) -> None:
    experiments = service(db)
    await two_versions(experiments)
    with pytest.raises(Invalid, match="add up to 90"):
        await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 2, 40)])
    with pytest.raises(Invalid, match="variant 'B': flow 'shop' has no version 9"):
        await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 9, 50)])
    with pytest.raises(Invalid, match="two variants have that name"):
        await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("A", 2, 50)])
    with pytest.raises(Invalid, match="at least two variants"):
        await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 100)])
    with pytest.raises(NotFound):
        await experiments.create(OTHER, "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 2, 50)])
    experiment = await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 2, 50)])
    with pytest.raises(Invalid, match="unknown: C"):
        await experiments.set_weights(TENANT, experiment.id, {"A": 50, "B": 25, "C": 25})
    with pytest.raises(NotFound):
        await experiments.get(OTHER, experiment.id)
    assert await experiments.list_experiments(OTHER) == []


async def test_feedback_is_per_run_and_tenant_scoped(db: Database) -> None:
    experiments = service(db)
    db.call(record_run, TENANT, "run-1", "shop", status="succeeded", experiment_id="e1", variant="B")
    given = await experiments.feedback(TENANT, "run-1", 1, "  quick and right  ")
    assert given.rating == 1 and given.comment == "quick and right"
    assert (await experiments.feedback(TENANT, "run-1", -1)).rating == -1  # changed: the last one counts
    assert (await experiments.get_feedback(TENANT, "run-1")).rating == -1
    with pytest.raises(NotFound):
        await experiments.feedback(OTHER, "run-1", 1)
    with pytest.raises(NotFound):
        await experiments.get_feedback(OTHER, "run-1")
    with pytest.raises(NotFound):
        await experiments.feedback(TENANT, "no-such-run", 1)
    with pytest.raises(Invalid):
        await experiments.feedback(TENANT, "run-1", 0)
    db.call(record_run, TENANT, "run-2", "shop", status="succeeded")
    db.call(record_run, TENANT, "run-3", "shop", status="succeeded")
    await experiments.feedback(TENANT, "run-3", 1, "good")
    many = await experiments.feedback_on(TENANT, ["run-1", "run-2", "run-3", "run-1"])  # a chat's answers at once
    assert {k: (v.rating, v.comment) for k, v in many.items()} == {"run-1": (-1, None),
                                                                   "run-3": (1, "good")}
    assert await experiments.feedback_on(OTHER, ["run-1", "run-3"]) == {}
    assert await experiments.feedback_on(TENANT, []) == {}


async def test_feedback_narrowed_to_a_visitors_session_of_a_flow(db: Database) -> None:
    """A published widget's visitor: their session's runs of the key's flow only, a variant on another
    flow included (its stored row names the experiment); a run under way has no row yet."""
    experiments = service(db)
    await two_versions(experiments)
    await experiments.flows.create(TENANT, flow("other", "three"))
    experiment = await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 1, 50, "other")])
    mine = {"flow_id": "shop", "session_id": "pub-k-v1"}
    db.call(record_run, TENANT, "direct", "shop", status="succeeded", session_id="pub-k-v1")
    db.call(record_run, TENANT, "variant", "other", status="succeeded", session_id="pub-k-v1",
            experiment_id=experiment.id, variant="B")
    db.call(record_run, TENANT, "theirs", "shop", status="succeeded", session_id="pub-k-v2")
    db.call(record_run, TENANT, "elsewhere", "other", status="succeeded", session_id="pub-k-v1")
    experiments.active.add(ActiveRun("live", TENANT, "shop", channel_for(TENANT, "pub-k-v1"), 0))
    for run_id in ("direct", "variant", "live"):
        assert (await experiments.feedback(TENANT, run_id, -1, "meh", **mine)).rating == -1
    for run_id in ("theirs", "elsewhere", "no-such-run"):
        with pytest.raises(NotFound):
            await experiments.feedback(TENANT, run_id, 1, **mine)
    with pytest.raises(NotFound):
        await experiments.feedback(TENANT, "live", 1, flow_id="shop", session_id="pub-k-v2")
    with pytest.raises(NotFound):
        await experiments.feedback(OTHER, "direct", 1, **mine)


async def test_analysis_counts_runs_feedback_and_tagged_node_metrics(db: Database) -> None:
    experiments = service(db)
    await two_versions(experiments)
    experiment = await experiments.create(TENANT, "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 2, 50)],
                                          start=True, min_runs=10)
    recorder, sink = RunRecorder(db), SqlMetricsSink(db)
    sink.labels_of = recorder.labels_of
    for n in range(12):
        for variant, delay in (("A", 100.0), ("B", 200.0)):
            run_id = f"{variant}-{n}"
            recorder.expect(run_id, {}, 1, RunLabels(experiment.id, variant))
            sink.record(MetricRow(TENANT, "shop", run_id, "t", "template", 1.0, "hit" if n % 2 else "miss",
                                  "succeeded"))
            db.call(record_run, TENANT, run_id, "shop", status="failed" if n == 0 else "succeeded",
                    duration_ms=delay + n, first_chunk_ms=delay + n, tokens_in=3, tokens_out=2,
                    experiment_id=experiment.id, variant=variant)
    await sink.flush()
    await experiments.feedback(TENANT, "B-1", 1)
    with db.session() as session:
        tagged = session.exec(select(NodeMetric).where(NodeMetric.experiment_id == experiment.id)).all()
    assert Counter(row.variant for row in tagged) == {"A": 12, "B": 12}
    analysis = await experiments.analysis(TENANT, experiment.id)
    control, challenger = analysis.variants
    assert (control.runs, challenger.runs, challenger.finished) == (12, 12, 12)
    assert challenger.first_chunk_p50 == 205 and challenger.tokens_per_run == 5
    assert challenger.error_rate is not None and challenger.error_rate.estimate == pytest.approx(1 / 12)
    assert challenger.cache_hit_rate is not None and challenger.cache_hit_rate.estimate == 0.5
    assert challenger.positive_feedback is not None and challenger.feedback_count == 1
    assert challenger.verdict == "worse" and analysis.winner == "A" and analysis.ready
