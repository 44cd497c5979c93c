"""The dependency direction: runtime imports neither editor, storage nor nicegui;
storage never imports editor or nicegui. Checked on the source (AST), every file."""
from __future__ import annotations

import ast
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"runtime": {"editor", "storage", "nicegui", "app"}, "storage": {"editor", "nicegui", "app"}}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for item in ast.walk(tree):
        if isinstance(item, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in item.names}
        elif isinstance(item, ast.ImportFrom) and item.level == 0 and item.module:
            roots.add(item.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_direction(package: str):
    files = list((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package]) for path in files
        if imported_roots(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_the_check_sees_a_forbidden_import(tmp_path: Path):
    sample = tmp_path / "x.py"
    sample.write_text("import os\nfrom nicegui import ui\n")
    assert "nicegui" in imported_roots(sample)


# -- suppressions carry their codes and a reason ------------------------------------------------
# A mypy ignore names its codes in brackets and gives its reason as a second comment (mypy takes
# any other text after the brackets for an invalid ignore); a ruff one names its codes after the
# colon, then " - why" or a second comment. Read from the comments (tokenize), not from strings.
SUPPRESSED = ("runtime", "storage", "editor")
_DIRECTIVE = re.compile(r"#\s*(?=type:\s*ignore\b|noqa\b)")
_TYPE_IGNORE = re.compile(r"type:\s*ignore\[\s*[a-z][a-z0-9-]*(?:\s*,\s*[a-z][a-z0-9-]*)*\s*\]\s*#\s*(?!noqa\b)\S")
_NOQA = re.compile(r"noqa:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*\s*(?:-|—|#)\s*(?!type:\s*ignore\b)\S")


def unexplained_suppressions(path: Path) -> list[int]:
    """Lines of ``path`` with a ``type: ignore`` or ``noqa`` comment lacking its codes or a reason."""
    lines: list[int] = []
    with path.open("rb") as source:
        for token in tokenize.tokenize(source.readline):
            if token.type != tokenize.COMMENT:
                continue
            starts = [m.end() for m in _DIRECTIVE.finditer(token.string)]
            for start in starts:
                directive = token.string[start:]
                rule = _TYPE_IGNORE if directive.startswith("type") else _NOQA
                if not rule.match(directive):
                    lines.append(token.start[0])
                    break
    return lines


def test_every_suppression_names_its_codes_and_why():
    files = [ROOT / "app.py"] + [path for name in SUPPRESSED for path in sorted((ROOT / name).rglob("*.py"))]
    offenders = [f"{path.relative_to(ROOT)}:{line}" for path in files for line in unexplained_suppressions(path)]
    assert offenders == [], (
        "say which codes and why on the same line: '# type: ignore[code]  # why' or '# noqa: CODE - why':\n  "
        + "\n  ".join(offenders)
    )


def test_the_check_sees_an_unexplained_suppression(tmp_path: Path):
    sample = tmp_path / "x.py"
    sample.write_text(
        "a = 1  # type: ignore[assignment]  # a reason\n"
        "b = 1  # type: ignore[assignment]\n"
        "c = 1  # type: ignore\n"
        "d = 1  # type: ignore[assignment] - mypy reads this as an invalid ignore\n"
        "e = 1  # noqa: F401 - a reason\n"
        "f = 1  # noqa: F401\n"
        "g = 1  # noqa\n"
        "h = 1  # noqa: F401  (in brackets)\n"
        "i = '# noqa'  # a string is not a comment\n"
        "j = 1  # type: ignore[misc]  # noqa: E501\n"
        "k = 1  # type: ignore[misc]  # why  # noqa: E501 - why too\n"
        "m = 1  # type: ignore[misc]  # noqa: E501 - the reason is the noqa's, not the ignore's\n"
    )
    assert unexplained_suppressions(sample) == [2, 3, 4, 6, 7, 8, 10, 12]
