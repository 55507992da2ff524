"""Data subject requests: intake, verification evidence, due dates and the status history.

Privacy policy §7: HKT discloses, corrects or deletes "only after verifying the authenticity"
of the request. A request without verification evidence exists (it was received) but cannot run.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.config import REQUEST_KINDS, Estate
from dsr.control.models import RequestRow, StatusEvent, utcnow
from dsr.staff import StaffDirectory, StaffError, staff_actor
from dsr.subject import Identifier, IdentifierKind, Subject
from receipts.commitment import commitments

RECEIVED, VERIFIED, RUNNING, COMPLETED, FAILED = "received", "verified", "running", "completed", "failed"
AWAITING_APPROVAL, APPROVED, REJECTED, EXPIRED = "awaiting_approval", "approved", "rejected", "expired"
# running/failed/awaiting approval: a crashed, failed or suspended run may be resumed
RUNNABLE = (VERIFIED, RUNNING, FAILED, AWAITING_APPROVAL, APPROVED)
CLOSED = (COMPLETED, REJECTED, EXPIRED)  # final: the subject's raw identifiers are gone


class RequestError(ValueError):
    """A request cannot be created or run as asked; the message says why (never with personal data)."""


@dataclass(frozen=True)
class Verification:
    """Evidence that the requester is the subject: how, by whom, when."""

    method: str
    verified_by: str
    verified_at: dt.datetime


@dataclass(frozen=True)
class Correction:
    """Rectification (privacy policy §7, "correct"): every structured field holding `old` gets `new`."""

    old: Identifier
    new: Identifier

    def to_json(self) -> dict[str, str]:
        return {"kind": self.old.kind.value, "old": self.old.value, "new": self.new.value}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Correction:
        kind = IdentifierKind(data["kind"])
        return cls(Identifier(kind, data["old"]), Identifier(kind, data["new"]))


def new_request_id(received_at: dt.datetime) -> str:
    return f"DSR-{received_at:%Y%m%d}-{secrets.token_hex(4).upper()}"


def create_request(
    session: Session,
    estate: Estate,
    *,
    kind: str,
    identifiers: list[Identifier],
    channel: str,
    department: str,
    requested_by: str,
    verification: Verification | None = None,
    received_at: dt.datetime | None = None,
    corrections: list[Correction] | None = None,
) -> RequestRow:
    if kind not in REQUEST_KINDS:
        raise RequestError(f"unknown request kind {kind!r}; known: {', '.join(REQUEST_KINDS)}")
    subject = Subject(tuple(dict.fromkeys(identifiers)))
    if (kind == "rectify") != bool(corrections):
        raise RequestError("a rectify request needs corrections, and only a rectify request takes them")
    for correction in corrections or []:
        if correction.old not in subject.identifiers:
            raise RequestError(f"a correction of {correction.old.kind.value} must replace one of the subject's identifiers")
    try:
        requested_by = staff_actor(estate.staff, requested_by, "intake")
    except StaffError as exc:
        raise RequestError(f"--requested-by: {exc}") from None
    received_at = received_at or utcnow()
    salt = secrets.token_bytes(32)  # a fresh opening per request: receipts of two requests cannot be linked
    row = RequestRow(
        id=new_request_id(received_at),
        kind=kind,
        subject=subject.to_json(),
        subject_commitments=commitments(salt, [(i.kind.value, i.value) for i in subject.identifiers]),
        subject_salt=salt.hex(),
        channel=channel,
        department=department,
        received_at=received_at,
        due_at=received_at + dt.timedelta(days=estate.policy.due_days[kind]),  # type: ignore[index]
        corrections=[c.to_json() for c in corrections] if corrections else None,
        requested_by=requested_by,
        policy_id=estate.policy.id,
        policy_digest=estate.policy_digest,
    )
    session.add(row)
    set_status(session, row, RECEIVED, requested_by, f"received via {channel}")
    if verification is not None:
        verify(session, row, verification, estate.staff)
    return row


def verify(session: Session, row: RequestRow, verification: Verification, staff: StaffDirectory | None) -> None:
    """Record who verified the requester's identity, and how; `staff` is the estate's directory (or None)."""
    if not verification.method.strip() or not verification.verified_by.strip():
        raise RequestError(f"request {row.id}: verification needs a method and who verified")
    try:
        verified_by = staff_actor(staff, verification.verified_by, "verify")
    except StaffError as exc:
        raise RequestError(f"request {row.id}: verified by: {exc}") from None
    row.verification_method = verification.method
    row.verified_by = verified_by
    row.verified_at = verification.verified_at
    set_status(session, row, VERIFIED, verified_by, f"identity verified by {verification.method}")


def set_status(session: Session, row: RequestRow, status: str, actor: str, note: str = "") -> None:
    row.events.append(StatusEvent(from_status=row.status, to_status=status, actor=actor, note=note, at=utcnow()))
    row.status = status


def close_request(session: Session, row: RequestRow, status: str, actor: str, outcome: str) -> None:
    """End a request for good: drop the subject's raw identifiers (the commitments stay for receipts)
    and the record keys its actions kept for a rerun (an S3 key may name the person)."""
    assert status in CLOSED, status
    row.outcome = outcome
    row.subject = None
    row.corrections = None
    for action in row.actions:
        action.details = {k: v for k, v in (action.details or {}).items() if k != "keys"}
    set_status(session, row, status, actor, outcome)


def get_request(session: Session, request_id: str) -> RequestRow:
    row = session.get(RequestRow, request_id)
    if row is None:
        raise RequestError(f"no request {request_id!r}")
    return row


def runnable_request(session: Session, request_id: str) -> RequestRow:
    """The request, if it may run now; otherwise a clear RequestError and nothing touched."""
    row = get_request(session, request_id)
    if row.verified_at is None or not row.verification_method:
        raise RequestError(f"request {row.id} is not verified: record who verified the requester's identity, and how, before it can run")
    if row.status == COMPLETED:
        raise RequestError(f"request {row.id} is already completed")
    if row.status in (REJECTED, EXPIRED):
        raise RequestError(f"request {row.id} was {row.status} and is closed; the customer's wish needs a new request")
    if row.status not in RUNNABLE:
        raise RequestError(f"request {row.id} is {row.status}; it can run when verified")
    if row.subject is None:
        raise RequestError(f"request {row.id} no longer holds its subject's identifiers")
    return row


def subject_of(row: RequestRow) -> Subject:
    if row.subject is None:
        raise RequestError(f"request {row.id} no longer holds its subject's identifiers")
    return Subject.from_json(row.subject)


def corrections_of(row: RequestRow) -> list[Correction]:
    return [Correction.from_json(c) for c in row.corrections or []]


def list_requests(session: Session, overdue_at: dt.datetime | None = None) -> list[RequestRow]:
    query = select(RequestRow).order_by(RequestRow.received_at)
    if overdue_at is not None:
        query = query.where(RequestRow.due_at < overdue_at, RequestRow.status.not_in(CLOSED))
    return list(session.scalars(query))
