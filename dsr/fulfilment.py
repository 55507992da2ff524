"""A request's lifecycle around a run: start, finish, fail, and the safe words used for failures.

Kept apart from the Prefect flows so that the same steps can be tested and run without Prefect.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import update

from dsr.bugs import write_bug_report
from dsr.control.models import ActionRow, RequestRow
from dsr.erasure import ErasureVerificationError
from dsr.requests import APPROVED, AWAITING_APPROVAL, CLOSED, COMPLETED, FAILED, RUNNING, RequestError, close_request, get_request, runnable_request, set_status
from dsr.runtime import Runtime

ORCHESTRATOR = "orchestrator"
#: Our own errors: expected refusals and failures whose messages never hold personal data.
SAFE_ERRORS = ("ApprovalError", "ConnectorError", "RequestError", "PlanError", "ErasureVerificationError", "IdentifierError",
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


def begin(rt: Runtime, request_id: str, kind: str, run_id: str | None = None, run_is_active: Callable[[str], bool] = lambda _: False) -> None:
    """Refuse to start unless the request is verified and of the expected kind; mark it running.

    `run_id` names this run; the request is claimed for it, unless another run still works on it
    (`run_is_active` asks the orchestrator): two runs of one request would race each other.
    """
    with rt.sessions() as session:
        row = runnable_request(session, request_id)
        if row.kind != kind:
            raise RequestError(f"request {request_id} is a {row.kind} request, not {kind}")
        holder = row.flow_run_id
        if run_id is not None and holder != run_id:
            if holder is not None and run_is_active(holder):
                raise RequestError(f"request {request_id} is already being fulfilled by flow run {holder}; "
                                   "let it end (or cancel it in Prefect) before running the request again")
            unchanged = RequestRow.flow_run_id.is_(None) if holder is None else RequestRow.flow_run_id == holder
            claimed = session.execute(update(RequestRow).where(RequestRow.id == request_id, unchanged).values(flow_run_id=run_id))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise RequestError(f"request {request_id} was started by another run a moment ago")
        if row.status not in (RUNNING, AWAITING_APPROVAL, APPROVED):  # a resumed run waiting for, or holding, approval keeps saying so
            set_status(session, row, RUNNING, ORCHESTRATOR, f"{kind} run started")
        session.commit()


def proceed(rt: Runtime, request_id: str, note: str) -> None:
    """Back to running once the plan is approved: the status says the plan is being applied."""
    with rt.sessions() as session:
        row = get_request(session, request_id)
        if row.status != RUNNING:
            set_status(session, row, RUNNING, ORCHESTRATOR, note)
        session.commit()


def finish(rt: Runtime, request_id: str, outcome: str, export_path: str | None = None) -> None:
    """Complete the request and drop the subject's raw identifiers: the commitment stays for receipts."""
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


__all__ = ["ErasureVerificationError", "WithheldError", "begin", "fail", "failure_reason", "finish", "proceed", "record_done", "withheld"]
