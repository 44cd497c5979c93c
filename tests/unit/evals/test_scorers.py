"""Every scorer on known inputs, passing and failing, and the scorer list's errors."""
from __future__ import annotations

import pytest

from runtime.evals import Case, Outcome, parse_scorers, score_case
from runtime.evals.scorers import ScorerError


def outcome(text: str = "", output: dict | None = None, **kw: object) -> Outcome:
    return Outcome(status=str(kw.pop("status", "succeeded")), text=text, output=output or {}, **kw)


async def scores(specs: list[dict], case: Case, result: Outcome) -> dict[str, tuple[float, bool, str]]:
    got = await score_case(parse_scorers(specs), case, result)
    return {name: (round(s.value, 3), s.passed, s.detail) for name, s in got.items()}


async def test_exact_compares_with_the_case_expected_text_trimmed():
    case = Case(message="hi", expected="Hello there")
    assert (await scores([{"kind": "exact"}], case, outcome(" Hello there\n")))["exact"][:2] == (1.0, True)
    value, passed, detail = (await scores([{"kind": "exact"}], case, outcome("hello there")))["exact"]
    assert (value, passed) == (0.0, False) and "Hello there" in detail
    ignore = [{"kind": "exact", "ignore_case": True}]
    assert (await scores(ignore, case, outcome("hello there")))["exact"][:2] == (1.0, True)


async def test_contains_counts_the_fraction_of_wanted_texts():
    case = Case(message="hi")
    spec = [{"kind": "contains", "value": ["pallet", "forklift", "crane"]}]
    value, passed, detail = (await scores(spec, case, outcome("A Pallet jack or a forklift")))["contains"]
    assert (value, passed) == (0.667, False) and "'crane'" in detail
    full = await scores(spec, case, outcome("pallet, forklift and crane"))
    assert full["contains"][:2] == (1.0, True)


async def test_regex_uses_the_scorers_pattern_or_the_case_property_of_its_name():
    specs = [{"kind": "regex", "pattern": r"\d+ (TL|₺)"}, {"kind": "regex", "name": "sku"}]
    case = Case(message="price?", properties={"sku": r"TP-\d{3}"})
    got = await scores(specs, case, outcome("TP-250 costs 4500 TL"))
    assert got["regex"][:2] == (1.0, True) and got["sku"][:2] == (1.0, True)
    got = await scores(specs, case, outcome("it is cheap"))
    assert got["regex"][:2] == (0.0, False) and got["sku"][1] is False and "TP-" in got["sku"][2]


async def test_json_schema_on_text_and_on_an_output_field():
    schema = {"type": "object", "required": ["price"], "properties": {"price": {"type": "number"}}}
    specs = [{"kind": "json_schema", "schema": schema}, {"kind": "json_schema", "name": "field", "field": "data",
                                                          "schema": schema}]
    good = outcome('{"price": 12.5}', {"data": {"price": 3}})
    got = await scores(specs, Case(message="m"), good)
    assert got["json_schema"][:2] == (1.0, True) and got["field"][:2] == (1.0, True)
    bad = outcome("not json", {"data": {"price": "three"}})
    got = await scores(specs, Case(message="m"), bad)
    assert got["json_schema"][1] is False and got["json_schema"][2].startswith("not JSON")
    assert got["field"][1] is False and "at price" in got["field"][2] and "'three'" in got["field"][2]


async def test_similarity_is_the_difflib_ratio_against_a_threshold():
    case = Case(message="m", expected="the electric pallet jack")
    same = await scores([{"kind": "similarity"}], case, outcome("The electric pallet jack"))
    assert same["similarity"][:2] == (1.0, True)
    close = await scores([{"kind": "similarity", "threshold": 0.9}], case, outcome("the electric pallet truck"))
    assert 0.7 < close["similarity"][0] < 0.9 and close["similarity"][1] is False
    assert "< 0.90" in close["similarity"][2]


async def test_numeric_tolerance_absolute_relative_and_from_text():
    case = Case(message="m", properties={"price": 100})
    specs = [{"kind": "numeric", "name": "price", "field": "price", "tolerance": 2},
             {"kind": "numeric", "name": "rel", "field": "price", "value": 100, "tolerance": 0.05, "relative": True}]
    got = await scores(specs, case, outcome(output={"price": 101.5}))
    assert got["price"][:2] == (1.0, True) and got["rel"][:2] == (1.0, True)
    got = await scores(specs, case, outcome(output={"price": "about 107 TL"}))
    assert got["price"][1] is False and "107 differs from 100 by 7 (allowed 2)" in got["price"][2]
    assert got["rel"][1] is False
    got = await scores(specs, case, outcome(output={"price": "call us"}))
    assert got["price"][1] is False and "not a number" in got["price"][2]
    got = await scores(specs, case, outcome(output={}))
    assert got["price"][1] is False and "no field 'price'" in got["price"][2]


async def test_latency_and_token_budgets():
    specs = [{"kind": "latency", "budget_ms": 500}, {"kind": "latency", "name": "ttfc", "budget_ms": 100,
                                                       "metric": "first_chunk"},
             {"kind": "tokens", "budget": 100}, {"kind": "tokens", "name": "out", "budget": 10, "which": "out"}]
    fast = outcome("x", duration_ms=200.0, first_chunk_ms=50.0, tokens_in=40, tokens_out=10)
    got = await scores(specs, Case(message="m"), fast)
    assert all(v[:2] == (1.0, True) for v in got.values())
    slow = outcome("x", duration_ms=1000.0, first_chunk_ms=None, tokens_in=150, tokens_out=50)
    got = await scores(specs, Case(message="m"), slow)
    assert got["latency"][:2] == (0.5, False) and "1000 ms over the budget of 500" in got["latency"][2]
    assert got["ttfc"][1] is False and "no chunk" in got["ttfc"][2]
    assert got["tokens"][:2] == (0.5, False) and got["out"][:2] == (0.2, False)


async def test_a_failed_run_fails_every_scorer_with_its_error():
    got = await scores([{"kind": "contains", "value": "x"}, {"kind": "tokens", "budget": 5}], Case(message="m"),
                       outcome(status="failed", error="node ai: timed out"))
    assert got["contains"] == (0.0, False, "run failed: node ai: timed out")
    assert got["tokens"][1] is False


async def test_a_case_without_a_target_fails_and_says_so():
    got = await scores([{"kind": "exact"}], Case(message="m"), outcome("x"))
    assert got["exact"] == (0.0, False, "the case has no expected text to compare with")


async def test_judge_without_a_judge_available_fails():
    got = await scores([{"kind": "judge", "rubric": "polite?"}], Case(message="m"), outcome("x"))
    assert got["judge"][1] is False


@pytest.mark.parametrize(("specs", "words"), [
    ([{"kind": "nope"}], "scorer 1 (nope): kind must be one of"),
    ([{"kind": "regex", "pattern": "("}], "scorer 1 (regex): pattern: not a regular expression"),
    ([{"kind": "json_schema", "schema": {"type": "nonsense"}}], "scorer 1 (json_schema): schema: not a valid JSON"),
    ([{"kind": "latency"}], "scorer 1 (latency): budget_ms: Field required"),
    ([{"kind": "exact"}, {"kind": "exact"}], "scorer 'exact': two scorers have this name"),
    ([{"kind": "similarity", "threshold": 2}], "scorer 1 (similarity): threshold"),
    ([{"kind": "exact", "colour": "red"}], "scorer 1 (exact): colour: Extra inputs are not permitted"),
    ([{"kind": "judge", "rubric": "r", "options": {"txt": "1"}}], "scorer 1 (judge): options.txt: Extra inputs"),
])
def test_bad_scorer_lists_are_refused_naming_the_scorer_and_field(specs, words):
    with pytest.raises(ScorerError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_scorers(specs)
