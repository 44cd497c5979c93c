"""Sizes: a string, list or integer an operation would make is checked *before* it is made, and
a value a template builds is weighed (items and characters, a part that appears several times
counted each time), so that everything done later with it (printing, comparing, serialising) is
bounded by the weight limits."""
from __future__ import annotations

from collections import abc
from collections.abc import Iterable
from typing import Any

from jinja2.runtime import Undefined
from markupsafe import Markup

from .budget import Budget
from .limits import TemplateLimitError, TemplateLimits, figure, refuse

STRINGS = (str, bytes, bytearray)
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def digits(value: int) -> int:
    return value.bit_length() * 77 // 256 + 2  # log10(2) ~ 77/256, and a sign


def length(value: Any) -> int | None:
    try:
        return len(value)
    except Exception:  # noqa: BLE001 - a generator, an undefined value
        return None


def lines(text: Any) -> int:
    """How many lines ``text`` splits into (every break ``str.splitlines`` knows)."""
    if isinstance(text, str):
        return sum(text.count(c) for c in _LINE_BREAKS) + 1
    return text.count(b"\n") + text.count(b"\r") + 1


def replaced_size(text: Any, old: Any, new: Any, count: Any) -> int:
    """The length of ``text.replace(old, new, count)``, without making it."""
    found = text.count(old) if len(old) else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


# -- before making something ---------------------------------------------------------------------

def check_string(budget: Budget, size: int, what: str = "the result") -> None:
    """Before making a string of ``size`` characters."""
    if size > budget.limits.string_chars:
        raise refuse(f"{what} would be {figure(size)} characters long", budget.limits.string_chars)
    budget.allocate(size)


def check_sequence(budget: Budget, size: int, what: str = "the result") -> None:
    """Before making a list or tuple of ``size`` items."""
    if size > budget.limits.items:
        raise refuse(f"{what} would have {figure(size)} items", budget.limits.items)
    budget.allocate(size)


def check_through(budget: Budget, value: Any, what: str) -> None:
    """Before going through ``value`` item by item in Python (a filter, a join)."""
    size = length(value)
    if size is not None and size > budget.limits.items:
        raise refuse(f"{what} would go through {figure(size)} items", budget.limits.items)


def check_integer(budget: Budget, bits: float, what: str) -> None:
    if bits > budget.limits.int_bits:
        raise refuse(f"{what} would make an integer of about {figure(bits)} bits", budget.limits.int_bits)


def materialize(budget: Budget, value: Any, what: str) -> list[Any] | tuple[Any, ...]:
    """The items of ``value`` as a list or tuple, refused once there are more than the limit (a
    generator is gone through only that far)."""
    if isinstance(value, (list, tuple)):
        check_through(budget, value, what)
        return value
    if isinstance(value, (*STRINGS, abc.Sized)) and not isinstance(value, Undefined):
        check_through(budget, value, what)
    items: list[Any] = []
    limit = budget.limits.items
    for item in value:
        items.append(item)
        if len(items) & 1023 == 0:
            if len(items) > limit:
                raise refuse(f"{what} would go through more than {figure(len(items))} items", limit)
            budget.tick()
    if len(items) > limit:
        raise refuse(f"{what} would go through {figure(len(items))} items", limit)
    return items


# -- weights ---------------------------------------------------------------------------------------

def _too_deep(limits: TemplateLimits) -> TemplateLimitError:
    return refuse("the value nests too deeply", limits.nesting, " levels")


def _too_heavy(limits: TemplateLimits, items: int, chars: int, items_bound: str,
               chars_bound: str) -> TemplateLimitError:
    """Over a weight limit (items first); ``*_bound``: "more than " for a count still going."""
    if items > limits.weight_items:
        return refuse(f"the value would have {items_bound}{figure(items)} items (a shared part counted each "
                      "time it appears)", limits.weight_items)
    return refuse(f"the value would print as {chars_bound}{figure(chars)} characters (a shared part counted "
                  "each time it appears)", limits.weight_chars)


def weigh(budget: Budget, value: Any) -> tuple[int, int, int]:
    """(items, characters, depth) of ``value``, a part that appears twice counted twice;
    refuses a value over the weight limits as soon as the count passes them. (The plain values
    and the memo are looked at here first: most values weighed are those.)"""
    kind = type(value)
    if kind is str:
        return 1, len(value), 0
    if kind is int:
        return 1, digits(value), 0
    if kind is float or kind is bool or value is None:
        return 1, 8, 0
    hit = budget.memo.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1], hit[2], hit[3]
    return _weigh(budget, value, 0)


def _weigh(budget: Budget, value: Any, level: int) -> tuple[int, int, int]:
    if isinstance(value, STRINGS):
        return 1, len(value), 0
    if isinstance(value, (int, float)):
        return 1, digits(value) if isinstance(value, int) else 8, 0
    if isinstance(value, range):
        return 1, 24, 0  # prints briefly; going through it counts loop turns
    if isinstance(value, (list, tuple, set, frozenset, abc.KeysView, abc.ValuesView)):
        children: Iterable[Any] = value
        pairs = False
    elif isinstance(value, abc.ItemsView):
        children = value
        pairs = True
    elif isinstance(value, dict):
        children = value.items()
        pairs = True
    else:
        return 1, 16, 0  # an object of its own (a namespace, a loop, a macro) prints briefly
    key = id(value)
    memo = budget.memo
    hit = memo.get(key)
    if hit is not None and hit[0] is value:
        return hit[1], hit[2], hit[3]
    limits = budget.limits
    if level >= limits.nesting:
        raise _too_deep(limits)
    memo[key] = (value, 1, 2, 0)  # while in progress: a cycle counts once
    items, chars, depth = 1, 2, 0
    for child in children:
        parts: tuple[Any, ...] = child if pairs else (child,)
        for part in parts:
            kind = type(part)
            if kind is str:
                items += 1
                chars += len(part) + 4
                continue
            if kind is int or kind is float or kind is bool or part is None:
                items += 1
                chars += 8
                continue
            hit = memo.get(id(part))
            if hit is not None and hit[0] is part:
                ci, cc, cd = hit[1], hit[2], hit[3]
            else:
                ci, cc, cd = _weigh(budget, part, level + 1)
            items += ci
            chars += cc + 2
            if cd >= depth:
                depth = cd
        if items > limits.weight_items or chars > limits.weight_chars:
            raise _too_heavy(limits, items, chars, "more than ", "more than ")
        if items & 1023 == 0 and budget.clock() > budget.deadline:
            raise budget.late()
    depth += 1
    if depth > limits.nesting:
        raise _too_deep(limits)
    memo[key] = (value, items, chars, depth)
    return items, chars, depth


def check_weight(budget: Budget, items: int, chars: int, depth: int) -> None:
    """Before making a value of that weight (from the weights of its parts)."""
    limits = budget.limits
    if items > limits.weight_items or chars > limits.weight_chars:
        raise _too_heavy(limits, items, chars, "", "about ")
    if depth > limits.nesting:
        raise _too_deep(limits)


def remember(budget: Budget, value: Any, items: int, chars: int, depth: int) -> Any:
    """``value``, made with the weight checked before: kept so that it is not weighed again."""
    check_weight(budget, items, chars, depth)
    budget.memo[id(value)] = (value, items, chars, depth)
    return value


def check_arguments(budget: Budget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """The arguments of a call, weighed together: a callee may keep them all (a macro's
    ``varargs``, ``cycler(...).items``, ``dict(...)``)."""
    items, chars, depth = 1, 2, 0
    for name, value in (*enumerate(args), *kwargs.items()):
        if name == "_loop_vars" or name == "_block_vars":
            continue  # Jinja's own, not passed on
        kind = type(value)
        if kind is str:
            items += 1
            chars += len(value)
        elif kind is int or kind is float or kind is bool or value is None:
            items += 1
            chars += 8
        else:
            i, c, d = weigh(budget, value)
            items += i
            chars += c
            depth = max(depth, d)
    check_weight(budget, items, chars, depth + 1)


def made(budget: Budget, value: Any) -> Any:
    """A value an operation made (or a literal with computed parts): a string's length, a
    container's weight."""
    kind = type(value)
    if kind is str or kind is Markup:
        check_string(budget, len(value))
    elif kind is list or kind is tuple or kind is dict or isinstance(value, (list, tuple, dict, set, frozenset)):
        budget.allocate(len(value))
        weigh(budget, value)
    elif isinstance(value, STRINGS):
        check_string(budget, len(value))
    return value
