"""Flow documents the channel tests (and the cross-process publisher) stream through."""
from __future__ import annotations

from typing import Any

ANSWER = "Işık hızında transpalet önerisi 😀👍🏽: TP-2500 — 2,5 t, 日本語 de konuşurum. "


def ai_node(
    node_id: str, text: str, *, chunks: int = 0, tokens_per_second: float = 0, delay_ms: float = 0
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "ai_response",
        "config": {
            "provider": "mock",
            "provider_options": {
                "text": text,
                "chunks": chunks or len(text),
                "tokens_per_second": tokens_per_second,
                "delay_ms": delay_ms,
            },
        },
    }


def parallel_join_flow(text: str = ANSWER, tokens_per_second: float = 0) -> dict[str, Any]:
    """Three lookups in parallel, a join (template), then the streamed answer: the shape where
    other tools' users report streaming breaks."""
    return {
        "akis": 1,
        "flow_id": "parallel-join",
        "nodes": [
            {"id": "in", "type": "user_input"},
            {"id": "d1", "type": "delay", "config": {"ms": 30, "output": {"category": "pallet_jack"}}},
            {"id": "d2", "type": "delay", "config": {"ms": 10, "output": {"profile": "warehouse"}}},
            {"id": "search", "type": "product_search", "config": {"query": "{{ user_message }}", "limit": 2}},
            {
                "id": "join",
                "type": "template",
                "config": {"output_key": "context", "template": "{{ category }} {{ profile }}"},
            },
            ai_node("ai", text, tokens_per_second=tokens_per_second),
            {"id": "save", "type": "save_message"},
            {"id": "out", "type": "output"},
        ],
        "edges": [
            {"source": "in", "target": "d1"},
            {"source": "in", "target": "d2"},
            {"source": "in", "target": "search"},
            {"source": "d1", "target": "join"},
            {"source": "d2", "target": "join"},
            {"source": "search", "target": "join"},
            {"source": "join", "target": "ai"},
            {"source": "ai", "target": "save"},
            {"source": "ai", "target": "out"},
        ],
        "parallel_groups": [{"id": "lookups", "nodes": ["d1", "d2", "search"], "join_at": "join"}],
    }


def two_answers_flow(first: str, second: str) -> dict[str, Any]:
    """Two ai_response nodes one after the other, each streaming its own text."""
    return {
        "akis": 1,
        "flow_id": "two-answers",
        "nodes": [
            {"id": "in", "type": "user_input"},
            ai_node("ai1", first),
            ai_node("ai2", second),
            {
                "id": "out",
                "type": "output",
                "config": {"fields": {"first": "{{ nodes.ai1.answer }}", "second": "{{ nodes.ai2.answer }}"}},
            },
        ],
        "edges": [
            {"source": "in", "target": "ai1"},
            {"source": "ai1", "target": "ai2"},
            {"source": "ai2", "target": "out"},
        ],
    }
