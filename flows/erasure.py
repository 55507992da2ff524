"""Requests that change data by plan: erasure_request, rectification_request, opt_out_request.

discover -> plan -> a second person approves (erase, rectify; a plan changed by a legal hold placed
meanwhile is approved again) -> record every step's targets -> apply the plan system by system ->
verify -> seal. Only the plan differs (dsr.erasure.make_plan reads the request's kind); the
business process reads the same.

The flow run's final state mirrors the request's: Completed (completed), Failed (failed),
Cancelled named "Rejected" (rejected), Failed named "Expired" (no decision before the deadline);
while a plan awaits approval the run is Paused, or Suspended when it runs from a deployment.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.states import Cancelled, Failed, State

import flows  # noqa: F401  (telemetry off before Prefect loads)
from dsr import fulfilment
from dsr.approval import NEEDS_APPROVAL, ApprovalError
from dsr.discovery import Discovery
from dsr.erasure import (
    ErasureVerificationError,
    PostCheck,
    add_suppression,
    execute_system,
    make_plan,
    plan_again_if_changed,
    record_targets,
    verify_erasure,
)
from dsr.plan import ErasurePlan
from dsr.runtime import runtime_for
from dsr.sealing import Outcome, seal_request
from flows.approval import await_approval
from flows.tasks import TASK_OPTIONS, begin_run, discover_subject, reraise_withheld, withholding

VERBS = {"erase": "erase", "rectify": "rectify", "opt_out": "opt-out"}


@task(name="plan", **TASK_OPTIONS)
@withholding
def plan(config_dir: str, request_id: str, discovery: Discovery) -> ErasurePlan:
    request_plan = make_plan(runtime_for(config_dir), request_id, discovery)
    get_run_logger().info("request %s: plan %s with %d step(s)", request_id, request_plan.digest, len(request_plan.steps))
    return request_plan


@task(name="recheck-plan", **TASK_OPTIONS)
@withholding
def recheck(config_dir: str, request_id: str) -> ErasurePlan:
    """The approved plan, or a new one if holds or data changed meanwhile (dsr.erasure.plan_again_if_changed)."""
    return plan_again_if_changed(runtime_for(config_dir), request_id)


@task(name="record-targets", **TASK_OPTIONS)
@withholding
def target(config_dir: str, request_id: str, request_plan: ErasurePlan) -> int:
    """Every step's rows, written down before the first change (see dsr.erasure.record_targets)."""
    return record_targets(runtime_for(config_dir), request_id, request_plan)


@task(name="apply-system", task_run_name="{verb}-{system}", **TASK_OPTIONS)
@withholding
def apply_system(config_dir: str, request_id: str, request_plan: ErasurePlan, system: str, verb: str) -> dict[str, int]:
    affected = execute_system(runtime_for(config_dir), request_id, request_plan, system)
    get_run_logger().info("request %s: %s done, %d row(s) changed", request_id, system, sum(affected.values()))
    return affected


@task(name="suppress", **TASK_OPTIONS)
@withholding
def suppress(config_dir: str, request_id: str) -> int:
    """Opt-out: the suppression entry that keeps later imports from re-subscribing the customer."""
    return add_suppression(runtime_for(config_dir), request_id)


@task(name="verify", **TASK_OPTIONS)
@withholding
def verify(config_dir: str, request_id: str, request_plan: ErasurePlan) -> list[PostCheck]:
    return verify_erasure(runtime_for(config_dir), request_id, request_plan)


@task(name="seal", **TASK_OPTIONS)
@withholding
def seal(config_dir: str, request_id: str, checks: list[PostCheck], verb: str) -> list[str]:
    outcomes = {c.step: Outcome("passed" if c.passed else f"failed: {c.detail}") for c in checks}
    failed = [c for c in checks if not c.passed]
    summary = f"failed verification: {len(failed)} of {len(checks)} check(s)" if failed else f"{verb} done and verified: {len(checks)} check(s) passed"
    return seal_request(runtime_for(config_dir), request_id, outcomes, summary)


def _fulfil(config_dir: str, request_id: str, kind: str) -> dict | State:
    rt = runtime_for(config_dir)
    begin_run(config_dir, request_id, kind)
    try:
        discovery = discover_subject(config_dir, request_id)
        request_plan = plan(config_dir, request_id, discovery)
        if kind in NEEDS_APPROVAL:
            while True:
                decision = await_approval(config_dir, request_id, request_plan)
                if decision is None:
                    return Failed(name="Expired", message=f"request {request_id}: no decision on plan {request_plan.digest} before the deadline; nothing was changed")
                if not decision.approved:
                    return Cancelled(name="Rejected", message=f"request {request_id}: plan {request_plan.digest} rejected by {decision.actor}; nothing was changed")
                if decision.plan_digest != request_plan.digest:
                    raise ApprovalError(f"request {request_id}: the approval was given for plan {decision.plan_digest}, not {request_plan.digest}")
                checked = recheck(config_dir, request_id)
                if checked.digest == request_plan.digest:
                    break
                request_plan = checked  # a hold placed (or data found) while it waited: the new plan needs its own approval
            fulfilment.proceed(rt, request_id, f"applying plan {request_plan.digest}, approved by {decision.actor}")
        target(config_dir, request_id, request_plan)
        for system in request_plan.systems():
            apply_system(config_dir, request_id, request_plan, system, VERBS[kind])
        if kind == "opt_out":
            suppress(config_dir, request_id)
        checks = verify(config_dir, request_id, request_plan)
        receipts = seal(config_dir, request_id, checks, VERBS[kind])
        failed = [c for c in checks if not c.passed]
        if failed:
            raise ErasureVerificationError(f"request {request_id}: {len(failed)} step(s) failed verification: " + "; ".join(f"{c.step}: {c.detail}" for c in failed))
    except Exception as exc:
        fulfilment.fail(rt, request_id, exc)
        reraise_withheld(exc)
    fulfilment.finish(rt, request_id, f"{VERBS[kind]}: {len(request_plan.steps)} step(s), all verified")
    return {"request_id": request_id, "plan_digest": request_plan.digest, "receipts": len(receipts)}


@flow(name="erasure_request", flow_run_name="erasure-{request_id}")
def erasure_request(request_id: str, config_dir: str) -> dict | State:
    return _fulfil(config_dir, request_id, "erase")


@flow(name="rectification_request", flow_run_name="rectification-{request_id}")
def rectification_request(request_id: str, config_dir: str) -> dict | State:
    return _fulfil(config_dir, request_id, "rectify")


@flow(name="opt_out_request", flow_run_name="opt-out-{request_id}")
def opt_out_request(request_id: str, config_dir: str) -> dict | State:
    return _fulfil(config_dir, request_id, "opt_out")
