"""An experiment's analysis: per-variant figures, each challenger against the control with a 95%
interval, and a verdict that calls a variant better only once the planned sample is reached and
the difference on the primary metric is significant (:mod:`editor.services.experiment_stats`)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from storage.repos.experiments import VariantFigures

from .experiment_stats import (
    Interval,
    detectable_rate_difference,
    detectable_shift,
    quantile,
    rate_difference,
    shift_interval,
    size,
    wilson,
)

if TYPE_CHECKING:
    from .experiments import ExperimentInfo

ALPHA = 0.05
LOWER_IS_BETTER = {"first_chunk_ms": True, "duration_ms": True, "error_rate": True, "positive_feedback": False}
PEEKING = ("Peeking: these results change with every run, and looking often makes a chance difference look "
           "real. Decide once every variant has the planned number of runs, not when a difference first shows.")


@dataclass(frozen=True, slots=True)
class Comparison:
    """The variant minus the control on one metric (ms for latencies, a fraction for rates)."""

    metric: str
    difference: Interval | None
    significant: bool
    better: bool | None  # None when the difference is not significant (or there is no data)


@dataclass(frozen=True, slots=True)
class VariantResult:
    name: str
    flow_id: str
    version: int
    weight: int
    is_control: bool
    sessions: int
    runs: int
    finished: int
    error_rate: Interval | None
    first_chunk_p50: float | None
    first_chunk_p95: float | None
    duration_p50: float | None
    duration_p95: float | None
    tokens_per_run: float | None
    cache_hit_rate: Interval | None
    positive_feedback: Interval | None
    feedback_count: int
    sample: int  # runs (or feedback given) counting towards the primary metric
    more_needed: int  # until the planned sample
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    verdict: str = "control"  # control | better | worse | no significant difference | not enough data


@dataclass(frozen=True, slots=True)
class Analysis:
    experiment: ExperimentInfo
    variants: list[VariantResult]
    alpha: float  # the level of each comparison (0.05 split over the challengers)
    ready: bool  # every variant has reached the planned sample
    winner: str | None  # the variant called better (the control when every challenger is worse), or None
    notes: list[str]


def primary_sample(metric: str, figures: VariantFigures) -> int:
    if metric == "first_chunk_ms":
        return size(figures.first_chunk)
    if metric == "duration_ms":
        return size(figures.duration)
    if metric == "error_rate":
        return figures.finished
    return figures.thumbs_up + figures.thumbs_down


def compare(metric: str, control: VariantFigures, variant: VariantFigures, alpha: float) -> Comparison:
    difference: Interval | None
    if metric == "first_chunk_ms":
        difference = shift_interval(control.first_chunk, variant.first_chunk, alpha)
    elif metric == "duration_ms":
        difference = shift_interval(control.duration, variant.duration, alpha)
    elif metric == "error_rate":
        difference = rate_difference((control.failed, control.finished), (variant.failed, variant.finished), alpha)
    else:
        difference = rate_difference((control.thumbs_up, control.thumbs_up + control.thumbs_down),
                                     (variant.thumbs_up, variant.thumbs_up + variant.thumbs_down), alpha)
    significant = difference is not None and difference.excludes_zero
    better = None
    if significant and difference is not None:
        better = (difference.estimate < 0) == LOWER_IS_BETTER[metric]
    return Comparison(metric, difference, significant, better)


def build_analysis(info: ExperimentInfo, figures: Mapping[str, VariantFigures],
                   sessions: Mapping[str, int]) -> Analysis:
    challengers = max(1, len(info.variants) - 1)
    alpha = ALPHA / challengers
    metric = info.primary_metric
    control_figures = figures.get(info.control.name, VariantFigures())
    samples = {v.name: primary_sample(metric, figures.get(v.name, VariantFigures())) for v in info.variants}
    ready = all(n >= info.min_runs for n in samples.values())
    results: list[VariantResult] = []
    for position, arm in enumerate(info.variants):
        own = figures.get(arm.name, VariantFigures())
        comparisons: dict[str, Comparison] = {}
        verdict = "control"
        if position > 0:
            comparisons = {m: compare(m, control_figures, own, alpha) for m in LOWER_IS_BETTER}
            main = comparisons[metric]
            if min(samples[arm.name], samples[info.control.name]) < info.min_runs:
                verdict = "not enough data"
            elif main.better is None:
                verdict = "no significant difference"
            else:
                verdict = "better" if main.better else "worse"
        feedback = own.thumbs_up + own.thumbs_down
        results.append(VariantResult(
            arm.name, arm.flow_id, arm.version, arm.weight, position == 0, sessions.get(arm.name, 0), own.runs,
            own.finished, wilson(own.failed, own.finished), quantile(own.first_chunk, 0.5),
            quantile(own.first_chunk, 0.95), quantile(own.duration, 0.5), quantile(own.duration, 0.95),
            own.tokens / own.runs if own.runs else None, wilson(own.cache_hits, own.cache_lookups),
            wilson(own.thumbs_up, feedback), feedback, samples[arm.name],
            max(0, info.min_runs - samples[arm.name]), comparisons, verdict))
    notes = _notes(info, results, ready, challengers)
    detectable = _detectable(metric, control_figures, info.min_runs, alpha)
    if detectable is not None:
        notes.append(detectable)
    return Analysis(info, results, alpha, ready, _winner(results, metric), notes)


def _winner(results: list[VariantResult], metric: str) -> str | None:
    challengers = results[1:]
    better = [r for r in challengers if r.verdict == "better"]
    if better:
        def gain(result: VariantResult) -> float:
            difference = result.comparisons[metric].difference
            estimate = difference.estimate if difference is not None else 0.0
            return -estimate if LOWER_IS_BETTER[metric] else estimate
        return max(better, key=gain).name
    if challengers and all(r.verdict == "worse" for r in challengers):
        return results[0].name
    return None


def _notes(info: ExperimentInfo, results: list[VariantResult], ready: bool, challengers: int) -> list[str]:
    notes = [PEEKING]
    if not ready:
        waiting = ", ".join(f"{r.name}: {r.more_needed} more" for r in results if r.more_needed)
        unit = "feedback answers" if info.primary_metric == "positive_feedback" else "runs"
        notes.append(f"No variant is called better before every variant has {info.min_runs} {unit} "
                     f"(the planned sample): {waiting}.")
    if challengers > 1:
        notes.append(f"{challengers} challengers against the control: each comparison is at the "
                     f"{100 * ALPHA / challengers:.2g}% level (Bonferroni), so the whole test stays at 5%.")
    return notes


def _detectable(metric: str, control: VariantFigures, runs: int, alpha: float) -> str | None:
    """What the planned sample can see, from the control's data so far: a planned sample too small
    for the difference that matters shows here before anyone waits for it."""
    if metric in ("first_chunk_ms", "duration_ms"):
        shift = detectable_shift(control.first_chunk if metric == "first_chunk_ms" else control.duration, runs, alpha)
        if shift is None:
            return None
        return (f"With {runs} runs per variant this test finds a shift of about {shift:.0f} ms or more "
                f"(80% power, from the control's spread so far).")
    if metric == "error_rate":
        rate, what = (control.failed / control.finished if control.finished else None), "errors"
    else:
        given = control.thumbs_up + control.thumbs_down
        rate, what = (control.thumbs_up / given if given else None), "positive feedback"
    if rate is None:
        return None
    difference = detectable_rate_difference(rate, runs, alpha)
    assert difference is not None
    return (f"With {runs} per variant this test finds a change of about {100 * difference:.1f} points or more "
            f"from the control's {100 * rate:.1f}% {what} (80% power).")
