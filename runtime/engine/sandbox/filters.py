"""Jinja's filters, bounded: each checks the budget (and, for those that can make or go through
something big, the size) before it runs, and the length of a string it makes after."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from jinja2 import pass_environment
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.utils import _PassArg

from .budget import Budget, current
from .formatting import check_percent
from .limits import figure, refuse
from .loops import loop
from .operators import add
from .safe_calls import arg
from .sizes import (
    STRINGS,
    check_sequence,
    check_string,
    check_through,
    check_weight,
    lines,
    materialize,
    replaced_size,
    weigh,
)

# a check before a filter runs: (budget, the filtered value, the other arguments, the keywords)
Check = Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], None]


def _items(environment: Any, value: Any, attribute: Any, what: str) -> tuple[Budget, Any]:
    """The budget, and the items of ``value`` (gone through once, bounded), or their ``attribute``."""
    budget = current()
    budget.tick()
    items: Any = materialize(budget, value, what)
    if attribute is not None:
        getter = make_attrgetter(environment, attribute)
        items = [getter(item) for item in items]
    return budget, items


@pass_environment
def _join(environment: Any, value: Any, d: Any = "", attribute: Any = None) -> str:
    sep = d if type(d) is str else str(d)
    limit = current().limits.string_chars
    if sep and not isinstance(value, (list, tuple)):
        # no more items than the separators alone need to pass the limit: a long separator is
        # refused after a few items, not after going through (and validating) all of them
        value = itertools.islice(value, limit // len(sep) + 2)
    budget, items = _items(environment, value, attribute, "join")
    size = len(sep) * max(len(items) - 1, 0)
    texts = []
    for item in items:
        text = item if type(item) is str else str(item)
        size += len(text)
        if size > limit:
            raise refuse(f"join would make a string of more than {figure(size)} characters", limit)
        texts.append(text)
    check_string(budget, size, "join")
    return sep.join(texts)


@pass_environment
def _sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    budget, items = _items(environment, iterable, attribute, "sum")
    if isinstance(start, STRINGS):
        raise TypeError("sum() can't sum strings [use ''.join(seq) instead]")
    if all(type(item) in (int, float, bool) for item in items) and type(start) in (int, float, bool):
        return sum(items, start)
    total = start
    for count, item in enumerate(items):
        total = add(budget, total, item)
        if count & 255 == 255:
            budget.tick()
    return total


def _text(budget: Budget, value: Any, what: str, limit: int | None = None) -> str:
    text = value if type(value) is str else str(value)
    limit = budget.limits.text_filter_chars if limit is None else limit
    if len(text) > limit:
        raise refuse(f"{what} on {figure(len(text))} characters", limit)
    return text


def _check_center(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    width = arg(args, kwargs, 0, "width", 80)
    if isinstance(width, int):
        check_string(budget, width, "center")


def _check_indent(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    text = value if type(value) is str else str(value)
    width = arg(args, kwargs, 0, "width", 4)
    indention = len(width) if isinstance(width, str) else max(width, 0) if isinstance(width, int) else 0
    count = lines(text)
    check_sequence(budget, count, "indent")  # a Python step a line
    check_string(budget, len(text) + (count + 1) * indention, "indent")


def _check_format(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    check_percent(budget, value if type(value) is str else str(value), kwargs or args)


def _check_replace(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if len(args) >= 2:
        count = arg(args, kwargs, 2, "count", None)
        check_string(budget, replaced_size(str(value), str(args[0]), str(args[1]), count), "replace")


def _check_wordwrap(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    text = _text(budget, value, "wordwrap")
    width = arg(args, kwargs, 0, "width", 79)
    wrap = arg(args, kwargs, 2, "wrapstring", None)
    if isinstance(width, int) and width >= 1:
        breaks = len(text) // width + lines(text)
        check_string(budget, len(text) + breaks * (len(wrap) if isinstance(wrap, str) else 1), "wordwrap")


_SCANS = ("striptags", "wordcount")


def _check_words(name: str) -> Check:
    def check(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        _text(budget, value, name, budget.limits.scan_filter_chars if name in _SCANS else None)
    return check


def _check_tojson(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    indent = arg(args, kwargs, 0, "indent", None)
    if isinstance(indent, (int, str)) and not isinstance(indent, bool):
        items, chars, depth = weigh(budget, value)
        size = len(indent) if isinstance(indent, str) else max(indent, 0)
        check_string(budget, chars + items * (depth + 1) * size, "tojson with an indent")


def _check_pprint(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    items = weigh(budget, value)[0]
    if items > budget.limits.pprint_items:
        raise refuse(f"pprint of {figure(items)} items", budget.limits.pprint_items)


def _check_batch(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    check_through(budget, value, "batch")
    size = arg(args, kwargs, 0, "linecount", 1)
    fill = arg(args, kwargs, 1, "fill_with", None)
    if isinstance(size, int):
        if size > budget.limits.items:
            raise refuse(f"batch of {figure(size)} items", budget.limits.items)
        if fill is not None:
            items, chars, depth = weigh(budget, fill)
            check_weight(budget, 1 + items * size, 2 + chars * size, depth + 1)


def _check_slice(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    check_through(budget, value, "slice")
    slices = arg(args, kwargs, 0, "slices", 1)
    if isinstance(slices, int) and slices > budget.limits.items:
        raise refuse(f"slice into {figure(slices)} parts", budget.limits.items)


def _check_goes_through(name: str) -> Check:
    def check(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        check_through(budget, value, name)
    return check


_FILTER_CHECKS: dict[str, Check] = {
    "center": _check_center, "indent": _check_indent, "format": _check_format, "replace": _check_replace,
    "wordwrap": _check_wordwrap, "pprint": _check_pprint, "batch": _check_batch, "slice": _check_slice,
    "tojson": _check_tojson,
    **{name: _check_words(name) for name in ("title", "urlize", *_SCANS)},
    **{name: _check_goes_through(name) for name in ("list", "unique", "sort", "dictsort", "groupby", "min", "max",
                                                       "map", "select", "reject", "selectattr", "rejectattr",
                                                       "items", "xmlattr", "urlencode")},
}


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that checks its budget first and the length of a string it makes after. (A
    filter that returns a list or dict returns parts of its input: no heavier than it.)"""
    pass_arg = _PassArg.from_obj(func)
    offset = 0 if pass_arg is None else 1
    check = _FILTER_CHECKS.get(name)

    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.tick()
        if check is not None and len(args) > offset:
            check(budget, args[offset], args[offset + 1:], kwargs)
        result = func(*args, **kwargs)
        if isinstance(result, STRINGS):
            check_string(budget, len(result), f"the filter {name!r}")
        return result

    bounded.__name__ = bounded.__qualname__ = f"bounded_{name}"
    if pass_arg is not None:
        bounded.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]  # Jinja reads it to pass the context
    return bounded


def bounded_filters() -> dict[str, Callable[..., Any]]:
    """Every Jinja filter bounded, ``join`` and ``sum`` of our own (they go through their input
    once, bounded), and ``akis_loop``, which every ``{% for %}`` is compiled to go through."""
    filters = {name: _bounded_filter(name, func) for name, func in FILTERS.items()}
    filters.update(join=_join, sum=_sum, akis_loop=loop)
    return filters
