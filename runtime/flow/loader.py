"""Loading a flow document from a path, a JSON string or a dict, safely.

Size limits are checked before any parsing, so a huge or deeply nested file is refused in
linear time with a clear message. Parsing is strict (see ``strict_json``): what is accepted can
be stored, served and read back unchanged. Older forms (the original metadata form, ``akis``
missing) are migrated on load (``migrate``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..errors import FlowLoadError, Problem
from .migrate import migrate
from .model import FlowDocument
from .strict_json import StrictJsonError, check_values, parse_strict

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 2000
MAX_EDGES = 10000
MAX_DEPTH = 32


def load_flow(source: str | Path | dict[str, Any] | FlowDocument) -> FlowDocument:
    """Parse ``source`` into a :class:`FlowDocument` or raise :class:`FlowLoadError`."""
    if isinstance(source, FlowDocument):
        return source
    if isinstance(source, dict):
        _check_depth_of_object(source)
        data = source
        _refuse(check_values, data)
    else:
        data = _parse_text(_read_text(source))
    return _from_data(data)


def load_flow_text(text: str) -> FlowDocument:
    """Parse JSON text, never a file name (text from a request or an upload)."""
    return _from_data(_parse_text(text.removeprefix("\ufeff")))


def _parse_text(text: str) -> Any:
    _check_size(text)
    _check_depth_of_text(text)
    return _refuse(parse_strict, text)


def _from_data(data: Any) -> FlowDocument:
    if not isinstance(data, dict):
        raise FlowLoadError([Problem("shape", "a flow document must be a JSON object")])
    _check_counts(data)
    data = migrate(data)
    try:
        return FlowDocument.model_validate(data)
    except ValidationError as exc:
        raise FlowLoadError([_problem_from_pydantic(err, data) for err in exc.errors()]) from None


def _refuse(check: Any, value: Any) -> Any:
    """Run a strict JSON check, turning its complaint into a load problem naming the place."""
    try:
        return check(value)
    except json.JSONDecodeError as exc:
        raise FlowLoadError(
            [Problem("json", f"not valid JSON: {exc.msg.removesuffix(' at')} at line {exc.lineno}, column {exc.colno}")]
        ) from None
    except StrictJsonError as exc:
        raise FlowLoadError([Problem("json", str(exc), node_id=exc.node_id, field=exc.field)]) from None


def _read_text(source: str | Path) -> str:
    if isinstance(source, str):
        source = source.removeprefix("\ufeff")
    if isinstance(source, Path) or not source.lstrip().startswith(("{", "[")):
        path = Path(source)
        try:
            size = path.stat().st_size
        except ValueError as exc:  # a NUL in the name
            raise FlowLoadError([Problem("file", f"cannot read {str(path)[:80]!r}: {exc}")]) from None
        except OSError as exc:
            raise FlowLoadError([Problem("file", f"cannot read {path}: {exc.strerror or exc}")]) from None
        if size > MAX_BYTES:
            raise FlowLoadError([Problem("size", f"{path} is {size} bytes; the limit is {MAX_BYTES}")])
        try:
            return path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise FlowLoadError([Problem("file", f"cannot read {path}: {exc}")]) from None
    return str(source)


def _check_size(text: str) -> None:
    if len(text) > MAX_BYTES:
        raise FlowLoadError([Problem("size", f"the document is {len(text)} characters; the limit is {MAX_BYTES}")])


def _check_depth_of_text(text: str) -> None:
    """Bracket depth outside strings, in one linear scan (json.loads would recurse first)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise FlowLoadError([Problem("depth", f"the document nests deeper than {MAX_DEPTH} levels")])
        elif char in "]}":
            depth -= 1


def _check_depth_of_object(data: Any) -> None:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FlowLoadError([Problem("depth", f"the document nests deeper than {MAX_DEPTH} levels")])
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _check_counts(data: dict[str, Any]) -> None:
    nodes, edges = data.get("nodes"), data.get("edges")
    if isinstance(nodes, (list, dict)) and len(nodes) > MAX_NODES:
        raise FlowLoadError([Problem("size", f"the flow has {len(nodes)} nodes; the limit is {MAX_NODES}")])
    if isinstance(edges, list) and len(edges) > MAX_EDGES:
        raise FlowLoadError([Problem("size", f"the flow has {len(edges)} edges; the limit is {MAX_EDGES}")])


def _problem_from_pydantic(err: ErrorDetails, data: dict[str, Any]) -> Problem:
    """Name the node (by id, not list index) and the field a schema error is about."""
    loc = list(err["loc"])
    node_id = None
    where = ".".join(str(part) for part in loc) or "document"
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        nodes = data.get("nodes") or []
        raw = nodes[loc[1]] if isinstance(nodes, list) and loc[1] < len(nodes) else {}
        node_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        field = ".".join(str(part) for part in loc[2:]) or "node"
        who = f"node {node_id!r}" if node_id else f"node #{loc[1] + 1}"
        return Problem("schema", f"{who}, field {field!r}: {err['msg']}", node_id=node_id, field=field)
    return Problem("schema", f"field {where!r}: {err['msg']}", field=where)
