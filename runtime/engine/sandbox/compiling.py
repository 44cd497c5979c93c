"""Compiling: the generated code sends computed literals and ``~`` through the environment's
checks, what one loop turn writes literally is counted, and what compiling a template costs is
estimated before it is parsed."""
from __future__ import annotations

import re
from collections.abc import Iterable

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame


class BoundedCodeGenerator(CodeGenerator):
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


def literal_chars(body: Iterable[nodes.Node]) -> int:
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


_TAG = re.compile(r"\{\{.*?(?:\}\}|$)|\{%.*?(?:%\}|$)", re.S)
_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\w+|\S")


def template_size(text: str) -> int:
    """About how many tokens compiling ``text`` parses (the text outside tags costs little)."""
    return sum(len(_TOKEN.findall(tag)) for tag in _TAG.findall(text))
