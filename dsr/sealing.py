"""Sealing: one signed receipt per completed action, stored in the control database and on disk.

Receipts name records only through keyed HMACs (`target`) and the subject only through its
commitment, so they can be handed to an auditor, or published, without disclosing anyone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from dsr.control.models import ActionRow, ReceiptRow, RequestRow, utcnow
from dsr.requests import get_request
from dsr.runtime import Runtime
from receipts.receipt import SCHEMA, seal
from receipts.signing import key_id, public_path


@dataclass(frozen=True)
class Outcome:
    """What a step's post-check found, and any evidence digest (e.g. the export manifest's)."""

    post_check: str  # "passed", "failed: ..." or "not applicable"
    evidence: str | None = None


def receipt_body(rt: Runtime, request: RequestRow, action: ActionRow, plan_digest: str | None, outcome: Outcome) -> dict:
    details = action.details or {}
    return {
        "schema": SCHEMA,
        "receipt_id": str(uuid.uuid4()),
        "issued_at": utcnow().isoformat(),
        "issuer_key_id": key_id(rt.keys.signing_key.public_key()),
        "request": {
            "id": request.id,
            "kind": request.kind,
            "received_at": request.received_at.isoformat(),
            "due_at": request.due_at.isoformat(),
            "verification_method": request.verification_method,
        },
        "subject": {"commitment": request.subject_commitment},
        "policy": {"id": request.policy_id, "digest": request.policy_digest},
        "plan_digest": plan_digest,
        "action": {
            "step": action.step,
            "system": action.system,
            "collection": action.collection,
            "operation": action.operation,
            "target": action.target_digest,
            "planned": action.planned_count,
            "affected": action.affected_count,
            "resumed": bool(details.get("resumed")),
            "status": _status(action),
            "refused": details.get("refused", []),
            "rule": details.get("rule"),
            "legal_basis": details.get("legal_basis"),
            "retained_until": details.get("retained_until"),
            "evidence": outcome.evidence,
            "post_check": outcome.post_check,
        },
    }


def _status(action: ActionRow) -> str:
    """done, retained (kept by policy), skipped (unreadable objects, reported) or failed (the store refused)."""
    if action.state == "failed":
        return "failed"
    if action.operation in ("retain", "keep"):
        return "retained"
    return "skipped" if action.operation == "skipped" else "done"


def seal_request(rt: Runtime, request_id: str, plan_digest: str | None, outcomes: dict[str, Outcome]) -> list[str]:
    """Sign a receipt for every finished action that has none yet (a rerun never signs twice)."""
    directory = rt.receipts_dir / request_id
    directory.mkdir(parents=True, exist_ok=True)
    _publish_public_key(rt)
    written: list[str] = []
    with rt.sessions() as session:
        request = get_request(session, request_id)
        sealed = set(session.scalars(select(ReceiptRow.step).where(ReceiptRow.request_id == request_id)))
        finished = ActionRow.state.in_(("done", "failed"))
        actions = session.scalars(select(ActionRow).where(ActionRow.request_id == request_id, finished).order_by(ActionRow.id))
        for action in actions:
            if action.step in sealed:
                continue
            body = receipt_body(rt, request, action, plan_digest, outcomes.get(action.step, Outcome("not applicable")))
            document = seal(rt.keys.signing_key, body)
            session.add(ReceiptRow(id=body["receipt_id"], request_id=request_id, step=action.step, document=document))
            (directory / f"{body['receipt_id']}.json").write_bytes(document)
            written.append(body["receipt_id"])
        session.commit()
    return written


def _publish_public_key(rt: Runtime) -> None:
    """Put the signing key's public half beside the receipts, named by key id, for auditors to pin."""
    public = public_path(rt.estate.resolve_path(rt.estate.settings.signing_key_file))
    target = rt.receipts_dir / "keys" / f"{key_id(rt.keys.signing_key.public_key())}.pub.pem"
    if public.exists() and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(public.read_bytes())
