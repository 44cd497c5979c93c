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
* a render has a budget (:class:`Budget`): CPU time (without the garbage collector's), loop
  turns, calls and their nesting (macro recursion), characters written, and characters and items
  made in all. Every loop turn, call, operator, filter and output checks it, so pure-Python work
  stops at the deadline and each single step in C is bounded by the size limits above;
* lists, dicts and sets cannot be changed in place (``ImmutableSandboxedEnvironment``: no
  ``append``), so a value keeps the weight it was checked with; ``namespace()`` attributes may
  still be set, and a namespace prints as ``<Namespace>`` (not its attributes) for that reason.

A refusal raises :class:`TemplateLimitError` (a Jinja ``SecurityError``) naming the limit.

The modules: :mod:`.limits` (the limits and the errors), :mod:`.budget` (one render's budget, and
the one active on this thread), :mod:`.sizes` (sizes checked before something is made, values
weighed), :mod:`.operators`, :mod:`.formatting`, :mod:`.safe_calls` (string methods, ``range``,
``lipsum``), :mod:`.filters`, :mod:`.loops`, :mod:`.compiling` (the generated code's hooks, the
cost of compiling), :mod:`.environment` and :mod:`.trial` (the values validation tries a
template with).
"""
from __future__ import annotations

from .budget import Budget, activate, active, render_clock
from .compiling import template_size
from .environment import BoundedEnvironment
from .limits import DEFAULT_LIMITS, TemplateLimitError, TemplateLimits, TemplateTimeout
from .trial import TrialVars

__all__ = [
    "DEFAULT_LIMITS",
    "BoundedEnvironment",
    "Budget",
    "TemplateLimitError",
    "TemplateLimits",
    "TemplateTimeout",
    "TrialVars",
    "activate",
    "active",
    "render_clock",
    "template_size",
]
