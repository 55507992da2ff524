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
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr import failpoints, ledger
from dsr.approval import decision_for
from dsr.config import period_end
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
            "physical": details.get("physical"),  # how the store made the change physical (VACUUM), if it had to
            **({"values": details["values"]} if "values" in details else {}),
        },
    }


def publish(rt: Runtime, request_id: str) -> int:
    """Write the request's receipts as the ledger holds them: every receipt file the folder lacks (or
    holds differently), the certificate's inclusion proof, a copy of the keyring. Idempotent, and
    derived from the ledger alone, so a run killed between the ledger's commit and these files, or
    a folder that lost some, is made whole by any later seal or by `hkt-dsr receipts publish`.
    Returns how many files were (re)written."""
    directory = rt.receipts_dir / request_id
    with rt.sessions() as session:
        entries = list(session.scalars(select(LedgerEntry).where(LedgerEntry.request_id == request_id).order_by(LedgerEntry.index)))
        proof = ledger.certificate_proof(session, request_id)
    files = {f"{e.receipt_id}.json": e.document for e in entries}
    if proof is not None:
        files["certificate.json"] = (json.dumps(proof, indent=2) + "\n").encode()
    written = sum(_write_if_changed(directory / name, data) for name, data in files.items())
    _write_if_changed(rt.receipts_dir / "keyring.json", rt.keys.keyring.to_json())  # a copy; auditors pin their own
    return written


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)  # whole or not at all: a reader never sees half a receipt
    return True


def seal_request(rt: Runtime, request_id: str, outcomes: dict[str, Outcome], outcome_text: str) -> list[str]:
    """Receipt every finished action not yet receipted (a rerun never signs twice), then the certificate."""
    sealed = ledger.write(rt, lambda session: _seal_actions(rt, session, request_id, outcomes))
    failpoints.reach("after-ledger")
    certify(rt, request_id, outcomes, outcome_text)
    failpoints.reach("after-certificate")
    publish(rt, request_id)  # files only for what the ledger committed, never for a rolled-back attempt
    return [receipt_id for receipt_id, _ in sealed]


def seal_failed_attempts(rt: Runtime, request_id: str, system: str) -> list[str]:
    """Receipt, at once, every step of a system whose transaction failed and was rolled back: the run
    stops here, and the failed attempt must stay on record whether or not a rerun follows (which
    receipts its own attempt, numbered on)."""
    outcome = Outcome("failed: the store refused; every change to this system was rolled back")
    sealed = ledger.write(rt, lambda session: _seal_actions(rt, session, request_id, {}, only=(system, "failed"), default=outcome))
    publish(rt, request_id)
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


def _backups(rt: Runtime, session: Session, request: RequestRow) -> dict[str, Any] | None:
    """By when the last backup still holding what this erasure or rectification changed expires, per
    system, from estate.yaml's backup_retention (systems that declare none are named: no date can
    be promised for them). None for requests that change nothing."""
    if request.kind not in ("erase", "rectify"):
        return None
    changed = session.scalars(select(ActionRow.system).where(ActionRow.request_id == request.id, ActionRow.affected_count > 0).distinct())
    systems = sorted(set(changed) & rt.estate.systems.keys())
    retention = rt.estate.settings.backup_retention
    today = utcnow().date()
    expiry = {s: period_end(today, retention[s]).isoformat() for s in systems if s in retention}
    undeclared = [s for s in systems if s not in retention]
    return {"expire_by": max(expiry.values()) if expiry and not undeclared else None, "systems": expiry, "undeclared": undeclared}


def certify(rt: Runtime, request_id: str, outcomes: dict[str, Outcome], outcome_text: str) -> dict[str, Any] | None:
    """The request's certificate: its action receipts by leaf hash, the verification result and the
    outcome; appended to the ledger with a signed checkpoint. One per set of action receipts: a rerun
    that receipted nothing new (killed after the certificate, say) issues no second one. Returns the
    certificate's inclusion proof."""

    def append_certificate(session: Session) -> None:
        request = get_request(session, request_id)
        entries = list(session.scalars(select(LedgerEntry).where(LedgerEntry.request_id == request_id).order_by(LedgerEntry.index)))
        if entries and entries[-1].kind == "certificate":
            return  # the last certificate already lists every action receipt of the request
        leaves = [e.leaf_hash for e in entries if e.kind == "action"]
        failed = sum(1 for o in outcomes.values() if o.post_check.startswith("failed"))
        decision = decision_for(session, request_id, digest_of_plan(request))
        body = {
            **_common(rt, request, "certificate"),
            "receipts": leaves,
            "verification": {"checks": len(outcomes), "failed": failed},
            "outcome": outcome_text,
            # four-eyes: who allowed the plan to run, when, and which plan (null: the kind needs none)
            "approval": None if decision is None else {"by": decision.actor, "at": decision.at.isoformat(), "plan_digest": decision.plan_digest},
            "backups": _backups(rt, session, request),
        }
        document = seal(rt.keys.signing_key, rt.keys.key_name, body)
        ledger.append(session, request_id, body["receipt_id"], "certificate", "certificate", document)
        ledger.sign_checkpoint(rt, session)

    ledger.write(rt, append_certificate)
    with rt.sessions() as session:
        return ledger.certificate_proof(session, request_id)
