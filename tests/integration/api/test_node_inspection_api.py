"""Node inspection over HTTP: a run's nodes (inputs, rendered config, output), one node run with
pinned inputs and the flow run from a node; errors named plainly. Isolation: test_isolation.py."""
from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .conftest import Api
from .harness import trivial_flow


async def recorded_nodes(client: httpx.AsyncClient, run_id: str) -> dict[str, dict[str, Any]]:
    """A run's node records by node id, once written (they go after its answer)."""
    listed = await client.get(f"/api/runs/{run_id}/nodes")
    for _ in range(100):
        if listed.status_code != 404:
            break
        await asyncio.sleep(0.05)
        listed = await client.get(f"/api/runs/{run_id}/nodes")
    assert listed.status_code == 200, listed.text
    return {n["node_id"]: n for n in listed.json()["nodes"]}


async def test_run_from_here_refuses_an_upstream_output_whose_secret_was_masked(api: Api) -> None:
    async with api.client(api.token_a) as a:
        # a server secret (a settings API key) in what the user sent: kept as [secret] in the input node's output
        assert (await a.post("/api/flows", json=trivial_flow("inspect-leak"))).status_code == 201
        message = f"my key is {api.canaries[1]}"  # ANTHROPIC_API_KEY
        run = (await a.post("/api/flows/inspect-leak/runs", json={"inputs": {"user_message": message}})).json()
        nodes = await recorded_nodes(a, run["run_id"])
        assert nodes["in"]["output"] == {"user_message": "my key is [secret]"}
        refused = await a.post("/api/flows/inspect-leak/nodes/t/run", json={"from_run": run["run_id"]})
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"]
        assert "node 'in'" in detail and "field user_message" in detail and "run the whole flow" in detail
        assert "pinned by hand" in detail and "node 't'" in detail
        # its recorded inputs pinned as they are (as "Run this node" prefills them): refused too
        pinned = await a.post("/api/flows/inspect-leak/nodes/t/run", json={"inputs": nodes["t"]["inputs"]})
        assert pinned.status_code == 422 and "node 't'" in pinned.text and "field user_message" in pinned.text
        # a value under a secret key is masked whole: run from a node after it is refused, naming it
        flow = trivial_flow("inspect-token")
        flow["nodes"][1]["config"]["output_key"] = "auth_token"
        assert (await a.post("/api/flows", json=flow)).status_code == 201
        run = (await a.post("/api/flows/inspect-token/runs", json={"inputs": {"user_message": "hi"}})).json()
        assert (await recorded_nodes(a, run["run_id"]))["t"]["output"] == {"auth_token": "[secret]"}
        refused = await a.post("/api/flows/inspect-token/nodes/out/run", json={"from_run": run["run_id"]})
        assert refused.status_code == 422 and "node 't'" in refused.text and "field auth_token" in refused.text
        # outputs without masks still run from here: the input node's is reused
        again = await a.post("/api/flows/inspect-token/nodes/t/run", json={"from_run": run["run_id"]})
        assert again.status_code == 200, again.text
        by_id = {n["node_id"]: n for n in again.json()["nodes"]}
        assert by_id["in"]["cache"] == "reused" and by_id["t"]["status"] == "succeeded"


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
