"""The demo estate as tests use it: real SQLite files, moto's S3 server over HTTP, the real Prefect
engine, and a second person who approves erasure and rectification plans from another thread."""

from __future__ import annotations

import contextvars
import datetime as dt
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from sqlalchemy import create_engine, inspect, text

from dsr.approval import NEEDS_APPROVAL, Decision, decide
from dsr.control.models import ActionRow, LedgerEntry, RequestRow, StatusEvent
from dsr.demo.estate import DEMO_CUSTOMER, build_estate
from dsr.demo.objects import ATTACHMENTS, LOGS, TRANSCRIPTS, build_buckets
from dsr.plan import ErasurePlan
from dsr.requests import Correction, Verification, create_request
from dsr.runtime import Runtime, runtime_for
from dsr.subject import Identifier, IdentifierKind
from receipts.note import Keyring
from receipts.receipt import check

APPROVER = "Mari Tanaka (Privacy Office)"  # the second pair of eyes; requests are taken by "clerk"
DEMO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "demo"
SQL_SYSTEMS = ("crm", "billing", "support", "marketing")
SYSTEMS = (*SQL_SYSTEMS, "storage")
DEMO_NO, NAMESAKE_NO, FRIEND_NO = DEMO_CUSTOMER.customer_no, "HKT-0000043", "HKT-0000044"
DEMO_EMAIL = DEMO_CUSTOMER.email.lower()
# The demo customer's personal data as it could leak (compared lower-cased): his email, his number
# as digits or as written, his name in either script, his customer number.
PERSONAL = (DEMO_EMAIL, "12345678", "1234-5678", "1234 5678", "yamada", "山田", DEMO_NO.lower())
# Every collection the demo customer's data lives in: by identity, by an owned reference, or
# mentioned in objects (attachments, a call transcript, access log lines).
DEMO_COLLECTIONS = {
    "crm.customers", "crm.addresses", "crm.contact_points", "billing.invoices", "billing.payments",
    "support.tickets", "marketing.mailing_list", "marketing.web_events",
    "storage.support_attachments", "storage.call_transcripts", "storage.web_access_logs",
}
# Other people's records that mention him: only the mentioning text is exported, in its own file.
MENTION_FILES = {"support.tickets.mentions"}


@dataclass
class Demo:
    workdir: Path
    config: Path
    rt: Runtime

    def request(self, kind: str, verified: bool = True, new_email: str | None = None) -> str:
        """A request about the demo customer; `new_email`: a rectify request's corrected address."""
        email = Identifier.parse(IdentifierKind.EMAIL, DEMO_CUSTOMER.email)
        identifiers = [email, Identifier.parse(IdentifierKind.PHONE, DEMO_CUSTOMER.phone)]
        corrections = [Correction(email, Identifier.parse(IdentifierKind.EMAIL, new_email))] if new_email else None
        verification = Verification("photo ID and call-back", "privacy officer", dt.datetime.now(dt.UTC)) if verified else None
        with self.rt.sessions() as session:
            row = create_request(session, self.rt.estate, kind=kind, identifiers=identifiers, channel="web",
                                 department="Support Desk", requested_by="clerk", verification=verification, corrections=corrections)
            session.commit()
            return row.id

    def run(self, kind: str, request_id: str, approver: str = APPROVER) -> dict:
        """Run the request's flow; an erasure or rectification plan is approved by `approver`."""
        from flows.deployments import FLOWS

        def run_flow() -> dict:
            return FLOWS[kind](request_id=request_id, config_dir=str(self.config))

        if kind not in NEEDS_APPROVAL:
            return run_flow()
        with self.in_background(run_flow) as outcome:
            if self.wait_for_status(request_id, ("awaiting_approval",), outcome) == "awaiting_approval":
                self.decide(request_id, approver, approve=True)
        return outcome.result()

    def in_background(self, call: Callable[[], dict]) -> BackgroundRun:
        return BackgroundRun(call)

    def wait_for_status(self, request_id: str, statuses: tuple[str, ...], outcome: BackgroundRun, timeout: float = 120) -> str:
        """Poll the control database until the request reaches one of `statuses` (or the run ends)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.request_row(request_id).status
            if status in statuses or outcome.done():
                return status
            time.sleep(0.2)
        raise AssertionError(f"request {request_id} did not reach {statuses} in {timeout} s")

    def decide(self, request_id: str, actor: str, approve: bool, digest: str | None = None, reason: str = "") -> Decision:
        """What `hkt-dsr approve`/`reject` does: record the decision, then wake the waiting run."""
        from flows.approval import resume_waiting_run

        with self.rt.sessions() as session:
            row = session.get(RequestRow, request_id)
            assert row is not None and row.plan is not None
            digest = digest if digest is not None else ErasurePlan.from_json(row.plan).digest
            decision = decide(session, request_id, actor=actor, verdict="approve" if approve else "reject", plan_digest=digest, via="test", staff=self.rt.estate.staff, reason=reason)
            flow_run_id = row.flow_run_id
        assert flow_run_id is not None
        assert resume_waiting_run(flow_run_id, decision)
        return decision

    def rows(self, system: str, sql: str, **params: object) -> list[tuple]:
        engine = create_engine(f"sqlite:///{self.workdir / (system + '.db')}")
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every row of every table of the four SQL systems, and every object version in S3."""
        tables: dict[str, list[tuple]] = {}
        s3 = boto3.client("s3", endpoint_url=os.environ["DSR_S3_ENDPOINT"])
        for bucket in (ATTACHMENTS, TRANSCRIPTS, LOGS):
            versions = s3.list_object_versions(Bucket=bucket)
            tables[f"s3:{bucket}"] = sorted((v["Key"], v["VersionId"], v.get("ETag", "")) for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []))
        for system in SQL_SYSTEMS:
            engine = create_engine(f"sqlite:///{self.workdir / (system + '.db')}")
            names = inspect(engine).get_table_names()
            engine.dispose()
            for name in names:
                tables[f"{system}.{name}"] = sorted(self.rows(system, f"select * from {name}"), key=repr)
        return tables

    def request_row(self, request_id: str) -> RequestRow:
        with self.rt.sessions() as session:
            row = session.get(RequestRow, request_id)
            assert row is not None
            session.expunge(row)
            return row

    def control(self, request_id: str) -> dict[str, object]:
        """What the control database holds about a request: status, its history, actions and receipts."""
        with self.rt.sessions() as session:
            row = session.get(RequestRow, request_id)
            assert row is not None
            return {
                "status": row.status,
                "outcome": row.outcome,
                "events": [(e.from_status, e.to_status) for e in session.query(StatusEvent).filter_by(request_id=request_id).order_by(StatusEvent.id)],
                "actions": [(a.step, a.state, a.affected_count) for a in session.query(ActionRow).filter_by(request_id=request_id).order_by(ActionRow.id)],
                "receipts": sorted(r.receipt_id for r in session.query(LedgerEntry).filter_by(request_id=request_id, kind="action")),
            }

    def receipt_files(self, request_id: str) -> list[Path]:
        return sorted((self.rt.receipts_dir / request_id).glob("*.json"))

    def check_receipts(self, request_id: str) -> list[dict]:
        """Verify the request's receipts against the published keyring; return the action receipts' bodies."""
        keyring = Keyring.from_json((self.rt.receipts_dir / "keyring.json").read_bytes())
        files = [p for p in self.receipt_files(request_id) if p.name != "certificate.json"]
        verdicts = [check(p.name, p.read_bytes(), keyring) for p in files]
        assert verdicts and all(v.ok for v in verdicts), verdicts
        bodies = [v.body for v in verdicts]
        assert [b["kind"] for b in bodies].count("certificate") == 1
        return [b for b in bodies if b["kind"] == "action"]


class BackgroundRun:
    """A flow run on a thread of its own (with the test's Prefect settings), as a waiting run is."""

    def __init__(self, call: Callable[[], dict]) -> None:
        self._result: dict | None = None
        self._error: BaseException | None = None
        context = contextvars.copy_context()  # Prefect's settings (the harness's API) live in context variables
        self._thread = threading.Thread(target=context.run, args=(self._run, call), daemon=True)

    def _run(self, call: Callable[[], dict]) -> None:
        try:
            self._result = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test by result()
            self._error = exc

    def __enter__(self) -> BackgroundRun:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=300)
        assert not self._thread.is_alive(), "the flow run did not end"

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> dict:
        self._thread.join(timeout=300)
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def open_demo(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """The demo estate in tmp_path, with its own copy of the demo configuration."""
    workdir = tmp_path / "work"
    monkeypatch.setenv("DSR_WORKDIR", str(workdir))
    monkeypatch.setenv("DSR_S3_ENDPOINT", s3_endpoint)
    build_estate(workdir, customers=200)
    build_buckets(s3_endpoint, others=20)
    # runtime_for caches one Runtime per config directory string: a copy per test keeps tests apart.
    config = Path(shutil.copytree(DEMO_CONFIG, tmp_path / "config"))
    rt = Runtime.open(config, create_keys=True)
    yield Demo(workdir, config, rt)
    rt.close()
    runtime_for(str(config)).close()
