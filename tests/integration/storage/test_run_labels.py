"""A run's labels (the experiment variant or evaluation it belongs to) reach its row."""
from __future__ import annotations

from runtime.events import RUN_FINISHED, RUN_STARTED, Event
from storage.recorder import RunLabels, RunRecorder
from storage.repos import runs


async def test_the_recorder_stores_the_labels_given_with_the_inputs(db):
    recorder = RunRecorder(db)
    recorder.expect("labelled", {"user_message": "hi"}, 3, RunLabels(experiment_id="exp1", variant="b"))
    recorder.expect("evaluated", {"user_message": "hi"}, 3, RunLabels(evaluation_id="ev9"))
    recorder.expect("plain", {"user_message": "hi"}, 3)
    for run_id in ("labelled", "evaluated", "plain"):
        common = {"run_id": run_id, "flow_id": "support", "tenant_id": "2", "session_id": "s1"}
        recorder.observe(Event(RUN_STARTED, t_ms=0.0, index=0, **common))
        recorder.observe(Event(RUN_FINISHED, t_ms=4.0, index=1, status="succeeded", duration_ms=4.0, **common))
    await recorder.drain(5)
    assert recorder.recorded == 3
    stored = {r.id: (r.experiment_id, r.variant, r.evaluation_id, r.attempts, r.worker)
              for r in db.call(runs.list_runs, "2")}
    assert stored == {"labelled": ("exp1", "b", None, 0, None), "evaluated": (None, None, "ev9", 0, None),
                      "plain": (None, None, None, 0, None)}
