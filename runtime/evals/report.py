"""An evaluation's numbers: per version the aggregate of each scorer, the pass rate, latency
percentiles and tokens; between two versions the cases that changed; and the CI gate's verdict."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case run on one version, as stored."""

    case_id: str
    version: int
    status: str
    passed: bool
    text: str = ""
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> Score.to_dict()
    duration_ms: float | None = None
    first_chunk_ms: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    run_id: str | None = None


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class ScorerSummary:
    mean: float
    pass_rate: float


@dataclass
class VersionSummary:
    version: int
    cases: int
    passed: int
    failed_runs: int
    pass_rate: float
    scorers: dict[str, ScorerSummary]
    duration_p50: float | None
    duration_p95: float | None
    first_chunk_p50: float | None
    first_chunk_p95: float | None
    tokens_in: int
    tokens_out: int

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["scorers"] = {name: dict(s.__dict__) for name, s in self.scorers.items()}
        return data


def summarise(version: int, results: Iterable[CaseResult]) -> VersionSummary:
    rows = list(results)
    names: list[str] = []
    for row in rows:
        names.extend(n for n in row.scores if n not in names)
    scorers = {}
    for name in names:
        scored = [row.scores[name] for row in rows if name in row.scores]
        scorers[name] = ScorerSummary(
            mean=math.fsum(float(s["value"]) for s in scored) / len(scored),
            pass_rate=sum(1 for s in scored if s["passed"]) / len(scored))
    durations = [r.duration_ms for r in rows if r.duration_ms is not None]
    firsts = [r.first_chunk_ms for r in rows if r.first_chunk_ms is not None]
    passed = sum(1 for r in rows if r.passed)
    return VersionSummary(
        version=version, cases=len(rows), passed=passed, failed_runs=sum(1 for r in rows if r.status != "succeeded"),
        pass_rate=passed / len(rows) if rows else 0.0, scorers=scorers,
        duration_p50=percentile(durations, 50), duration_p95=percentile(durations, 95),
        first_chunk_p50=percentile(firsts, 50), first_chunk_p95=percentile(firsts, 95),
        tokens_in=sum(r.tokens_in for r in rows), tokens_out=sum(r.tokens_out for r in rows))


@dataclass
class Comparison:
    """``candidate`` against ``baseline``, case by case (ids of cases both versions ran)."""

    baseline: int
    candidate: int
    changed: list[str]  # the answer or the verdict differs
    regressed: list[str]  # passed on the baseline, fails on the candidate
    fixed: list[str]  # failed on the baseline, passes on the candidate


def compare(baseline: int, candidate: int, results: Iterable[CaseResult]) -> Comparison:
    by_case: dict[str, dict[int, CaseResult]] = {}
    for row in results:
        by_case.setdefault(row.case_id, {})[row.version] = row
    changed, regressed, fixed = [], [], []
    for case_id, versions in by_case.items():
        old, new = versions.get(baseline), versions.get(candidate)
        if old is None or new is None:
            continue
        if old.text != new.text or old.passed != new.passed or old.status != new.status:
            changed.append(case_id)
        if old.passed and not new.passed:
            regressed.append(case_id)
        elif new.passed and not old.passed:
            fixed.append(case_id)
    return Comparison(baseline, candidate, changed, regressed, fixed)


def gate(candidate: VersionSummary, min_pass: float | None = None, baseline: VersionSummary | None = None,
         tolerance: float = 0.0) -> list[str]:
    """Why the candidate must not ship (empty: it may): its pass rate under ``min_pass``, or
    a scorer's mean (or the pass rate) lower than the baseline's by more than ``tolerance``."""
    reasons = []
    if min_pass is not None and candidate.pass_rate < min_pass:
        reasons.append(f"v{candidate.version}: pass rate {candidate.pass_rate:.1%} is under {min_pass:.1%}")
    if baseline is not None:
        if baseline.pass_rate - candidate.pass_rate > tolerance + 1e-9:
            reasons.append(f"v{candidate.version}: pass rate {candidate.pass_rate:.1%} regressed from "
                           f"{baseline.pass_rate:.1%} (v{baseline.version}) beyond the tolerance {tolerance:g}")
        for name, before in baseline.scorers.items():
            after = candidate.scorers.get(name)
            if after is not None and before.mean - after.mean > tolerance + 1e-9:
                reasons.append(f"v{candidate.version}: scorer {name!r} fell from {before.mean:.3f} "
                               f"(v{baseline.version}) to {after.mean:.3f}, beyond the tolerance {tolerance:g}")
    return reasons

