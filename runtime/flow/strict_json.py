"""Strict JSON for flow documents: refuse what Python's ``json`` lets through but cannot be kept.

``json.loads`` silently keeps the last of two equal keys, accepts ``NaN`` and ``Infinity``
(not JSON), turns ``1e999`` into ``inf``, builds integers of any length (``str()`` of one over
4300 digits raises later) and decodes ``"\\ud800"`` into a lone surrogate that cannot be
encoded as UTF-8, so the database, the API's answer and the editor fail on it later. Each is
refused here, naming the node and field where it was found. NUL characters are refused too
(PostgreSQL's JSON types cannot hold them).
"""
from __future__ import annotations

import json
import math
from typing import Any

MAX_INT = 2**63 - 1  # 64-bit: what every database, JSON reader and the canvas hold exactly
_SHOWN = 40


class StrictJsonError(ValueError):
    """Something a flow document must not contain, with where it was found."""

    def __init__(self, message: str, node_id: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id
        self.field = field


class _Duplicated(dict[str, Any]):
    """An object that had a key twice; reported with its place once the whole tree is built."""

    duplicate: str = ""


class _Refused:
    """A number the parser met that cannot be kept; reported with its place after parsing."""

    def __init__(self, why: str) -> None:
        self.why = why


def parse_strict(text: str) -> Any:
    """``json.loads`` with every refusal of this module; raises ``json.JSONDecodeError`` or
    :class:`StrictJsonError`."""
    data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float,
                      parse_int=_int)
    check_values(data)
    return data


def check_values(data: Any) -> None:
    """Walk a parsed document (or a dict given directly) and raise on the first refused value."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            _check_text(value, "text", data, path)
        elif isinstance(value, dict):
            if isinstance(value, _Duplicated):
                raise _error(f"duplicate key {show(value.duplicate)} (each key may appear once in an object)",
                             data, path)
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _error(f"key {show(key)} is not a string", data, path)
                _check_text(key, "key", data, path)
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, position)) for position, item in enumerate(value))
        elif isinstance(value, _Refused):
            raise _error(value.why, data, path)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _error(f"{value!r} is not a number JSON can hold", data, path)
        elif isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT - 1 <= value <= MAX_INT:
            raise _error(f"the integer has {len(str(abs(value)))} digits; integers must fit in 64 bits "
                         f"(at most {MAX_INT})", data, path)


def show(value: Any) -> str:
    """A short, always-encodable rendering of a value for a message (surrogates escaped)."""
    text = repr(value)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            marked = _Duplicated(out)
            marked.duplicate = key
            return marked
        out[key] = value
    return out


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON number: write a finite number, or a string")


def _float(text: str) -> float | _Refused:
    value = float(text)
    if not math.isfinite(value):
        return _Refused(f"the number {show(text)} is too large for a float")
    return value


def _int(text: str) -> int | _Refused:
    digits = len(text) - text.startswith("-")
    if digits > len(str(MAX_INT)):
        return _Refused(f"the integer has {digits} digits; integers must fit in 64 bits (at most {MAX_INT})")
    value = int(text)
    if not -MAX_INT - 1 <= value <= MAX_INT:
        return _Refused(f"the integer {text} does not fit in 64 bits (at most {MAX_INT})")
    return value


def _check_text(text: str, what: str, data: Any, path: tuple[str | int, ...]) -> None:
    if text.isascii():
        if "\x00" in text:
            raise _error(f"a {what} holds a NUL character (\\u0000), which cannot be stored", data, path)
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise _error(f"a {what} holds a lone surrogate \\u{code:04x} at character {exc.start + 1}, "
                     "which is not a character (it cannot be encoded as UTF-8)", data, path) from None
    if "\x00" in text:
        raise _error(f"a {what} holds a NUL character (\\u0000), which cannot be stored", data, path)


def _error(problem: str, data: Any, path: tuple[str | int, ...]) -> StrictJsonError:
    """Name the node (by id) and the field, as validation problems do."""
    parts = [p if isinstance(p, int) or _plain(p) else show(p) for p in path]
    if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
        nodes = data.get("nodes") if isinstance(data, dict) else None
        node = nodes[path[1]] if isinstance(nodes, list) and path[1] < len(nodes) else None
        raw_id = node.get("id") if isinstance(node, dict) else None
        node_id = raw_id if isinstance(raw_id, str) and _plain(raw_id) else None
        field = ".".join(str(p) for p in parts[2:]) or "node"
        who = f"node {node_id!r}" if node_id else f"node #{path[1] + 1}"
        return StrictJsonError(f"{who}, field {field!r}: {problem}", node_id=node_id, field=field)
    field = ".".join(str(p) for p in parts)
    if not field:
        return StrictJsonError(f"the document: {problem}")
    return StrictJsonError(f"field {field!r}: {problem}", field=field)


def _plain(text: str) -> bool:
    return len(text) <= _SHOWN and text.isprintable() and text.encode("utf-8", "ignore").decode("utf-8") == text
