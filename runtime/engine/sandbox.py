"""The template sandbox with bounds: no template can freeze the event loop or fill the memory.

Jinja's ``SandboxedEnvironment`` stops a template from reaching Python internals; it does not
stop ``{{ 9**10000000 }}`` (a minute of one CPU, folded while *compiling*), ``{{ 'x' * 10**9 }}``
(a gigabyte) or two nested loops of ten thousand turns. :class:`BoundedEnvironment` adds:

* nothing is evaluated while compiling: no constant folding (``optimized=False``, and outputs go
  through a ``finalize`` that needs the render's context), so compiling costs only parsing;
* every operation that can make something big checks the size *before* making it: ``**`` and
  ``*`` on integers (bits), ``*`` and ``+`` on strings and lists, ``%`` and ``str.format``
  (widths and the length of what they write), ``range``, ``lipsum``, the string methods that pad
  or repeat (``center``, ``ljust``, ``zfill``, ``expandtabs``, ``replace``, ``join``,
  ``translate``, ``split``) and the filters that do the same (``center``, ``indent``,
  ``replace``, ``format``, ``join``, ``wordwrap``, ``batch``, ``sum``, ...);
* a value a template builds (a list, tuple or dict literal, ``[x] * n``, ``x + y``, what a call
  returns, the arguments of a call taken together) is *weighed*: its items and characters,
  counting a part that appears several times each time (``{% set ns.x = [ns.x, ns.x] %}`` in a
  loop doubles the weight, not the memory). A filter that returns a list returns parts of its
  input, no heavier than it. Printing, comparing, hashing or serialising a value costs its weight, so a value
  over the weight limit is refused when it is made, and everything done later with it is bounded;
* a render has a budget (:class:`Budget`): wall time, loop turns, calls and their nesting
  (macro recursion), characters written, and characters and items made in all. Every loop turn,
  call, operator, filter and output checks it, so pure-Python work stops at the deadline and
  each single step in C is bounded by the size limits above;
* lists, dicts and sets cannot be changed in place (``ImmutableSandboxedEnvironment``: no
  ``append``), so a value keeps the weight it was checked with; ``namespace()`` attributes may
  still be set, and a namespace prints as ``<Namespace>`` (not its attributes) for that reason.

A refusal raises :class:`TemplateLimitError` (a Jinja ``SecurityError``) naming the limit.
"""
from __future__ import annotations

import math
import re
import threading
import time
import types
from collections import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import update_wrapper
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.runtime import LoopContext, Macro, Undefined
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedFormatter,
    SecurityError,
    _mutable_spec,
    is_internal_attribute,
)
from jinja2.utils import Namespace, _PassArg, generate_lorem_ipsum
from markupsafe import EscapeFormatter, Markup

__all__ = [
    "BoundedEnvironment",
    "Budget",
    "TemplateLimitError",
    "TemplateLimits",
    "TemplateTimeout",
    "activate",
    "active",
    "template_size",
]


@dataclass(frozen=True, slots=True)
class TemplateLimits:
    """What one render of a node's config may use. The defaults leave ordinary templates (a
    prompt built from a few hundred products, a history of a thousand turns) far inside."""

    render_s: float = 0.05  # wall time to render one node's config (all its fields)
    output_chars: int = 2_000_000  # characters one template string may write (and one {{ }} in it)
    string_chars: int = 2_000_000  # the longest string one operation may make
    items: int = 100_000  # the longest list, tuple or dict one operation may make or go through
    weight_items: int = 100_000  # items in a value made by a template, a shared part counted each time
    weight_chars: int = 2_000_000  # characters in such a value (about what printing it writes)
    nesting: int = 64  # how deep a value made by a template may nest
    allocated: int = 16_000_000  # characters and items made in all by one render
    int_bits: int = 4096  # the largest integer '*' and '**' may make (about 1,233 digits)
    range_items: int = 10_000
    loop_iterations: int = 20_000  # loop turns in one render, nested loops counted in full
    calls: int = 10_000  # calls (macros, methods, functions) in one render
    macro_calls: int = 1_000  # of which calls of macros (and caller()): bounds macro recursion
    call_depth: int = 40  # calls inside calls: bounds macro recursion
    format_width: int = 10_000  # widths and precisions in '%' formats, format() and str.format
    text_filter_chars: int = 20_000  # input of wordwrap, urlize and title (word by word, in Python)
    scan_filter_chars: int = 200_000  # input of striptags and wordcount (tag by tag, word by word)
    pprint_items: int = 10_000
    lipsum_words: int = 10_000
    template_chars: int = 100_000  # one template string's source
    template_tokens: int = 2_000  # one template string (compiling costs about 10 us a token)
    flow_template_tokens: int = 3_000  # all the templates of a flow Jinja compiles (checked when validating)
    check_s: float = 0.04  # validation: CPU time to try the templates of one flow (see templating)


DEFAULT_LIMITS = TemplateLimits()


class TemplateLimitError(SecurityError):
    """A template went past one of the sandbox's limits."""


class TemplateTimeout(TemplateLimitError):
    """A render went past its time (the sandbox's limit or the node's timeout)."""


def _n(value: float) -> str:
    return f"{value:,.0f}" if value == value and abs(value) != math.inf else str(value)


def _refuse(what: str, limit: float, unit: str = "") -> TemplateLimitError:
    return TemplateLimitError(f"{what}; the limit is {_n(limit)}{unit}")


# --------------------------------------------------------------------------------------------
# the budget of one render
# --------------------------------------------------------------------------------------------

_STRINGS = (str, bytes, bytearray)


class Budget:
    """What one render has used so far; every hook of the sandbox charges it."""

    __slots__ = (
        "allocated",
        "calls",
        "clock",
        "deadline",
        "depth",
        "iterations",
        "limits",
        "macros",
        "max_allocated",
        "memo",
        "seconds",
        "steps",
        "why",
    )

    def __init__(self, limits: TemplateLimits = DEFAULT_LIMITS, seconds: float | None = None,
                 why: str = "the template time limit", clock: Callable[[], float] = time.perf_counter) -> None:
        self.limits = limits
        self.seconds = limits.render_s if seconds is None else seconds
        self.why = why
        # wall time for a run (what the event loop feels); validation passes the thread's CPU
        # time, so what it finds does not depend on how busy the machine is
        self.clock = clock
        self.deadline = clock() + self.seconds
        self.iterations = 0
        self.calls = 0
        self.macros = 0
        self.depth = 0
        self.allocated = 0
        self.max_allocated = limits.allocated
        self.steps = 0  # outputs: the clock is read every 16th
        # id -> (value, items, chars, depth): values already weighed (kept alive, so ids stay theirs)
        self.memo: dict[int, tuple[Any, int, int, int]] = {}

    # -- time and counters ------------------------------------------------------------------
    def tick(self) -> None:
        if self.clock() > self.deadline:
            raise self.late()

    def late(self) -> TemplateTimeout:
        return TemplateTimeout(f"rendering took longer than {self.seconds:g} s ({self.why})")

    def turns(self) -> None:
        """Every 16th loop turn (see :func:`_turns`): the count and the clock."""
        if self.iterations > self.limits.loop_iterations:
            raise _refuse("the loops ran too many turns", self.limits.loop_iterations)
        if self.clock() > self.deadline:
            raise self.late()

    def too_much(self) -> TemplateLimitError:
        return _refuse("the template made too much data in all", self.max_allocated, " characters and items")

    def allocate(self, size: int) -> None:
        self.allocated += size
        if self.allocated > self.max_allocated:
            raise self.too_much()

    def write(self, size: int) -> None:
        """Text written to the output (one ``{{ }}``)."""
        if size > self.limits.output_chars:
            raise _refuse(f"the template writes {_n(size)} characters", self.limits.output_chars)
        self.allocated += size
        if self.allocated > self.max_allocated:
            raise self.too_much()
        self.steps += 1
        if self.steps & 15 == 0 and self.clock() > self.deadline:
            raise self.late()

    # -- sizes --------------------------------------------------------------------------------
    def string(self, size: int, what: str = "the result") -> None:
        """Before making a string of ``size`` characters."""
        if size > self.limits.string_chars:
            raise _refuse(f"{what} would be {_n(size)} characters long", self.limits.string_chars)
        self.allocate(size)

    def sequence(self, size: int, what: str = "the result") -> None:
        """Before making a list or tuple of ``size`` items."""
        if size > self.limits.items:
            raise _refuse(f"{what} would have {_n(size)} items", self.limits.items)
        self.allocate(size)

    def through(self, value: Any, what: str) -> None:
        """Before going through ``value`` item by item in Python (a filter, a join)."""
        size = _length(value)
        if size is not None and size > self.limits.items:
            raise _refuse(f"{what} would go through {_n(size)} items", self.limits.items)

    def integer(self, bits: float, what: str) -> None:
        if bits > self.limits.int_bits:
            raise _refuse(f"{what} would make an integer of about {_n(bits)} bits", self.limits.int_bits)

    def width(self, width: Any, what: str) -> None:
        if isinstance(width, int) and width > self.limits.format_width:
            raise _refuse(f"{what}: a width of {_n(width)}", self.limits.format_width)

    # -- weights ------------------------------------------------------------------------------
    def weigh(self, value: Any) -> tuple[int, int, int]:
        """(items, characters, depth) of ``value``, a part that appears twice counted twice;
        refuses a value over the weight limits as soon as the count passes them."""
        kind = type(value)
        if kind is str:
            return 1, len(value), 0
        if kind is int:
            return 1, _digits(value), 0
        if kind is float or kind is bool or value is None:
            return 1, 8, 0
        hit = self.memo.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1], hit[2], hit[3]
        return self._weigh(value, 0)

    def _weigh(self, value: Any, level: int) -> tuple[int, int, int]:
        if isinstance(value, (str, bytes, bytearray)):
            return 1, len(value), 0
        if isinstance(value, (int, float)):
            return 1, _digits(value) if isinstance(value, int) else 8, 0
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
        hit = self.memo.get(key)
        if hit is not None and hit[0] is value:
            return hit[1], hit[2], hit[3]
        limits = self.limits
        if level >= limits.nesting:
            raise _refuse("the value nests too deeply", limits.nesting, " levels")
        self.memo[key] = (value, 1, 2, 0)  # while in progress: a cycle counts once
        items, chars, depth = 1, 2, 0
        memo = self.memo
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
                    ci, cc, cd = self._weigh(part, level + 1)
                items += ci
                chars += cc + 2
                if cd >= depth:
                    depth = cd
            if items > limits.weight_items:
                raise _refuse(f"the value would have more than {_n(items)} items (a shared part counted each "
                              "time it appears)", limits.weight_items)
            if chars > limits.weight_chars:
                raise _refuse(f"the value would print as more than {_n(chars)} characters (a shared part "
                              "counted each time it appears)", limits.weight_chars)
            if items & 1023 == 0 and self.clock() > self.deadline:
                raise self.late()
        depth += 1
        if depth > limits.nesting:
            raise _refuse("the value nests too deeply", limits.nesting, " levels")
        memo[key] = (value, items, chars, depth)
        return items, chars, depth

    def check_weight(self, items: int, chars: int, depth: int) -> None:
        limits = self.limits
        if items > limits.weight_items:
            raise _refuse(f"the value would have {_n(items)} items (a shared part counted each time it "
                          "appears)", limits.weight_items)
        if chars > limits.weight_chars:
            raise _refuse(f"the value would print as about {_n(chars)} characters (a shared part counted "
                          "each time it appears)", limits.weight_chars)
        if depth > limits.nesting:
            raise _refuse("the value nests too deeply", limits.nesting, " levels")

    def remember(self, value: Any, items: int, chars: int, depth: int) -> Any:
        self.check_weight(items, chars, depth)
        self.memo[id(value)] = (value, items, chars, depth)
        return value

    def bundle(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
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
                i, c, d = self.weigh(value)
                items += i
                chars += c
                depth = max(depth, d)
        self.check_weight(items, chars, depth + 1)

    def made(self, value: Any) -> Any:
        """A value an operation made: a string's length, a container's weight."""
        kind = type(value)
        if kind is str or kind is Markup:
            self.string(len(value))
        elif kind is list or kind is tuple or kind is dict or isinstance(value, (list, tuple, dict, set,
                                                                                  frozenset)):
            self.allocate(len(value))
            self.weigh(value)
        elif isinstance(value, (str, bytes, bytearray)):
            self.string(len(value))
        return value


def _digits(value: int) -> int:
    return value.bit_length() * 77 // 256 + 2  # log10(2) ~ 77/256, and a sign


def _length(value: Any) -> int | None:
    try:
        return len(value)
    except Exception:  # noqa: BLE001 - a generator, an undefined value
        return None


class _Local(threading.local):
    budget: Budget | None = None  # the render going on in this thread


_local = _Local()


def active() -> Budget | None:
    return _local.budget


def activate(budget: Budget | None) -> Budget | None:
    """Make ``budget`` the one the sandbox charges on this thread; returns the previous one."""
    previous = _local.budget
    _local.budget = budget
    return previous


def _current() -> Budget:
    # none: a lazy value (a generator) used after its render, bounded on its own
    return _local.budget or Budget()


# --------------------------------------------------------------------------------------------
# compiling: hooks in the generated code
# --------------------------------------------------------------------------------------------

class _BoundedCodeGenerator(CodeGenerator):
    """Literals that hold computed values, and ``~``, go through the environment's checks."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.akis_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        if _constant_items(node.items):
            return super().visit_List(node, frame)
        self.write("environment.akis_made(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load" or _constant_items(node.items):
            return super().visit_Tuple(node, frame)
        self.write("environment.akis_made(")
        super().visit_Tuple(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        if all(isinstance(p.key, nodes.Const) and isinstance(p.value, nodes.Const) for p in node.items):
            return super().visit_Dict(node, frame)
        self.write("environment.akis_made(")
        super().visit_Dict(node, frame)
        self.write(")")


def _constant_items(items: list[nodes.Expr]) -> bool:
    return all(isinstance(item, nodes.Const) for item in items)


def _literal_chars(body: Iterable[nodes.Node]) -> int:
    """Characters of literal text one turn of a loop writes (nested loops and macros count their own)."""
    total = 0
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif isinstance(node, nodes.For):
            stack.extend(node.else_)  # its body counts itself, its else runs once a turn of ours
        elif not isinstance(node, (nodes.Macro, nodes.CallBlock)):
            stack.extend(node.iter_child_nodes())
    return total


# --------------------------------------------------------------------------------------------
# the environment
# --------------------------------------------------------------------------------------------

class _BoundedNamespace(Namespace):
    """``namespace()``: its attributes may change after a value holding it was weighed, so it
    prints as a name only."""

    def __repr__(self) -> str:
        return "<Namespace>"


def _turns(iterable: Iterable[Any], budget: Budget, chars: int) -> Iterator[Any]:
    """A loop's iterable, counting turns and the literal text each turn writes."""
    for item in iterable:
        budget.iterations += 1
        if chars:
            budget.allocated += chars
            if budget.allocated > budget.max_allocated:
                raise budget.too_much()
        if budget.iterations & 15 == 0:
            budget.turns()
        yield item


class _Counted:
    """A recursive loop's iterable (``loop(children)`` finds ``chars`` on it to go one level down)."""

    __slots__ = ("_budget", "_iterator", "chars")

    def __init__(self, iterable: Iterable[Any], budget: Budget, chars: int) -> None:
        self._iterator = iter(iterable)
        self._budget = budget
        self.chars = chars

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        item = next(self._iterator)
        budget = self._budget
        budget.iterations += 1
        budget.allocate(self.chars)
        budget.turns()
        return item


_MUTATING: dict[type, frozenset[str]] = {}  # type -> its methods that change it in place


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with bounds (see the module docstring); a render runs under a :class:`Budget`
    made active with :func:`activate` (one is made on the spot when none is)."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, limits: TemplateLimits = DEFAULT_LIMITS, undefined: type[Undefined] = StrictUndefined) -> None:
        super().__init__(undefined=undefined, autoescape=False, keep_trailing_newline=True, optimized=False,
                         finalize=_finalize)
        self.limits = limits
        self.filters = {name: _bounded_filter(name, func) for name, func in FILTERS.items()}
        self.filters.update(join=_join, sum=_sum, akis_loop=_loop)
        self.globals.update(range=_range, lipsum=_lipsum, namespace=_BoundedNamespace)

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
            chars = _literal_chars(loop.body)
            loop.iter = nodes.Filter(loop.iter, "akis_loop", [nodes.Const(chars), nodes.Const(loop.recursive)],
                                     [], None, None, lineno=loop.iter.lineno, environment=self)
        return super()._generate(source, name, filename, defer_init)

    # -- hooks the generated code calls ---------------------------------------------------------
    def akis_concat(self, parts: tuple[Any, ...]) -> str:
        budget = _current()
        texts = [part if type(part) is str else str(part) for part in parts]
        budget.string(sum(map(len, texts)), "'~'")
        budget.tick()
        return "".join(texts)

    def akis_made(self, value: Any) -> Any:
        budget = _current()
        budget.allocate(len(value))
        budget.weigh(value)
        return value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _current()
        budget.tick()
        if operator == "*":
            return _multiply(budget, left, right)
        if operator == "+":
            return _add(budget, left, right)
        if operator == "**":
            return _power(budget, left, right)
        if isinstance(left, str):  # '%' formatting
            _check_percent(budget, left, right)
            return budget.made(left % right)
        return left % right

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _local.budget or Budget()
        budget.calls += 1
        if budget.calls > __self.limits.calls:
            raise _refuse("the template made too many calls", __self.limits.calls)
        if budget.clock() > budget.deadline:
            raise budget.late()
        kind = type(__obj)
        if kind is Macro:
            budget.macros += 1
            if budget.macros > __self.limits.macro_calls:
                raise _refuse("the template called its macros too many times", __self.limits.macro_calls)
        elif not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        method = None
        if kind is types.BuiltinMethodType or kind is types.MethodType:
            if isinstance(__obj.__self__, _STRINGS):
                method = __obj.__name__
                args, kwargs = _string_method(budget, __obj.__self__, method, args, kwargs)
        elif isinstance(__obj, LoopContext) and args:  # a recursive loop going one level down
            chars = getattr(__obj._iterable, "chars", 0)
            args = (_Counted(args[0], budget, chars), *args[1:])
        if len(args) + len(kwargs) - ("_loop_vars" in kwargs) - ("_block_vars" in kwargs) > 1:
            budget.bundle(args, kwargs)  # (one argument is passed on as it is: nothing to weigh)
        budget.depth += 1
        try:
            if budget.depth > __self.limits.call_depth:
                raise _refuse("calls nest too deeply (a macro calling itself?)", __self.limits.call_depth,
                              " levels")
            result = __context.call(__obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        if method is not None and (method == "split" or method == "rsplit") and len(result) > __self.limits.items:
            raise _refuse(f"{method}() would make more than {_n(__self.limits.items)} pieces", __self.limits.items)
        kind = type(result)
        if kind is int or kind is float or kind is bool or result is None:
            return result
        return budget.made(result)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
                "format", "format_map"):
            return None
        f_self: Any = value.__self__
        if not isinstance(f_self, str):
            return None
        str_type: type[str] = type(f_self)
        is_format_map = value.__name__ == "format_map"
        escape = f_self.escape if isinstance(f_self, Markup) else None
        env = self

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs = args[0]
                args = ()
            budget = _current()
            formatter = (_BoundedEscapeFormatter(env, budget, escape=escape) if escape is not None
                         else _BoundedFormatter(env, budget))
            return str_type(formatter.vformat(f_self, args, kwargs))

        return update_wrapper(wrapper, value)



def _finalize_impl(context: Any, value: Any) -> str:
    """Every ``{{ }}`` output: written text counts against the budget (:meth:`Budget.write`, inlined)."""
    text = value if type(value) is str else str(value)
    budget = _local.budget or Budget()
    size = len(text)
    budget.allocated += size
    budget.steps += 1
    if size > 4096 or budget.allocated > budget.max_allocated or budget.steps & 15 == 0:
        budget.allocated -= size
        budget.steps -= 1
        budget.write(size)
    return text


_finalize_impl.jinja_pass_arg = _PassArg.context  # type: ignore[attr-defined]
_finalize = _finalize_impl  # with the context: Jinja folds no output while compiling


# --------------------------------------------------------------------------------------------
# operators
# --------------------------------------------------------------------------------------------

_SEQUENCES = (list, tuple)


def _multiply(budget: Budget, left: Any, right: Any) -> Any:
    if isinstance(right, int) and isinstance(left, _STRINGS + _SEQUENCES):
        seq, times = left, right
    elif isinstance(left, int) and isinstance(right, _STRINGS + _SEQUENCES):
        seq, times = right, left
    elif isinstance(left, int) and isinstance(right, int):
        budget.integer(left.bit_length() + right.bit_length(), "'*'")
        return left * right
    else:
        return left * right
    times = max(int(times), 0)
    if isinstance(seq, _STRINGS):
        budget.string(len(seq) * times, "'*'")
        return seq * times
    budget.sequence(len(seq) * times, "'*'")
    items, chars, depth = budget.weigh(seq)
    weight = (1 + (items - 1) * times, 2 + (chars - 2) * times, depth)
    budget.check_weight(*weight)  # before making it
    return budget.remember(seq * times, *weight)


def _add(budget: Budget, left: Any, right: Any) -> Any:
    if isinstance(left, _STRINGS) and isinstance(right, _STRINGS):
        budget.string(len(left) + len(right), "'+'")
        return left + right  # type: ignore[operator]  # str + bytes raises, as it would have
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        budget.sequence(len(left) + len(right), "'+'")
        li, lc, ld = budget.weigh(left)
        ri, rc, rd = budget.weigh(right)
        weight = (li + ri - 1, lc + rc - 2, max(ld, rd))
        budget.check_weight(*weight)
        return budget.remember(left + right, *weight)  # type: ignore[operator]  # list + tuple raises
    return left + right


def _power(budget: Budget, left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        budget.integer(right * math.log2(abs(left)), "'**'")
    return left ** right


_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.?)", re.S)


def _check_percent(budget: Budget, fmt: str, args: Any) -> None:
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
                if len(digits) > 9:
                    raise _refuse(f"a '%' format with a width of {len(digits)} digits", limits.format_width)
                budget.width(int(digits), "a '%' format")
                size = max(size, int(digits))
        if precision and conversion in "eEfFgG":
            size += 330  # the digits before the point of the largest float
        if key is not None and mapping is not None:
            value = mapping.get(key)
        elif index < len(positional):
            value = positional[index]
            index += 1
        else:
            value = None
        total += size + budget.weigh(value)[1]
        if total > limits.string_chars:
            raise _refuse(f"the '%' format would write more than {_n(total)} characters", limits.string_chars)
        if count & 1023 == 1023:
            budget.tick()
    budget.string(total, "the '%' format")


class _BoundedFormatter(SandboxedFormatter):
    """``str.format``: no width over the limit, and not more text than a string may hold."""

    def __init__(self, env: Any, budget: Budget, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._budget = budget
        self._written = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = self._budget
        for digits in re.findall(r"\d+", format_spec):
            if len(digits) > 9:
                raise _refuse(f"a format with a width of {len(digits)} digits", budget.limits.format_width)
            budget.width(int(digits), "a format")
        budget.tick()
        text = super().format_field(value, format_spec)
        self._written += len(text)
        if self._written > budget.limits.string_chars:
            raise _refuse(f"str.format() would write more than {_n(self._written)} characters",
                          budget.limits.string_chars)
        return text


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


# --------------------------------------------------------------------------------------------
# calls: string methods, globals
# --------------------------------------------------------------------------------------------

_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _lines(text: Any) -> int:
    if isinstance(text, str):
        return sum(text.count(c) for c in _LINE_BREAKS) + 1
    return text.count(b"\n") + text.count(b"\r") + 1


def _replaced_size(text: Any, old: Any, new: Any, count: Any) -> int:
    found = text.count(old) if len(old) else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _materialize(budget: Budget, value: Any, what: str) -> list[Any] | tuple[Any, ...]:
    if isinstance(value, (list, tuple)):
        budget.through(value, what)
        return value
    if isinstance(value, (str, bytes, bytearray, abc.Sized)) and not isinstance(value, Undefined):
        budget.through(value, what)
    items: list[Any] = []
    limit = budget.limits.items
    for item in value:
        items.append(item)
        if len(items) & 1023 == 0:
            if len(items) > limit:
                raise _refuse(f"{what} would go through more than {_n(len(items))} items", limit)
            budget.tick()
    if len(items) > limit:
        raise _refuse(f"{what} would go through {_n(len(items))} items", limit)
    return items


def _string_method(budget: Budget, owner: Any, name: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Checks before a method of a string (or bytes) that can make a long one runs."""
    if name in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width")
        if isinstance(width, int):
            budget.string(max(width, len(owner)), f"{name}()")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            tabs = owner.count("\t" if isinstance(owner, str) else b"\t")
            budget.string(len(owner) + tabs * max(size, 0), "expandtabs()")
    elif name == "replace":
        if len(args) >= 2 and isinstance(args[0], type(owner)) and isinstance(args[1], type(owner)):
            count = args[2] if len(args) > 2 else kwargs.get("count", -1)
            budget.string(_replaced_size(owner, args[0], args[1], count), "replace()")
    elif name == "join" and args:
        items = _materialize(budget, args[0], "join()")
        size = len(owner) * max(len(items) - 1, 0)
        for item in items:
            if isinstance(item, _STRINGS):
                size += len(item)
        budget.string(size, "join()")
        args = (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping) and args[0]:
        longest = max((len(v) for v in args[0].values() if isinstance(v, _STRINGS)), default=1)
        budget.string(len(owner) * max(longest, 1), "translate()")
    elif name in ("split", "rsplit") and len(args) < 2 and "maxsplit" not in kwargs:
        sep = args[0] if args else kwargs.pop("sep", None)
        args = (sep, budget.limits.items)  # one piece more than the limit at most: refused after
    elif name == "splitlines" and len(owner) > budget.limits.items:
        budget.sequence(_lines(owner), "splitlines()")
    return args, kwargs


def _range(*args: Any) -> range:
    rng = range(*args)
    try:
        size: float = len(rng)
    except OverflowError:
        size = math.inf
    limit = _current().limits.range_items
    if size > limit:
        raise _refuse(f"range() would have {_n(size)} items", limit)
    return rng


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # Jinja's names
    limit = _current().limits.lipsum_words
    if isinstance(n, int) and isinstance(max, int) and n * max > limit:
        raise _refuse(f"lipsum() would write up to {_n(n * max)} words", limit)
    return generate_lorem_ipsum(n, html, min, max)


# --------------------------------------------------------------------------------------------
# filters
# --------------------------------------------------------------------------------------------

def _loop(iterable: Any, chars: int, recursive: bool = False) -> Iterator[Any]:
    """What every ``{% for %}`` iterates (inserted while compiling): turns are counted."""
    if recursive:
        return _Counted(iterable, _current(), chars)
    return _turns(iterable, _current(), chars)


def _join_impl(environment: Any, value: Any, d: Any = "", attribute: Any = None) -> str:
    budget = _current()
    budget.tick()
    items: Any = _materialize(budget, value, "join")
    if attribute is not None:
        getter = make_attrgetter(environment, attribute)
        items = [getter(item) for item in items]
    sep = d if type(d) is str else str(d)
    limit = budget.limits.string_chars
    size = len(sep) * max(len(items) - 1, 0)
    texts = []
    for item in items:
        text = item if type(item) is str else str(item)
        size += len(text)
        if size > limit:
            raise _refuse(f"join would make a string of more than {_n(size)} characters", limit)
        texts.append(text)
    budget.string(size, "join")
    return sep.join(texts)


def _sum_impl(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    budget = _current()
    budget.tick()
    items: Any = _materialize(budget, iterable, "sum")
    if attribute is not None:
        getter = make_attrgetter(environment, attribute)
        items = [getter(item) for item in items]
    if isinstance(start, _STRINGS):
        raise TypeError("sum() can't sum strings [use ''.join(seq) instead]")
    if all(type(item) in (int, float, bool) for item in items) and type(start) in (int, float, bool):
        return sum(items, start)
    total = start
    for count, item in enumerate(items):
        total = _add(budget, total, item)
        if count & 255 == 255:
            budget.tick()
    return total


_join_impl.jinja_pass_arg = _PassArg.environment  # type: ignore[attr-defined]
_sum_impl.jinja_pass_arg = _PassArg.environment  # type: ignore[attr-defined]
_join = _join_impl
_sum = _sum_impl


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _text(budget: Budget, value: Any, what: str, limit: int | None = None) -> str:
    text = value if type(value) is str else str(value)
    limit = budget.limits.text_filter_chars if limit is None else limit
    if len(text) > limit:
        raise _refuse(f"{what} on {_n(len(text))} characters", limit)
    return text


def _check_center(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    width = _arg(args, kwargs, 0, "width", 80)
    if isinstance(width, int):
        budget.string(width, "center")


def _check_indent(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    text = value if type(value) is str else str(value)
    width = _arg(args, kwargs, 0, "width", 4)
    indention = len(width) if isinstance(width, str) else max(width, 0) if isinstance(width, int) else 0
    lines = _lines(text)
    budget.sequence(lines, "indent")  # a Python step a line
    budget.string(len(text) + (lines + 1) * indention, "indent")


def _check_format(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _check_percent(budget, value if type(value) is str else str(value), kwargs or args)


def _check_replace(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if len(args) >= 2:
        count = _arg(args, kwargs, 2, "count", None)
        budget.string(_replaced_size(str(value), str(args[0]), str(args[1]), count), "replace")


def _check_wordwrap(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    text = _text(budget, value, "wordwrap")
    width = _arg(args, kwargs, 0, "width", 79)
    wrap = _arg(args, kwargs, 2, "wrapstring", None)
    if isinstance(width, int) and width >= 1:
        breaks = len(text) // width + _lines(text)
        budget.string(len(text) + breaks * (len(wrap) if isinstance(wrap, str) else 1), "wordwrap")


def _check_words(name: str) -> Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], None]:
    def check(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        _text(budget, value, name, budget.limits.scan_filter_chars if name in _SCANS else None)
    return check


_SCANS = ("striptags", "wordcount")


def _check_tojson(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    indent = _arg(args, kwargs, 0, "indent", None)
    if isinstance(indent, (int, str)) and not isinstance(indent, bool):
        items, chars, depth = budget.weigh(value)
        size = len(indent) if isinstance(indent, str) else max(indent, 0)
        budget.string(chars + items * (depth + 1) * size, "tojson with an indent")


def _check_pprint(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    items = budget.weigh(value)[0]
    if items > budget.limits.pprint_items:
        raise _refuse(f"pprint of {_n(items)} items", budget.limits.pprint_items)


def _check_batch(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    budget.through(value, "batch")
    size = _arg(args, kwargs, 0, "linecount", 1)
    fill = _arg(args, kwargs, 1, "fill_with", None)
    if isinstance(size, int):
        if size > budget.limits.items:
            raise _refuse(f"batch of {_n(size)} items", budget.limits.items)
        if fill is not None:
            items, chars, depth = budget.weigh(fill)
            budget.check_weight(1 + items * size, 2 + chars * size, depth + 1)


def _check_slice(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    budget.through(value, "slice")
    slices = _arg(args, kwargs, 0, "slices", 1)
    if isinstance(slices, int) and slices > budget.limits.items:
        raise _refuse(f"slice into {_n(slices)} parts", budget.limits.items)


def _check_through(name: str) -> Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], None]:
    def check(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        budget.through(value, name)
    return check


_FILTER_CHECKS: dict[str, Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], None]] = {
    "center": _check_center, "indent": _check_indent, "format": _check_format, "replace": _check_replace,
    "wordwrap": _check_wordwrap, "pprint": _check_pprint, "batch": _check_batch, "slice": _check_slice,
    "tojson": _check_tojson,
    **{name: _check_words(name) for name in ("title", "urlize", *_SCANS)},
    **{name: _check_through(name) for name in ("list", "unique", "sort", "dictsort", "groupby", "min", "max",
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
        budget = _current()
        budget.tick()
        if check is not None and len(args) > offset:
            check(budget, args[offset], args[offset + 1:], kwargs)
        result = func(*args, **kwargs)
        if isinstance(result, _STRINGS):
            budget.string(len(result), f"the filter {name!r}")
        return result

    bounded.__name__ = bounded.__qualname__ = f"bounded_{name}"
    if pass_arg is not None:
        bounded.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return bounded


# --------------------------------------------------------------------------------------------
# the cost of compiling, and trying a template while validating
# --------------------------------------------------------------------------------------------

_TAG = re.compile(r"\{\{.*?(?:\}\}|$)|\{%.*?(?:%\}|$)", re.S)
_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\w+|\S")


def template_size(text: str) -> int:
    """About how many tokens compiling ``text`` parses (the text outside tags costs little)."""
    return sum(len(_TOKEN.findall(tag)) for tag in _TAG.findall(text))


class _Anything(Undefined):
    """Every variable while a template is tried at validation: absorbs any operation, iterates
    as nothing, prints as nothing. A limit met anyway is met by the template itself."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return self

    def _same(self, *args: Any, **kwargs: Any) -> _Anything:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _same  # type: ignore[assignment]
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __pos__ = __neg__ = _same  # type: ignore[assignment]
    __call__ = __getitem__ = _same  # type: ignore[assignment]

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __str__(self) -> str:
        return ""

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: Any) -> bool:
        return other is self

    def __ne__(self, other: Any) -> bool:
        return other is not self

    def __lt__(self, other: Any) -> bool:  # type: ignore[override]
        return False

    __le__ = __gt__ = __ge__ = __lt__  # type: ignore[assignment]
    __hash__ = Undefined.__hash__


ANYTHING = _Anything(name="a value")


class TrialVars(dict[str, Any]):
    """A context in which every name is defined: the environment's globals as themselves,
    every other name as :data:`ANYTHING`."""

    def __init__(self, globals_: Mapping[str, Any]) -> None:
        super().__init__()
        self._globals = globals_

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return self._globals.get(key, ANYTHING)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key]
