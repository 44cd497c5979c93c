"""Dataset files (JSONL/CSV round trips, bad files naming the line), the report and the judge
(through the mock provider, its verdicts scripted per case)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from runtime.evals import Case, DatasetFileError, Outcome, dump_csv, dump_jsonl, parse_csv, parse_jsonl
from runtime.evals.judge import LLMJudge, read_score
from runtime.evals.report import CaseResult, compare, gate, percentile, summarise
from runtime.evals.scorers import parse_scorers
from runtime.ports import LLMProvider, LLMRequest, Usage
from runtime.providers.mock import MOCK

CASES = [
    Case(message="Transpalet arıyorum", expected="Elektrikli, \"2.5 t\"", id="c1",
         history=[{"role": "user", "content": "merhaba"}, {"role": "assistant", "content": "Merhaba!"}]),
    Case(message="line one\nline two, with a comma", inputs={"category": "forklift", "n": 3},
         properties={"price": 4500, "tags": ["a", "b"]}),
    Case(message="üç", expected=""),
]


def test_jsonl_round_trip_with_header():
    scorers = [{"kind": "contains", "value": "pallet"}]
    text = dump_jsonl(CASES, "smoke", "the smoke set", scorers)
    parsed = parse_jsonl(text)
    assert parsed.cases == CASES and parsed.name == "smoke" and parsed.scorers == scorers
    assert parsed.description == "the smoke set"
    assert parse_jsonl(dump_jsonl(parsed.cases)).cases == CASES


def test_csv_round_trip():
    text = dump_csv(CASES)
    back = parse_csv(text).cases
    assert [c.model_dump() for c in back[:2]] == [c.model_dump() for c in CASES[:2]]
    assert back[2].message == "üç" and back[2].expected is None  # an empty cell is no expected text


def test_csv_single_value_columns():
    text = "message,inputs.category,properties.price,expected\nhi,forklift,4500,ok\n"
    (case,) = parse_csv(text).cases
    assert case.inputs == {"category": "forklift"} and case.properties == {"price": 4500} and case.expected == "ok"


@pytest.mark.parametrize(("text", "problem"), [
    ('{"message": "a"}\n{"message": "b"\n', "line 2: not JSON"),
    ('{"message": "a"}\n\n{"mesage": "b"}\n', "line 3: message: Field required"),
    ('{"message": "a"}\n[1]\n', "line 2: expected a JSON object, got list"),
    ('{"message": "a"}\n{"akis_dataset": 1}\n', "line 2: the dataset header must be the first line"),
    ('{"message": "a", "history": [{"role": "bot", "content": "x"}]}', "line 1: history.0.role"),
    ("", "line 1: the file holds no case"),
    ('{"message": "a", "id": "x"}\n{"message": "b", "id": "x"}', "case id(s) given twice: x"),
])
def test_bad_jsonl_names_the_line(text, problem):
    with pytest.raises(DatasetFileError) as caught:
        parse_jsonl(text)
    assert problem in str(caught.value)


@pytest.mark.parametrize(("text", "problem"), [
    ("", "line 1: the file is empty"),
    ("question,expected\nhi,ok\n", "line 1: no 'message' column"),
    ("message,colour\nhi,red\n", "line 1: unknown column 'colour'"),
    ("message,expected\nhi,ok\nthere\nyo,ok,extra\n", "line 3: 1 values for 2 columns"),
    ("message,inputs\nhi,{}\nyo,{not json}\n", "line 3: column 'inputs': not a JSON object"),
    ('message,history\nhi,"[{""role"": ""x""}]"\n', "line 2: history.0.role"),
])
def test_bad_csv_names_the_line(text, problem):
    with pytest.raises(DatasetFileError) as caught:
        parse_csv(text)
    assert problem in str(caught.value)


def test_bad_csv_lists_every_bad_line():
    with pytest.raises(DatasetFileError) as caught:
        parse_csv("message,expected\nhi,ok\nthere\nyo,ok,extra\n")
    assert caught.value.problems == ["line 3: 1 values for 2 columns", "line 4: 3 values for 2 columns"]


def row(case: str, version: int, passed: bool, text: str = "t", **kw: object) -> CaseResult:
    score = {"value": 1.0 if passed else 0.0, "passed": passed, "detail": ""}
    return CaseResult(case, version, str(kw.pop("status", "succeeded")), passed, text, {"exact": score}, **kw)


def test_percentiles_interpolate():
    assert percentile([], 50) is None
    assert percentile([10.0], 95) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(v) for v in range(1, 101)], 95) == pytest.approx(95.05)


def test_summary_comparison_and_gate():
    rows = [row(f"c{i}", 1, True, duration_ms=float(i), tokens_in=2) for i in range(10)]
    rows += [row(f"c{i}", 2, i >= 3, text="t" if i >= 3 else "broken", duration_ms=float(2 * i)) for i in range(10)]
    rows.append(row("c9", 2, True, text="new wording"))  # a later row of the same case replaces nothing here
    one, two = summarise(1, rows[:10]), summarise(2, rows[10:20])
    assert (one.pass_rate, two.pass_rate, one.tokens_in) == (1.0, 0.7, 20)
    assert one.scorers["exact"].mean == 1.0 and two.scorers["exact"].pass_rate == 0.7
    assert one.duration_p50 == 4.5 and two.duration_p95 == pytest.approx(17.1)
    diff = compare(1, 2, rows[:20])
    assert diff.changed == diff.regressed == ["c0", "c1", "c2"] and diff.fixed == []
    assert gate(one, 0.9) == []
    reasons = gate(two, 0.9, baseline=one, tolerance=0.05)
    assert reasons[0] == "v2: pass rate 70.0% is under 90.0%"
    assert any("scorer 'exact' fell from 1.000 (v1) to 0.700" in r for r in reasons)
    assert gate(two, 0.5, baseline=one, tolerance=0.3) == []


class Recording:
    """The mock provider, recording what it is asked: the mock answers (from its ``replies``), this
    test double only keeps the prompts, which the mock cannot show the test."""

    name = "mock"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def stream(self, request: LLMRequest) -> AsyncIterator[str | Usage]:
        self.prompts.append(request.messages[-1]["content"])
        return MOCK.stream(request)


class Resolver:
    def __init__(self, provider: LLMProvider) -> None:
        self.provider = provider
        self.asked: list[tuple[str, str | None, str]] = []

    def resolve(self, provider: str, credential: str | None, tenant_id: str) -> LLMProvider:
        self.asked.append((provider, credential, tenant_id))
        return self.provider


@pytest.mark.parametrize(("reply", "value"), [
    ("Good. SCORE: 0.8", 0.8), ("score = 7/10", 0.7), ("SCORE: 9", 0.9), ("PASS", 1.0), ("it is a FAIL", 0.0),
    ("SCORE: 15/10", 1.0), ("SCORE: 85", 0.85), ("SCORE: 0.3 ... SCORE: 0.6", 0.6), ("no idea", None),
])
def test_read_score(reply, value):
    assert read_score(reply) == value


def replies(**answers: str) -> dict[str, object]:
    """The mock's options for a judge whose verdict is chosen by what its prompt contains."""
    return {"delay_ms": 0, "tokens_per_second": 0, "replies": [{"when": k, "text": v} for k, v in answers.items()]}


async def test_judge_scores_through_the_resolved_provider():
    provider = Recording()
    resolver = Resolver(provider)
    judge = LLMJudge(resolver, "7")
    options = replies(answer_good="Polite enough. SCORE: 0.9", answer_bad="Rude. SCORE: 0.2", answer_odd="Hmm.")
    (spec,) = parse_scorers([{"kind": "judge", "rubric": "Is it polite?", "provider": "anthropic",
                              "credential": "team", "threshold": 0.5, "options": options}])
    case = Case(message="hello", expected="Hi!")
    good = await judge(spec, case, Outcome("succeeded", "polite"), "answer_good")
    bad = await judge(spec, case, Outcome("succeeded", "rude"), "answer_bad")
    odd = await judge(spec, case, Outcome("succeeded", "x"), "answer_odd")
    assert (good.value, good.passed, good.detail) == (0.9, True, "judged 0.90: Polite enough. SCORE: 0.9")
    assert (bad.value, bad.passed) == (0.2, False) and "judged 0.20 < 0.50" in bad.detail
    assert odd.passed is False and odd.detail == "the judge's reply had no score: 'Hmm.'"
    # the judge adds up the mock's usage: the words of each prompt in, one token per word out
    words_in = sum(len(prompt.split()) for prompt in provider.prompts)
    assert resolver.asked[0] == ("anthropic", "team", "7") and judge.tokens == words_in + 4 + 3 + 1
    assert "Is it polite?" in provider.prompts[0] and "Reference answer:\nHi!" in provider.prompts[0]


async def test_judge_through_the_offline_mock_provider():
    """Per-case verdicts scripted in the mock's ``replies`` (by the case's message), ``text`` for the rest."""
    from runtime.providers.resolver import EnvProviderResolver
    from runtime.settings import AkisSettings

    judge = LLMJudge(EnvProviderResolver(AkisSettings()), "2")
    options = {**replies(**{"User message:\nrefund?": "Off topic. SCORE: 2/10"}), "text": "Fine. SCORE: 1"}
    (spec,) = parse_scorers([{"kind": "judge", "rubric": "r", "options": options}])
    score = await judge(spec, Case(message="m"), Outcome("succeeded", "a"), "a")
    assert (score.value, score.passed) == (1.0, True)
    low = await judge(spec, Case(message="refund?"), Outcome("succeeded", "a"), "a")
    assert (low.value, low.passed, low.detail) == (0.2, False, "judged 0.20 < 0.50: Off topic. SCORE: 2/10")


@pytest.mark.parametrize(("reply", "problem"), [
    ({"when": "x", "txt": "SCORE: 1"}, "options.replies.0.text: Field required"),
    ({"when": "", "text": "SCORE: 1"}, "options.replies.0.when: String should have at least 1 character"),
])
def test_a_misspelt_reply_of_the_mock_judge_is_refused(reply, problem):
    with pytest.raises(ValueError, match=problem):
        parse_scorers([{"kind": "judge", "rubric": "r", "options": {"replies": [reply]}}])
