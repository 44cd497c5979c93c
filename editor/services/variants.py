"""What the runs service asks of A/B testing (issue 17): which version a new run of a flow gets.

Kept apart from the experiments service so :mod:`editor.services.runs` depends on this small
port only; :class:`editor.services.experiments.ExperimentService` implements it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from storage.recorder import RunLabels


@dataclass(frozen=True, slots=True)
class VariantPick:
    """The variant a run goes to: its flow and version, and the labels its run row gets."""

    flow_id: str
    version: int
    labels: RunLabels


class VariantChooser(Protocol):
    async def choose(self, tenant: str, flow_id: str, session_id: str) -> VariantPick | None:
        """The variant for this session when the flow has a running experiment, else None."""
        ...


def bucket(tenant: str, session_id: str, experiment_id: str) -> float:
    """A number in [0, 1) fixed by tenant, session and experiment: the same on every instance and
    after a restart (sha256, not Python's per-process ``hash``), independent between experiments."""
    digest = hashlib.sha256(f"{tenant}\x1f{experiment_id}\x1f{session_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def pick_index(weights: Sequence[int], point: float) -> int:
    """The variant whose share of [0, 100) holds ``point * 100``; weights are percentages summing to 100.
    A variant with weight 0 never gets a session."""
    target = point * 100.0
    total = 0.0
    last = 0
    for index, weight in enumerate(weights):
        if weight <= 0:
            continue
        total += weight
        last = index
        if target < total:
            return index
    return last
