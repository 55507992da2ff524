"""A request's lifecycle around a run: start, finish, fail, and the safe words used for failures.

Kept apart from the Prefect flows so that the same steps can be tested and run without Prefect.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from dsr import failpoints
from dsr.bugs import write_bug_report
from dsr.control.models import ActionRow, RequestRow
from dsr.erasure import ErasureVerificationError
from dsr.liveness import Runner, judge
from dsr.requests import APPROVED, AWAITING_APPROVAL, CLOSED, COMPLETED, FAILED, RUNNING, RequestError, close_request, get_request, runnable_request, set_status
from dsr.runtime import Runtime
from dsr.staff import StaffError, staff_actor

ORCHESTRATOR = "orchestrator"
#: Our own errors: expected refusals and failures whose messages never hold personal data.
SAFE_ERRORS = ("ApprovalError", "ConnectorError", "CommitInDoubt", "RequestError", "PlanError", "ErasureVerificationError", "IdentifierError",
               "UnknownConnectorKind", "ConfigError", "StaffError", "WithheldError")


class WithheldError(RuntimeError):
    """An unexpected failure, told without its message (which may quote personal data)."""


def failure_reason(exc: BaseException) -> str:
    """Words for a failure that may go into the control database and logs: our own errors are written
    without personal data; anything else is named by its type and where it was raised (enough to find
    the bug), never by its text, which may quote data."""
    name = type(exc).__name__
    if name in SAFE_ERRORS:
        return f"{name}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{name}{where} (details withheld: may contain personal data)"


def withheld(exc: BaseException) -> BaseException:
    """The exception to let reach Prefect (whose run states and logs it fills): ours as they are,
    anything else replaced by a WithheldError carrying failure_reason's words and the path of the
    file that keeps its traceback for an engineer."""
    if type(exc).__name__ in SAFE_ERRORS:
        return exc
    report = write_bug_report(exc)
    return WithheldError(failure_reason(exc) + (f"; traceback in {report}" if report else ""))


class FlowRuns(Protocol):
    """What the orchestrator knows of a flow run (flows.tasks.PrefectRuns answers for Prefect)."""

    def state_of(self, flow_run_id: str) -> Literal["active", "suspended", "ended"]:
        """`ended`: final or unknown to it; `suspended`: waiting without a process; else `active`."""
        ...

    def mark_crashed(self, flow_run_id: str, message: str) -> None: ...


HolderState = Literal["none", "ended", "suspended", "alive", "dead", "unknown"]


def holder_state(row: RequestRow, runs: FlowRuns) -> tuple[HolderState, str]:
    """The run that holds the request, as far as the orchestrator and the run's own process tell:
    a run Prefect calls active whose process is gone is `dead` (killed with -9, its machine lost)."""
    holder = row.flow_run_id
    if holder is None:
        return "none", ""
    state = runs.state_of(holder)
    if state != "active":
        return state, ""
    return judge(row)


def begin(rt: Runtime, request_id: str, kind: str, run_id: str | None = None, runs: FlowRuns | None = None) -> None:
    """Refuse to start unless the request is verified and of the expected kind; mark it running.

    `run_id` names this run; the request is claimed for it and for this process, unless another
    run still works on it (two runs of one request would race each other). A run the orchestrator
    still calls active but whose process is dead is marked crashed and taken over, on the record.
    """
    with rt.sessions() as session:
        row = runnable_request(session, request_id)
        if row.kind != kind:
            raise RequestError(f"request {request_id} is a {row.kind} request, not {kind}")
        holder = row.flow_run_id
        if run_id is not None and holder != run_id:
            if holder is not None and runs is not None:
                _take_over(session, row, runs)
            unchanged = RequestRow.flow_run_id.is_(None) if holder is None else RequestRow.flow_run_id == holder
            claimed = session.execute(update(RequestRow).where(RequestRow.id == request_id, unchanged).values(flow_run_id=run_id))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise RequestError(f"request {request_id} was started by another run a moment ago")
        if run_id is not None:
            Runner.this_process().stamp(row)
        if row.status not in (RUNNING, AWAITING_APPROVAL, APPROVED):  # a resumed run waiting for, or holding, approval keeps saying so
            set_status(session, row, RUNNING, ORCHESTRATOR, f"{kind} run started")
        session.commit()


def _take_over(session: Session, row: RequestRow, runs: FlowRuns) -> None:
    holder = row.flow_run_id
    state, evidence = holder_state(row, runs)
    if state == "suspended":
        raise RequestError(f"request {row.id}: flow run {holder} waits for approval of its plan; decide it (hkt-dsr approve or reject {row.id}) and it goes on")
    if state == "alive":
        raise RequestError(f"request {row.id} is already being fulfilled by flow run {holder} ({evidence}); let it end")
    if state == "unknown":
        raise RequestError(f"request {row.id}: flow run {holder} may still be running ({evidence}); if you know it is not, "
                           f"run `hkt-dsr request recover {row.id} --by NAME`")
    if state == "dead":
        runs.mark_crashed(holder, f"found dead: {evidence}")  # type: ignore[arg-type]
        set_status(session, row, row.status, ORCHESTRATOR, f"flow run {holder} found dead ({evidence}): marked crashed and taken over")


def release_dead_run(rt: Runtime, request_id: str, runs: FlowRuns) -> str | None:
    """If the run holding the request is dead, mark it crashed and release the request (the next
    run takes it; recorded decisions stand); the evidence, or None when it is not dead."""
    with rt.sessions() as session:
        row = get_request(session, request_id)
        state, evidence = holder_state(row, runs)
        if state != "dead":
            return None
        runs.mark_crashed(row.flow_run_id, f"found dead: {evidence}")  # type: ignore[arg-type]
        set_status(session, row, row.status, ORCHESTRATOR, f"flow run {row.flow_run_id} found dead ({evidence}): marked crashed and released")
        row.flow_run_id = None
        session.commit()
        return evidence


def recover(rt: Runtime, request_id: str, by: str, runs: FlowRuns) -> str:
    """A person releases a request whose run cannot be judged dead automatically (its machine is
    gone, say): recorded with who. Refused while the run's process is seen alive."""
    try:
        actor = staff_actor(rt.estate.staff, by, "intake")
    except StaffError as exc:
        raise RequestError(f"--by: {exc}") from None
    with rt.sessions() as session:
        row = get_request(session, request_id)
        holder = row.flow_run_id
        if holder is None or row.status in CLOSED:
            raise RequestError(f"request {request_id} has no run to recover ({row.status})")
        process, seen = judge(row)  # whatever Prefect says: a process seen alive is never released
        if process == "alive":
            raise RequestError(f"request {request_id}: flow run {holder} is alive ({seen}); stop it before recovering the request")
        state, evidence = holder_state(row, runs)
        if state in ("unknown", "dead", "suspended"):
            runs.mark_crashed(holder, f"released by {actor} (hkt-dsr request recover)")
        set_status(session, row, row.status, actor, f"flow run {holder} released by {actor} (recover; it was {state}{f': {evidence}' if evidence else ''})")
        row.flow_run_id = None
        session.commit()
    return f"request {request_id}: flow run {holder} released; `hkt-dsr run {request_id}` goes on from where it stopped"


def proceed(rt: Runtime, request_id: str, note: str) -> None:
    """Back to running once the plan is approved: the status says the plan is being applied."""
    with rt.sessions() as session:
        row = get_request(session, request_id)
        if row.status != RUNNING:
            set_status(session, row, RUNNING, ORCHESTRATOR, note)
        session.commit()


def finish(rt: Runtime, request_id: str, outcome: str, export_path: str | None = None) -> None:
    """Complete the request and drop the subject's raw identifiers: the commitment stays for receipts."""
    failpoints.reach("before-completion")
    with rt.sessions() as session:
        row = get_request(session, request_id)
        row.export_path = export_path
        close_request(session, row, COMPLETED, ORCHESTRATOR, outcome)
        session.commit()


def fail(rt: Runtime, request_id: str, exc: BaseException) -> None:
    """Record the failure; a rerun may resume. A request already closed (rejected, say) stays closed."""
    with rt.sessions() as session:
        row = get_request(session, request_id)
        if row.status in CLOSED:
            return
        reason = failure_reason(exc)
        row.outcome = reason
        set_status(session, row, FAILED, ORCHESTRATOR, reason)
        session.commit()


def record_done(rt: Runtime, request_id: str, step: str, system: str, collection: str, operation: str, count: int, details: dict) -> None:
    """Record a non-mutating action (an export) as done, once."""
    with rt.sessions() as session:
        exists = session.query(ActionRow).filter_by(request_id=request_id, step=step).one_or_none()
        if exists is None:
            session.add(ActionRow(request_id=request_id, step=step, system=system, collection=collection, operation=operation, state="done", planned_count=count, affected_count=count, details=details))
            session.commit()


__all__ = ["ErasureVerificationError", "FlowRuns", "WithheldError", "begin", "fail", "failure_reason", "finish", "holder_state", "proceed",
           "record_done", "recover", "release_dead_run", "withheld"]
