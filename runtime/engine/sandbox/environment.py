"""The bounded environment: Jinja's immutable sandbox with the hooks its generated code calls
(operators, calls, outputs, loops, literals) charging the active render's budget."""
from __future__ import annotations

import types
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.runtime import LoopContext, Macro, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError, _mutable_spec, is_internal_attribute
from jinja2.utils import Namespace

from .budget import Budget, current, local
from .compiling import BoundedCodeGenerator, literal_chars
from .filters import bounded_filters
from .formatting import bounded_str_format, check_percent
from .limits import DEFAULT_LIMITS, TemplateLimits, figure, refuse
from .loops import Counted
from .operators import add, multiply, power
from .safe_calls import bounded_lipsum, bounded_range, string_method
from .sizes import STRINGS, check_arguments, check_string, made


class _BoundedNamespace(Namespace):
    """``namespace()``: its attributes may change after a value holding it was weighed, so it
    prints as a name only."""

    def __repr__(self) -> str:
        return "<Namespace>"


@pass_context  # with the context: Jinja folds no output while compiling
def _finalize(context: Any, value: Any) -> str:
    """Every ``{{ }}`` output: written text counts against the budget (:meth:`Budget.write`,
    inlined for the common case: this runs for every output)."""
    text = value if type(value) is str else str(value)
    budget = local.budget or Budget()
    size = len(text)
    budget.allocated += size
    budget.steps += 1
    if size > 4096 or budget.allocated > budget.max_allocated or budget.steps & 15 == 0:
        budget.allocated -= size
        budget.steps -= 1
        budget.write(size)
    return text


_MUTATING: dict[type, frozenset[str]] = {}  # type -> its methods that change it in place


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with bounds (see the package docstring); a render runs under a :class:`Budget`
    made active with :func:`.budget.activate` (one is made on the spot when none is)."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = BoundedCodeGenerator

    def __init__(self, limits: TemplateLimits = DEFAULT_LIMITS, undefined: type[Undefined] = StrictUndefined) -> None:
        super().__init__(undefined=undefined, autoescape=False, keep_trailing_newline=True, optimized=False,
                         finalize=_finalize)
        self.limits = limits
        self.filters = bounded_filters()
        self.globals.update(range=bounded_range, lipsum=bounded_lipsum, namespace=_BoundedNamespace)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """As the immutable sandbox's (no underscore names, no method that changes a list, dict or
        set), with what changes an object of a type looked up once per type."""
        if attr[:1] == "_" or is_internal_attribute(obj, attr):
            return False
        kind = type(obj)
        try:
            mutating = _MUTATING[kind]
        except KeyError:
            mutating = _MUTATING[kind] = next((names for spec, names in _mutable_spec if issubclass(kind, spec)),
                                              frozenset())
        return attr not in mutating

    # -- compiling ----------------------------------------------------------------------------
    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        for loop in source.find_all(nodes.For):
            chars = literal_chars(loop.body)
            loop.iter = nodes.Filter(loop.iter, "akis_loop", [nodes.Const(chars), nodes.Const(loop.recursive)],
                                     [], None, None, lineno=loop.iter.lineno, environment=self)
        return super()._generate(source, name, filename, defer_init)

    # -- hooks the generated code calls ---------------------------------------------------------
    def akis_concat(self, parts: tuple[Any, ...]) -> str:
        budget = current()
        texts = [part if type(part) is str else str(part) for part in parts]
        check_string(budget, sum(map(len, texts)), "'~'")
        budget.tick()
        return "".join(texts)

    def akis_made(self, value: Any) -> Any:
        return made(current(), value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = current()
        budget.tick()
        if operator == "*":
            return multiply(budget, left, right)
        if operator == "+":
            return add(budget, left, right)
        if operator == "**":
            return power(budget, left, right)
        if isinstance(left, str):  # '%' formatting
            check_percent(budget, left, right)
            return made(budget, left % right)
        return left % right

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = local.budget or Budget()
        budget.calls += 1
        if budget.calls > __self.limits.calls:
            raise refuse("the template made too many calls", __self.limits.calls)
        if budget.clock() > budget.deadline:
            raise budget.late()
        kind = type(__obj)
        if kind is Macro:
            budget.macros += 1
            if budget.macros > __self.limits.macro_calls:
                raise refuse("the template called its macros too many times", __self.limits.macro_calls)
        elif not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        method = None
        if kind is types.BuiltinMethodType or kind is types.MethodType:
            if isinstance(__obj.__self__, STRINGS):
                method = __obj.__name__
                args, kwargs = string_method(budget, __obj.__self__, method, args, kwargs)
        elif isinstance(__obj, LoopContext) and args:  # a recursive loop going one level down
            chars = getattr(__obj._iterable, "chars", 0)
            args = (Counted(args[0], budget, chars), *args[1:])
        if len(args) + len(kwargs) - ("_loop_vars" in kwargs) - ("_block_vars" in kwargs) > 1:
            check_arguments(budget, args, kwargs)  # (one argument is passed on as it is: nothing to weigh)
        budget.depth += 1
        try:
            if budget.depth > __self.limits.call_depth:
                raise refuse("calls nest too deeply (a macro calling itself?)", __self.limits.call_depth, " levels")
            result = __context.call(__obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        if method is not None and (method == "split" or method == "rsplit") and len(result) > __self.limits.items:
            raise refuse(f"{method}() would make more than {figure(__self.limits.items)} pieces", __self.limits.items)
        kind = type(result)
        if kind is int or kind is float or kind is bool or result is None:
            return result
        return made(budget, result)

    # the function itself, not a method calling it: Jinja calls this on every attribute lookup of a method
    wrap_str_format = bounded_str_format
