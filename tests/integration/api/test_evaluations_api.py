"""Evaluations over HTTP against the real app (a subprocess, the offline mock provider): a
50-case dataset over two versions at once where version 2 breaks 5 known cases, JSONL/CSV round
trips and bad files naming the line, a case captured from a run, and cross-tenant refusal."""
from __future__ import annotations

import csv
import io
import json
import uuid

from runtime.evals import parse_jsonl
from tests.integration.evals.flows import BROKEN, echo_flow, fifty_cases, jsonl

from .conftest import Api


async def two_versions(a, flow_id: str) -> None:
    assert (await a.post("/api/flows", json=echo_flow(flow_id))).status_code == 201
    assert (await a.put(f"/api/flows/{flow_id}", json=echo_flow(flow_id, broken=True))).status_code == 200


NDJSON = {"content-type": "application/x-ndjson"}


async def test_two_versions_at_once_and_the_comparison_lists_exactly_the_broken_cases(api: Api) -> None:
    suffix = uuid.uuid4().hex[:8]
    flow_id, name = f"eval-echo-{suffix}", f"regression-{suffix}"
    async with api.client(api.token_a) as a:
        await two_versions(a, flow_id)
        imported = await a.post("/api/datasets/import", content=jsonl(name, fifty_cases()), headers=NDJSON)
        assert imported.status_code == 201 and imported.json()["imported"] == 50
        assert imported.json()["dataset"]["name"] == name and len(imported.json()["dataset"]["scorers"]) == 4
        started = await a.post("/api/evaluations?wait=true", json={
            "dataset": name, "flow_id": flow_id, "versions": [1, 2], "concurrency": 8, "use_cache": False})
        assert started.status_code == 202, started.text
        evaluation = started.json()
        assert (evaluation["status"], evaluation["done"], evaluation["total"]) == ("finished", 100, 100)
        report = (await a.get(f"/api/evaluations/{evaluation['id']}/report")).json()
        one, two = report["versions"]
        assert (one["version"], one["pass_rate"], two["version"], two["pass_rate"]) == (1, 1.0, 2, 0.9)
        assert one["scorers"]["judge"]["mean"] == 0.9 and two["scorers"]["exact"]["pass_rate"] == 0.9
        assert one["duration_p50"] is not None and one["duration_p95"] >= one["duration_p50"]
        (comparison,) = report["comparisons"]
        assert sorted(comparison["changed"]) == sorted(comparison["regressed"]) == BROKEN
        assert comparison["fixed"] == [] and len(report["cases"]) == 50
        changed = (await a.get(f"/api/evaluations/{evaluation['id']}/report?changed=true")).json()["cases"]
        assert sorted(c["case_id"] for c in changed) == BROKEN
        first = changed[0]
        assert [r["text"] for r in first["results"]] == [f"answer: {first['message']}", "oops"]
        assert first["results"][1]["scores"]["exact"]["passed"] is False
        run = await a.get(f"/api/runs/{first['results'][1]['run_id']}")  # each case links to its run
        assert run.status_code == 200 and run.json()["flow_version"] == 2
        table = await a.get(f"/api/evaluations/{evaluation['id']}/results.csv")
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert len(rows) == 100 and {r["version"] for r in rows} == {"1", "2"}
        broken_v2 = [r for r in rows if r["version"] == "2" and r["passed"] == "False"]
        assert sorted(r["case_id"] for r in broken_v2) == BROKEN and {r["answer"] for r in broken_v2} == {"oops"}
        assert {r["exact"] for r in broken_v2} == {"0.0"} and all(r["changed"] == "True" for r in broken_v2)
        listed = (await a.get(f"/api/evaluations?dataset={name}")).json()
        assert [e["id"] for e in listed] == [evaluation["id"]]


async def test_jsonl_and_csv_round_trip_and_bad_files_name_the_line(api: Api) -> None:
    name = f"round-{uuid.uuid4().hex[:8]}"
    cases = fifty_cases()[:5]
    cases[0]["history"] = [{"role": "user", "content": "önce"}, {"role": "assistant", "content": "Merhaba!"}]
    cases[1]["inputs"] = {"category": "forklift"}
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/datasets/import", content=jsonl(name, cases), headers=NDJSON)).status_code == 201
        exported = await a.get(f"/api/datasets/{name}/export?format=jsonl")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/x-ndjson")
        back = parse_jsonl(exported.text)
        assert back.name == name and [c.model_dump(exclude_defaults=True) for c in back.cases] == cases
        csv_text = (await a.get(f"/api/datasets/{name}/export?format=csv")).text
        copy = await a.post(f"/api/datasets/import?format=csv&dataset={name}-csv", content=csv_text,
                            headers={"content-type": "text/csv"})
        assert copy.status_code == 201 and copy.json()["imported"] == 5
        again = (await a.get(f"/api/datasets/{name}-csv/export?format=jsonl")).text
        assert [c.model_dump() for c in parse_jsonl(again).cases] == [c.model_dump() for c in back.cases]
        bad = await a.post("/api/datasets/import?dataset=bad", headers=NDJSON,
                           content='{"message": "ok"}\n{"message": "no end"\n{"mesage": "typo"}\n')
        assert bad.status_code == 422
        assert "line 2: not JSON" in bad.json()["detail"] and "line 3: message: Field required" in bad.json()["detail"]
        assert (await a.get("/api/datasets/bad")).status_code == 404  # nothing half-imported
        bad_csv = await a.post("/api/datasets/import?format=csv&dataset=bad", content="message,colour\nhi,red\n",
                               headers={"content-type": "text/csv"})
        assert bad_csv.status_code == 422 and "line 1: unknown column 'colour'" in bad_csv.json()["detail"]
        bad_scorer = await a.post("/api/datasets", json={"name": "x", "scorers": [{"kind": "regex", "pattern": "("}]})
        assert bad_scorer.status_code == 422 and "scorer 1 (regex): pattern" in bad_scorer.json()["detail"]


async def test_a_case_from_a_run_and_every_route_refuses_another_tenant(api: Api) -> None:
    suffix = uuid.uuid4().hex[:8]
    flow_id, name = f"eval-own-{suffix}", f"own-{suffix}"
    async with api.client(api.token_a) as a, api.client(api.token_b) as b:
        await two_versions(a, flow_id)
        run = (await a.post(f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": "Transpalet arıyorum"}}))
        run_id = run.json()["run_id"]
        dataset = (await a.post("/api/datasets", json={"name": name, "scorers": [{"kind": "exact"}]})).json()
        captured = await a.post(f"/api/datasets/{dataset['id']}/cases/from-run/{run_id}")
        assert captured.status_code == 201, captured.text
        assert (captured.json()["message"], captured.json()["expected"]) == (  # version 2 is current
            "Transpalet arıyorum", "answer: Transpalet arıyorum")
        assert captured.json()["source_run_id"] == run_id
        evaluation = (await a.post("/api/evaluations?wait=true", json={"dataset": dataset["id"], "flow_id": flow_id,
                                                                       "versions": [1]})).json()
        assert evaluation["status"] == "finished"
        # tenant B: every one of A's ids answers 404, and B's lists hold nothing of A's
        for path in (f"/api/datasets/{dataset['id']}", f"/api/datasets/{name}", f"/api/datasets/{name}/export",
                     f"/api/evaluations/{evaluation['id']}", f"/api/evaluations/{evaluation['id']}/report",
                     f"/api/evaluations/{evaluation['id']}/results.csv"):
            assert (await b.get(path)).status_code == 404, path
        assert (await b.post(f"/api/evaluations/{evaluation['id']}/cancel")).status_code == 404
        assert (await b.patch(f"/api/datasets/{dataset['id']}", json={"name": "mine"})).status_code == 404
        assert (await b.delete(f"/api/datasets/{dataset['id']}")).status_code == 404
        assert (await b.post("/api/evaluations", json={"dataset": name, "flow_id": flow_id})).status_code == 404
        b_set = (await b.post("/api/datasets", json={"name": f"b-{suffix}"})).json()
        assert (await b.post(f"/api/datasets/{b_set['id']}/cases/from-run/{run_id}")).status_code == 404
        assert (await b.post(f"/api/datasets/{dataset['id']}/cases", json={"message": "x"})).status_code == 404
        assert name not in json.dumps((await b.get("/api/datasets")).json())
        assert evaluation["id"] not in json.dumps((await b.get("/api/evaluations")).json())
        assert (await a.get(f"/api/datasets/{dataset['id']}")).json()["dataset"]["cases"] == 1
