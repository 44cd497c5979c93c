"""Node inspection over HTTP: a run's nodes (inputs, rendered config, output), one node run with
pinned inputs and the flow run from a node; errors named plainly. Isolation: test_isolation.py."""
from __future__ import annotations

import asyncio

from .conftest import Api
from .harness import trivial_flow


async def test_a_run_s_nodes_and_one_node_run_with_pinned_inputs(api: Api) -> None:
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/flows", json=trivial_flow("inspect-echo"))).status_code == 201
        run = (await a.post("/api/flows/inspect-echo/runs", json={"inputs": {"user_message": "hi"}})).json()
        listed = await a.get(f"/api/runs/{run['run_id']}/nodes")
        for _ in range(100):  # the run's row and nodes are written after its answer: wait for them
            if listed.status_code != 404:
                break
            await asyncio.sleep(0.05)
            listed = await a.get(f"/api/runs/{run['run_id']}/nodes")
        assert listed.status_code == 200, listed.text
        nodes = listed.json()["nodes"]
        assert [n["node_id"] for n in nodes] == ["in", "t", "out"]
        t = (await a.get(f"/api/runs/{run['run_id']}/nodes/t")).json()
        assert t["inputs"] == {"user_message": "hi"} and t["config"]["template"] == "echo: hi"
        assert t["output"] == {"answer": "echo: hi"} and t["status"] == "succeeded" and t["attempts"] == 1
        one = await a.post("/api/flows/inspect-echo/nodes/t/run", json={"inputs": {"user_message": "pinned"}})
        assert one.status_code == 200, one.text
        assert one.json()["status"] == "succeeded" and one.json()["node"]["output"] == {"answer": "echo: pinned"}
        again = await a.post("/api/flows/inspect-echo/nodes/out/run", json={"from_run": run["run_id"]})
        by_id = {n["node_id"]: n for n in again.json()["nodes"]}
        assert by_id["t"]["cache"] == "reused" and by_id["out"]["output"] == {"answer": "echo: hi"}
        missing = await a.post("/api/flows/inspect-echo/nodes/nope/run", json={"inputs": {}})
        assert missing.status_code == 404 and "node 'nope'" in missing.text
        bad = await a.post("/api/flows/inspect-echo/nodes/t/run", json={"inputs": {"nodes": [1]}})
        assert bad.status_code == 422 and "must map node ids to their outputs" in bad.text
