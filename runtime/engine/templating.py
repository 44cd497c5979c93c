"""Config templates: Jinja2 in a bounded sandbox, compiled once per flow, rendered per run.

User text only ever arrives as a *value* in the context; it is never compiled, so a message
containing ``{{ 7*7 }}`` comes back literally. A string that is exactly one expression
(``"{{ products }}"``) renders to the value itself (a list stays a list).

Templates come from tenants, so neither compiling nor rendering one may hold the event loop:
compiling folds nothing (it only parses, and a template's size is capped before it is parsed),
and a render runs under a :class:`~.sandbox.Budget` (time, loop turns, calls, sizes; see
``sandbox/``). One node's config is rendered under one budget, its time the sandbox's limit
(``TemplateLimits.render_s``) or the node's ``timeout_s`` if that is shorter. Whatever a render
raises comes back as a :class:`NodeError` naming the field.

Validation tries each template once with every variable standing for "anything" (see
:class:`TemplateCheck`): a template that meets a count or size limit by itself
(``{{ 9**10000000 }}``, a loop of a billion turns, a macro calling itself twice) is a problem of
its node and field before it is ever stored or run. What only a run's values set off is refused
by that run's budget, as a clear error of the node.
"""
from __future__ import annotations

import copy
import re
import threading
from collections import ChainMap, OrderedDict
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, TypeVar, cast

from jinja2 import Template, TemplateError, Undefined, UndefinedError
from jinja2 import nodes as jinja_nodes
from jinja2.environment import TemplateExpression
from jinja2.runtime import Context
from jinja2.sandbox import SecurityError

from ..errors import NodeError
from . import sandbox
from .sandbox import (
    DEFAULT_LIMITS,
    BoundedEnvironment,
    Budget,
    TemplateLimitError,
    TemplateLimits,
    TemplateTimeout,
    TrialVars,
    render_clock,
)

_ENV = BoundedEnvironment(DEFAULT_LIMITS)
# "{{ name }}" and "{{ name | default('') }}": most config templates; looked up directly.
_PLAIN_NAME = re.compile(
    r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:\|\s*default\(\s*(?:(?P<default>''|\"\"|none|None|0|\[\])|(?P<other>[A-Za-z_][A-Za-z0-9_]*))\s*\))?\s*$"
)
_LITERALS: dict[str, Any] = {"''": "", '""': "", "none": None, "None": None, "0": 0, "[]": []}
_RESERVED = {
    "true", "false", "none", "True", "False", "None", "range", "dict", "lipsum", "cycler", "joiner", "namespace",
}
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


def compile_config(config: Any, where: str = "config", timeout_s: float | None = None,
                   limits: TemplateLimits = DEFAULT_LIMITS) -> Renderer:
    """A node's config compiled into a function of the context values. The fields rendered by
    Jinja share one budget: the sandbox's time limit, or ``timeout_s`` (the node's) if shorter."""
    render, uses_jinja = _compile(config, where)
    if not uses_jinja:
        return render  # plain lookups only: nothing to bound
    seconds, why = limits.render_s, "the template time limit"
    if timeout_s and timeout_s < seconds:
        seconds, why = timeout_s, "the node's timeout_s"

    def render_bounded(ctx: dict[str, Any]) -> Any:
        previous = sandbox.activate(Budget(limits, seconds, why))
        try:
            return render(ctx)
        finally:
            sandbox.activate(previous)

    return render_bounded


def _compile(value: Any, where: str) -> tuple[Renderer, bool]:
    """A config value (recursively) as a function of the context values, and whether any part
    of it renders with Jinja (then a render needs a budget; plain lookups do not)."""
    if isinstance(value, dict):
        compiled = {k: _compile(v, f"{where}.{k}") for k, v in value.items()}
        parts = {k: render for k, (render, _) in compiled.items()}
        uses_jinja = any(jinja for _, jinja in compiled.values())
        return (lambda ctx: {k: render(ctx) for k, render in parts.items()}), uses_jinja
    if isinstance(value, list):
        compiled_items = [_compile(v, f"{where}[{i}]") for i, v in enumerate(value)]
        items = [render for render, _ in compiled_items]
        return (lambda ctx: [render(ctx) for render in items]), any(jinja for _, jinja in compiled_items)
    if not is_template(value):
        return (lambda ctx: value), False
    return _compile_string(value, where)


def _compile_string_slow(text: str, where: str) -> Renderer:
    return _compile_string(text, where, fast=False)[0]


def _compile_string(text: str, where: str, fast: bool = True) -> tuple[Renderer, bool]:
    single = _SINGLE_EXPRESSION.match(text)
    plain = _PLAIN_NAME.match(single.group("expr")) if single and fast else None
    if plain and plain.group("name") not in _RESERVED and plain.group("other") not in _RESERVED:
        return _compile_lookup(plain.group("name"), plain.group("default"), plain.group("other"), text, where), False
    if single:
        expression = _compiled(_expression_of, single.group("expr"), where)

        def render_expression(ctx: dict[str, Any]) -> Any:
            def evaluate() -> Any:
                value = expression(**ctx)
                # a copy: a node's config must not alias live run state (e.g. {{ nodes }})
                return copy.deepcopy(value) if isinstance(value, (dict, list)) else value

            return _guard(evaluate, where)

        return render_expression, True
    template = _compiled(_template_of, text, where)
    limit = DEFAULT_LIMITS.output_chars
    # Template.new_context is annotated for a dict but only reads the mapping it shares (shared=True):
    # a ChainMap of ctx over the globals gives it the lookups without copying either per render.
    # Bound once here, so the cast costs nothing per render.
    new_context = cast(Callable[[Mapping[str, Any], bool], Context], template.new_context)
    globals_ = template.globals

    def render_template(ctx: dict[str, Any]) -> str:
        # Template.render would copy the context and the globals on every call; a ChainMap
        # over both gives the same lookups without the copies.
        def render() -> str:
            context = new_context(ChainMap(ctx, globals_), True)
            text = "".join(template.root_render_func(context))  # the budget bounds what the parts hold
            if len(text) > limit:
                raise TemplateLimitError(f"the template writes {len(text):,} characters; the limit is {limit:,}")
            return text

        return _guard(render, where)

    return render_template, True


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


# -- compiling: bounded in size, cached --------------------------------------------------------

class _TooBig(Exception):
    pass


_Compiled = TypeVar("_Compiled", Template, TemplateExpression)


def _check_size(text: str, limits: TemplateLimits = DEFAULT_LIMITS) -> int:
    """The template's size in tokens (about what compiling it costs); :class:`_TooBig` past the limits."""
    if len(text) > limits.template_chars:
        raise _TooBig(f"the template is {len(text):,} characters long; the limit is {limits.template_chars:,}")
    tokens = sandbox.template_size(text)
    if tokens > limits.template_tokens:
        raise _TooBig(f"the template has about {tokens:,} tokens inside {{{{ }}}} and {{% %}}; the limit is "
                      f"{limits.template_tokens:,}")
    return tokens


def syntax_tree(text: str) -> jinja_nodes.Template | None:
    """The template's syntax tree for reading what it reads (``jinja2.meta``), or None when it
    is over the size limits or does not parse. Parsed by the sandbox's environment: the code
    generator that ``meta`` runs folds constant expressions, and only the sandbox refuses to
    fold ``'x' * 10**9`` at that point (a plain Environment would build it)."""
    try:
        _check_size(text)
        return _ENV.parse(text)
    except (_TooBig, TemplateError):
        return None


@lru_cache(maxsize=1024)
def _template_of(text: str) -> Template:
    _check_size(text)
    return _ENV.from_string(text)


@lru_cache(maxsize=1024)
def _expression_of(expr: str) -> TemplateExpression:
    _check_size("{{" + expr + "}}")
    return _ENV.compile_expression(expr, undefined_to_none=False)


def _compiled(compile_: Callable[[str], _Compiled], source: str, where: str) -> _Compiled:
    """``compile_(source)`` (``_template_of`` or ``_expression_of``); a failure as a NodeError naming ``where``."""
    try:
        return compile_(source)
    except Exception as exc:  # noqa: BLE001 - every failure to compile is the template's problem
        raise NodeError(f"{where}: {_compile_error(exc)}") from None


def _compile_error(exc: BaseException) -> str:
    if isinstance(exc, _TooBig):
        return f"template too large to compile: {exc}"
    if isinstance(exc, TemplateError):
        return f"template error: {exc}"
    if isinstance(exc, RecursionError):
        return "template error: it nests too deeply to compile"
    return f"template error: {type(exc).__name__}: {_short(exc)}"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:300]


# -- rendering ------------------------------------------------------------------------------

def _guard(call: Callable[[], Any], where: str) -> Any:
    """Run one render under the active budget (its own when none is); any exception it raises
    comes back as a :class:`NodeError` naming ``where``."""
    own = sandbox.active() is None
    if own:
        sandbox.activate(Budget())
    try:
        value = call()
    except UndefinedError as exc:
        raise NodeError(f"{where}: {exc.message} (use '| default(...)' for optional values)") from None
    except SecurityError as exc:  # a limit of the bounded sandbox too
        raise NodeError(f"{where}: refused by the template sandbox: {exc}") from None
    except TemplateError as exc:
        raise NodeError(f"{where}: template error: {exc}") from None
    except RecursionError:
        raise NodeError(f"{where}: refused by the template sandbox: the template nests too deeply") from None
    except MemoryError:
        raise NodeError(f"{where}: refused by the template sandbox: out of memory") from None
    except Exception as exc:  # noqa: BLE001 - an expression that raises (1/0, bad attribute on a value)
        raise NodeError(f"{where}: template failed: {type(exc).__name__}: {_short(exc)}") from None
    finally:
        if own:
            sandbox.activate(None)
    if isinstance(value, Undefined):
        name = getattr(value, "_undefined_name", None) or "a value"
        raise NodeError(f"{where}: {name!r} is undefined (use '| default(...)' for optional values)")
    return value


# -- validation ---------------------------------------------------------------------------------

class TemplateCheck:
    """The templates of one flow, checked together: what compiling them parses and the CPU time
    trying them takes are bounded for the whole flow (``flow_template_tokens``, ``check_s``), and
    a verdict is kept per template text (the same text is not tried twice in a process)."""

    def __init__(self, limits: TemplateLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.tokens = 0
        self.seconds = limits.check_s
        self.over = False  # the flow's templates passed the token limit: the rest are not compiled

    def problems(self, value: Any, where: str) -> list[tuple[str, str]]:
        """(path, message) for each template in ``value`` that does not compile or meets a limit."""
        found: list[tuple[str, str]] = []
        self._visit(value, where, found)
        return found

    def _visit(self, value: Any, where: str, found: list[tuple[str, str]]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self._visit(item, f"{where}.{key}", found)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self._visit(item, f"{where}[{i}]", found)
        elif is_template(value):
            message = self._one(value)
            if message is not None:
                found.append((where, message))

    def _one(self, text: str) -> str | None:
        limits = self.limits
        try:
            tokens = _check_size(text, limits)
        except _TooBig as exc:
            return _compile_error(exc)
        single = _SINGLE_EXPRESSION.match(text)
        plain = _PLAIN_NAME.match(single.group("expr")) if single else None
        if plain and plain.group("name") not in _RESERVED and plain.group("other") not in _RESERVED:
            return None  # a lookup: Jinja compiles it only for its error message, once per text
        if self.over:
            return None
        self.tokens += tokens
        if self.tokens > limits.flow_template_tokens:
            self.over = True
            return (f"template too large to compile: the flow's templates have about {self.tokens:,} tokens in all "
                    f"so far; the limit is {limits.flow_template_tokens:,} (the templates after this one are "
                    "not checked)")
        try:
            template = _expression_of(single.group("expr"))._template if single else _template_of(text)
        except Exception as exc:  # noqa: BLE001 - every failure to compile is the template's problem
            return _compile_error(exc)
        with _VERDICTS_LOCK:  # validation also runs in worker threads (the API's saves)
            if text in _VERDICTS:
                _VERDICTS.move_to_end(text)
                return _VERDICTS[text]
        if self.seconds <= 0:
            return None  # the flow's time to try templates is spent: the rest are bounded at run time
        started = render_clock()  # CPU time: a busy machine does not change what is found
        seconds = min(limits.render_s, self.seconds)
        verdict = _try(template, seconds, limits)
        took = render_clock() - started
        self.seconds -= took
        if verdict is None and took >= seconds:
            return None  # out of time: not a verdict to keep
        with _VERDICTS_LOCK:
            _VERDICTS[text] = verdict
            if len(_VERDICTS) > 1024:
                _VERDICTS.popitem(last=False)
        return verdict


_VERDICTS: OrderedDict[str, str | None] = OrderedDict()  # template text -> what trying it found
_VERDICTS_LOCK = threading.Lock()


def _try(template: Template, seconds: float, limits: TemplateLimits) -> str | None:
    """Render ``template`` once with every variable standing for anything: the limit it meets
    by itself (a problem), or None (whatever else happens depends on the values of a run).
    Only counts and sizes are findings: how long a render takes depends on the machine and on
    what else validation tried first, so running out of time here finds nothing (a run is
    bounded in time anyway)."""
    previous = sandbox.activate(Budget(limits, seconds, "the time validation gives one template"))
    try:
        context = template.new_context(TrialVars(template.globals), shared=True)
        written = 0
        for piece in template.root_render_func(context):
            written += len(piece)
        if written > limits.output_chars:
            raise TemplateLimitError(f"the template writes {written:,} characters; the limit is "
                                     f"{limits.output_chars:,}")
    except TemplateTimeout:
        return None
    except TemplateLimitError as exc:
        return f"refused by the template sandbox: {exc}"
    except RecursionError:
        return "refused by the template sandbox: the template nests too deeply"
    except MemoryError:
        return "refused by the template sandbox: out of memory"
    except Exception:  # noqa: BLE001 - it needs the values of a run; checked then
        return None
    finally:
        sandbox.activate(previous)
    return None


def template_problems(value: Any, where: str, check: TemplateCheck | None = None) -> list[tuple[str, str]]:
    """(path, message) for the templates in a config value that are refused (compiles and tries
    them; renders nothing a run would see)."""
    return (check or TemplateCheck()).problems(value, where)


def check_template(value: Any, where: str) -> list[str]:
    """The problems of a config value's templates as ``"path: message"`` lines, for validation."""
    return [f"{path}: {message}" for path, message in template_problems(value, where)]
