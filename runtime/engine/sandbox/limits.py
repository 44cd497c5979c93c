"""The limits of the template sandbox, and the errors (and their wording) that refuse a template."""
from __future__ import annotations

import math
from dataclasses import dataclass

from jinja2.sandbox import SecurityError


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


def figure(value: float) -> str:
    """A number as the messages show it: ``1,000,000`` (``inf`` and ``nan`` as they are)."""
    return f"{value:,.0f}" if value == value and abs(value) != math.inf else str(value)


def refuse(what: str, limit: float, unit: str = "") -> TemplateLimitError:
    """The error for ``what`` going past ``limit``: every refusal names its limit the same way."""
    return TemplateLimitError(f"{what}; the limit is {figure(limit)}{unit}")
