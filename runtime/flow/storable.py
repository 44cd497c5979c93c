"""What may be stored: a flow parsed strictly, validated fully, and read back unchanged.

Every save path (the HTTP API, import, ``akis validate``) goes through :func:`check_storable`,
so nothing is stored that cannot later be read, served and validated again. Validation never
raises out of here: a check that crashes becomes a problem naming the node and field it was on.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..cache.keys import CacheKeyError, check_tags
from ..engine.templating import check_template
from ..errors import FlowLoadError, Problem
from ..nodes.registry import NodeRegistry
from .loader import load_flow, load_flow_text
from .model import FlowDocument
from .strict_json import show
from .validate import validate_flow

log = logging.getLogger("runtime.flow")


def check_storable(
    source: str | Path | dict[str, Any] | FlowDocument, registry: NodeRegistry | None, tenant_id: str | None,
) -> tuple[FlowDocument | None, list[Problem]]:
    """The document as it will read back, and every problem (none: it may be stored).

    A ``str`` is JSON text (never a file name; pass a ``Path`` for a file). ``None`` for the
    document when it does not even load (the problems say why)."""
    try:
        document = read_back(load_flow_text(source) if isinstance(source, str) else load_flow(source))
    except FlowLoadError as exc:
        return None, list(exc.problems)
    return document, validate_safely(document, registry, tenant_id) + cache_event_problems(document)


def read_back(document: FlowDocument) -> FlowDocument:
    """Serialise as storage will, parse that again strictly: the copy that is stored, or
    :class:`FlowLoadError` when it would not read back the same."""
    again = load_flow_text(document.dump_json(indent=None))
    if again.dump() != document.dump():
        raise FlowLoadError([Problem("round_trip", "the document does not read back the same after saving "
                                                   "(export it and compare)")])
    return again


def validate_safely(document: FlowDocument, registry: NodeRegistry | None, tenant_id: str | None) -> list[Problem]:
    """:func:`validate_flow`, never raising: a crash is reported as a problem of the field it came from."""
    try:
        return validate_flow(document, registry, tenant_id)
    except Exception as exc:  # noqa: BLE001 - any crash of a check means "cannot be validated", never a 500
        log.info("validating flow %s failed with %s", show(str(document.flow_id)), type(exc).__name__)
        return _crashing_fields(document) or [
            Problem("validation", f"the flow could not be validated: {type(exc).__name__}: {_short(exc)}")
        ]


def cache_event_problems(document: FlowDocument) -> list[Problem]:
    """``settings.cache_events`` tags must be usable cache tags (checked before anything is stored)."""
    problems = []
    for event, tags in document.settings.cache_events.items():
        try:
            check_tags(tags)
        except CacheKeyError as exc:
            field = f"settings.cache_events.{event}"
            problems.append(Problem("cache_events", f"field {show(field)}: {exc}", field=field))
    return problems


def _crashing_fields(document: FlowDocument) -> list[Problem]:
    """Find the config values whose template check crashes (a template that folds to a huge value)."""
    problems = []
    for node in document.nodes:
        for key, value in node.config.items():
            try:
                check_template(value, f"config.{key}")
            except Exception as exc:  # noqa: BLE001 - the crash is the finding
                problems.append(Problem(
                    "template", f"node {node.id!r}, field 'config.{key}': the template cannot be checked: "
                                f"{type(exc).__name__}: {_short(exc)}", node_id=node.id, field=f"config.{key}",
                ))
    return problems


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200].encode("utf-8", "backslashreplace").decode("utf-8")
