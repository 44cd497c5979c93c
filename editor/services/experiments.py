"""The experiments service (A/B tests of flow versions, issue 17): create, start, pause, change
weights, stop, promote; the sticky choice of a variant for each run; run feedback; the analysis.

A session's variant is fixed on its first run: a sha256 of tenant, session and experiment id
picks it by the weights (the same on every instance and after a restart), and it is stored, so
a later change of weights moves new sessions only. While an experiment is paused, a new session
runs the control and stays out of the analysis. Each process keeps a flow's live experiment for
:data:`CONFIG_TTL_S` seconds and the sessions it has seen, so choosing costs microseconds.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cachetools import LRUCache, TTLCache

from runtime.channels import channel_for
from storage.db import Database
from storage.recorder import NO_LABELS, RunLabels
from storage.repos import experiments as repo
from storage.tables.experiments import Experiment, ExperimentVariant

from .active_runs import ActiveRuns
from .errors import DATABASE_ERRORS, Conflict, Invalid, NotFound
from .experiment_report import Analysis, build_analysis
from .flows import FlowService
from .variants import VariantPick, bucket, pick_index

log = logging.getLogger(__name__)
CONFIG_TTL_S = 2.0  # how soon another instance's start/pause/weights/stop reaches this one
METRICS = ("first_chunk_ms", "duration_ms", "error_rate", "positive_feedback")
MAX_COMMENT = 2000


@dataclass(frozen=True, slots=True)
class VariantSpec:
    """One arm as asked for: a name, a version of a flow (the experiment's own by default), a weight in percent."""

    name: str
    version: int
    weight: int
    flow_id: str | None = None


@dataclass(frozen=True, slots=True)
class VariantInfo:
    name: str
    flow_id: str
    version: int
    weight: int


@dataclass(frozen=True, slots=True)
class ExperimentInfo:
    id: str
    flow_id: str
    name: str
    status: str
    primary_metric: str
    min_runs: int
    winner: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    variants: tuple[VariantInfo, ...]

    @property
    def control(self) -> VariantInfo:
        return self.variants[0]


@dataclass(frozen=True, slots=True)
class FeedbackInfo:
    run_id: str
    rating: int
    comment: str | None
    updated_at: datetime


class ExperimentService:
    def __init__(self, database: Database, flows: FlowService, active: ActiveRuns) -> None:
        self.database = database
        self.flows = flows
        self.active = active
        # (tenant, flow) -> (its live experiment or None, the variants whose flow was deleted since)
        self._live: TTLCache[tuple[str, str], tuple[ExperimentInfo | None, frozenset[str]]] = TTLCache(
            maxsize=10_000, ttl=CONFIG_TTL_S)
        self._sessions: LRUCache[tuple[str, str, str], tuple[str, bool]] = LRUCache(maxsize=100_000)
        self._running: TTLCache[str, dict[str, str]] = TTLCache(maxsize=10_000, ttl=CONFIG_TTL_S)

    # ---------- reading ----------
    async def get(self, tenant: str, experiment_id: str) -> ExperimentInfo:
        """:class:`NotFound` for an unknown id or another tenant's experiment."""
        return await self.database.run(self._info, tenant, experiment_id)

    async def list_experiments(self, tenant: str, flow_id: str | None = None) -> list[ExperimentInfo]:
        rows = await self.database.run(repo.list_experiments, tenant, flow_id)
        return [await self.get(tenant, row.id) for row in rows]

    async def running_flows(self, tenant: str) -> dict[str, str]:
        """flow id -> its running or paused experiment's id (the flows list marks them); kept for
        :data:`CONFIG_TTL_S` so a list that re-renders costs no query."""
        found = self._running.get(tenant)
        if found is None:
            found = self._running[tenant] = await self.database.run(repo.flows_with_running, tenant)
        return dict(found)

    async def analysis(self, tenant: str, experiment_id: str) -> Analysis:
        info = await self.get(tenant, experiment_id)
        figures = await self.database.run(repo.figures, tenant, experiment_id)
        sessions = await self.database.run(repo.sessions_per_variant, tenant, experiment_id)
        return build_analysis(info, figures, sessions)

    # ---------- changing ----------
    async def create(self, tenant: str, flow_id: str, variants: Sequence[VariantSpec], *, name: str = "",
                     primary_metric: str = "first_chunk_ms", min_runs: int = 1000,
                     start: bool = False) -> ExperimentInfo:
        """A draft experiment (running at once with ``start``). :class:`Invalid` names the variant at fault."""
        if not await self.flows.exists(tenant, flow_id):
            raise NotFound(f"flow {flow_id!r}")
        if primary_metric not in METRICS:
            raise Invalid(f"primary_metric must be one of {', '.join(METRICS)}, not {primary_metric!r}")
        if not 10 <= min_runs <= 10_000_000:
            raise Invalid("min_runs (the planned runs per variant) must be between 10 and 10,000,000")
        if len(variants) < 2:
            raise Invalid("an experiment needs at least two variants (the first is the control)")
        names = [v.name.strip() for v in variants]
        for position, variant in enumerate(variants):
            label = names[position]
            if not label or len(label) > 64:
                raise Invalid(f"variant {position + 1}: a name of 1 to 64 characters is needed")
            if names.count(label) > 1:
                raise Invalid(f"variant {label!r}: two variants have that name")
            await self._check_version(tenant, label, variant.flow_id or flow_id, variant.version)
        self._check_weights({n: v.weight for n, v in zip(names, variants, strict=True)})
        experiment_id = uuid.uuid4().hex[:12]
        row = Experiment(tenant_id=tenant, id=experiment_id, flow_id=flow_id, name=name.strip()[:200] or
                         f"{flow_id} experiment", primary_metric=primary_metric, min_runs=min_runs)
        arms = [ExperimentVariant(tenant_id=tenant, experiment_id=experiment_id, name=names[i], position=i,
                                  flow_id=v.flow_id or flow_id, version=v.version, weight=v.weight)
                for i, v in enumerate(variants)]
        await self.database.run(repo.add_experiment, row, arms)
        return await self.start(tenant, experiment_id) if start else await self.get(tenant, experiment_id)

    async def start(self, tenant: str, experiment_id: str) -> ExperimentInfo:
        """Start (or resume) routing new sessions; :class:`Conflict` when the flow already has a live one."""
        info = await self.get(tenant, experiment_id)
        if info.status in ("stopped", "promoted"):
            raise Conflict(f"experiment {experiment_id!r} has ended ({info.status}): create a new one")
        live = await self.database.run(repo.live_on_flow, tenant, info.flow_id)
        if live is not None and live.id != experiment_id:
            raise Conflict(f"flow {info.flow_id!r} already has experiment {live.id!r} {live.status}: stop it first")
        return await self._set(tenant, info, "running")

    async def pause(self, tenant: str, experiment_id: str) -> ExperimentInfo:
        """New sessions run the control (outside the analysis); assigned sessions keep their variant."""
        info = await self.get(tenant, experiment_id)
        if info.status != "running":
            raise Conflict(f"experiment {experiment_id!r} is {info.status}, not running")
        return await self._set(tenant, info, "paused")

    async def stop(self, tenant: str, experiment_id: str) -> ExperimentInfo:
        """End it without a winner: every run goes back to the flow's current version."""
        info = await self.get(tenant, experiment_id)
        if info.status in ("stopped", "promoted"):
            raise Conflict(f"experiment {experiment_id!r} has already ended ({info.status})")
        return await self._set(tenant, info, "stopped")

    async def promote(self, tenant: str, experiment_id: str, variant: str) -> ExperimentInfo:
        """Make the variant's version the flow's current one and end the experiment. A variant from
        another flow is saved as a new version of this flow."""
        info = await self.get(tenant, experiment_id)
        if info.status == "promoted":
            raise Conflict(f"experiment {experiment_id!r} already promoted {info.winner!r}")
        arm = next((v for v in info.variants if v.name == variant), None)
        if arm is None:
            raise NotFound(f"variant {variant!r} of experiment {experiment_id!r}")
        if arm.flow_id == info.flow_id:
            await self.flows.make_current(tenant, info.flow_id, arm.version)
        else:
            source = (await self.flows.read(tenant, arm.flow_id, arm.version)).document.model_copy(deep=True)
            source.flow_id = info.flow_id
            await self.flows.save_version(tenant, info.flow_id, source,
                                          f"promoted from experiment {experiment_id} ({arm.flow_id} v{arm.version})")
        return await self._set(tenant, info, "promoted", winner=variant)

    async def set_weights(self, tenant: str, experiment_id: str, weights: Mapping[str, int]) -> ExperimentInfo:
        """New weights for new sessions; sessions already assigned keep their variant."""
        info = await self.get(tenant, experiment_id)
        if info.status in ("stopped", "promoted"):
            raise Conflict(f"experiment {experiment_id!r} has ended ({info.status})")
        known = {v.name for v in info.variants}
        unknown = sorted(set(weights) - known)
        if unknown or set(weights) != known:
            raise Invalid(f"give a weight for each variant ({', '.join(sorted(known))})"
                          + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
        self._check_weights(weights)
        await self.database.run(repo.set_weights, tenant, experiment_id, dict(weights))
        self._forget(tenant, info.flow_id)
        return await self.get(tenant, experiment_id)

    async def feedback(self, tenant: str, run_id: str, rating: int, comment: str | None = None, *,
                       flow_id: str | None = None, session_id: str | None = None) -> FeedbackInfo:
        """Thumbs up (1) or down (-1) on one of the tenant's runs; given again, it replaces the last.
        ``flow_id`` and ``session_id`` narrow which runs may be rated (a published widget's visitor:
        their own session's runs of the key's flow); any other run is :class:`NotFound`."""
        if rating not in (1, -1):
            raise Invalid("rating must be 1 (thumbs up) or -1 (thumbs down)")
        text = (comment or "").strip() or None
        if text is not None and len(text) > MAX_COMMENT:
            raise Invalid(f"comment is {len(text)} characters; at most {MAX_COMMENT}")
        if not await self._ratable(tenant, run_id, flow_id, session_id):
            raise NotFound(f"run {run_id!r}")
        row = await self.database.run(repo.put_feedback, tenant, run_id, rating, text)
        return FeedbackInfo(row.run_id, row.rating, row.comment, row.updated_at)

    async def get_feedback(self, tenant: str, run_id: str) -> FeedbackInfo:
        found = (await self.feedback_on(tenant, [run_id])).get(run_id)
        if found is None:
            raise NotFound(f"feedback on run {run_id!r}")
        return found

    async def feedback_on(self, tenant: str, run_ids: list[str]) -> dict[str, FeedbackInfo]:
        """The feedback on these runs, in one read; a run without any is left out."""
        rows = await self.database.run(repo.feedback_of, tenant, list(dict.fromkeys(run_ids)))
        return {row.run_id: FeedbackInfo(row.run_id, row.rating, row.comment, row.updated_at) for row in rows}

    # ---------- routing runs (the runs service's VariantChooser) ----------
    async def choose(self, tenant: str, flow_id: str, session_id: str) -> VariantPick | None:
        """The variant for this session of the flow's live experiment, or None (run the current version).
        Never fails a run: with the database away it answers None and logs why."""
        try:
            key = (tenant, flow_id)
            held = self._live.get(key)  # one lookup: an entry may expire between a check and a read
            if held is None:
                held = self._live[key] = await self.database.run(self._live_info, tenant, flow_id)
            info, gone = held
            if info is None:
                return None
            name, counted = await self._assignment(tenant, info, session_id)
        except DATABASE_ERRORS as exc:
            log.warning("experiment on flow %s not applied (tenant %s): %s", flow_id, tenant, exc)
            return None
        if name in gone:  # its flow was deleted: the run goes to the control, outside the analysis
            return VariantPick(info.control.flow_id, info.control.version, NO_LABELS)
        arm = next((v for v in info.variants if v.name == name), info.control)
        return VariantPick(arm.flow_id, arm.version, RunLabels(info.id, arm.name) if counted else NO_LABELS)

    async def _assignment(self, tenant: str, info: ExperimentInfo, session_id: str) -> tuple[str, bool]:
        key = (tenant, info.id, session_id)
        known = self._sessions.get(key)
        if known is not None:
            return known
        if info.status == "running":
            weights = [v.weight for v in info.variants]
            proposed, counted = info.variants[pick_index(weights, bucket(tenant, session_id, info.id))].name, True
        else:
            proposed, counted = info.control.name, False
        known = self._sessions[key] = await self.database.run(repo.assign, tenant, info.id, session_id, proposed,
                                                              counted)
        return known

    # ---------- internals ----------
    async def _ratable(self, tenant: str, run_id: str, flow_id: str | None, session_id: str | None) -> bool:
        """A run of this process (its row may not be written yet) or a stored one, matching the narrowing.
        A run of this process that does not match may still be a variant of ``flow_id`` on another
        flow: only its stored row says so."""
        entry = self.active.get(tenant, run_id)
        if entry is not None and (flow_id is None or entry.flow_id == flow_id) \
                and (session_id is None or entry.channel == channel_for(tenant, session_id)):
            return True
        return bool(await self.database.run(repo.run_exists, tenant, run_id, flow_id, session_id))

    async def _set(self, tenant: str, info: ExperimentInfo, status: str, winner: str | None = None) -> ExperimentInfo:
        await self.database.run(repo.set_status, tenant, info.id, status, winner=winner)
        self._forget(tenant, info.flow_id)
        return await self.get(tenant, info.id)

    def _forget(self, tenant: str, flow_id: str) -> None:
        self._live.pop((tenant, flow_id), None)
        self._running.pop(tenant, None)

    async def _check_version(self, tenant: str, name: str, flow_id: str, version: int) -> None:
        try:
            stored = await self.flows.read(tenant, flow_id, version)
        except NotFound:
            raise Invalid(f"variant {name!r}: flow {flow_id!r} has no version {version}") from None
        if stored.problems or stored.version != version:
            raise Invalid(f"variant {name!r}: flow {flow_id!r} version {version} has problems and cannot run")

    @staticmethod
    def _check_weights(weights: Mapping[str, int]) -> None:
        for name, weight in weights.items():
            if not isinstance(weight, int) or not 0 <= weight <= 100:
                raise Invalid(f"variant {name!r}: weight must be a whole percentage from 0 to 100")
        if sum(weights.values()) != 100:
            raise Invalid(f"the weights add up to {sum(weights.values())}; they must add up to 100")
        if sum(1 for w in weights.values() if w > 0) < 1:
            raise Invalid("at least one variant needs a weight above 0")

    @staticmethod
    def _info(session: repo.Session, tenant: str, experiment_id: str) -> ExperimentInfo:
        row = repo.get_experiment(session, tenant, experiment_id)
        if row is None:
            raise NotFound(f"experiment {experiment_id!r}")
        arms = tuple(VariantInfo(v.name, v.flow_id, v.version, v.weight)
                     for v in repo.variants_of(session, tenant, experiment_id))
        return ExperimentInfo(row.id, row.flow_id, row.name, row.status, row.primary_metric, row.min_runs, row.winner,
                              row.created_at, row.started_at, row.ended_at, arms)

    @classmethod
    def _live_info(cls, session: repo.Session, tenant: str,
                   flow_id: str) -> tuple[ExperimentInfo | None, frozenset[str]]:
        """The flow's live experiment, and the variants whose version no longer exists (another flow
        deleted while the experiment runs: its sessions must not fail, they run the control)."""
        row = repo.live_on_flow(session, tenant, flow_id)
        if row is None:
            return None, frozenset()
        info = cls._info(session, tenant, row.id)
        gone = frozenset(v.name for v in info.variants
                         if not repo.version_exists(session, tenant, v.flow_id, v.version))
        return info, gone
