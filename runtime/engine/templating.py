"""Config templates: Jinja2 in a sandbox, compiled once per flow, rendered per run.

User text only ever arrives as a *value* in the context; it is never compiled, so a message
containing ``{{ 7*7 }}`` comes back literally. A string that is exactly one expression
(``"{{ products }}"``) renders to the value itself (a list stays a list).
"""
from __future__ import annotations

import copy
import re
from collections import ChainMap
from typing import Any, Callable

from jinja2 import StrictUndefined, TemplateError, Undefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from ..errors import NodeError

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
# "{{ name }}" and "{{ name | default('') }}": most config templates; looked up directly.
_PLAIN_NAME = re.compile(
    r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:\|\s*default\(\s*(?:(?P<default>''|\"\"|none|None|0|\[\])|(?P<other>[A-Za-z_][A-Za-z0-9_]*))\s*\))?\s*$"
)
_LITERALS = {"''": "", '""': "", "none": None, "None": None, "0": 0, "[]": []}
_RESERVED = {"true", "false", "none", "True", "False", "None", "range", "dict", "lipsum", "cycler", "joiner", "namespace"}
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{|\{%).)*)\}\}\s*$", re.S)

Renderer = Callable[[dict[str, Any]], Any]


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def has_templates(value: Any) -> bool:
    if isinstance(value, dict):
        return any(has_templates(v) for v in value.values())
    if isinstance(value, list):
        return any(has_templates(v) for v in value)
    return is_template(value)


def compile_value(value: Any, where: str) -> Renderer:
    """Compile a config value (recursively) into a function of the context values."""
    if isinstance(value, dict):
        parts = {k: compile_value(v, f"{where}.{k}") for k, v in value.items()}
        return lambda ctx: {k: render(ctx) for k, render in parts.items()}
    if isinstance(value, list):
        items = [compile_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return lambda ctx: [render(ctx) for render in items]
    if not is_template(value):
        return lambda ctx: value
    return _compile_string(value, where)


def _compile_string_slow(text: str, where: str) -> Renderer:
    return _compile_string(text, where, fast=False)


def _compile_string(text: str, where: str, fast: bool = True) -> Renderer:
    single = _SINGLE_EXPRESSION.match(text)
    plain = _PLAIN_NAME.match(single.group("expr")) if single and fast else None
    if plain and plain.group("name") not in _RESERVED and plain.group("other") not in _RESERVED:
        return _compile_lookup(plain.group("name"), plain.group("default"), plain.group("other"), text, where)
    try:
        if single:
            expression = _ENV.compile_expression(single.group("expr"), undefined_to_none=False)

            def render_expression(ctx: dict[str, Any]) -> Any:
                value = _guard(lambda: expression(**ctx), where)
                # a copy: a node's config must not alias live run state (e.g. {{ nodes }})
                return copy.deepcopy(value) if isinstance(value, (dict, list)) else value

            return render_expression
        template = _ENV.from_string(text)
    except TemplateError as exc:
        raise NodeError(f"{where}: template error: {exc}") from None

    def render_template(ctx: dict[str, Any]) -> str:
        # Template.render would copy the context and the globals on every call; a ChainMap
        # over both gives the same lookups without the copies.
        def render() -> str:
            context = template.new_context(ChainMap(ctx, template.globals), shared=True)  # type: ignore[arg-type]
            return "".join(template.root_render_func(context))

        return _guard(render, where)

    return render_template


def _compile_lookup(name: str, default: str | None, other: str | None, text: str, where: str) -> Renderer:
    """``{{ name }}`` without Jinja: a dict lookup (plus a copy of containers, as below)."""
    fallback = _compile_string_slow(text, where)

    def lookup(ctx: dict[str, Any]) -> Any:
        if name in ctx:
            value = ctx[name]
        elif default is not None:
            value = _LITERALS[default]
        elif other is not None and other in ctx:
            value = ctx[other]
        else:
            return fallback(ctx)  # Jinja reports the undefined name the usual way
        return copy.deepcopy(value) if isinstance(value, (dict, list)) else value

    return lookup


def _guard(call: Callable[[], Any], where: str) -> Any:
    try:
        value = call()
    except UndefinedError as exc:
        raise NodeError(f"{where}: {exc.message} (use '| default(...)' for optional values)") from None
    except SecurityError as exc:
        raise NodeError(f"{where}: refused by the template sandbox: {exc}") from None
    except TemplateError as exc:
        raise NodeError(f"{where}: template error: {exc}") from None
    except Exception as exc:  # an expression that raises (1/0, bad attribute on a value)
        raise NodeError(f"{where}: template failed: {type(exc).__name__}: {exc}") from None
    if isinstance(value, Undefined):
        name = getattr(value, "_undefined_name", None) or "a value"
        raise NodeError(f"{where}: {name!r} is undefined (use '| default(...)' for optional values)")
    return value


def check_template(value: Any, where: str) -> list[str]:
    """Syntax errors in a config value's templates, for validation (compiles, renders nothing)."""
    try:
        compile_value(value, where)
    except NodeError as exc:
        return [str(exc)]
    return []
