"""The shipped example flow, made quick: these tests are about the cache, not the model."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runtime import load_flow

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PALLET = EXAMPLES / "pallet_assistant.json"


def pallet_flow() -> Any:
    """pallet_assistant.json with the mock model answering at once, in three chunks."""
    data = json.loads(PALLET.read_text(encoding="utf-8"))
    for node in data["nodes"]:
        if node["type"] == "ai_response":
            node["config"]["provider_options"] = {"delay_ms": 0, "tokens_per_second": 0, "chunks": 3}
    return load_flow(data)
