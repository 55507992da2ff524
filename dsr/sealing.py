"""Sealing: one signed receipt per finished action, appended to the ledger, and a certificate per
request that ties them together with an inclusion proof against a signed checkpoint.

Receipts name records only through keyed HMACs (`target`) and the subject only through salted
commitments (receipts.commitment), so they can be handed to an auditor, or published, without
disclosing anyone. The format is documented in docs/receipts.md.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr import ledger
from dsr.approval import decision_for
from dsr.control.models import ActionRow, LedgerEntry, RequestRow, utcnow
from dsr.requests import get_request
from dsr.runtime import Runtime
from receipts.receipt import SCHEMA, seal


@dataclass(frozen=True)
class Outcome:
    """What a step's post-check found, and any evidence digest (e.g. the export manifest's)."""

    post_check: str  # "passed", "failed: ..." or "not applicable"
    evidence: str | None = None


def attempt_of(action: ActionRow) -> int:
    """How many times the step has been tried: each try that failed gets its own receipt."""
    return int((action.details or {}).get("attempt", 1))


def _common(rt: Runtime, request: RequestRow, kind: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": kind,
        "receipt_id": str(uuid.uuid4()),
        "issued_at": utcnow().isoformat(),
        "origin": rt.estate.settings.ledger_origin,
        "request": {
            "id": request.id,
            "kind": request.kind,
            "received_at": request.received_at.isoformat(),
            "due_at": request.due_at.isoformat(),
            "verification_method": request.verification_method,
        },
        "subject": {"commitments": list(request.subject_commitments)},
        "policy": {"id": request.policy_id, "digest": request.policy_digest},
        "plan_digest": digest_of_plan(request),
    }


def digest_of_plan(request: RequestRow) -> str | None:
    from dsr.plan import ErasurePlan

    return ErasurePlan.from_json(request.plan).digest if request.plan else None


def _status(action: ActionRow) -> str:
    """done, retained (kept by policy), skipped (unreadable objects, reported) or failed (the store refused)."""
    if action.state == "failed":
        return "failed"
    if action.operation in ("retain", "keep", "keep_shared"):
        return "retained"
    if action.operation == "review":
        return "deferred"  # a person must look at these mentions
    return "skipped" if action.operation == "skipped" else "done"


def action_body(rt: Runtime, request: RequestRow, action: ActionRow, outcome: Outcome) -> dict[str, Any]:
    details = action.details or {}
    return {
        **_common(rt, request, "action"),
        "action": {
            "step": action.step,
            "system": action.system,
            "collection": action.collection,
            "operation": action.operation,
            "target": action.target_digest,
            "planned": action.planned_count,
            "affected": action.affected_count,
            "resumed": bool(details.get("resumed")),
            "attempt": attempt_of(action),
            "status": _status(action),
            "rule": details.get("rule"),
            "legal_basis": details.get("legal_basis"),
            "purge_by": details.get("retained_until"),
            "evidence": outcome.evidence,
            "post_check": outcome.post_check,
            "refused": details.get("refused", []),
            **({"values": details["values"]} if "values" in details else {}),
        },
    }


def _publish(rt: Runtime, request_id: str, receipt_id: str, document: bytes) -> None:
    directory = rt.receipts_dir / request_id
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{receipt_id}.json").write_bytes(document)


def seal_request(rt: Runtime, request_id: str, outcomes: dict[str, Outcome], outcome_text: str) -> list[str]:
    """Receipt every finished action not yet receipted (a rerun never signs twice), then the certificate."""
    sealed = ledger.write(rt, lambda session: _seal_actions(rt, session, request_id, outcomes))
    for receipt_id, document in sealed:  # published once in the ledger, never for a rolled-back attempt
        _publish(rt, request_id, receipt_id, document)
    certify(rt, request_id, outcomes, outcome_text)
    (rt.receipts_dir / "keyring.json").write_bytes(rt.keys.keyring.to_json())  # a copy; auditors pin their own
    return [receipt_id for receipt_id, _ in sealed]


def seal_failed_attempts(rt: Runtime, request_id: str, system: str) -> list[str]:
    """Receipt, at once, every step of a system whose transaction failed and was rolled back: the run
    stops here, and the failed attempt must stay on record whether or not a rerun follows (which
    receipts its own attempt, numbered on)."""
    outcome = Outcome("failed: the store refused; every change to this system was rolled back")
    sealed = ledger.write(rt, lambda session: _seal_actions(rt, session, request_id, {}, only=(system, "failed"), default=outcome))
    for receipt_id, document in sealed:
        _publish(rt, request_id, receipt_id, document)
    return [receipt_id for receipt_id, _ in sealed]


def _seal_actions(rt: Runtime, session: Session, request_id: str, outcomes: dict[str, Outcome],
                  only: tuple[str, str] | None = None, default: Outcome = Outcome("not applicable")) -> list[tuple[str, bytes]]:
    """Receipts for finished actions not yet receipted; `only` (system, state) narrows them."""
    request = get_request(session, request_id)
    sealed = set(session.scalars(select(LedgerEntry.step).where(LedgerEntry.request_id == request_id)))
    finished = ActionRow.state.in_(("done", "failed")) if only is None else (ActionRow.system == only[0]) & (ActionRow.state == only[1])
    appended = []
    for action in session.scalars(select(ActionRow).where(ActionRow.request_id == request_id, finished).order_by(ActionRow.id)):
        attempt = attempt_of(action)
        ledger_step = action.step if attempt == 1 else f"{action.step}#{attempt}"  # one receipt per attempt
        if ledger_step in sealed:
            continue
        body = action_body(rt, request, action, outcomes.get(action.step, default))
        document = seal(rt.keys.signing_key, rt.keys.key_name, body)
        ledger.append(session, request_id, body["receipt_id"], "action", ledger_step, document)
        appended.append((body["receipt_id"], document))
    return appended


def certify(rt: Runtime, request_id: str, outcomes: dict[str, Outcome], outcome_text: str) -> dict[str, Any]:
    """The request's certificate: its action receipts by leaf hash, the verification result and the
    outcome; appended to the ledger, then a signed checkpoint and the certificate's inclusion proof."""

    def append_certificate(session: Session) -> tuple[dict[str, Any], bytes, dict[str, Any]]:
        request = get_request(session, request_id)
        leaves = list(session.scalars(
            select(LedgerEntry.leaf_hash).where(LedgerEntry.request_id == request_id, LedgerEntry.kind == "action").order_by(LedgerEntry.index)
        ))
        failed = sum(1 for o in outcomes.values() if o.post_check.startswith("failed"))
        decision = decision_for(session, request_id, digest_of_plan(request))
        body = {
            **_common(rt, request, "certificate"),
            "receipts": leaves,
            "verification": {"checks": len(outcomes), "failed": failed},
            "outcome": outcome_text,
            # four-eyes: who allowed the plan to run, when, and which plan (null: the kind needs none)
            "approval": None if decision is None else {"by": decision.actor, "at": decision.at.isoformat(), "plan_digest": decision.plan_digest},
        }
        document = seal(rt.keys.signing_key, rt.keys.key_name, body)
        index = ledger.append(session, request_id, body["receipt_id"], "certificate", "certificate", document)
        checkpoint, note = ledger.sign_checkpoint(rt, session)
        proof = ledger.inclusion(session, index, checkpoint.size)
        return body, document, {"index": index, "proof": proof, "checkpoint": note.decode()}

    body, document, certificate = ledger.write(rt, append_certificate)
    _publish(rt, request_id, body["receipt_id"], document)
    (rt.receipts_dir / request_id / "certificate.json").write_text(json.dumps(certificate, indent=2) + "\n")
    return certificate
