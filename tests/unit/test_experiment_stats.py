"""The A/B statistics on known data and by simulation (issue 17): rank test and shift interval,
Wilson and Newcombe intervals, split accuracy of the sticky hash, and the verdict's error rates."""
from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest

from editor.services.experiment_report import build_analysis
from editor.services.experiment_stats import (
    detectable_rate_difference,
    detectable_shift,
    quantile,
    rank_z,
    rate_difference,
    shift_interval,
    wilson,
)
from editor.services.experiments import ExperimentInfo, VariantInfo
from editor.services.variants import bucket, pick_index
from storage.repos.experiments import VariantFigures


def brute_z(control: list[int], variant: list[int]) -> float:
    """Mann-Whitney z by the textbook: U over all pairs, the tie-corrected variance."""
    n1, n2 = len(variant), len(control)
    u = sum(1.0 if v > c else 0.5 if v == c else 0.0 for v in variant for c in control)
    ties = sum(t**3 - t for t in Counter(control + variant).values())
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    return (u - n1 * n2 / 2) / variance**0.5


def test_rank_z_matches_the_pairwise_definition_with_ties() -> None:
    rng = random.Random(7)
    control = [rng.randint(100, 140) for _ in range(60)]
    variant = [rng.randint(105, 150) for _ in range(45)]
    assert rank_z(Counter(control), Counter(variant)) == pytest.approx(brute_z(control, variant), rel=1e-9)
    assert rank_z(Counter(variant), Counter(control)) == pytest.approx(-brute_z(control, variant), rel=1e-9)


def test_numpy_rank_z_matches_brute_force_on_small_random_histograms() -> None:
    """The vectorised ranks (searchsorted, cumulative sums, the tie sums) against U counted pair by
    pair from the expanded samples, on histograms with many ties, gaps and one-sided bins."""
    rng = random.Random(17)
    for _ in range(200):
        width = rng.choice([1, 3, 10, 40])
        control = Counter({rng.randint(0, width): rng.randint(1, 12) for _ in range(rng.randint(1, 8))})
        variant = Counter({rng.randint(-2, width + 2): rng.randint(1, 12) for _ in range(rng.randint(1, 8))})
        expected = brute_z(list(control.elements()), list(variant.elements()))
        assert rank_z(control, variant) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_shift_interval_holds_the_median_pairwise_difference() -> None:
    rng = random.Random(3)
    control = [round(300 + rng.expovariate(1 / 40)) for _ in range(150)]
    variant = [round(340 + rng.expovariate(1 / 40)) for _ in range(150)]
    pairwise = sorted(v - c for v in variant for c in control)
    hodges_lehmann = (pairwise[len(pairwise) // 2 - 1] + pairwise[len(pairwise) // 2]) / 2
    interval = shift_interval(Counter(control), Counter(variant))
    assert interval is not None
    assert abs(interval.estimate - hodges_lehmann) <= 1.0
    assert interval.low <= 40 <= interval.high and interval.low > 0  # the true shift, and told apart from 0
    assert shift_interval({}, Counter(variant)) is None


def test_wilson_and_newcombe_on_published_values() -> None:
    # Newcombe (1998), table II: 81/263 gives 0.2553 to 0.3662; the difference 56/70 - 48/80 is 0.0524 to 0.3339.
    one = wilson(81, 263)
    assert one is not None
    assert one.low == pytest.approx(0.2553, abs=5e-4) and one.high == pytest.approx(0.3662, abs=5e-4)
    difference = rate_difference((48, 80), (56, 70))
    assert difference is not None
    assert difference.low == pytest.approx(0.0524, abs=5e-4) and difference.high == pytest.approx(0.3339, abs=5e-4)
    assert wilson(0, 0) is None
    zero = wilson(0, 50)
    assert zero is not None and zero.low == 0.0 and 0.05 < zero.high < 0.08


def test_quantile_of_a_histogram() -> None:
    histogram = Counter({10: 50, 20: 45, 90: 5})
    assert quantile(histogram, 0.5) == 10 and quantile(histogram, 0.95) == 20 and quantile(histogram, 0.99) == 90
    assert quantile({}, 0.5) is None


@pytest.mark.parametrize("weights", [(50, 50), (90, 10), (34, 33, 33)])
def test_split_of_10000_sessions_is_within_two_points_of_the_weights(weights: tuple[int, ...]) -> None:
    experiment = uuid.uuid4().hex[:12]
    counts = Counter(pick_index(weights, bucket("2", f"web-{n}", experiment)) for n in range(10_000))
    for index, weight in enumerate(weights):
        assert abs(100 * counts[index] / 10_000 - weight) < 2.0, (weights, counts)


def test_assignment_is_a_pure_function_of_tenant_session_and_experiment() -> None:
    assert bucket("2", "abc", "exp1") == bucket("2", "abc", "exp1")
    assert len({bucket("2", "abc", "exp1"), bucket("3", "abc", "exp1"), bucket("2", "abc", "exp2")}) == 3
    assert pick_index((0, 100), 0.0) == 1 and pick_index((100, 0), 0.999) == 0


# --- the verdict, by simulation ------------------------------------------------------------
def info(min_runs: int, metric: str = "first_chunk_ms", arms: int = 2) -> ExperimentInfo:
    variants = tuple(VariantInfo(name, "f", n + 1, 100 // arms) for n, name in enumerate("ABC"[:arms]))
    now = datetime.now(UTC)
    return ExperimentInfo("e1", "f", "test", "running", metric, min_runs, None, now, now, None, variants)


def simulated(rng: random.Random, delay_ms: float, runs: int) -> VariantFigures:
    """What the runs table would say of ``runs`` runs whose model waits ``delay_ms`` (the mock
    provider's delay) before the first chunk, plus the spread a real machine and network add."""
    first = Counter(round(delay_ms + rng.lognormvariate(3.0, 0.9)) for _ in range(runs))
    return VariantFigures(runs=runs, finished=runs, first_chunk=first, duration=first)


def test_300_against_330_ms_over_2000_runs_is_told_apart() -> None:
    rng = random.Random(2026)
    figures = {"A": simulated(rng, 300, 1000), "B": simulated(rng, 330, 1000)}
    analysis = build_analysis(info(min_runs=1000), figures, {})
    challenger = analysis.variants[1]
    assert challenger.verdict == "worse" and analysis.winner == "A" and analysis.ready
    difference = challenger.comparisons["first_chunk_ms"].difference
    assert difference is not None and difference.low <= 30 <= difference.high


def test_no_verdict_before_the_planned_sample() -> None:
    rng = random.Random(5)
    figures = {"A": simulated(rng, 300, 400), "B": simulated(rng, 330, 400)}
    analysis = build_analysis(info(min_runs=1000), figures, {})
    assert analysis.variants[1].verdict == "not enough data" and analysis.winner is None and not analysis.ready
    assert analysis.variants[1].more_needed == 600 and analysis.variants[1].comparisons["first_chunk_ms"].significant
    assert any("600 more" in note for note in analysis.notes) and any("Peeking" in note for note in analysis.notes)


@pytest.mark.parametrize("arms", [2, 3])
def test_an_a_a_experiment_calls_a_winner_in_at_most_6_percent_of_100_seeds(arms: int) -> None:
    called = 0
    for seed in range(100):
        rng = random.Random(seed)
        figures = {name: simulated(rng, 300, 1000) for name in "ABC"[:arms]}
        called += build_analysis(info(min_runs=1000, arms=arms), figures, {}).winner is not None
    assert called <= 6


def test_feedback_rate_difference_is_called_only_when_significant() -> None:
    control = VariantFigures(runs=600, finished=600, thumbs_up=240, thumbs_down=260)
    better = VariantFigures(runs=600, finished=600, thumbs_up=320, thumbs_down=180)
    same = VariantFigures(runs=600, finished=600, thumbs_up=245, thumbs_down=255)
    assert build_analysis(info(500, "positive_feedback"), {"A": control, "B": better}, {}).winner == "B"
    assert build_analysis(info(500, "positive_feedback"), {"A": control, "B": same}, {}).winner is None


def test_the_detectable_difference_is_found_about_80_percent_of_the_time() -> None:
    """The shift the planned sample is said to find (normal data: the rank test's efficiency is
    exactly 3/pi there) is found in about 80 of 100 simulated experiments."""
    rng = random.Random(11)
    calibration = Counter(round(rng.gauss(300, 40)) for _ in range(5000))
    shift = detectable_shift(calibration, 200)
    assert shift is not None and 10.5 < shift < 12.5
    found = 0
    for _ in range(100):
        control = Counter(round(rng.gauss(300, 40)) for _ in range(200))
        variant = Counter(round(rng.gauss(300 + shift, 40)) for _ in range(200))
        interval = shift_interval(control, variant)
        found += interval is not None and interval.excludes_zero
    assert 68 <= found <= 92
    # the textbook case: 392 per group find 50% -> 60% with 80% power at the 5% level
    assert detectable_rate_difference(0.5, 392) == pytest.approx(0.1, abs=0.002)


def test_the_notes_say_what_the_planned_sample_can_find() -> None:
    rng = random.Random(4)
    figures = {"A": simulated(rng, 300, 300), "B": simulated(rng, 300, 300)}
    notes = build_analysis(info(min_runs=1000), figures, {}).notes
    assert any(n.startswith("With 1000 runs per variant this test finds a shift of about") for n in notes)
    feedback = {"A": VariantFigures(runs=100, finished=100, thumbs_up=30, thumbs_down=70),
                "B": VariantFigures(runs=100, finished=100, thumbs_up=35, thumbs_down=65)}
    notes = build_analysis(info(500, "positive_feedback"), feedback, {}).notes
    assert any("from the control's 30.0% positive feedback" in n for n in notes)
