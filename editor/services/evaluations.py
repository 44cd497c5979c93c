"""The evaluations service: run a dataset through one or more versions of a flow, score every
case, store the results, and report them (per version, case by case, against a baseline).

Every case's run goes through the runs service like any other run (recorded, streamed on its
own conversation, tagged with the evaluation's id), at most ``concurrency`` at a time across all
versions. Caches off runs a copy of the version whose cache strategies are all disabled, so no
answer comes from (or goes into) the cache. A case's earlier turns are stored in its run's fresh
conversation first, so a history node reads them, and are given as the ``history`` input too.
"""
from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from runtime.errors import AkisError
from runtime.evals import Case, Outcome, answer_text, score_case
from runtime.evals.judge import LLMJudge
from runtime.evals.report import CaseResult, Comparison, VersionSummary, compare, summarise
from runtime.evals.scorers import ScorerError, ScorerSpec, parse_scorers
from runtime.flow.model import FlowDocument
from runtime.ports import ChatMessage, ConversationStore, ProviderResolver
from storage.db import Database
from storage.recorder import RunLabels
from storage.repos import evaluations as repo
from storage.tables.evaluations import EvalCase, EvalResult, Evaluation
from storage.types import utcnow

from .datasets import DatasetService, case_of
from .errors import DATABASE_ERRORS, FlowProblems, Invalid, NotFound, ServiceError
from .flows import FlowService
from .runs import RunService

log = logging.getLogger("akis.evaluations")
MAX_CONCURRENCY = 64
MAX_VERSIONS = 8
# what fails one case's run (a refused input, a provider or node error, the database away) rather than the evaluation
CASE_ERRORS: tuple[type[Exception], ...] = (ServiceError, AkisError, *DATABASE_ERRORS)
HEARTBEAT_S = 15.0  # a running evaluation says it is alive this often ...
SILENT_S = 120.0  # ... and one silent this long, not running here, is shown as interrupted
EVALUATION_KEYS = ("id", "dataset_id", "flow_id", "versions", "baseline", "status", "done", "total", "concurrency",
                   "use_cache", "error", "created_at", "finished_at")


def cache_off(document: FlowDocument) -> FlowDocument:
    """A copy of ``document`` that neither reads nor fills the cache."""
    strategies = {kind: s.model_copy(update={"enabled": False}) for kind, s in document.cache_strategy.items()}
    nodes = [n.model_copy(update={"cache": n.cache.model_copy(update={"enabled": False})}) if n.cache else n
             for n in document.nodes]
    return document.model_copy(update={"cache_strategy": strategies, "nodes": nodes})


@dataclass
class CaseRow:
    """One case across versions, for the side-by-side table."""

    case_id: str
    message: str
    expected: str | None
    results: dict[int, EvalResult]
    changed: bool = False


@dataclass
class EvaluationReport:
    evaluation: Evaluation
    dataset_name: str
    summaries: list[VersionSummary]
    comparisons: list[Comparison]
    cases: list[CaseRow] = field(default_factory=list)

    @property
    def baseline(self) -> int:
        return self.evaluation.baseline or self.evaluation.versions[0]

    def summary(self, version: int) -> VersionSummary:
        return next(s for s in self.summaries if s.version == version)

    def to_csv(self) -> str:
        """One row per case and version (answer, verdict, timings, tokens, each scorer's value), for a spreadsheet."""
        names = list(dict.fromkeys(n for s in self.summaries for n in s.scorers))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["case_id", "message", "expected", "version", "changed", "status", "passed", "answer",
                         "error", "duration_ms", "first_chunk_ms", "tokens_in", "tokens_out", "run_id", *names])
        for row in self.cases:
            for version, r in sorted(row.results.items()):
                writer.writerow([row.case_id, _cell(row.message), _cell(row.expected or ""), version, row.changed,
                                 r.status, r.passed, _cell(r.text), _cell(r.error or ""), r.duration_ms,
                                 r.first_chunk_ms, r.tokens_in, r.tokens_out, r.run_id or "",
                                 *(r.scores[n]["value"] if n in r.scores else "" for n in names)])
        return out.getvalue()

    def to_dict(self, changed_only: bool = False) -> dict[str, Any]:
        """JSON-ready (what the API's report answers and ``akis eval --json`` prints)."""
        e = self.evaluation
        result_keys = ("version", "run_id", "status", "passed", "text", "error", "scores", "duration_ms",
                       "first_chunk_ms", "tokens_in", "tokens_out")
        return {
            "evaluation": {k: getattr(e, k) for k in EVALUATION_KEYS}, "dataset": self.dataset_name,
            "baseline": self.baseline, "versions": [s.to_dict() for s in self.summaries],
            "comparisons": [dict(c.__dict__) for c in self.comparisons],
            "cases": [{"case_id": r.case_id, "message": r.message, "expected": r.expected, "changed": r.changed,
                       "results": [{k: getattr(res, k) for k in result_keys} for _, res in sorted(r.results.items())]}
                      for r in self.cases if r.changed or not changed_only],
        }


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) gets a leading quote:
    answers come from a model and messages from users (the report is for reading, not import)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_case_result(row: EvalResult) -> CaseResult:
    return CaseResult(row.case_id, row.version, row.status, row.passed, row.text, dict(row.scores),
                      row.duration_ms, row.first_chunk_ms, row.tokens_in, row.tokens_out, row.run_id)


class EvaluationService:
    def __init__(self, database: Database, flows: FlowService, runs: RunService, datasets: DatasetService,
                 providers: ProviderResolver, conversations: ConversationStore | None = None) -> None:
        self.database = database
        self.flows = flows
        self.runs = runs
        self.datasets = datasets
        self.providers = providers
        self.conversations = conversations
        self.tasks: dict[str, asyncio.Task[None]] = {}
        # (tenant, flow, version) -> (the stored document, its cache-off copy)
        self._cache_off: dict[tuple[str, str, int], tuple[FlowDocument, FlowDocument]] = {}

    async def start(self, tenant: str, dataset_id: str, flow_id: str, versions: list[int] | None = None, *,
                    baseline: int | None = None, concurrency: int = 4, use_cache: bool = True) -> Evaluation:
        """Check everything, store the evaluation, and run it in the background (``wait`` for it)."""
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise Invalid(f"concurrency must be 1 to {MAX_CONCURRENCY}")
        dataset = await self.datasets.get(tenant, dataset_id)
        cases = await self.database.run(repo.list_cases, tenant, dataset.id)
        if not cases:
            raise Invalid(f"dataset {dataset.name!r} has no case to run")
        try:
            specs = parse_scorers(list(dataset.scorers))  # checked when stored; the rules may have grown since
        except ScorerError as exc:
            raise Invalid(f"dataset {dataset.name!r}: {exc}") from None
        if any(v < 1 for v in [*(versions or []), *([baseline] if baseline is not None else [])]):
            raise Invalid("versions are numbers from 1")
        wanted = list(dict.fromkeys(versions or [(await self.flows.read(tenant, flow_id)).version]))
        if len(wanted) > MAX_VERSIONS:
            raise Invalid(f"at most {MAX_VERSIONS} versions at once")
        if baseline is not None and baseline not in wanted:
            wanted.insert(0, baseline)
        documents: dict[int, FlowDocument] = {}
        for version in wanted:
            stored = await self.flows.read(tenant, flow_id, version)
            if stored.problems:
                raise FlowProblems(f"version {version} of flow {flow_id!r} has {len(stored.problems)} problem(s) "
                                   "and cannot run", list(stored.problems))
            documents[version] = stored.document if use_cache else self._uncached(tenant, flow_id, version,
                                                                                  stored.document)
        evaluation = await self.database.run(
            repo.create_evaluation, tenant, dataset.id, flow_id, wanted, baseline=baseline, concurrency=concurrency,
            use_cache=use_cache, scorers=list(dataset.scorers), total=len(cases) * len(wanted))
        task = asyncio.get_running_loop().create_task(
            self._execute(tenant, evaluation, cases, specs, documents), name=f"akis-eval-{evaluation.id}")
        self.tasks[evaluation.id] = task
        task.add_done_callback(lambda _: self.tasks.pop(evaluation.id, None))
        return evaluation

    async def wait(self, tenant: str, evaluation_id: str) -> Evaluation:
        """The evaluation once it has ended (at once when it already has)."""
        task = self.tasks.get(evaluation_id)
        if task is not None:
            await asyncio.shield(task)
        return await self.get(tenant, evaluation_id)

    async def cancel(self, tenant: str, evaluation_id: str) -> bool:
        """Stop a running evaluation of this process; True when it was running."""
        await self.get(tenant, evaluation_id)
        task = self.tasks.get(evaluation_id)
        if task is None or task.done():
            return False
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return True

    async def get(self, tenant: str, evaluation_id: str) -> Evaluation:
        row = await self.database.run(repo.get_evaluation, tenant, evaluation_id)
        if row is None:
            raise NotFound(f"evaluation {evaluation_id!r}")
        return await self._settled(tenant, row)

    async def recent(self, tenant: str, dataset_id: str | None = None, limit: int = 50) -> list[Evaluation]:
        rows = await self.database.run(repo.list_evaluations, tenant, dataset_id, limit)
        return [await self._settled(tenant, row) for row in rows]

    async def aclose(self) -> None:
        """Stop this process's running evaluations (each is stored as cancelled)."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _settled(self, tenant: str, row: Evaluation) -> Evaluation:
        """A running evaluation that no process has kept alive for ``SILENT_S`` becomes interrupted."""
        if row.status != "running" or row.id in self.tasks:
            return row
        silent_since = utcnow() - timedelta(seconds=SILENT_S)
        if (row.heartbeat_at or row.created_at) >= silent_since:
            return row
        return await self.database.run(repo.interrupt, tenant, row.id, silent_since) or row

    async def report(self, tenant: str, evaluation_id: str) -> EvaluationReport:
        evaluation = await self.get(tenant, evaluation_id)
        dataset = await self.database.run(repo.get_dataset, tenant, evaluation.dataset_id)
        rows = await self.database.run(repo.list_results, tenant, evaluation_id)
        results = [as_case_result(r) for r in rows]
        summaries = [summarise(v, [r for r in results if r.version == v]) for v in evaluation.versions]
        base = evaluation.baseline or evaluation.versions[0]
        comparisons = [compare(base, v, results) for v in evaluation.versions if v != base]
        changed = {c for comparison in comparisons for c in comparison.changed}
        cases: dict[str, CaseRow] = {}
        for row in rows:
            entry = cases.setdefault(row.case_id, CaseRow(row.case_id, row.message, row.expected, {}))
            entry.results[row.version] = row
            entry.changed = row.case_id in changed
        return EvaluationReport(evaluation, dataset.name if dataset else "(deleted)", summaries, comparisons,
                                list(cases.values()))

    # -- running ----------------------------------------------------------------------------
    def _uncached(self, tenant: str, flow_id: str, version: int, document: FlowDocument) -> FlowDocument:
        """One cache-off copy per stored version, so the engine compiles its plan once; made
        again when the version's document is another object (the flow was deleted and made anew)."""
        key = (tenant, flow_id, version)
        kept = self._cache_off.get(key)
        if kept is None or kept[0] is not document:
            if len(self._cache_off) > 256:
                self._cache_off.clear()
            kept = self._cache_off[key] = (document, cache_off(document))
        return kept[1]

    async def _execute(self, tenant: str, evaluation: Evaluation, cases: list[EvalCase], specs: list[ScorerSpec],
                       documents: dict[int, FlowDocument]) -> None:
        limit = asyncio.Semaphore(evaluation.concurrency)
        judge = LLMJudge(self.providers, tenant)
        writer = ResultWriter(self.database, tenant, evaluation.id)
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(tenant, evaluation.id))

        async def one(version: int, position: int, row: EvalCase) -> None:
            async with limit:
                values = await self._run_case(tenant, evaluation, version, documents[version], row, specs, judge)
            await writer.add({**values, "position": position})

        status, error = "finished", None
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(one(v, p, row)) for v in documents for p, row in enumerate(cases)]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            status, error = "cancelled", "cancelled"
        except Exception as exc:  # the evaluation row must say it failed, whatever broke
            log.exception("evaluation %s failed", evaluation.id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        for task in tasks:  # after a failure, the other cases stop too
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        heartbeat.cancel()
        try:
            await asyncio.shield(writer.flush())
            await asyncio.shield(self.database.run(repo.finish_evaluation, tenant, evaluation.id, status, error))
        except DATABASE_ERRORS as exc:  # with no heartbeat it shows as interrupted once SILENT_S passed
            log.warning("evaluation %s could not be stored as %s: %s", evaluation.id, status, exc)

    async def _heartbeat(self, tenant: str, evaluation_id: str) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.database.run(repo.set_progress, tenant, evaluation_id, None)
            except DATABASE_ERRORS as exc:  # the next beat tries again; the results say the rest
                log.warning("evaluation %s heartbeat failed: %s", evaluation_id, exc)

    async def _run_case(self, tenant: str, evaluation: Evaluation, version: int, document: FlowDocument,
                        row: EvalCase, specs: list[ScorerSpec], judge: LLMJudge) -> dict[str, Any]:
        case = case_of(row)
        session = uuid.uuid4().hex
        base: dict[str, Any] = {"case_id": row.id, "version": version, "message": row.message,
                                "expected": row.expected}
        try:
            if case.history and self.conversations is not None:
                turns = [ChatMessage(t.role, t.content, seq=i) for i, t in enumerate(case.history)]
                await self.conversations.save(tenant, session, turns)
            started = await self.runs.start(tenant, document, case.run_inputs(), session_id=session, version=version,
                                            labels=RunLabels(evaluation_id=evaluation.id))
            result = await started.handle.result()
        except CASE_ERRORS as exc:  # this case failed, saying why; the others go on
            outcome = Outcome("failed", "", error=getattr(exc, "detail", None) or str(exc) or type(exc).__name__)
            return {**base, **self._values(outcome), "scores": await self._scores(specs, case, outcome, judge)}
        outcome = Outcome(result.status, answer_text(result.answer, result.output), dict(result.output or {}),
                          result.total_ms, result.first_chunk_ms, int(result.usage.get("tokens_in", 0)),
                          int(result.usage.get("tokens_out", 0)), result.error)
        scores = await self._scores(specs, case, outcome, judge)
        return {**base, **self._values(outcome), "run_id": result.run_id, "scores": scores}

    @staticmethod
    def _values(outcome: Outcome) -> dict[str, Any]:
        return {"status": outcome.status, "text": outcome.text, "output": outcome.output or None,
                "error": outcome.error, "duration_ms": outcome.duration_ms, "first_chunk_ms": outcome.first_chunk_ms,
                "tokens_in": outcome.tokens_in, "tokens_out": outcome.tokens_out}

    @staticmethod
    async def _scores(specs: list[ScorerSpec], case: Case, outcome: Outcome, judge: LLMJudge) -> dict[str, Any]:
        scores = await score_case(specs, case, outcome, judge)
        return {name: score.to_dict() for name, score in scores.items()}


class ResultWriter:
    """Results written in batches, each in one unit of work with the progress, so an evaluation
    does not pay a commit per case (bench/bench_evaluations.py); a result waits at most
    ``BATCH`` results or ``FLUSH_S`` seconds, so the page's progress stays current."""

    BATCH = 25
    FLUSH_S = 0.5

    def __init__(self, database: Database, tenant: str, evaluation_id: str) -> None:
        self.database, self.tenant, self.evaluation_id = database, tenant, evaluation_id
        self.pending: list[dict[str, Any]] = []
        self.written = 0
        self.lock = asyncio.Lock()
        self.flushed_at = time.monotonic()

    async def add(self, values: dict[str, Any]) -> None:
        scores = values["scores"]  # a case passes when its run succeeded and every scorer passed
        self.pending.append({**values, "passed": values["status"] == "succeeded"
                             and all(s["passed"] for s in scores.values())})
        if len(self.pending) >= self.BATCH or time.monotonic() - self.flushed_at >= self.FLUSH_S:
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            if not self.pending:
                return
            batch, self.pending = self.pending, []
            self.flushed_at = time.monotonic()
            self.written += len(batch)
            await self.database.run(repo.save_results, self.tenant, self.evaluation_id, batch, self.written)
