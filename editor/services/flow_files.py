"""Flow files and new flows: checking an uploaded file, the shipped examples, fresh ids and
the blank flow. Pure functions (no database), used by :mod:`editor.services.flows`."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from runtime.data import EXAMPLES_DIR
from runtime.errors import Problem
from runtime.flow.model import EdgeSpec, FlowDocument, NodeSpec
from runtime.flow.storable import check_storable
from runtime.nodes.registry import NodeRegistry


@dataclass(frozen=True, slots=True)
class Example:
    path: Path
    name: str
    description: str
    flow_id: str


def check_source(source: str | bytes | FlowDocument, registry: NodeRegistry | None,
                 tenant: str) -> tuple[FlowDocument | None, list[Problem]]:
    """Parse strictly and validate a flow file, text or document; the problems name the node
    and field of each mistake (``document`` is None when it does not even load)."""
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            return None, [Problem("file", "the file is not UTF-8 text (is it a flow JSON file?)")]
    if isinstance(source, str):
        source = source.lstrip("\ufeff")
        if not source.lstrip().startswith("{"):
            return None, [Problem("json", "not a flow file: expected the JSON object that export writes")]
    return check_storable(source, registry, tenant)


def examples() -> list[Example]:
    """The example flows shipped with the app (``runtime/data/examples``)."""
    out = []
    for path in sorted(EXAMPLES_DIR.glob("*.json")) if EXAMPLES_DIR.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append(Example(path, str(data.get("name") or path.stem), str(data.get("description", "")),
                           str(data.get("flow_id", path.stem))))
    return out


def slug(text: str) -> str:
    """A flow id from a name: lower case letters, digits and dashes (``"Pallet assistant"`` -> ``pallet-assistant``)."""
    value = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:48]
    return value or "flow"


def unique_id(taken: set[str], base: str) -> str:
    """``base`` as a slug, numbered (``-2``, ``-3``...) when the tenant already has it."""
    base = slug(base)
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def blank_document(flow_id: str, name: str) -> FlowDocument:
    """A new flow that already runs: a user message straight to the output."""
    return FlowDocument(
        flow_id=flow_id, name=name,
        nodes=[NodeSpec(id="node_1", type="user_input", label="User message", ui={"x": 0, "y": 0}),
               NodeSpec(id="node_2", type="output", label="Output",
                        config={"fields": {"answer": "{{ user_message }}"}}, ui={"x": 320, "y": 0})],
        edges=[EdgeSpec(source="node_1", target="node_2")],
    )
