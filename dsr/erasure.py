"""Executing an erasure plan, one system (one transaction) at a time, and verifying the result.

Idempotency lives here, in the data layer, not in Prefect's caches: before a system's transaction
every step is written to the control database as an intent (with the keys it will touch); after
the commit the steps are marked done. A rerun skips done steps and re-applies intents: deletes,
masks, unlinks and pseudonyms are all no-ops on rows already changed, so nothing is repeated, and
the intent keeps the count of what the crashed attempt did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import MASK_TEXT, PSEUDONYM_PREFIX, ApplyContext, CommitInDoubt, ConnectorError, Key, Step
from dsr import failpoints
from dsr.approval import supersede
from dsr.control.models import ActionRow, utcnow
from dsr.discovery import Discovery, discover
from dsr.holds import active_holds
from dsr.plan import ErasurePlan, PlanStep, plan_erasure, plan_opt_out, plan_rectification, pointer_steps
from dsr.references import Deletion, plan_deletion, pointers
from dsr.requests import RUNNING, Correction, corrections_of, get_request, set_status, subject_of
from dsr.runtime import Runtime
from dsr.sealing import attempt_of, seal_failed_attempts
from dsr.subject import Subject
from dsr.suppression import suppress

#: Plan operations that change a store, and the connector operation that carries each out.
CONNECTOR_OPERATION = {
    "delete_record": "delete_record",
    "null_field": "null_field",
    "mask": "mask",
    "pseudonymize": "pseudonymize",
    "unlink": "null_field",
    "redact_span": "redact",
    "rectify": "rectify",
    "withdraw_consent": "set_false",
    "delete_object_all_versions": "delete_object_all_versions",
    "rewrite_object": "rewrite_object",
}
TEXT_OPERATIONS = ("redact_span", "delete_object_all_versions", "rewrite_object")
#: Plan operations that decide a collection's records as a whole.
RECORD_OPERATIONS = ("delete_record", "retain", "keep", "keep_shared")


class ErasureVerificationError(RuntimeError):
    """Data the plan did not retain is still there after erasure."""


def corrections_of_request(rt: Runtime, request_id: str) -> list[Correction]:
    with rt.sessions() as session:
        return corrections_of(get_request(session, request_id))


def request_subject(rt: Runtime, request_id: str) -> Subject:
    with rt.sessions() as session:
        return subject_of(get_request(session, request_id))


def discover_now(rt: Runtime, request_id: str) -> Discovery:
    """Discovery for a request, structured and in free text and objects."""
    subject = request_subject(rt, request_id)
    return discover(rt.estate, rt.connector, subject, rt.matcher(subject))


def make_plan(rt: Runtime, request_id: str, discovery: Discovery) -> ErasurePlan:
    """The request's plan: made once from what discovery found and stored; a rerun gets the same plan.

    A rerun after a crash must finish the plan that was started (and approved), not plan afresh
    from a half-erased estate, which would forget the steps already under way.
    """
    with rt.sessions() as session:
        request = get_request(session, request_id)
        if request.plan is not None:
            return ErasurePlan.from_json(request.plan)
        plan = _new_plan(rt, session, request_id, discovery)
        request.plan = plan.to_json()
        session.commit()
        return plan


def _new_plan(rt: Runtime, session: Session, request_id: str, discovery: Discovery) -> ErasurePlan:
    request = get_request(session, request_id)
    if request.kind == "rectify":
        return plan_rectification(rt.estate, request_id, discovery, {c.old.kind.value for c in corrections_of(request)})
    if request.kind == "opt_out":
        return plan_opt_out(rt.estate, request_id, discovery)
    holds = active_holds(session, rt.keys, subject_of(request))
    return plan_erasure(rt.estate, request_id, request.received_at, discovery, rt.connector, holds)


def plan_again_if_changed(rt: Runtime, request_id: str) -> ErasurePlan:
    """After approval, before the first change: plan again from a fresh look at the stores and holds.

    A legal hold placed, or new kinds of the subject's data found, while the plan waited change what
    may be done, and an approver must see that plan: it is stored (and needs its own approval) when
    its shape differs; row counts alone are no change. Once anything was applied, the stored plan
    is finished as it is."""
    with rt.sessions() as session:
        request = get_request(session, request_id)
        assert request.plan is not None, "plan_again_if_changed follows make_plan"
        stored = ErasurePlan.from_json(request.plan)
        if session.scalar(select(ActionRow.id).where(ActionRow.request_id == request_id).limit(1)) is not None:
            return stored
        fresh = _new_plan(rt, session, request_id, discover_now(rt, request_id))
        if fresh.shape() == stored.shape():
            return stored
        supersede(session, request_id, stored.digest)
        request.plan = fresh.to_json()
        request.approval_due_at = None  # a new plan gets the full time for its approval
        set_status(session, request, RUNNING, "orchestrator",
                   f"plan {stored.digest} changed before it was applied (a legal hold placed, or data found, meanwhile): plan {fresh.digest} needs its own approval")
        session.commit()
        return fresh


@dataclass(frozen=True)
class Targets:
    """One fresh look at the stores: discovery, and which of the subject's records the plan's deletes
    take now and which stay as shared (dsr.references), both read again at execution."""

    discovery: Discovery
    deletion: Deletion


def fresh_targets(rt: Runtime, request_id: str, plan: ErasurePlan, check: bool = False) -> Targets:
    """Discover again and decide again what the deletes take. With `check` (before the first change),
    refused (PlanError) if something now points at those rows that would make a store refuse, so
    that no system commits while a later one is certain to fail."""
    fresh = discover_now(rt, request_id)
    collections = {(s.system, s.collection) for s in plan.steps if s.operation in ("delete_record", "keep_shared")}
    if not collections:
        return Targets(fresh, Deletion({}))
    foreign_keys = {system: rt.connector(system).foreign_keys() for system in sorted(rt.estate.datasets)}
    all_pointers = pointers(rt.estate, foreign_keys)
    deletion = plan_deletion(rt.estate, rt.connector, fresh, collections, all_pointers)
    if check:
        actions = {(s.system, s.collection): s.operation for s in plan.steps if s.operation in RECORD_OPERATIONS}
        pointer_steps(rt.estate, rt.connector, all_pointers, deletion, {**actions, **{c: "delete_record" for c in collections}})
    return Targets(fresh, deletion)


def _step_keys(rt: Runtime, step: PlanStep, targets: Targets) -> list[Key]:
    fresh, deletion = targets.discovery, targets.deletion
    objects = rt.estate.collection(step.system, step.collection).objects
    if step.operation in TEXT_OPERATIONS or step.operation == "review" or (step.operation == "retain" and objects):
        return sorted({f.key for f in fresh.mentions(step.system, step.collection)}, key=repr)
    if step.operation == "skipped":
        return [f.key for f in fresh.skipped() if (f.system, f.collection) == (step.system, step.collection)]
    if step.operation == "delete_record":
        return sorted(deletion.rows.get((step.system, step.collection), set()), key=repr)
    if step.operation == "keep_shared":
        return sorted(deletion.shared.get((step.system, step.collection), {}), key=repr)
    if step.operation != "unlink":
        return fresh.keys(step.system, step.collection)
    assert step.parent is not None
    psystem, pcollection, pfield = step.parent
    parent_keys = sorted(deletion.rows.get((psystem, pcollection), set()), key=repr)
    if not parent_keys:
        return []
    parent = rt.estate.collection(psystem, pcollection)
    if parent.primary_key == [pfield]:
        values = [k[0] for k in parent_keys]
    else:
        values = [row[pfield] for row in rt.connector(psystem).read(pcollection, parent_keys, [pfield])]
    matches = rt.connector(step.system).find_by_values(step.collection, step.fields[0], values, [])
    return sorted({m.key for m in matches}, key=repr)


def _step_details(rt: Runtime, request_id: str, step: PlanStep) -> dict[str, Any]:
    details = {"rule": step.rule, "fields": list(step.fields), "legal_basis": step.legal_basis, "retained_until": step.retained_until}
    if step.operation == "rectify":  # digests of old and new values, never the values
        corrections = corrections_of_request(rt, request_id)
        details["values"] = [{"kind": c.old.kind.value, "old": rt.keys.mac("value", c.old.value), "new": rt.keys.mac("value", c.new.value)} for c in corrections]
    return details


def _corrector(rt: Runtime, request_id: str) -> Callable[[str], str | None]:
    corrections = corrections_of_request(rt, request_id)

    def correct(stored: str) -> str | None:
        return next((c.new.value for c in corrections if c.old.matches(stored)), None)

    return correct


def _first_targets(action: ActionRow | None) -> list[Key]:
    """What a resumed or retried step targeted before: discovery may no longer lead there (a kept
    dependent row once its customer is gone), so the retry covers it too."""
    return [tuple(k) for k in action.details.get("keys", [])] if action is not None else []


def _jsonable(keys: list[Key]) -> list[list[Any]]:
    return [[v if isinstance(v, (int, str, float)) or v is None else str(v) for v in k] for k in keys]


def record_targets(rt: Runtime, request_id: str, plan: ErasurePlan) -> int:
    """Before anything changes, write down every step's targets (pending actions) from one discovery.

    Erasing one system can hide rows of another from discovery (the customer that led there is
    gone). Systems run dependents first, but references between systems can form a cycle; with
    every target written down first, no order of systems can make a step miss its rows.
    Returns how many steps were recorded (none on a rerun).
    """
    with rt.sessions() as session:
        recorded = set(session.scalars(select(ActionRow.step).where(ActionRow.request_id == request_id)))
        missing = [s for s in plan.steps if s.name not in recorded]
        if not missing:
            return 0
        targets = fresh_targets(rt, request_id, plan, check=True)
        for step in missing:
            keys = _step_keys(rt, step, targets)
            session.add(ActionRow(request_id=request_id, step=step.name, system=step.system, collection=step.collection, operation=step.operation,
                                  state="pending", planned_count=len(keys), target_digest=rt.keys.locators(step.system, step.collection, keys),
                                  details={**_step_details(rt, request_id, step), "keys": _jsonable(keys)}))
        session.commit()
        return len(missing)


def execute_system(rt: Runtime, request_id: str, plan: ErasurePlan, system: str) -> dict[str, int]:
    """Apply the plan's steps for one system in one transaction. Returns step name -> rows affected."""
    steps = plan.steps_for(system)
    with rt.sessions() as session:
        existing = {a.step: a for a in session.scalars(select(ActionRow).where(ActionRow.request_id == request_id, ActionRow.system == system))}
        todo = [s for s in steps if not (s.name in existing and existing[s.name].state == "done")]
        if not todo:
            return {s.name: existing[s.name].affected_count or 0 for s in steps}
        targets = fresh_targets(rt, request_id, plan)
        keyed = [(s, _step_keys(rt, s, targets) + _first_targets(existing.get(s.name))) for s in todo]
        keyed = [(s, sorted(set(keys), key=repr)) for s, keys in keyed]
        for step, keys in keyed:  # intent first: a crash from here on is recoverable
            action = existing.get(step.name)
            if action is None:
                action = ActionRow(request_id=request_id, step=step.name, system=system, collection=step.collection, operation=step.operation, planned_count=len(keys), details=_step_details(rt, request_id, step))
                session.add(action)
                existing[step.name] = action
            elif action.state == "failed":  # refused by the store, or its post-check failed: try again, receipted anew
                kept = {k: v for k, v in action.details.items() if k not in ("refused", "post_check")}
                action.details = {**kept, "resumed": True, "attempt": attempt_of(action) + 1}
            elif action.state == "intent":  # left by a crash: finish it
                action.details = {**action.details, "resumed": True}
            action.planned_count = max(action.planned_count, len(keys))  # rows that appeared since are planned too
            action.state = "intent"
            action.target_digest = action.target_digest or rt.keys.locators(system, step.collection, keys)
            action.details = {**action.details, "keys": _jsonable(keys)}
        session.commit()

        mutating = [(s, k) for s, k in keyed if s.operation in CONNECTOR_OPERATION]
        connector_steps = [Step(s.collection, CONNECTOR_OPERATION[s.operation], k, s.fields) for s, k in mutating]  # type: ignore[arg-type]

        def pseudonym(collection: str, field: str, value: str) -> str:
            return rt.keys.pseudonym(system, collection, field, value)

        context = ApplyContext(pseudonym=pseudonym, redact=rt.matcher(request_subject(rt, request_id)).redact, correct=_corrector(rt, request_id))
        try:
            applied = rt.connector(system).apply(connector_steps, context) if connector_steps else []
        except CommitInDoubt:  # the steps stay intents: the rerun applies them again and counts what is gone
            for step, _ in keyed:
                existing[step.name].details = {**existing[step.name].details, "in_doubt": True}
            session.commit()
            raise
        except ConnectorError as exc:  # the whole transaction was rolled back: every step of it failed, and says so in a receipt
            for step, _ in keyed:
                action = existing[step.name]
                action.state, action.finished_at = "failed", utcnow()
                action.affected_count = action.affected_count or 0
                action.details = {**action.details, "refused": [str(exc)]}
            session.commit()
            seal_failed_attempts(rt, request_id, system)
            raise
        failpoints.reach(f"after-commit:{system}")
        by_name = {s.name: result for (s, _), result in zip(mutating, applied, strict=True)}

        for step, keys in keyed:
            action = existing[step.name]
            result = by_name.get(step.name)
            action.state = "failed" if result and result.refused else "done"
            done_now = result.affected if result else 0  # kept, retained, reviewed rows are not changed rows
            if action.details.get("resumed") and step.operation in SETTLED_OPERATIONS:
                # An earlier attempt may have committed without its bookkeeping (a crash, a lost reply
                # to COMMIT): this attempt found nothing left to do. Count what is verifiably done.
                done_now = max(done_now, _settled_count(rt, step, keys, context))
            action.affected_count = max(action.affected_count or 0, done_now)  # a resumed step keeps what it did before
            if result and result.refused:
                action.details = {**action.details, "refused": list(result.refused)}
            action.finished_at = utcnow()
        session.commit()
        _purge_physically(rt, session, system, [existing[s.name] for s, _ in mutating if existing[s.name].affected_count])
        return {s.name: existing[s.name].affected_count or 0 for s in steps}


def _purge_physically(rt: Runtime, session: Session, system: str, changed: list[ActionRow]) -> None:
    """Once the erasure committed: old row versions go too (PostgreSQL VACUUM), and each changed
    step's receipt says what was done. A failed purge leaves the erasure standing and says so."""
    if not changed or not rt.estate.settings.vacuum_after_erasure:
        return
    try:
        note = rt.connector(system).purge_deleted(sorted({a.collection for a in changed}))
    except ConnectorError as exc:
        note = f"not purged: {exc}"
    if note is None:
        return
    for action in changed:
        action.details = {**action.details, "physical": note}
    session.commit()


SETTLED_OPERATIONS = ("delete_record", "unlink", "null_field", "mask", "pseudonymize", "withdraw_consent", "redact_span",
                      "delete_object_all_versions", "rewrite_object")


def _settled_count(rt: Runtime, step: PlanStep, keys: list[Key], context: ApplyContext) -> int:
    """How many of the step's targets are now as the step leaves them: gone, their fields cleared, or
    (a redaction) their text free of the subject's mentions. Targets were recorded while they still
    held what the step removes, so each one in that state now was changed by some attempt."""
    connector = rt.connector(step.system)
    if step.operation in ("delete_object_all_versions", "rewrite_object"):  # per object: none of its versions that held the subject is left
        left = {record["object"] for record in connector.read(step.collection, keys, ["text"])}
        return len({key[0] for key in keys} - left)
    if step.operation == "delete_record":
        return len(keys) - len(list(connector.read(step.collection, keys, rt.estate.collection(step.system, step.collection).primary_key)))
    rows = list(connector.read(step.collection, keys, list(step.fields)))
    gone = len(keys) - len(rows)  # deleted later in the same commit (a customer unlinked, then deleted): its value is gone too
    if step.operation in ("unlink", "withdraw_consent"):
        return gone + sum(1 for row in rows if not any(row.get(f) for f in step.fields))
    if step.operation == "redact_span":
        assert context.redact is not None
        return gone + sum(1 for row in rows if not any(isinstance(v, str) and context.redact(v)[1] for v in row.values()))
    return gone + sum(1 for row in rows if all(_erased(step.operation, row.get(f)) for f in step.fields))


@dataclass(frozen=True)
class PostCheck:
    step: str
    passed: bool
    detail: str


def verify_erasure(rt: Runtime, request_id: str, plan: ErasurePlan) -> list[PostCheck]:
    """Run discovery again and check every step took effect; a step whose check fails is marked
    failed, so that a rerun (once the store is fixed) tries it again."""
    checks = _post_checks(rt, request_id, plan)
    failed = {c.step: c.detail for c in checks if not c.passed}
    if failed:
        with rt.sessions() as session:
            for action in session.scalars(select(ActionRow).where(ActionRow.request_id == request_id, ActionRow.step.in_(failed))):
                action.state = "failed"
                action.details = {**action.details, "post_check": failed[action.step]}
            session.commit()
    return checks


def _post_checks(rt: Runtime, request_id: str, plan: ErasurePlan) -> list[PostCheck]:
    targets = fresh_targets(rt, request_id, plan)
    fresh = targets.discovery
    checks: list[PostCheck] = []
    with rt.sessions() as session:
        actions = {a.step: a for a in session.scalars(select(ActionRow).where(ActionRow.request_id == request_id))}
    def stored(step: PlanStep, fields: list[str]) -> list[dict[str, Any]]:
        """The records the step was applied to (its intent's keys), read again now.

        Discovery alone cannot see them all: once a customer is gone, nothing leads to a dependent
        row whose delete failed, or to a link that was not cleared."""
        keys = [tuple(k) for k in actions[step.name].details.get("keys", [])] if step.name in actions else []
        return list(rt.connector(step.system).read(step.collection, keys, fields)) if keys else []

    shared = {(s.system, s.collection, tuple(k)) for s in plan.steps if s.operation == "keep_shared" and s.name in actions for k in actions[s.name].details.get("keys", [])}
    for step in plan.steps:
        remaining = sum(1 for k in fresh.keys(step.system, step.collection) if (step.system, step.collection, k) not in shared)
        if step.operation == "delete_record":
            left = len(stored(step, rt.estate.collection(step.system, step.collection).primary_key))
            checks.append(PostCheck(step.name, remaining == 0 and left == 0, f"{max(remaining, left)} record(s) still found"))
        elif step.operation in ("null_field", "mask", "pseudonymize"):
            bad = sum(1 for row in stored(step, list(step.fields)) for v in row.values() if not _erased(step.operation, v))
            checks.append(PostCheck(step.name, bad == 0, f"{bad} field value(s) still hold data"))
        elif step.operation == "unlink":
            linked = sum(1 for row in stored(step, list(step.fields)) for v in row.values() if v is not None) + len(_step_keys(rt, step, targets))
            checks.append(PostCheck(step.name, linked == 0, f"{linked} link(s) to erased records left" if linked else "links to erased records cleared"))
        elif step.operation in TEXT_OPERATIONS:
            left = len(fresh.mentions(step.system, step.collection))
            refused = actions[step.name].details.get("refused", []) if step.name in actions else []
            detail = f"{left} mention(s) still found" + (f"; the store refused: {'; '.join(refused)}" if refused else "")
            checks.append(PostCheck(step.name, left == 0, detail))
        elif step.operation == "skipped":
            checks.append(PostCheck(step.name, True, f"{step.count} object(s) not readable as text ({step.rule})"))
        elif step.operation == "rectify":
            olds = [c.old for c in corrections_of_request(rt, request_id)]
            stale = sum(1 for row in stored(step, list(step.fields)) for v in row.values() if any(o.matches(v) for o in olds))
            checks.append(PostCheck(step.name, stale == 0, f"{stale} field value(s) still hold the old value"))
        elif step.operation == "withdraw_consent":
            still = sum(1 for row in stored(step, list(step.fields)) for v in row.values() if v)
            checks.append(PostCheck(step.name, still == 0, f"{still} consent flag(s) still on"))
        elif step.operation == "review":
            checks.append(PostCheck(step.name, True, f"{step.count} free-text mention(s) listed for manual review"))
        else:
            checks.append(PostCheck(step.name, True, f"{remaining} record(s) kept under {step.rule}"))
    with rt.sessions() as session:
        if get_request(session, request_id).kind in ("rectify", "opt_out"):
            return checks  # the data stays: only the changed fields are checked
    planned = {(s.system, s.collection) for s in plan.steps if s.operation in RECORD_OPERATIONS}
    for path, count in fresh.counts().items():
        system, collection = path.split(".", 1)
        if (system, collection) not in planned:
            checks.append(PostCheck(f"{system}/{collection}/unplanned", False, f"{count} record(s) found that the plan does not cover"))
    covered = {(s.system, s.collection) for s in plan.steps if s.operation in (*TEXT_OPERATIONS, "retain", "delete_record")}
    for (system, collection) in sorted({(f.system, f.collection) for f in fresh.mentions()} - covered):
        count = len(fresh.mentions(system, collection))
        checks.append(PostCheck(f"{system}/{collection}/unplanned-mentions", False, f"{count} mention(s) found that the plan does not cover"))
    return checks


def _erased(operation: str, value: Any) -> bool:
    if value is None:
        return True
    if operation == "pseudonymize":
        return str(value).startswith(PSEUDONYM_PREFIX)
    return operation == "mask" and isinstance(value, str) and value != "" and MASK_TEXT.startswith(value)


def add_suppression(rt: Runtime, request_id: str) -> int:
    """Record the opt-out's suppression entry as a done action (so it is sealed with a receipt)."""
    with rt.sessions() as session:
        request = get_request(session, request_id)
        added = suppress(session, rt.keys, subject_of(request), request_id)
        step = "control/suppressions/suppress"
        if session.query(ActionRow).filter_by(request_id=request_id, step=step).one_or_none() is None:
            session.add(ActionRow(request_id=request_id, step=step, system="control", collection="suppressions", operation="suppress",
                                  state="done", planned_count=added, affected_count=added, details={"rule": "opt_out: suppression (§6)"}))
        session.commit()
    return added
