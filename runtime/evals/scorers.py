"""Scorers: each gives a case a number from 0 to 1 and a verdict (passed or not) with a reason.

Every scorer but the judge is a pure function of the case and the run's outcome. String
similarity uses :mod:`difflib` (the standard library's Ratcliff/Obershelp ratio): datasets are
tens to thousands of short answers, where its speed is ample, and it adds no dependency.
"""
from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from ..providers.mock import MockOptions
from .cases import Case, Outcome, field_value

NAME = r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,63}$"


@dataclass(frozen=True, slots=True)
class Score:
    value: float  # 0 (worst) to 1 (best)
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"value": round(self.value, 6), "passed": self.passed, "detail": self.detail}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field("", pattern=r"^$|" + NAME, description="Unique in the dataset (default: the kind).")
    field: str | None = Field(None, max_length=200, description="An output field (a.b.0); default: the answer text.")

    @property
    def label(self) -> str:
        return self.name or str(getattr(self, "kind", ""))


class Exact(_Spec):
    kind: Literal["exact"]
    value: str | None = None
    ignore_case: bool = False


class Contains(_Spec):
    kind: Literal["contains"]
    value: str | list[str] | None = None
    ignore_case: bool = True


class Regex(_Spec):
    kind: Literal["regex"]
    pattern: str | None = Field(None, max_length=2000, description="Default: the case's expected text.")
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


class JsonSchema(_Spec):
    kind: Literal["json_schema"]
    json_schema: dict[str, Any] = Field(alias="schema")

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return schema


class Similarity(_Spec):
    kind: Literal["similarity"]
    value: str | None = None
    threshold: float = Field(0.8, ge=0, le=1)
    ignore_case: bool = True


class Numeric(_Spec):
    kind: Literal["numeric"]
    value: float | None = None
    tolerance: float = Field(0.0, ge=0, description="Allowed difference (a fraction of the value if relative).")
    relative: bool = False


class Latency(_Spec):
    kind: Literal["latency"]
    budget_ms: float = Field(gt=0)
    metric: Literal["total", "first_chunk"] = "total"


class Tokens(_Spec):
    kind: Literal["tokens"]
    budget: int = Field(gt=0)
    which: Literal["total", "in", "out"] = "total"


_MOCK_OPTIONS: TypeAdapter[MockOptions] = TypeAdapter(MockOptions)


class Judge(_Spec):
    kind: Literal["judge"]
    rubric: str = Field(min_length=1, max_length=10_000)
    provider: str = Field("mock", max_length=50)
    model: str = Field("", max_length=200)
    credential: str | None = Field(None, max_length=100)
    options: dict[str, Any] = Field(default_factory=dict, description="Given to the provider (the mock's text).")
    threshold: float = Field(0.5, ge=0, le=1, description="A score at or above this passes.")

    @model_validator(mode="after")
    def _mock_options(self) -> Judge:
        """The mock's options are known: a misspelt one is refused here, not ignored at run time."""
        if self.provider.strip().lower() == "mock":
            try:
                _MOCK_OPTIONS.validate_python(self.options)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"options.{where}: {first['msg']}") from None
        return self


ScorerSpec = Annotated[Exact | Contains | Regex | JsonSchema | Similarity | Numeric | Latency | Tokens | Judge,
                       Field(discriminator="kind")]
KINDS = ("exact", "contains", "regex", "json_schema", "similarity", "numeric", "latency", "tokens", "judge")
_ADAPTER: TypeAdapter[ScorerSpec] = TypeAdapter(ScorerSpec)


class ScorerError(ValueError):
    """A scorer list that cannot be used; the message names the scorer and the field."""


def parse_scorers(raw: Sequence[Any]) -> list[ScorerSpec]:
    """Scorer specs from JSON; :class:`ScorerError` naming the scorer and field of every problem."""
    if not isinstance(raw, list | tuple):
        raise ScorerError("scorers: expected a list")
    specs: list[ScorerSpec] = []
    problems: list[str] = []
    for position, item in enumerate(raw, start=1):
        kind = item.get("kind") if isinstance(item, dict) else None
        where = f"scorer {position}" + (f" ({kind})" if kind else "")
        if kind not in KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
            continue
        try:
            specs.append(_ADAPTER.validate_python(item))
        except ValidationError as exc:
            for error in exc.errors():
                place = ".".join(str(p) for p in error["loc"][1:])
                message = error["msg"].removeprefix("Value error, ")
                problems.append(f"{where}: {place}: {message}" if place else f"{where}: {message}")
    seen: set[str] = set()
    for spec in specs:
        if spec.label in seen:
            problems.append(f"scorer {spec.label!r}: two scorers have this name; give one a 'name'")
        seen.add(spec.label)
    if problems:
        raise ScorerError("; ".join(problems))
    return specs


JudgeCall = Callable[[Judge, Case, Outcome, str], Awaitable[Score]]


async def score_case(specs: Sequence[ScorerSpec], case: Case, outcome: Outcome,
                     judge: JudgeCall | None = None) -> dict[str, Score]:
    """Every scorer's score for one case's run. A failed run fails every scorer (its error says why)."""
    scores: dict[str, Score] = {}
    for spec in specs:
        if not outcome.succeeded:
            scores[spec.label] = Score(0.0, False, f"run {outcome.status}: {outcome.error or 'no answer'}")
            continue
        try:
            actual = _actual(spec, outcome)
        except KeyError as exc:
            scores[spec.label] = Score(0.0, False, str(exc.args[0]))
            continue
        if isinstance(spec, Judge):
            if judge is None:
                scores[spec.label] = Score(0.0, False, "no LLM judge is available here")
            else:
                scores[spec.label] = await judge(spec, case, outcome, _text(actual))
        else:
            scores[spec.label] = score_one(spec, case, outcome, actual)
    return scores


def score_one(spec: ScorerSpec, case: Case, outcome: Outcome, actual: Any) -> Score:
    """One pure scorer on one case (the judge is not pure: see :mod:`runtime.evals.judge`)."""
    target = case.target(spec.label)
    if isinstance(spec, Exact):
        return _exact(spec, _text(actual), spec.value if spec.value is not None else target)
    if isinstance(spec, Contains):
        return _contains(spec, _text(actual), spec.value if spec.value is not None else target)
    if isinstance(spec, Regex):
        return _regex(spec, _text(actual), spec.pattern if spec.pattern is not None else target)
    if isinstance(spec, JsonSchema):
        return _json_schema(spec, actual)
    if isinstance(spec, Similarity):
        return _similarity(spec, _text(actual), spec.value if spec.value is not None else target)
    if isinstance(spec, Numeric):
        return _numeric(spec, actual, spec.value if spec.value is not None else target)
    if isinstance(spec, Latency):
        return _latency(spec, outcome)
    if isinstance(spec, Tokens):
        return _tokens(spec, outcome)
    return Score(0.0, False, f"scorer kind {spec.kind!r} needs the judge")


def _actual(spec: ScorerSpec, outcome: Outcome) -> Any:
    return field_value(outcome.output, spec.field) if spec.field else outcome.text


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _missing(what: str) -> Score:
    return Score(0.0, False, f"the case has no {what} to compare with")


def _exact(spec: Exact, actual: str, expected: Any) -> Score:
    if expected is None:
        return _missing("expected text")
    left, right = actual.strip(), _text(expected).strip()
    if spec.ignore_case:
        left, right = left.casefold(), right.casefold()
    return Score(1.0, True) if left == right else Score(0.0, False, f"expected {right[:200]!r}")


def _contains(spec: Contains, actual: str, expected: Any) -> Score:
    if expected is None:
        return _missing("text to look for")
    wanted = [_text(v) for v in expected] if isinstance(expected, list) else [_text(expected)]
    haystack = actual.casefold() if spec.ignore_case else actual
    absent = [w for w in wanted if (w.casefold() if spec.ignore_case else w) not in haystack]
    value = (len(wanted) - len(absent)) / len(wanted) if wanted else 1.0
    return Score(value, not absent, f"missing {', '.join(repr(a) for a in absent[:5])}" if absent else "")


def _regex(spec: Regex, actual: str, pattern: Any) -> Score:
    if pattern is None:
        return _missing("pattern")
    try:
        found = re.search(_text(pattern), actual, re.IGNORECASE if spec.ignore_case else 0)
    except re.error as exc:
        return Score(0.0, False, f"the case's pattern is not a regular expression: {exc}")
    return Score(1.0, True) if found else Score(0.0, False, f"no match for {_text(pattern)[:200]!r}")


def _json_schema(spec: JsonSchema, actual: Any) -> Score:
    document = actual
    if isinstance(actual, str):
        try:
            document = json.loads(actual)
        except ValueError as exc:
            return Score(0.0, False, f"not JSON: {exc}")
    error = next(iter(Draft202012Validator(spec.json_schema).iter_errors(document)), None)
    if error is None:
        return Score(1.0, True)
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return Score(0.0, False, f"at {where}: {error.message[:300]}")


def _similarity(spec: Similarity, actual: str, expected: Any) -> Score:
    if expected is None:
        return _missing("expected text")
    left, right = actual.strip(), _text(expected).strip()
    if spec.ignore_case:
        left, right = left.casefold(), right.casefold()
    ratio = difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()
    passed = ratio >= spec.threshold
    return Score(ratio, passed, "" if passed else f"similarity {ratio:.2f} < {spec.threshold:.2f}")


NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        match = NUMBER.search(value)
        return float(match.group().replace(",", ".")) if match else None
    return None


def _numeric(spec: Numeric, actual: Any, expected: Any) -> Score:
    want = _number(expected)
    if want is None:
        return _missing("expected number")
    got = _number(actual)
    if got is None:
        return Score(0.0, False, f"not a number: {_text(actual)[:100]!r}")
    allowed = spec.tolerance * abs(want) if spec.relative else spec.tolerance
    difference = abs(got - want)
    if difference <= allowed:
        return Score(1.0, True)
    return Score(0.0, False, f"{got:g} differs from {want:g} by {difference:g} (allowed {allowed:g})")


def _budget(used: float, budget: float, unit: str) -> Score:
    """Within budget scores 1; over it, budget/used (twice the budget scores 0.5)."""
    if used <= budget:
        return Score(1.0, True)
    return Score(budget / used, False, f"{used:g} {unit} over the budget of {budget:g}")


def _latency(spec: Latency, outcome: Outcome) -> Score:
    used = outcome.duration_ms if spec.metric == "total" else outcome.first_chunk_ms
    if used is None:
        return Score(0.0, False, "the run streamed no chunk" if spec.metric == "first_chunk" else "no duration")
    return _budget(used, spec.budget_ms, "ms")


def _tokens(spec: Tokens, outcome: Outcome) -> Score:
    used = {"in": outcome.tokens_in, "out": outcome.tokens_out}.get(spec.which, outcome.tokens_in + outcome.tokens_out)
    return _budget(float(used), float(spec.budget), "tokens")
