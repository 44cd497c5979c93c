"""Citations: the numbered sources an ``ai_response`` is given, and what it answers with them.

The prompt lists each passage as ``[n] (document, part p)`` and asks the model to cite by
number; the node's ``citations`` output keeps the same numbers with the passage text, so the
answer pane and the widget show ``[n]`` links that open the passage.
"""
from __future__ import annotations

import re
from typing import Any

from .tokens import tokenize

CITE_INSTRUCTION = ("Answer only from the numbered sources below. After each statement, cite its source "
                    "by number in square brackets, like [1]. If the sources do not answer the question, say so.")
MAX_SOURCE_CHARS = 2000


def citations_from(passages: Any) -> list[dict[str, Any]]:
    """Numbered citations (``n`` from 1) from passages as ``knowledge_retrieval`` outputs them.

    Anything else is refused by name, so a template that hands over the wrong value fails clearly."""
    if not isinstance(passages, list):
        raise ValueError("citations must be a list of passages (such as {{ passages }}), "
                         f"got {type(passages).__name__}")
    out = []
    for n, item in enumerate(passages, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError(f"citation {n} is not a passage: it needs at least a 'text'")
        out.append({"n": n, "document": str(item.get("document") or item.get("document_id") or "source"),
                    "knowledge_base": str(item.get("knowledge_base", "")), "position": item.get("position"),
                    "score": item.get("score"), "text": item["text"]})
    return out


def sources_block(citations: list[dict[str, Any]]) -> str:
    """The sources as the prompt lists them."""
    lines = ["Sources:"]
    for c in citations:
        position = c.get("position")
        where = f"{c['document']}, part {position + 1}" if isinstance(position, int) else c["document"]
        lines.append(f"[{c['n']}] ({where}) {c['text'][:MAX_SOURCE_CHARS]}")
    return "\n".join(lines)


def extractive_answer(citations: list[dict[str, Any]], question: str = "") -> str:
    """What the offline mock answers when told to cite: from each of the two best sources, the
    sentence sharing most words with the question, with its number, so an offline run cites for real."""
    if not citations:
        return "I could not find this in the knowledge base. (This answer comes from the offline mock model.)"
    wanted = set(tokenize(question))
    parts = []
    for c in citations[:2]:
        body = " ".join(line for line in c["text"].splitlines() if not line.lstrip().startswith("#"))
        flat = " ".join(body.replace("**", "").split())
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s", flat) if s.strip()]
        best = max(sentences or [c["text"]], key=lambda s: len(wanted & set(tokenize(s))))
        parts.append(f"{best} [{c['n']}]")
    return "From our documents: " + " ".join(parts) + " (This answer comes from the offline mock model.)"
