"""A request's lifecycle around a run: start, finish, fail, and the safe words used for failures.

Kept apart from the Prefect flows so that the same steps can be tested and run without Prefect.
"""

from __future__ import annotations

from dsr.control.models import ActionRow
from dsr.erasure import ErasureVerificationError
from dsr.requests import COMPLETED, FAILED, RUNNING, RequestError, close_request, get_request, runnable_request, set_status
from dsr.runtime import Runtime

ORCHESTRATOR = "orchestrator"
SAFE_ERRORS = ("ApprovalError", "ConnectorError", "RequestError", "PlanError", "ErasureVerificationError", "IdentifierError", "UnknownConnectorKind", "ConfigError")


def failure_reason(exc: BaseException) -> str:
    """Words for a failure that may go into the control database and logs: our own errors are written
    without personal data; anything else is named by its type only, since its text may quote data."""
    name = type(exc).__name__
    return f"{name}: {exc}" if name in SAFE_ERRORS else f"{name} (details withheld: may contain personal data)"


def begin(rt: Runtime, request_id: str, kind: str) -> None:
    """Refuse to start unless the request is verified and of the expected kind; mark it running."""
    with rt.sessions() as session:
        row = runnable_request(session, request_id)
        if row.kind != kind:
            raise RequestError(f"request {request_id} is a {row.kind} request, not {kind}")
        if row.status != RUNNING:
            set_status(session, row, RUNNING, ORCHESTRATOR, f"{kind} run started")
        session.commit()


def finish(rt: Runtime, request_id: str, outcome: str, export_path: str | None = None) -> None:
    """Complete the request and drop the subject's raw identifiers: the commitment stays for receipts."""
    with rt.sessions() as session:
        row = get_request(session, request_id)
        row.export_path = export_path
        close_request(session, row, COMPLETED, ORCHESTRATOR, outcome)
        session.commit()


def fail(rt: Runtime, request_id: str, exc: BaseException) -> None:
    with rt.sessions() as session:
        row = get_request(session, request_id)
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


__all__ = ["ErasureVerificationError", "begin", "fail", "failure_reason", "finish", "record_done"]
