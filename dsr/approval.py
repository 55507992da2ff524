"""Four-eyes approval: a second person approves a plan before anything is destroyed or rewritten.

The control database is the source of truth. Every decision (approved, rejected) and every refused
attempt (the requester approving their own request, a digest that is not the plan's, an answer
after the deadline) is recorded with who, when and the digest they gave. Prefect only carries the
answer to a waiting run: from `hkt-dsr approve`, or from its UI's input form, both of which land
here in `decide`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dsr.control.models import ApprovalRow, RequestRow, utcnow
from dsr.plan import ErasurePlan
from dsr.requests import APPROVED, AWAITING_APPROVAL, EXPIRED, REJECTED, close_request, get_request, set_status
from dsr.staff import StaffDirectory, StaffError, same_person, staff_actor

NEEDS_APPROVAL = ("erase", "rectify")  # what destroys or rewrites data; access and opt-out do not
APPROVE, REJECT = "approve", "reject"
SUPERSEDED = "superseded"  # the plan changed before it was applied: approvals given so far are spent
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")  # how every plan digest looks (receipts.canonical.digest)


class ApprovalError(ValueError):
    """A decision was refused or cannot be taken; the message says why (names staff, never the subject)."""


@dataclass(frozen=True)
class Decision:
    """The outcome of a request's approval: who decided, on which plan, and when."""

    verdict: str  # approved | rejected
    actor: str
    plan_digest: str
    at: dt.datetime
    reason: str = ""

    @property
    def approved(self) -> bool:
        return self.verdict == APPROVED


def plan_table(plan: ErasurePlan) -> list[dict[str, str | int]]:
    """The plan as an approver reads it: system, collection, record count, action, legal basis.
    Counts and policy words only, never keys or values: it may be shown in Prefect's UI."""
    return [
        {"system": s.system, "collection": s.collection, "records": s.count, "action": s.operation,
         "fields": ", ".join(s.fields), "legal basis": s.legal_basis or s.rule}
        for s in plan.steps
    ]


def await_decision(session: Session, request_id: str, plan: ErasurePlan, timeout: dt.timedelta) -> dt.datetime:
    """Put the request in front of approvers; returns the deadline. A rerun keeps the first deadline."""
    row = get_request(session, request_id)
    if row.approval_due_at is None:
        row.approval_due_at = utcnow() + timeout
    if row.status != AWAITING_APPROVAL:
        set_status(session, row, AWAITING_APPROVAL, "orchestrator", f"plan {plan.digest} ({len(plan.steps)} step(s)) awaits a second person's approval")
    return row.approval_due_at


def decision_for(session: Session, request_id: str, plan_digest: str | None) -> Decision | None:
    """The standing decision on this plan of the request, if any: a rejection (of any plan: it
    closed the request), else the first approval of this plan given since the plan last changed.

    An approval binds to one version of the plan: once the plan is superseded, no approval given
    before counts again, even when a later plan happens to have the same digest as an approved one
    (a hold placed and released while the request waited)."""
    rows = session.scalars(
        select(ApprovalRow).where(ApprovalRow.request_id == request_id, ApprovalRow.verdict.in_((APPROVED, REJECTED, SUPERSEDED))).order_by(ApprovalRow.id)
    )
    approval = None
    for row in rows:
        if row.verdict == REJECTED:
            return Decision(row.verdict, row.actor, row.plan_digest, row.at, row.reason)
        if row.verdict == SUPERSEDED:
            approval = None
        elif approval is None and row.plan_digest == plan_digest:
            approval = Decision(row.verdict, row.actor, row.plan_digest, row.at, row.reason)
    return approval


def supersede(session: Session, request_id: str, old_digest: str) -> None:
    """Record that the request's plan changed before it was applied: every approval so far is spent."""
    session.add(ApprovalRow(request_id=request_id, verdict=SUPERSEDED, actor="orchestrator", plan_digest=old_digest, via="orchestrator",
                            reason="the plan changed before it was applied; it needs a new approval", at=utcnow()))


def decide(
    session: Session, request_id: str, *, actor: str, verdict: str, plan_digest: str | None,
    via: str, staff: StaffDirectory | None, reason: str = "", prompt: str | None = None,
) -> Decision:
    """Record an approval or rejection of the request's plan, or refuse it (recorded too) and raise.

    `staff` is the estate's directory: with one, `actor` is a staff id with the approve role;
    without, a name that could pass for another is refused before it is compared (four-eyes).
    Idempotent: the same person giving the same answer again (the CLI resumed the run, which then
    reads the answer from Prefect) gets the standing decision back.
    """
    if verdict not in (APPROVE, REJECT):
        raise ApprovalError(f"a decision is {APPROVE!r} or {REJECT!r}, not {verdict!r}")
    given = (plan_digest or "").strip()
    if not actor.strip():
        raise ApprovalError("say who decides (--as)")
    try:
        actor = staff_actor(staff, actor, "approve")
    except StaffError as exc:
        raise ApprovalError(f"--as: {exc}") from None
    if given and not DIGEST.fullmatch(given):  # never echoed: a mistyped field may hold anything
        raise ApprovalError("what was given as the plan digest is not one (sha256: and 64 hex digits): copy it from the plan")
    row = locked_request(session, request_id)
    current = ErasurePlan.from_json(row.plan).digest if row.plan else None
    standing = decision_for(session, request_id, current)
    if standing is not None:
        wanted = APPROVED if verdict == APPROVE else REJECTED
        if standing.verdict == wanted and same_person(standing.actor, actor) and given in ("", standing.plan_digest):
            return standing
        raise ApprovalError(f"request {request_id} was already {standing.verdict} by {standing.actor} at {standing.at:%Y-%m-%d %H:%M} UTC")
    if row.status != AWAITING_APPROVAL:
        raise ApprovalError(f"request {request_id} is {row.status}; only a request whose plan awaits approval can be decided")
    assert current is not None and row.approval_due_at is not None

    def record_refusal(why: str) -> None:
        """Once per Prefect pause: a restarted run replays the answer it was given."""
        if prompt is None or not session.scalar(select(ApprovalRow.id).where(ApprovalRow.request_id == request_id, ApprovalRow.prompt == prompt)):
            session.add(ApprovalRow(request_id=request_id, verdict="refused", actor=actor, plan_digest=given or "-", via=via, prompt=prompt, reason=why, at=utcnow()))

    def refuse(why: str) -> ApprovalError:
        record_refusal(why)
        set_status(session, row, AWAITING_APPROVAL, actor, f"{verdict} refused: {why}")
        session.commit()
        return ApprovalError(f"request {request_id}: {verdict} by {actor} refused: {why}")

    if utcnow() >= row.approval_due_at:
        record_refusal("after the deadline")
        expire(session, row)
        session.commit()
        raise ApprovalError(f"request {request_id} expired at {row.approval_due_at:%Y-%m-%d %H:%M} UTC without a decision; nothing was changed")
    if same_person(actor, row.requested_by):
        raise refuse(f"{actor} took this request and cannot also approve or reject it (four-eyes)")
    if verdict == APPROVE and given != current:
        raise refuse(f"plan digest {given or '(none)'} is not the plan's ({current}); review the current plan")
    if verdict == REJECT and given and given != current:
        raise refuse(f"plan digest {given} is not the plan's ({current})")
    if verdict == REJECT and not reason.strip():
        raise ApprovalError("a rejection needs a reason (--reason)")
    decided = APPROVED if verdict == APPROVE else REJECTED
    session.add(ApprovalRow(request_id=request_id, verdict=decided, actor=actor, plan_digest=current, via=via, prompt=prompt, reason=reason.strip(), at=utcnow()))
    if decided == APPROVED:
        set_status(session, row, APPROVED, actor, f"plan {current} approved")
    else:
        close_request(session, row, REJECTED, actor, f"plan {current} rejected by {actor}: {reason.strip()}; nothing was changed")
    session.commit()
    standing = decision_for(session, request_id, current)
    assert standing is not None
    return standing


def locked_request(session: Session, request_id: str) -> RequestRow:
    """The request, locked against other deciders until the session ends its transaction.

    A no-op UPDATE takes the row lock on PostgreSQL and MariaDB and the write lock on SQLite, so
    two people deciding at once (or a decision and the deadline sweep) are taken one after the
    other, the second seeing what the first did."""
    session.execute(update(RequestRow).where(RequestRow.id == request_id).values(status=RequestRow.status))
    row = session.get(RequestRow, request_id, populate_existing=True)
    if row is None:
        get_request(session, request_id)  # raises the usual "no request" error
    assert row is not None
    return row


def expire(session: Session, row: RequestRow) -> None:
    """No decision before the deadline: the request ends, nothing having been touched."""
    if row.status == AWAITING_APPROVAL:
        close_request(session, row, EXPIRED, "orchestrator", f"no decision on the plan before {row.approval_due_at:%Y-%m-%d %H:%M} UTC; nothing was changed")


def expire_stale(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Expire every request whose approval deadline passed (a suspended run is not there to notice)."""
    now = now or utcnow()
    stale = list(session.scalars(select(RequestRow.id).where(RequestRow.status == AWAITING_APPROVAL, RequestRow.approval_due_at <= now)))
    expired = []
    for request_id in stale:
        row = locked_request(session, request_id)
        if row.status == AWAITING_APPROVAL and row.approval_due_at is not None and row.approval_due_at <= now:  # nobody decided meanwhile
            expire(session, row)
            expired.append(request_id)
        session.commit()
    return expired


def decisions(session: Session, request_id: str) -> list[ApprovalRow]:
    return list(session.scalars(select(ApprovalRow).where(ApprovalRow.request_id == request_id).order_by(ApprovalRow.id)))
