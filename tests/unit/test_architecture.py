"""The dependency direction: runtime imports neither editor, storage nor nicegui;
storage never imports editor or nicegui. Checked on the source (AST), every file."""
from __future__ import annotations

import ast
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
