"""Calls that can make something big, checked before they run: the methods of a string (or
bytes) that pad, repeat or split, and the globals ``range`` and ``lipsum``."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from jinja2.utils import generate_lorem_ipsum

from .budget import Budget, current
from .limits import figure, refuse
from .sizes import STRINGS, check_sequence, check_string, lines, materialize, replaced_size


def arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    """An argument passed by position ``index`` or by ``name``."""
    return args[index] if len(args) > index else kwargs.get(name, default)


def string_method(budget: Budget, owner: Any, name: str, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Checks before a method of a string (or bytes) that can make a long one runs; returns the
    arguments to call it with (``join`` gets its items gone through once, ``split`` a limit)."""
    if name in ("center", "ljust", "rjust", "zfill"):
        width = arg(args, kwargs, 0, "width", None)
        if isinstance(width, int):
            check_string(budget, max(width, len(owner)), f"{name}()")
    elif name == "expandtabs":
        size = arg(args, kwargs, 0, "tabsize", 8)
        if isinstance(size, int):
            tabs = owner.count("\t" if isinstance(owner, str) else b"\t")
            check_string(budget, len(owner) + tabs * max(size, 0), "expandtabs()")
    elif name == "replace":
        if len(args) >= 2 and isinstance(args[0], type(owner)) and isinstance(args[1], type(owner)):
            count = arg(args, kwargs, 2, "count", -1)
            check_string(budget, replaced_size(owner, args[0], args[1], count), "replace()")
    elif name == "join" and args:
        items = materialize(budget, args[0], "join()")
        size = len(owner) * max(len(items) - 1, 0)
        for item in items:
            if isinstance(item, STRINGS):
                size += len(item)
        check_string(budget, size, "join()")
        args = (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping) and args[0]:
        longest = max((len(v) for v in args[0].values() if isinstance(v, STRINGS)), default=1)
        check_string(budget, len(owner) * max(longest, 1), "translate()")
    elif name in ("split", "rsplit") and len(args) < 2 and "maxsplit" not in kwargs:
        sep = args[0] if args else kwargs.pop("sep", None)
        args = (sep, budget.limits.items)  # one piece more than the limit at most: refused after
    elif name == "splitlines" and len(owner) > budget.limits.items:
        check_sequence(budget, lines(owner), "splitlines()")
    return args, kwargs


def bounded_range(*args: Any) -> range:
    rng = range(*args)
    try:
        size: float = len(rng)
    except OverflowError:
        size = math.inf
    limit = current().limits.range_items
    if size > limit:
        raise refuse(f"range() would have {figure(size)} items", limit)
    return rng


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # Jinja's names
    limit = current().limits.lipsum_words
    if isinstance(n, int) and isinstance(max, int) and n * max > limit:
        raise refuse(f"lipsum() would write up to {figure(n * max)} words", limit)
    return generate_lorem_ipsum(n, html, min, max)
