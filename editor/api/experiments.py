"""Experiments (A/B tests of flow versions) and run feedback: thin doors to the experiments service
(``editor/services/experiments.py``), which the editor's pages and the CLI use too. Another
tenant's experiment or run answers 404, as does one that does not exist."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from editor.services.experiments import VariantSpec

from .deps import ContextDep, PrincipalDep
from .experiment_models import (
    AnalysisOut,
    ExperimentCreate,
    ExperimentOut,
    FeedbackIn,
    FeedbackOut,
    PromoteIn,
    WeightsIn,
)

router = APIRouter(prefix="/api/experiments", tags=["experiments"])
feedback_router = APIRouter(prefix="/api/runs", tags=["runs"])
FlowFilter = Annotated[str | None, Query(max_length=64, description="Only this flow's experiments.")]


@router.get("", summary="List the tenant's experiments, newest first")
async def list_experiments(context: ContextDep, principal: PrincipalDep,
                           flow_id: FlowFilter = None) -> list[ExperimentOut]:
    return [ExperimentOut.of(e) for e in await context.experiments.list_experiments(principal.tenant_id, flow_id)]


@router.post("", status_code=201, summary="Create an experiment on a flow (a draft, or running with start)")
async def create_experiment(body: ExperimentCreate, context: ContextDep, principal: PrincipalDep) -> ExperimentOut:
    variants = [VariantSpec(v.name, v.version, v.weight, v.flow_id) for v in body.variants]
    return ExperimentOut.of(await context.experiments.create(
        principal.tenant_id, body.flow_id, variants, name=body.name, primary_metric=body.primary_metric,
        min_runs=body.min_runs, start=body.start))


@router.get("/{experiment_id}", summary="Read an experiment")
async def read_experiment(experiment_id: str, context: ContextDep, principal: PrincipalDep) -> ExperimentOut:
    return ExperimentOut.of(await context.experiments.get(principal.tenant_id, experiment_id))


@router.get("/{experiment_id}/analysis", summary="Per-variant results with 95% intervals and the verdict")
async def analyse_experiment(experiment_id: str, context: ContextDep, principal: PrincipalDep) -> AnalysisOut:
    return AnalysisOut.of(await context.experiments.analysis(principal.tenant_id, experiment_id))


@router.post("/{experiment_id}/start", summary="Start or resume routing new sessions")
async def start_experiment(experiment_id: str, context: ContextDep, principal: PrincipalDep) -> ExperimentOut:
    return ExperimentOut.of(await context.experiments.start(principal.tenant_id, experiment_id))


@router.post("/{experiment_id}/pause", summary="Pause: new sessions run the control, outside the analysis")
async def pause_experiment(experiment_id: str, context: ContextDep, principal: PrincipalDep) -> ExperimentOut:
    return ExperimentOut.of(await context.experiments.pause(principal.tenant_id, experiment_id))


@router.post("/{experiment_id}/stop", summary="End without a winner: runs go back to the current version")
async def stop_experiment(experiment_id: str, context: ContextDep, principal: PrincipalDep) -> ExperimentOut:
    return ExperimentOut.of(await context.experiments.stop(principal.tenant_id, experiment_id))


@router.put("/{experiment_id}/weights", summary="Change the weights (assigned sessions keep their variant)")
async def set_weights(experiment_id: str, body: WeightsIn, context: ContextDep,
                      principal: PrincipalDep) -> ExperimentOut:
    return ExperimentOut.of(await context.experiments.set_weights(principal.tenant_id, experiment_id, body.weights))


@router.post("/{experiment_id}/promote", summary="Make a variant's version current and end the experiment")
async def promote_variant(experiment_id: str, body: PromoteIn, context: ContextDep,
                          principal: PrincipalDep) -> ExperimentOut:
    return ExperimentOut.of(await context.experiments.promote(principal.tenant_id, experiment_id, body.variant))


@feedback_router.post("/{run_id}/feedback", summary="Thumbs up or down on a run, with an optional comment")
async def give_feedback(run_id: str, body: FeedbackIn, context: ContextDep, principal: PrincipalDep) -> FeedbackOut:
    rating = 1 if body.rating == "up" else -1
    return FeedbackOut.of(await context.experiments.feedback(principal.tenant_id, run_id, rating, body.comment))


@feedback_router.get("/{run_id}/feedback", summary="The feedback given on a run")
async def read_feedback(run_id: str, context: ContextDep, principal: PrincipalDep) -> FeedbackOut:
    return FeedbackOut.of(await context.experiments.get_feedback(principal.tenant_id, run_id))
