"""Four-eyes approval on the real Prefect engine and the demo estate: a paused run, decisions taken
by `hkt-dsr approve`/`reject` in another process, refusals recorded, rejection and expiry leaving
every store untouched, and Prefect's run state mirroring the request's status."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from dsr.approval import ApprovalError, decide, decisions, expire_stale
from dsr.control.models import ActionRow, ApprovalRow, RequestRow
from dsr.plan import ErasurePlan
from dsr.requests import RequestError
from tests.demo_estate import APPROVER, DEMO_EMAIL, DEMO_NO, PERSONAL, Demo

pytestmark = pytest.mark.prefect


def hkt_dsr(demo: Demo, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, talking to the test's Prefect API as a colleague's would."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "dsr.cli", *args, "--config", str(demo.config)], env=env, capture_output=True, text=True, timeout=180)


def flow_run_state(flow_run_id: str):  # noqa: ANN201 - a prefect State
    from uuid import UUID

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(flow_run_id)).state


def stored_plan(demo: Demo, request_id: str) -> ErasurePlan:
    row = demo.request_row(request_id)
    assert row.plan is not None
    return ErasurePlan.from_json(row.plan)


def start_waiting(demo: Demo, kind: str = "erase"):  # noqa: ANN201 - (request id, BackgroundRun)
    from flows.deployments import FLOWS

    request_id = demo.request(kind)
    run = demo.in_background(lambda: FLOWS[kind](request_id=request_id, config_dir=str(demo.config), return_state=True))
    run.__enter__()
    wait_paused(demo, request_id, run)
    return request_id, run


def wait_paused(demo: Demo, request_id: str, run) -> None:  # noqa: ANN001 - a BackgroundRun
    """Until the request awaits approval and its run has paused (it records its wait, then pauses)."""
    assert demo.wait_for_status(request_id, ("awaiting_approval",), run) == "awaiting_approval"
    flow_run_id = demo.request_row(request_id).flow_run_id or ""
    deadline = time.monotonic() + 60
    while not flow_run_state(flow_run_id).is_paused():
        assert time.monotonic() < deadline and not run.done(), flow_run_state(flow_run_id)
        time.sleep(0.2)


def test_requester_and_wrong_digest_are_refused_then_a_second_person_approves_from_another_process(demo):
    before = demo.snapshot()
    request_id, run = start_waiting(demo)
    plan = stored_plan(demo, request_id)
    row = demo.request_row(request_id)
    assert row.flow_run_id and row.approval_due_at is not None
    assert flow_run_state(row.flow_run_id).is_paused()

    # The plan is published for the approver: counts and actions, no personal data.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"plan-{request_id.lower()}"])), limit=1)
    assert artifact.type == "table" and plan.digest in (artifact.description or "")
    table = artifact.data if isinstance(artifact.data, list) else __import__("json").loads(artifact.data)
    assert {(r["system"], r["collection"], r["action"]) for r in table} == {(s.system, s.collection, s.operation) for s in plan.steps}
    assert any(r["action"] == "delete_record" and r["collection"] == "customers" and r["records"] == 1 for r in table)
    for value in PERSONAL:
        assert value not in str(table).lower() + (artifact.description or "").lower()

    # The clerk who took the request cannot approve it; nor can anyone approve a plan they did not see.
    own = hkt_dsr(demo, "approve", request_id, "--as", "clerk", "--digest", plan.digest)
    assert own.returncode == 1 and "four-eyes" in own.stderr
    stale = hkt_dsr(demo, "approve", request_id, "--as", APPROVER, "--digest", "sha256:" + "0" * 64)
    assert stale.returncode == 1 and "is not the plan's" in stale.stderr
    assert demo.snapshot() == before  # nothing touched while the run waits
    assert demo.request_row(request_id).status == "awaiting_approval" and flow_run_state(row.flow_run_id).is_paused()

    approved = hkt_dsr(demo, "approve", request_id, "--as", APPROVER, "--digest", plan.digest)
    assert approved.returncode == 0, approved.stderr
    assert "resumed" in approved.stdout
    state = run.result()
    assert state.is_completed(), state
    assert state.result()["plan_digest"] == plan.digest

    assert demo.rows("crm", "select count(*) from customers where customer_no = :no", no=DEMO_NO) == [(0,)]
    assert demo.request_row(request_id).status == "completed"
    assert flow_run_state(row.flow_run_id).is_completed()
    with demo.rt.sessions() as session:
        recorded = [(d.verdict, d.actor, d.plan_digest, d.via) for d in decisions(session, request_id)]
        events = [(e.to_status, e.actor) for e in session.get(RequestRow, request_id).events]
    assert recorded == [("refused", "clerk", plan.digest, "cli"), ("refused", APPROVER, "sha256:" + "0" * 64, "cli"), ("approved", APPROVER, plan.digest, "cli")]
    assert ("approved", APPROVER) in events and events[-1] == ("completed", "orchestrator")
    assert [s for s, _ in events].index("awaiting_approval") < [s for s, _ in events].index("approved")
    shown = hkt_dsr(demo, "request", "show", request_id)
    assert plan.digest in shown.stdout and "approved" in shown.stdout and APPROVER in shown.stdout

    # Decisions are history: the control database refuses to rewrite them.
    with demo.rt.sessions() as session:
        with pytest.raises(Exception, match="append-only"):
            session.execute(ApprovalRow.__table__.update().values(actor="someone else"))
        session.rollback()


def test_a_rectification_plan_waits_for_approval_too(demo):
    new_email = "taro.y@example.net"
    request_id = demo.request("rectify", new_email=new_email)

    result = demo.run("rectify", request_id)  # waits for the plan to await approval, then approves as the second person

    assert result["plan_digest"] == stored_plan(demo, request_id).digest
    assert demo.rows("crm", "select email from customers where customer_no = :no", no=DEMO_NO) == [(new_email,)]
    assert [to for _, to in demo.control(request_id)["events"]][-4:] == ["awaiting_approval", "approved", "running", "completed"]
    with demo.rt.sessions() as session:
        assert [(d.verdict, d.actor) for d in decisions(session, request_id)] == [("approved", APPROVER)]


def test_a_hold_placed_while_the_plan_waits_makes_a_new_plan_that_needs_its_own_approval(demo):
    from dsr.holds import add_hold

    request_id, run = start_waiting(demo)
    first = stored_plan(demo, request_id)
    subscribed = demo.rows("marketing", "select * from mailing_list where lower(email) = :e order by id", e=DEMO_EMAIL)
    assert subscribed and any(s.collection == "mailing_list" and s.operation == "delete_record" for s in first.steps)
    with demo.rt.sessions() as session:  # a police request arrives while the plan waits
        hold = add_hold(session, demo.rt.estate, demo.rt.keys, legal_basis="Police request, ref 9", placed_by="legal", system="marketing", collection="mailing_list")
        session.commit()

    demo.decide(request_id, APPROVER, approve=True)  # the plan as it was reviewed, before the hold
    deadline = time.monotonic() + 120
    while stored_plan(demo, request_id).digest == first.digest:
        assert time.monotonic() < deadline and not run.done()
        time.sleep(0.2)
    wait_paused(demo, request_id, run)  # nothing applied: the new plan waits for its own approval
    second = stored_plan(demo, request_id)
    assert [s.operation for s in second.steps if s.collection == "mailing_list"] == ["retain"]
    assert {s.rule for s in second.steps if s.collection == "mailing_list"} == {f"legal hold #{hold.id}"}
    assert demo.rows("marketing", "select * from mailing_list where lower(email) = :e order by id", e=DEMO_EMAIL) == subscribed

    demo.decide(request_id, APPROVER, approve=True)
    state = run.result()

    assert state.is_completed(), state
    assert demo.rows("marketing", "select * from mailing_list where lower(email) = :e order by id", e=DEMO_EMAIL) == subscribed
    assert demo.rows("crm", "select count(*) from customers where customer_no = :no", no=DEMO_NO) == [(0,)]
    with demo.rt.sessions() as session:
        assert [(d.verdict, d.plan_digest) for d in decisions(session, request_id)] == [
                ("approved", first.digest), ("superseded", first.digest), ("approved", second.digest)]  # the first approval was spent
    assert {r["plan_digest"] for r in demo.check_receipts(request_id)} == {second.digest}


def test_rejection_leaves_every_store_untouched_and_the_run_cancelled(demo):
    before = demo.snapshot()
    request_id, run = start_waiting(demo)
    flow_run_id = demo.request_row(request_id).flow_run_id
    assert flow_run_id

    # Whatever is typed in the digest field is checked, never echoed: it could be anything.
    with demo.rt.sessions() as session, pytest.raises(ApprovalError, match="is not one") as mistyped:
        decide(session, request_id, actor=APPROVER, verdict="approve", plan_digest=DEMO_EMAIL, via="test", staff=None)
    assert DEMO_EMAIL not in str(mistyped.value)

    # One run per request: a second run is refused while the first waits, and touches nothing.
    from flows.deployments import FLOWS

    with pytest.raises(RequestError, match=f"already being fulfilled by flow run {flow_run_id}"):
        FLOWS["erase"](request_id=request_id, config_dir=str(demo.config))
    assert demo.request_row(request_id).status == "awaiting_approval" and flow_run_state(flow_run_id).is_paused()

    rejected = hkt_dsr(demo, "reject", request_id, "--as", APPROVER, "--reason", "the customer withdrew the request by phone")
    assert rejected.returncode == 0, rejected.stderr
    state = run.result()

    assert state.is_cancelled() and state.name == "Rejected", state
    assert flow_run_state(flow_run_id).is_cancelled()
    assert demo.snapshot() == before
    row = demo.request_row(request_id)
    assert row.status == "rejected" and row.subject is None and "withdrew" in (row.outcome or "")
    with demo.rt.sessions() as session:
        assert session.scalars(select(ActionRow).where(ActionRow.request_id == request_id)).all() == []
    assert not (demo.rt.receipts_dir / request_id).exists()
    # Closed for good: no late approval, no second run.
    late = hkt_dsr(demo, "approve", request_id, "--as", APPROVER, "--digest", stored_plan(demo, request_id).digest)
    assert late.returncode == 1 and "already rejected" in late.stderr
    with pytest.raises(RequestError, match="rejected and is closed"):
        demo.run("erase", request_id)


def test_no_decision_before_the_deadline_expires_the_request_with_nothing_touched(demo):
    from flows.deployments import FLOWS

    estate = demo.config / "estate.yaml"
    estate.write_text(estate.read_text().replace("approval_timeout_hours: 72", "approval_timeout_hours: 0.001"))  # 3.6 s
    before = demo.snapshot()
    request_id = demo.request("erase")

    state = FLOWS["erase"](request_id=request_id, config_dir=str(demo.config), return_state=True)

    # Failed: named Expired by the flow, or failed first by the Prefect server's own pause-expiry service.
    assert state.is_failed() and "expired" in f"{state.name} {state.message}".lower(), state
    assert demo.snapshot() == before
    row = demo.request_row(request_id)
    assert row.status == "expired" and row.subject is None and row.plan is not None
    assert flow_run_state(row.flow_run_id or "").is_failed()
    with demo.rt.sessions() as session:
        assert decisions(session, request_id) == []
        with pytest.raises(ApprovalError, match="already|expired"):
            decide(session, request_id, actor=APPROVER, verdict="approve", plan_digest=stored_plan(demo, request_id).digest, via="test", staff=None)
    late = hkt_dsr(demo, "approve", request_id, "--as", APPROVER, "--digest", stored_plan(demo, request_id).digest)
    assert late.returncode == 1 and "expired" in late.stderr


def test_a_suspended_requests_deadline_is_kept_by_the_sweep(demo):
    """A served run suspends and leaves no process to notice its deadline: `request expire` (for
    cron), `request list` and the serve process expire it from the control database."""
    import datetime as dt

    from dsr.approval import await_decision

    def stale_request() -> str:
        request_id = demo.request("erase")
        with demo.rt.sessions() as session:
            plan = ErasurePlan(request_id, "policy", "sha256:" + "0" * 64)
            session.get(RequestRow, request_id).plan = plan.to_json()
            await_decision(session, request_id, plan, dt.timedelta(seconds=-1))
            session.commit()
        return request_id

    first = stale_request()
    with demo.rt.sessions() as session:
        assert expire_stale(session) == [first]
    second = stale_request()
    expired = hkt_dsr(demo, "request", "expire")
    assert expired.returncode == 0 and f"1 request(s) expired: {second}" in expired.stdout
    third = stale_request()
    listed = hkt_dsr(demo, "request", "list")
    for request_id in (first, second, third):
        (line,) = [line for line in listed.stdout.splitlines() if request_id in line]
        assert re.search(r"\berase\b.*\bexpired\b", line), line
        assert demo.request_row(request_id).subject is None
