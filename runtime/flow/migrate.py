"""Migrations from older document forms to the current ``akis: 1``.

Form 0 is the original metadata form: no ``akis`` key, an integer ``flow_id``, ``nodes``
possibly a mapping ``{"node_10": {"type": ..., "config": ...}}``, groups without ids.

Retired node fields are handled in every form by :func:`migrate_node`, which the document
model calls on each node, so a document read from a file, the API or storage is read alike:

- ``ai_response``'s ``mock_delay_ms``, ``mock_tokens_per_second``, ``mock_chunks`` and
  ``mock_text`` are the offline mock's own settings now, ``provider_options`` (``delay_ms``,
  ``tokens_per_second``, ``chunks``, ``text``);
- ``ai_response``'s ``stream_channel`` could only ever be ``tenant.{tenant_id}.conversation.
  {session_id}``; that value is dropped. Any other value is kept, so that validation says it
  was never honoured (:data:`RETIRED_FIELDS`) rather than the document running as if it were.
"""
from __future__ import annotations

from typing import Any

from ..channels.names import CHANNEL_FORM
from ..errors import FlowLoadError, Problem

FLOW_FORMAT_VERSION = 1  # the form this Akis writes

_MOCK_FIELDS = {
    "mock_delay_ms": "delay_ms",
    "mock_tokens_per_second": "tokens_per_second",
    "mock_chunks": "chunks",
    "mock_text": "text",
}
_RETIRED_AI_FIELDS = frozenset({*_MOCK_FIELDS, "stream_channel"})

# (node type, field) -> (problem code, message) for a retired field migrate_node had to keep.
RETIRED_FIELDS: dict[tuple[str, str], tuple[str, str]] = {
    ("ai_response", "stream_channel"): (
        "channel",
        f"no longer a setting, and no other value than {CHANNEL_FORM!r} was ever honoured: a run's chunks "
        "go to the channel built from its tenant and session. Remove the field",
    ),
    **{
        ("ai_response", old): ("config", f"moved to provider_options.{new}, which holds another value: keep one")
        for old, new in _MOCK_FIELDS.items()
    },
}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("akis", 0)
    if not isinstance(version, int) or version < 0:
        raise FlowLoadError([Problem("version", f"field 'akis' must be a format version number, got {version!r}")])
    if version > FLOW_FORMAT_VERSION:
        raise FlowLoadError(
            [Problem("version", f"this flow is format {version}; this Akis reads up to {FLOW_FORMAT_VERSION}")]
        )
    if version == 0:
        data = _from_form_0(data)
    return data


def migrate_node(node: Any) -> Any:
    """The node with its retired ``ai_response`` fields moved or dropped (see above); anything
    else, including a node that is not an object, as it is (validation speaks about it)."""
    if not isinstance(node, dict) or node.get("type") != "ai_response":
        return node
    config = node.get("config")
    if not isinstance(config, dict) or config.keys().isdisjoint(_RETIRED_AI_FIELDS):
        return node
    options = config.get("provider_options", {})
    if not isinstance(options, dict):
        return node
    config, options = dict(config), dict(options)
    for old, new in _MOCK_FIELDS.items():
        if old in config and options.get(new, config[old]) == config[old]:
            options[new] = config.pop(old)  # a differing value set both ways stays: validation names it
    if options:
        config["provider_options"] = options
    if config.get("stream_channel") == CHANNEL_FORM:
        del config["stream_channel"]
    return {**node, "config": config}


def _from_form_0(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out["akis"] = FLOW_FORMAT_VERSION
    nodes = out.get("nodes")
    if isinstance(nodes, dict):
        out["nodes"] = [
            {"id": node_id, **(spec if isinstance(spec, dict) else {})} for node_id, spec in nodes.items()
        ]
    return out
