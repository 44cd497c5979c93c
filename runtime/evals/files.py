"""Dataset files: JSONL (one case a line, an optional first line with the dataset's name and
scorers) and CSV (one case a row). Import accepts exactly what export writes; a bad file is
refused whole with every problem named by its line, so nothing is half-imported.

JSONL::

    {"akis_dataset": 1, "name": "smoke", "scorers": [{"kind": "contains", "value": "pallet"}]}
    {"message": "Transpalet arıyorum", "expected": "...", "history": [], "inputs": {}, "properties": {}}

CSV columns: ``message`` (required), ``id``, ``expected``, ``history``, ``inputs`` and
``properties`` (JSON), and ``inputs.NAME`` / ``properties.NAME`` for one value each.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .cases import Case

MAX_CASES = 10_000
MAX_PROBLEMS = 20
HEADER_KEY = "akis_dataset"
CSV_COLUMNS = ("id", "message", "expected", "history", "inputs", "properties")
JSON_COLUMNS = ("history", "inputs", "properties")


@dataclass
class DatasetFile:
    """What a file holds: the cases, and the header's name, description and scorers if it had one."""

    cases: list[Case]
    name: str | None = None
    description: str | None = None
    scorers: list[dict[str, Any]] | None = None


@dataclass
class DatasetFileError(ValueError):
    """A file that was not imported; ``problems`` are ``line N: ...`` sentences."""

    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        more = "" if len(self.problems) <= MAX_PROBLEMS else f"; and {len(self.problems) - MAX_PROBLEMS} more"
        return "; ".join(self.problems[:MAX_PROBLEMS]) + more


def _case_problems(line: int, exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "case"
        out.append(f"line {line}: {where}: {error['msg']}")
    return out


def parse_jsonl(text: str) -> DatasetFile:
    """Cases from JSONL; :class:`DatasetFileError` naming each bad line."""
    result = DatasetFile(cases=[])
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(item, dict):
            problems.append(f"line {number}: expected a JSON object, got {type(item).__name__}")
            continue
        if HEADER_KEY in item:
            _header(result, item, number, problems)
            continue
        _add(result, item, number, problems)
    return _finish(result, problems)


def _header(result: DatasetFile, item: dict[str, Any], number: int, problems: list[str]) -> None:
    if result.cases or result.name is not None:
        problems.append(f"line {number}: the dataset header must be the first line")
        return
    name, description, scorers = item.get("name"), item.get("description"), item.get("scorers")
    if name is not None and not isinstance(name, str):
        problems.append(f"line {number}: name: expected text")
    if scorers is not None and not isinstance(scorers, list):
        problems.append(f"line {number}: scorers: expected a list")
    result.name = name if isinstance(name, str) else ""
    result.description = description if isinstance(description, str) else None
    result.scorers = scorers if isinstance(scorers, list) else None


def _add(result: DatasetFile, item: dict[str, Any], number: int, problems: list[str]) -> None:
    if len(result.cases) >= MAX_CASES:
        problems.append(f"line {number}: more than {MAX_CASES} cases in one file")
        return
    try:
        result.cases.append(Case.model_validate(item))
    except ValidationError as exc:
        problems.extend(_case_problems(number, exc))


def _finish(result: DatasetFile, problems: list[str]) -> DatasetFile:
    if not problems and not result.cases:
        problems.append("line 1: the file holds no case")
    ids = [c.id for c in result.cases if c.id]
    if len(ids) != len(set(ids)):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        problems.append(f"case id(s) given twice: {', '.join(twice[:10])}")
    if problems:
        raise DatasetFileError(problems)
    if result.name == "":
        result.name = None
    return result


def dump_jsonl(cases: Sequence[Case], name: str | None = None, description: str | None = None,
               scorers: list[dict[str, Any]] | None = None) -> str:
    """What :func:`parse_jsonl` reads back to the same cases (and header, when given)."""
    lines = []
    if name is not None or scorers is not None:
        header: dict[str, Any] = {HEADER_KEY: 1, "name": name or ""}
        if description:
            header["description"] = description
        header["scorers"] = scorers or []
        lines.append(json.dumps(header, ensure_ascii=False))
    lines.extend(json.dumps(c.model_dump(exclude_defaults=True), ensure_ascii=False) for c in cases)
    return "\n".join(lines) + "\n"


def parse_csv(text: str) -> DatasetFile:
    """Cases from CSV with a header row; :class:`DatasetFileError` naming each bad line and column."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DatasetFileError(["line 1: the file is empty (a header row with a 'message' column is needed)"]) \
            from None
    except csv.Error as exc:
        raise DatasetFileError([f"line 1: {exc}"]) from None
    columns = [c.strip() for c in header]
    problems = [f"line 1: unknown column {c!r} (use {', '.join(CSV_COLUMNS)}, inputs.NAME or properties.NAME)"
                for c in columns if c not in CSV_COLUMNS and not c.startswith(("inputs.", "properties."))]
    if "message" not in columns:
        problems.append("line 1: no 'message' column")
    if problems:
        raise DatasetFileError(problems)
    result = DatasetFile(cases=[])
    try:
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                problems.append(f"line {number}: {len(row)} values for {len(columns)} columns")
                continue
            item = _row_case(dict(zip(columns, row, strict=True)), number, problems)
            if item is not None:
                _add(result, item, number, problems)
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}")
    return _finish(result, problems)


def _row_case(row: dict[str, str], number: int, problems: list[str]) -> dict[str, Any] | None:
    item: dict[str, Any] = {"inputs": {}, "properties": {}}
    bad = False
    for column, cell in row.items():
        if column in JSON_COLUMNS:
            if cell.strip():
                try:
                    item[column] = {**item[column], **json.loads(cell)} if column != "history" else json.loads(cell)
                except (ValueError, TypeError):
                    problems.append(f"line {number}: column {column!r}: not a JSON "
                                    f"{'list' if column == 'history' else 'object'}")
                    bad = True
        elif column.startswith(("inputs.", "properties.")):
            group, _, name = column.partition(".")
            if cell != "":
                item[group][name] = _cell_value(cell)
        elif column in ("id", "expected"):
            if cell != "":
                item[column] = cell
        else:
            item[column] = cell
    return None if bad else item


def _cell_value(cell: str) -> Any:
    """``42`` -> 42, ``true`` -> True, ``["a"]`` -> a list; anything else stays text."""
    try:
        return json.loads(cell)
    except ValueError:
        return cell


def dump_csv(cases: Sequence[Case]) -> str:
    """What :func:`parse_csv` reads back to the same cases (JSON in the structured columns)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for case in cases:
        writer.writerow([case.id or "", case.message, case.expected if case.expected is not None else "",
                         json.dumps([t.model_dump() for t in case.history], ensure_ascii=False) if case.history else "",
                         json.dumps(case.inputs, ensure_ascii=False) if case.inputs else "",
                         json.dumps(case.properties, ensure_ascii=False) if case.properties else ""])
    return out.getvalue()
