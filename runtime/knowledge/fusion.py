"""Reciprocal rank fusion (Cormack et al. 2009): merge rankings without comparing their scores."""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
RRF_K = 60  # the paper's constant: damps the weight of the very first ranks


def reciprocal_rank_fusion(rankings: Sequence[Sequence[K]], k: int = RRF_K) -> list[tuple[K, float]]:
    """Items by the sum over rankings of ``1 / (k + rank)`` (rank from 1), best first; ties keep
    the order of first appearance."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
