"""The datasets service: a tenant's evaluation datasets and their cases — create, edit, delete,
import and export (JSONL, CSV), and a case captured from a past run (the History tab's button).

Cases and scorers are checked by :mod:`runtime.evals` before anything is stored; a bad file is
refused whole, naming every bad line.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from runtime.evals import Case, DatasetFileError, answer_text, dump_csv, dump_jsonl, parse_csv, parse_jsonl
from runtime.evals.scorers import ScorerError, parse_scorers
from storage.db import Database
from storage.errors import StorageError
from storage.repos import evaluations as repo
from storage.repos import messages as messages_repo
from storage.tables.evaluations import EvalCase, EvalDataset

from .errors import Conflict, Invalid, NotFound
from .runs import RunService

FileFormat = Literal["jsonl", "csv"]
MAX_TURNS = 50
RUN_KEYS = frozenset({"user_message", "session_id", "tenant_id", "run_id", "history"})


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    dataset: EvalDataset
    cases: int


def case_of(row: EvalCase) -> Case:
    """A stored case as :class:`runtime.evals.Case`."""
    return Case.model_validate({"id": row.id, "message": row.message, "history": row.history, "inputs": row.inputs,
                                "expected": row.expected, "properties": row.properties})


def check_case(values: dict[str, Any]) -> Case:
    try:
        return Case.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Invalid(f"case: {'.'.join(str(p) for p in first['loc']) or 'case'}: {first['msg']}") from None


def check_scorers(scorers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    try:
        parse_scorers(scorers)
    except ScorerError as exc:
        raise Invalid(str(exc)) from None
    return scorers


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise Invalid("a dataset's name is 1 to 200 characters")
    return name


def _turns_before(session: Session, tenant: str, session_id: str, run_id: str,
                  started_at: datetime) -> list[dict[str, str]]:
    """The conversation's messages before a run (its earlier turns): those stored before the
    run's own, or before it started when it saved none; the last ``MAX_TURNS``."""
    rows = messages_repo.history(session, tenant, session_id, 1000)
    own = next((i for i, m in enumerate(rows) if m.run_id == run_id), None)
    before = rows[:own] if own is not None else [m for m in rows if m.created_at < started_at]
    return [{"role": m.role, "content": m.content} for m in before[-MAX_TURNS:] if m.role in ("user", "assistant")]


class DatasetService:
    def __init__(self, database: Database, runs: RunService) -> None:
        self.database = database
        self.runs = runs

    async def summaries(self, tenant: str) -> list[DatasetSummary]:
        return [DatasetSummary(d, n) for d, n in await self.database.run(repo.list_datasets, tenant)]

    async def get(self, tenant: str, id_or_name: str) -> EvalDataset:
        """By id or name; :class:`NotFound` for another tenant's or an unknown one."""
        row = await self.database.run(repo.find_dataset, tenant, id_or_name)
        if row is None:
            raise NotFound(f"dataset {id_or_name!r}")
        return row

    async def create(self, tenant: str, name: str, description: str = "",
                     scorers: list[dict[str, Any]] | None = None) -> EvalDataset:
        name = check_name(name)
        try:
            return await self.database.run(repo.create_dataset, tenant, name, description,
                                           check_scorers(scorers or []))
        except StorageError as exc:
            raise Conflict(str(exc)) from None
        except IntegrityError:  # the same name created at the same moment (two clicks)
            raise Conflict(f"a dataset named {name!r} already exists") from None

    async def update(self, tenant: str, dataset_id: str, *, name: str | None = None, description: str | None = None,
                     scorers: list[dict[str, Any]] | None = None) -> EvalDataset:
        try:
            row = await self.database.run(repo.update_dataset, tenant, dataset_id,
                                          name=check_name(name) if name is not None else None,
                                          description=description,
                                          scorers=check_scorers(scorers) if scorers is not None else None)
        except StorageError as exc:
            raise Conflict(str(exc)) from None
        if row is None:
            raise NotFound(f"dataset {dataset_id!r}")
        return row

    async def delete(self, tenant: str, dataset_id: str) -> None:
        if not await self.database.run(repo.delete_dataset, tenant, dataset_id):
            raise NotFound(f"dataset {dataset_id!r}")

    async def cases(self, tenant: str, dataset_id: str) -> list[EvalCase]:
        await self.get(tenant, dataset_id)
        return await self.database.run(repo.list_cases, tenant, dataset_id)

    async def add_cases(self, tenant: str, dataset_id: str, cases: list[Case], *, replace: bool = False,
                        source_run_id: str | None = None) -> list[EvalCase]:
        dataset = await self.get(tenant, dataset_id)
        values = [c.model_dump() for c in cases]
        try:
            return await self.database.run(repo.add_cases, tenant, dataset.id, values, replace=replace,
                                           source_run_id=source_run_id)
        except StorageError as exc:
            raise Conflict(str(exc)) from None

    async def update_case(self, tenant: str, dataset_id: str, case_id: str, values: dict[str, Any]) -> EvalCase:
        case = check_case({**values, "id": case_id})
        row = await self.database.run(repo.update_case, tenant, dataset_id, case_id, case.model_dump())
        if row is None:
            raise NotFound(f"case {case_id!r} of dataset {dataset_id!r}")
        return row

    async def set_expected(self, tenant: str, dataset_id: str, case_id: str, expected: str) -> EvalCase:
        """Accept an answer as the case's expected text (a version changed it on purpose)."""
        rows = await self.database.run(repo.list_cases, tenant, dataset_id)
        row = next((r for r in rows if r.id == case_id), None)
        if row is None:
            raise NotFound(f"case {case_id!r} of dataset {dataset_id!r}")
        values = case_of(row).model_dump(exclude={"id"})
        return await self.update_case(tenant, dataset_id, case_id, {**values, "expected": expected or None})

    async def delete_case(self, tenant: str, dataset_id: str, case_id: str) -> None:
        if not await self.database.run(repo.delete_case, tenant, dataset_id, case_id):
            raise NotFound(f"case {case_id!r} of dataset {dataset_id!r}")

    async def case_from_run(self, tenant: str, dataset_id: str, run_id: str) -> EvalCase:
        """A case made from a recorded run: its message, earlier turns and other inputs, and its
        answer as the expected text (edit it if the answer was wrong)."""
        run = await self.runs.stored(tenant, run_id)
        inputs = dict(run.inputs or {})
        message = inputs.get("user_message")
        if not isinstance(message, str) or not message.strip():
            raise Invalid(f"run {run_id!r} has no user message to make a case of")
        history = inputs.get("history") if isinstance(inputs.get("history"), list) else []
        if not history and run.session_id:
            history = await self.database.run(_turns_before, tenant, run.session_id, run.id, run.started_at)
        extra = {k: v for k, v in inputs.items() if k not in RUN_KEYS}
        expected = answer_text("", run.output) if run.status == "succeeded" else None
        case = check_case({"message": message, "history": history, "inputs": extra, "expected": expected or None})
        (row,) = await self.add_cases(tenant, dataset_id, [case], source_run_id=run_id)
        return row

    async def import_text(self, tenant: str, text: str, fmt: FileFormat, dataset: str | None = None, *,
                          replace: bool = False) -> tuple[EvalDataset, int]:
        """Parse a file whole (:class:`Invalid` naming each bad line), then add its cases to the
        dataset named ``dataset`` (or the file's header name), creating it when it does not exist."""
        try:
            parsed = parse_jsonl(text) if fmt == "jsonl" else parse_csv(text)
        except DatasetFileError as exc:
            raise Invalid(f"the file was not imported: {exc}") from None
        name = dataset or parsed.name
        if not name:
            raise Invalid("name the dataset (the file has no header line with a name)")
        existing = await self.database.run(repo.find_dataset, tenant, name)
        if existing is None:
            existing = await self.create(tenant, name, parsed.description or "", parsed.scorers or [])
        elif parsed.scorers is not None and replace:
            existing = await self.update(tenant, existing.id, scorers=parsed.scorers)
        rows = await self.add_cases(tenant, existing.id, parsed.cases, replace=replace)
        return existing, len(rows)

    async def export_text(self, tenant: str, dataset_id: str, fmt: FileFormat) -> str:
        dataset = await self.get(tenant, dataset_id)
        cases = [case_of(row) for row in await self.database.run(repo.list_cases, tenant, dataset.id)]
        if fmt == "csv":
            return dump_csv(cases)
        return dump_jsonl(cases, dataset.name, dataset.description or None, list(dataset.scorers))
