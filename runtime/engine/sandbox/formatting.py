"""Formatting: ``'%'`` on a string, the ``format`` filter and ``str.format``. No width over the
limit, and not more text than a string may hold, checked before the text is made."""
from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping
from functools import update_wrapper
from typing import Any

from jinja2.sandbox import SandboxedFormatter
from markupsafe import EscapeFormatter, Markup

from .budget import Budget, current
from .limits import TemplateLimitError, figure, refuse
from .sizes import check_string, weigh

_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.?)", re.S)


def _width(budget: Budget, digits: str, what: str) -> int:
    """A width or precision written in a format, refused past the limit (a long one unparsed)."""
    limit = budget.limits.format_width
    if len(digits) > 9:
        raise refuse(f"{what} with a width of {len(digits)} digits", limit)
    width = int(digits)
    if width > limit:
        raise refuse(f"{what}: a width of {figure(width)}", limit)
    return width


def check_percent(budget: Budget, fmt: str, args: Any) -> None:
    """``fmt % args``: no width over the limit, and not more text than a string may hold."""
    limits = budget.limits
    positional = args if type(args) is tuple else (args,)
    mapping = args if isinstance(args, Mapping) else None
    total = len(fmt)
    index = 0
    for count, match in enumerate(_PERCENT.finditer(fmt)):
        key, width, precision, conversion = match.groups()
        if conversion == "%":
            continue
        if width == "*" or precision == "*":
            raise TemplateLimitError("a '*' width in a '%' format is not allowed in templates")
        size = 0
        for digits in (width, precision):
            if digits:
                size = max(size, _width(budget, digits, "a '%' format"))
        if precision and conversion in "eEfFgG":
            size += 330  # the digits before the point of the largest float
        if key is not None and mapping is not None:
            value = mapping.get(key)
        elif index < len(positional):
            value = positional[index]
            index += 1
        else:
            value = None
        total += size + weigh(budget, value)[1]
        if total > limits.string_chars:
            raise refuse(f"the '%' format would write more than {figure(total)} characters", limits.string_chars)
        if count & 1023 == 1023:
            budget.tick()
    check_string(budget, total, "the '%' format")


class _BoundedFormatter(SandboxedFormatter):
    """``str.format``: no width over the limit, and not more text than a string may hold."""

    def __init__(self, env: Any, budget: Budget, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._budget = budget
        self._written = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = self._budget
        for digits in re.findall(r"\d+", format_spec):
            _width(budget, digits, "a format")
        budget.tick()
        text = super().format_field(value, format_spec)
        self._written += len(text)
        if self._written > budget.limits.string_chars:
            raise refuse(f"str.format() would write more than {figure(self._written)} characters",
                         budget.limits.string_chars)
        return text


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


def bounded_str_format(env: Any, value: Any) -> Callable[..., str] | None:
    """``str.format`` and ``str.format_map`` of a string, through the bounded formatter (what
    ``SandboxedEnvironment.wrap_str_format`` does with Jinja's formatter); None for anything else."""
    if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
            "format", "format_map"):
        return None
    f_self: Any = value.__self__
    if not isinstance(f_self, str):
        return None
    str_type: type[str] = type(f_self)
    is_format_map = value.__name__ == "format_map"
    escape = f_self.escape if isinstance(f_self, Markup) else None

    def wrapper(*args: Any, **kwargs: Any) -> str:
        if is_format_map:
            if kwargs:
                raise TypeError("format_map() takes no keyword arguments")
            if len(args) != 1:
                raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
            kwargs = args[0]
            args = ()
        budget = current()
        formatter = (_BoundedEscapeFormatter(env, budget, escape=escape) if escape is not None
                     else _BoundedFormatter(env, budget))
        return str_type(formatter.vformat(f_self, args, kwargs))

    return update_wrapper(wrapper, value)
