"""The evaluation pages alone, for the browser test: at start it stores two versions of a chat
flow on the mock provider (version 2 answers the cases ending in '!' wrong and slower), a 24-case
dataset with four scorers, and runs the evaluation; ``/test/evaluation`` names it."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from nicegui import app, ui

from tests.browser.run_pane_app import make_context
from tests.integration.evals.flows import fifty_cases, jsonl

STATE: dict[str, Any] = {}
SCORERS = [{"kind": "exact"}, {"kind": "similarity", "threshold": 0.9}, {"kind": "latency", "budget_ms": 2000},
           {"kind": "judge", "rubric": "Does it repeat the message?",
            "options": {"text": "Fine. SCORE: 0.8", "delay_ms": 0, "tokens_per_second": 0}}]


def chat(broken: bool) -> dict[str, Any]:
    text = "answer: {{ user_message }}"
    if broken:
        text = "{% if user_message.endswith('!') %}sorry, I cannot help{% else %}answer: {{ user_message }}{% endif %}"
    return {"akis": 1, "flow_id": "chat", "name": "Chat",
            "nodes": [{"id": "in", "type": "user_input"},
                      {"id": "ai", "type": "ai_response", "config": {"provider": "mock", "provider_options": {
                          "delay_ms": 40 if broken else 20, "tokens_per_second": 400, "text": text}}},
                      {"id": "out", "type": "output"}],
            "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    os.chdir(args.data)
    context = make_context(args.data)
    from editor.pages import evaluations, flow_editor

    evaluations.register(context)
    flow_editor.register(context)  # where a case's run link leads

    async def seed() -> None:
        await context.flows.create("1", json.dumps(chat(False)))
        await context.flows.save_version("1", "chat", json.dumps(chat(True)))
        dataset, _ = await context.datasets.import_text("1", jsonl("support regressions", fifty_cases()[:24],
                                                                   SCORERS), "jsonl")
        started = await context.evaluations.start("1", dataset.id, "chat", [1, 2], concurrency=8)
        await context.evaluations.wait("1", started.id)
        STATE.update(evaluation=started.id, dataset=dataset.id)

    @app.get("/test/evaluation")
    def evaluation() -> dict[str, Any]:
        return dict(STATE)

    app.on_startup(seed)
    app.on_shutdown(context.shutdown)
    ui.run(host="127.0.0.1", port=args.port, reload=False, show=False, title="Akis evaluations test",
           storage_secret="test-only", reconnect_timeout=30)


if __name__ in {"__main__", "__mp_main__"}:
    main()
