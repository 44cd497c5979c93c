"""GET/POST/PUT /api/flows answer the wiring warnings next to the problems (docs/validation.md)."""
from __future__ import annotations

import json
from pathlib import Path

from .conftest import Api

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pallet_assistant.json"


async def test_a_loose_node_is_a_warning_named_by_its_label_and_does_not_block(api: Api) -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["flow_id"] = "warnings-api"
    async with api.client(api.token_a) as client:
        created = await client.post("/api/flows", json=data)
        assert created.status_code == 201, created.text
        assert created.json()["problems"] == [] and created.json()["warnings"] == []
        data["nodes"].append({"id": "node_9", "type": "delay", "label": "Lost wait", "config": {"ms": 1}})
        saved = await client.put("/api/flows/warnings-api", json=data)
        assert saved.status_code == 200, saved.text
        read = (await client.get("/api/flows/warnings-api")).json()
        assert read["problems"] == []
        assert [(w["code"], w["node_id"]) for w in read["warnings"]] == [("unreachable", "node_9"),
                                                                          ("dead_end", "node_9")]
        assert read["warnings"][0]["message"].startswith(
            "node 'Lost wait' is not connected to the input 'User message'")
