"""Waiting in a flow run for a second person's approval, and waking the run when it comes.

A run started in this process pauses (`pause_flow_run`) and polls; a run of a served deployment
suspends (`suspend_flow_run`): its process exits, no worker is held while a human decides, and the
run starts again from the top once resumed. Either way the answer arrives as an `ApprovalInput`
(from `hkt-dsr approve`/`reject`, or typed into Prefect's UI form) and is decided by
dsr.approval.decide, against the control database.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, resume_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.states import Cancelled
from pydantic import Field

import flows  # noqa: F401  (telemetry off before Prefect loads)
from dsr.approval import APPROVE, REJECT, ApprovalError, Decision, await_decision, decide, decision_for, expire, locked_request, plan_table
from dsr.control.models import utcnow
from dsr.plan import ErasurePlan
from dsr.requests import EXPIRED, get_request
from dsr.runtime import runtime_for


class ApprovalInput(RunInput):
    """The form a waiting run shows in Prefect's UI (and what `hkt-dsr approve` sends)."""

    approver: str = Field(description="Your name. Not the person who took the request: a second pair of eyes.")
    plan_digest: str = Field(description="The digest of the plan you reviewed, from the plan artifact (sha256:...).")
    approve: bool = Field(True, description="Untick to reject the plan: nothing is changed and the request closes.")
    reason: str = Field("", description="Why you reject (required to reject). It is kept on record: write no personal data.")


def publish_plan(request_id: str, plan: ErasurePlan, due: dt.datetime) -> None:
    """The plan as a Prefect table artifact for the approver: counts and actions, no personal data."""
    create_table_artifact(
        table=plan_table(plan),
        key=f"plan-{request_id.lower()}",
        description=f"Plan **{plan.digest}** for request {request_id}: approve or reject by {due:%Y-%m-%d %H:%M} UTC.",
    )


def await_approval(config_dir: str, request_id: str, plan: ErasurePlan) -> Decision | None:
    """Block (or suspend) until the plan is approved or rejected; None when the deadline passed."""
    rt = runtime_for(config_dir)
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None, "await_approval runs inside a flow"
    run = context.flow_run
    logger = get_run_logger()
    with rt.sessions() as session:
        standing = decision_for(session, request_id, plan.digest)
        if standing is not None:  # decided while no run waited (a resumed suspension, or a rerun)
            return standing
        due = await_decision(session, request_id, plan, dt.timedelta(hours=rt.estate.settings.approval_timeout_hours))
        session.commit()
    publish_plan(request_id, plan, due)
    logger.info("request %s: plan %s awaits approval until %s UTC: hkt-dsr approve %s --as NAME --digest %s",
                request_id, plan.digest, f"{due:%Y-%m-%d %H:%M}", request_id, plan.digest)
    description = f"Approve or reject plan **{plan.digest}** of request {request_id} (see the artifact plan-{request_id.lower()})."
    form = ApprovalInput.with_initial_data(description=description)
    attempt = 0
    while (remaining := (due - utcnow()).total_seconds()) > 0:
        attempt += 1
        key = f"approval-{plan.digest.removeprefix('sha256:')[:12]}-{attempt}"  # a changed plan is asked about afresh
        try:
            if run.deployment_id is not None:
                answer = suspend_flow_run(wait_for_input=form, timeout=math.ceil(remaining), key=key)
            else:
                answer = pause_flow_run(wait_for_input=form, timeout=math.ceil(remaining), poll_interval=rt.estate.settings.approval_poll_seconds, key=key)
        except FlowPauseTimeout:
            break
        with rt.sessions() as session:
            try:
                return decide(session, request_id, actor=answer.approver, verdict=APPROVE if answer.approve else REJECT,
                              plan_digest=answer.plan_digest, via="prefect", staff=rt.estate.staff, reason=answer.reason, prompt=f"{run.id}/{key}")
            except ApprovalError as exc:  # refused: the run waits on (the refusal is recorded), unless it is decided or over
                logger.warning("%s", exc)
                if (standing := decision_for(session, request_id, plan.digest)) is not None:
                    return standing
                if get_request(session, request_id).status == EXPIRED:
                    return None
    with rt.sessions() as session:
        row = locked_request(session, request_id)
        standing = decision_for(session, request_id, plan.digest)
        if standing is None:
            expire(session, row)
            session.commit()
            return None
    if standing.approved:  # recorded in time, but never handed to this run: Prefect has given up on it
        raise ApprovalError(f"request {request_id}: the approval by {standing.actor} did not reach this run before its deadline; "
                            "run the request again and it goes ahead")
    return standing


def resume_waiting_run(flow_run_id: str, decision: Decision, wait_seconds: float = 60) -> bool:
    """Hand a recorded decision to the run waiting for it. False if no run waits (it ended, or it
    will read the decision from the control database when it starts again)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    # The reason stays in the control database: a free text has no business in Prefect's records.
    answer = {"approver": decision.actor, "plan_digest": decision.plan_digest, "approve": decision.approved, "reason": ""}
    deadline = time.monotonic() + wait_seconds
    with get_client(sync_client=True) as client:
        while True:
            try:
                state = client.read_flow_run(UUID(flow_run_id)).state
            except ObjectNotFound:
                return False
            if state is not None and state.name == "Suspended" and not decision.approved:
                # Nothing left to run: end it as rejected rather than restart it only to stop.
                client.set_flow_run_state(UUID(flow_run_id), Cancelled(name="Rejected", message=f"plan rejected by {decision.actor}; nothing was changed"), force=True)
                return True
            if state is not None and state.is_paused():
                resume_flow_run(UUID(flow_run_id), run_input=answer)
                return True
            # A run that has just recorded its wait may not have paused yet: give it a moment.
            if state is None or not state.is_running() or time.monotonic() > deadline:
                return False
            time.sleep(0.5)
