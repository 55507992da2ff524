"""erasure_request: discover -> plan -> erase system by system -> verify -> seal."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

import flows  # noqa: F401  (telemetry off before Prefect loads)
from dsr import fulfilment
from dsr.discovery import Discovery
from dsr.erasure import ErasureVerificationError, PostCheck, execute_system, make_plan, verify_erasure
from dsr.plan import ErasurePlan
from dsr.runtime import runtime_for
from dsr.sealing import Outcome, seal_request
from flows.tasks import TASK_OPTIONS, discover_subject


@task(name="plan-erasure", **TASK_OPTIONS)
def plan(config_dir: str, request_id: str, discovery: Discovery) -> ErasurePlan:
    erasure_plan = make_plan(runtime_for(config_dir), request_id, discovery)
    get_run_logger().info("request %s: plan %s with %d step(s)", request_id, erasure_plan.digest, len(erasure_plan.steps))
    return erasure_plan


@task(name="erase-system", task_run_name="erase-{system}", **TASK_OPTIONS)
def erase_system(config_dir: str, request_id: str, erasure_plan: ErasurePlan, system: str) -> dict[str, int]:
    affected = execute_system(runtime_for(config_dir), request_id, erasure_plan, system)
    get_run_logger().info("request %s: %s done, %d row(s) changed", request_id, system, sum(affected.values()))
    return affected


@task(name="verify-erasure", **TASK_OPTIONS)
def verify(config_dir: str, request_id: str, erasure_plan: ErasurePlan) -> list[PostCheck]:
    return verify_erasure(runtime_for(config_dir), request_id, erasure_plan)


@task(name="seal", **TASK_OPTIONS)
def seal(config_dir: str, request_id: str, checks: list[PostCheck]) -> list[str]:
    outcomes = {c.step: Outcome("passed" if c.passed else f"failed: {c.detail}") for c in checks}
    failed = [c for c in checks if not c.passed]
    summary = f"failed verification: {len(failed)} of {len(checks)} check(s)" if failed else f"erased and verified: {len(checks)} check(s) passed"
    return seal_request(runtime_for(config_dir), request_id, outcomes, summary)


@flow(name="erasure_request", flow_run_name="erasure-{request_id}")
def erasure_request(request_id: str, config_dir: str) -> dict:
    rt = runtime_for(config_dir)
    fulfilment.begin(rt, request_id, "erase")
    try:
        discovery = discover_subject(config_dir, request_id)
        erasure_plan = plan(config_dir, request_id, discovery)
        for system in erasure_plan.systems():
            erase_system(config_dir, request_id, erasure_plan, system)
        checks = verify(config_dir, request_id, erasure_plan)
        receipts = seal(config_dir, request_id, checks)
        failed = [c for c in checks if not c.passed]
        if failed:
            raise ErasureVerificationError(f"request {request_id}: {len(failed)} step(s) failed verification: " + "; ".join(f"{c.step}: {c.detail}" for c in failed))
    except Exception as exc:
        fulfilment.fail(rt, request_id, exc)
        raise
    fulfilment.finish(rt, request_id, f"erased: {len(erasure_plan.steps)} step(s), all verified")
    return {"request_id": request_id, "plan_digest": erasure_plan.digest, "receipts": len(receipts)}
