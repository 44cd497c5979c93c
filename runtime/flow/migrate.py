"""Migrations from older document forms to the current ``akis: 1``.

Form 0 is the seed's metadata: no ``akis`` key, an integer ``flow_id``, ``nodes`` possibly a
mapping ``{"node_10": {"type": ..., "config": ...}}``, groups without ids.
"""
from __future__ import annotations

from typing import Any

from ..errors import FlowLoadError, Problem
from .model import FLOW_FORMAT_VERSION


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("akis", 0)
    if not isinstance(version, int) or version < 0:
        raise FlowLoadError([Problem("version", f"field 'akis' must be a format version number, got {version!r}")])
    if version > FLOW_FORMAT_VERSION:
        raise FlowLoadError(
            [Problem("version", f"this flow is format {version}; this Akis reads up to {FLOW_FORMAT_VERSION}")]
        )
    if version == 0:
        data = _from_seed_form(data)
    return data


def _from_seed_form(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out["akis"] = FLOW_FORMAT_VERSION
    nodes = out.get("nodes")
    if isinstance(nodes, dict):
        out["nodes"] = [
            {"id": node_id, **(spec if isinstance(spec, dict) else {})} for node_id, spec in nodes.items()
        ]
    return out
