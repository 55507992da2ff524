"""The Prefect flows end to end, on the real engine (one ephemeral API for the session) and the
demo estate in real SQLite files: what an access request exports, what an erasure request changes
and leaves alone, what Prefect's own database learns about the customer, and the runs that must be
refused or must fail without touching anything."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import zipfile
from pathlib import Path

import pytest

from connectors.base import ConnectorError
from dsr.requests import COMPLETED, FAILED, RECEIVED, RequestError
from tests.demo_estate import DEMO_COLLECTIONS, DEMO_EMAIL, DEMO_NO, FRIEND_NO, MENTION_FILES, NAMESAKE_NO, PERSONAL, SQL_SYSTEMS, SYSTEMS

pytestmark = pytest.mark.prefect

# ------------------------------------------------------------------ access


def test_access_flow_exports_only_the_subjects_data_and_seals_it(demo):
    request_id = demo.request("access")
    result = demo.run("access", request_id)

    archive = Path(result["export"])
    assert result["request_id"] == request_id and archive.suffix == ".zip" and archive.is_file()
    package = archive.with_suffix("")
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["request"]["id"] == request_id and manifest["request"]["kind"] == "access"

    # Every file in the package is listed with its SHA-256, and nothing else is; the zip holds the same.
    on_disk = {str(p.relative_to(package)) for p in package.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, digest in manifest["files"].items():
        assert digest == "sha256:" + hashlib.sha256((package / name).read_bytes()).hexdigest(), name
    with zipfile.ZipFile(archive) as zf:
        assert {n for n in zf.namelist() if not n.endswith("/")} == on_disk | {"manifest.json"}
        assert zf.read("manifest.json") == (package / "manifest.json").read_bytes()

    # One JSON and one CSV per collection he was found in, with the counts the manifest states.
    collections = {f"{c['system']}.{c['collection']}": c for c in manifest["collections"]}
    assert set(collections) == DEMO_COLLECTIONS
    assert result["collections"] == len(DEMO_COLLECTIONS)
    assert on_disk == {f"data/{path}.{ext}" for path in DEMO_COLLECTIONS | MENTION_FILES for ext in ("json", "csv")} | {"report.html"}
    report = (package / "report.html").read_text(encoding="utf-8")
    assert "HKT Payment Services (group company)" in report and "http" not in report.lower().replace("http-equiv", "")
    exported = {path: json.loads((package / "data" / f"{path}.json").read_text(encoding="utf-8")) for path in DEMO_COLLECTIONS}
    for path, rows in exported.items():
        assert collections[path]["records"] == len(rows) > 0, path
        with (package / "data" / f"{path}.csv").open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            assert reader.fieldnames == collections[path]["fields"] == list(rows[0]), path
            assert list(reader) == [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows], path  # the CSV says what the JSON says

    # His account, and only his: not the namesake's, not the friend's he referred.
    assert [r["customer_no"] for r in exported["crm.customers"]] == [DEMO_NO]
    assert {r["customer_no"] for r in exported["billing.invoices"]} == {DEMO_NO, None}  # incl. the invoice found by an upper-cased email
    assert any(r["billing_name"] == "YAMADA Taro" for r in exported["billing.invoices"])
    assert {r["email"].lower() for r in exported["marketing.mailing_list"]} == {DEMO_EMAIL}
    assert len(exported["marketing.mailing_list"]) == 2  # both spellings on the list
    assert {r["customer_no"] for r in exported["support.tickets"]} == {DEMO_NO}
    assert all(r["text"].count("\n") == 0 and ("1234" in r["text"] or "yamada" in r["text"].lower()) for r in exported["storage.web_access_logs"])
    for path in DEMO_COLLECTIONS | MENTION_FILES:
        for ext in ("json", "csv"):
            content = (package / "data" / f"{path}.{ext}").read_text(encoding="utf-8").lower()
            for other in (NAMESAKE_NO.lower(), FRIEND_NO.lower(), "taro.yamada@example.com", "hanako", "suzuki"):
                assert other not in content, (path, ext, other)

    # The internal credit score is withheld, and the manifest says so.
    assert all("credit_score" not in r for r in exported["crm.customers"])
    assert "credit_score" not in (package / "data" / "crm.customers.csv").read_text(encoding="utf-8")
    assert collections["crm.customers"]["withheld_fields"] == ["credit_score"]
    assert "credit_score" not in collections["crm.customers"]["fields"]

    # Completed, the export recorded, and the raw identifiers dropped.
    row = demo.request_row(request_id)
    assert row.status == COMPLETED and row.subject is None and row.export_path == str(archive)

    # One signed receipt per exported collection, each carrying the manifest's digest as evidence.
    receipts = demo.check_receipts(request_id)
    manifest_digest = "sha256:" + hashlib.sha256((package / "manifest.json").read_bytes()).hexdigest()
    unreadable = manifest["unreadable"]["files"]  # what could not be read is reported, by reference, never by name
    assert {(f["system"], f["collection"]) for f in unreadable} == {("storage", "support_attachments")}
    assert all(re.fullmatch(r"[0-9a-f]{16}", f["reference"]) and f["reason"] for f in unreadable)
    assert "Files we hold but could not read" in report and "scan.png" not in report and unreadable[0]["reference"] in report
    assert sorted(r["action"]["step"] for r in receipts) == sorted([f"{p.replace('.', '/', 1)}/export" for p in DEMO_COLLECTIONS] + ["storage/support_attachments/skipped"])
    skipped = next(r["action"] for r in receipts if r["action"]["step"] == "storage/support_attachments/skipped")
    assert skipped["status"] == "skipped" and skipped["affected"] == len(unreadable) and skipped["rule"].startswith("unreadable: ")
    assert {r["action"]["evidence"] for r in receipts} == {manifest_digest}
    assert {r["request"]["id"] for r in receipts} == {request_id}
    assert {tuple(r["subject"]["commitments"]) for r in receipts} == {tuple(row.subject_commitments)}
    assert demo.control(request_id)["receipts"] == sorted(r["receipt_id"] for r in receipts)


# ------------------------------------------------------------------ erasure


def test_erasure_flow_erases_the_subject_and_leaves_everyone_else(demo):
    request_id = demo.request("erase")
    demo_ids = [i for (i,) in demo.rows("crm", "select id from customers where customer_no = :no", no=DEMO_NO)]
    assert len(demo_ids) == 1
    invoice_ids = sorted(i for (i,) in demo.rows("billing", "select id from invoices where customer_no = :no or lower(email) = :e", no=DEMO_NO, e=DEMO_EMAIL))
    assert len(invoice_ids) == 2  # his account's invoice and the one addressed to "YAMADA Taro"
    invoices_before = {r[0]: r for r in demo.rows("billing", "select id, customer_no, amount_yen, issued_on from invoices")}
    payments_before = demo.rows("billing", "select * from payments order by id")
    namesake = demo.rows("crm", "select * from customers where customer_no = :no", no=NAMESAKE_NO)
    namesake_invoices = demo.rows("billing", "select * from invoices where customer_no = :no order by id", no=NAMESAKE_NO)
    subscriber_ids = ",".join(str(i) for (i,) in demo.rows("marketing", "select id from mailing_list where lower(email) = :e", e=DEMO_EMAIL))
    events = demo.rows("marketing", f"select id, event, page, at from web_events where subscriber_id in ({subscriber_ids}) order by id")
    assert events
    friend = demo.rows("crm", "select id, customer_no, full_name, email, phone, referred_by from customers where customer_no = :no", no=FRIEND_NO)
    assert friend[0][5] == demo_ids[0]
    before = demo.snapshot()

    result = demo.run("erase", request_id)
    assert result["request_id"] == request_id and result["plan_digest"].startswith("sha256:")

    # He is gone from the CRM, the mailing list (in every spelling) and the support desk.
    assert demo.rows("crm", "select count(*) from customers where customer_no = :no", no=DEMO_NO) == [(0,)]
    assert demo.rows("crm", "select count(*) from addresses where customer_id = :id", id=demo_ids[0]) == [(0,)]
    assert demo.rows("crm", "select count(*) from contact_points where customer_id = :id", id=demo_ids[0]) == [(0,)]
    assert demo.rows("marketing", "select count(*) from mailing_list where lower(email) = :e", e=DEMO_EMAIL) == [(0,)]
    assert demo.rows("support", "select count(*) from tickets where customer_no = :no or lower(contact_email) = :e", no=DEMO_NO, e=DEMO_EMAIL) == [(0,)]

    # His web events stay as anonymous statistics: kept, no longer pointing at a subscriber.
    event_ids = ",".join(str(e[0]) for e in events)
    assert demo.rows("marketing", f"select id, event, page, at from web_events where id in ({event_ids}) order by id") == events
    assert demo.rows("marketing", f"select count(*) from web_events where id in ({event_ids}) and subscriber_id is not null") == [(0,)]

    # His invoices are kept for the statutory period but no longer identify him.
    kept = demo.rows("billing", f"select id, billing_name, billing_address, email, amount_yen from invoices where id in ({','.join(map(str, invoice_ids))}) order by id")
    assert [r[0] for r in kept] == invoice_ids
    for invoice_id, name, address, email, amount in kept:
        assert name.startswith("pseu:") and "yamada" not in name.lower(), name
        assert address == "[masked]" and email is None
        assert amount == invoices_before[invoice_id][2]
    assert demo.rows("billing", "select * from payments order by id") == payments_before

    # Nobody else was touched: the namesake entirely, the friend except the link to him.
    assert demo.rows("crm", "select * from customers where customer_no = :no", no=NAMESAKE_NO) == namesake
    assert demo.rows("billing", "select * from invoices where customer_no = :no order by id", no=NAMESAKE_NO) == namesake_invoices
    assert demo.rows("crm", "select id, customer_no, full_name, email, phone, referred_by from customers where customer_no = :no", no=FRIEND_NO) == [friend[0][:5] + (None,)]
    after = demo.snapshot()
    assert len(after["crm.customers"]) == len(before["crm.customers"]) - 1
    assert len(after["marketing.mailing_list"]) == len(before["marketing.mailing_list"]) - 2
    assert len(after["support.tickets"]) == len(before["support.tickets"]) - 1
    assert len(after["billing.invoices"]) == len(before["billing.invoices"])
    changed_invoices = set(before["billing.invoices"]) - set(after["billing.invoices"])
    assert sorted(r[0] for r in changed_invoices) == invoice_ids
    for system in SQL_SYSTEMS:
        assert demo.rows(system, "pragma foreign_key_check") == [], system

    # Completed, identifiers dropped, and every action sealed with a receipt that verifies...
    row = demo.request_row(request_id)
    assert row.status == COMPLETED and row.subject is None
    control = demo.control(request_id)
    assert control["actions"] and all(state == "done" for _, state, _ in control["actions"])
    receipts = demo.check_receipts(request_id)
    assert len(receipts) == len(control["actions"]) == result["receipts"]
    assert {r["action"]["post_check"] for r in receipts} == {"passed"}
    assert {r["plan_digest"] for r in receipts} == {result["plan_digest"]}
    retained = {r["action"]["collection"] for r in receipts if r["action"]["status"] == "retained"}
    assert {"invoices", "payments"} <= retained
    # ... and names nobody: no email, no number, no name in any receipt.
    for path in demo.receipt_files(request_id):
        _assert_no_personal_data(path.read_text(encoding="utf-8"), path.name)


# ------------------------------------------------------------------ Prefect's own records


def test_prefect_metadata_holds_no_personal_data(demo):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId, TaskRunFilter, TaskRunFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    access_id, erase_id = demo.request("access"), demo.request("erase")
    # Let the flows' own INFO lines reach the API too: they are the likeliest to quote a value.
    run_loggers = [logging.getLogger(n) for n in ("prefect.flow_runs", "prefect.task_runs")]
    levels = [lg.level for lg in run_loggers]
    for lg in run_loggers:
        lg.setLevel(logging.INFO)
    try:
        demo.run("access", access_id)
        demo.run("erase", erase_id)
    finally:
        for lg, level in zip(run_loggers, levels):
            lg.setLevel(level)
    APILogWorker.drain_all(timeout=10)  # logs go to the API in batches: send what is queued

    with get_client(sync_client=True) as client:
        flow_runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"access-{access_id}", f"erasure-{erase_id}"])))
        assert sorted(fr.name for fr in flow_runs) == sorted([f"access-{access_id}", f"erasure-{erase_id}"])
        ids = [fr.id for fr in flow_runs]
        task_runs = client.read_task_runs(task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=ids)))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))

    for fr in flow_runs:
        request_id = access_id if fr.name.startswith("access-") else erase_id
        assert fr.state is not None and fr.state.is_completed(), fr.state
        assert fr.parameters == {"request_id": request_id, "config_dir": str(demo.config)}
        assert request_id in fr.name
    by_flow = {fr.name.split("-", 1)[0]: sorted(tr.name for tr in task_runs if tr.flow_run_id == fr.id) for fr in flow_runs}
    assert [n for n in by_flow["access"] if n.startswith("export-")] == sorted(f"export-{p}" for p in DEMO_COLLECTIONS)
    assert [n for n in by_flow["erasure"] if n.startswith("erase-")] == sorted(f"erase-{s}" for s in SYSTEMS)
    assert len(by_flow["access"]) == len(DEMO_COLLECTIONS) + 2  # discover, one export each, package-and-seal
    assert len(by_flow["erasure"]) == len(SYSTEMS) + 6  # discover, plan, recheck-plan, record-targets, one erase per system, verify, seal

    records = [
        *(fr.model_dump_json() for fr in flow_runs),
        *(tr.model_dump_json() for tr in task_runs),
        *(log.message for log in logs),
    ]
    assert any(access_id in log.message for log in logs) and any(erase_id in log.message for log in logs)
    for record in records:
        _assert_no_personal_data(record, record[:200])


# ------------------------------------------------------------------ refused and failed runs


def test_unverified_request_is_refused_and_touches_nothing(demo):
    request_id = demo.request("erase", verified=False)
    before = demo.snapshot()
    customers = demo.rows("crm", "select count(*) from customers")

    with pytest.raises(RequestError, match="not verified"):
        demo.run("erase", request_id)

    assert demo.rows("crm", "select count(*) from customers") == customers
    assert demo.rows("crm", "select count(*) from customers where customer_no = :no", no=DEMO_NO) == [(1,)]
    assert demo.snapshot() == before
    control = demo.control(request_id)
    assert control["status"] == RECEIVED and control["actions"] == [] and control["receipts"] == []
    assert control["events"] == [(None, RECEIVED)]
    assert demo.request_row(request_id).subject is not None
    assert not (demo.rt.receipts_dir / request_id).exists()
    _assert_flow_run_failed(f"erasure-{request_id}", "not verified")


@pytest.mark.parametrize("kind", ["access", "erase"])
def test_rerunning_a_completed_request_is_refused_and_changes_nothing(demo, kind):
    request_id = demo.request(kind)
    first = demo.run(kind, request_id)
    before, control, receipts = demo.snapshot(), demo.control(request_id), demo.receipt_files(request_id)
    exports = sorted(p.relative_to(demo.rt.export_dir) for p in demo.rt.export_dir.rglob("*")) if demo.rt.export_dir.exists() else []
    assert control["status"] == COMPLETED and receipts

    with pytest.raises(RequestError, match="already completed"):
        demo.run(kind, request_id)

    assert demo.snapshot() == before
    assert demo.control(request_id) == control
    assert demo.receipt_files(request_id) == receipts
    after_exports = sorted(p.relative_to(demo.rt.export_dir) for p in demo.rt.export_dir.rglob("*")) if demo.rt.export_dir.exists() else []
    assert after_exports == exports
    if kind == "access":
        assert Path(first["export"]).is_file()
    demo.check_receipts(request_id)


def test_unreachable_system_fails_the_request_before_anything_is_erased(demo):
    systems = demo.config / "systems.yaml"
    original = "sqlite:///${DSR_WORKDIR}/support.db"
    assert original in systems.read_text()
    systems.write_text(systems.read_text().replace(original, "sqlite:////nonexistent-dir/x.db"))
    request_id = demo.request("erase")
    before = demo.snapshot()

    with pytest.raises(ConnectorError, match="support"):
        demo.run("erase", request_id)

    control = demo.control(request_id)
    assert control["status"] == FAILED
    assert "support" in str(control["outcome"]) and "ConnectorError" in str(control["outcome"])
    assert control["actions"] == [] and control["receipts"] == []
    assert demo.rows("crm", "select count(*) from customers where customer_no = :no", no=DEMO_NO) == [(1,)]
    assert demo.snapshot() == before
    row = demo.request_row(request_id)
    assert row.subject is not None and row.plan is None  # it may be resumed once support is back
    _assert_flow_run_failed(f"erasure-{request_id}", "support")


def _assert_no_personal_data(document: str, where: str) -> None:
    """No spelling of the demo customer's email, phone number, name or customer number."""
    lowered = document.lower()
    for value in PERSONAL:
        assert value not in lowered, (value, where)


def _assert_flow_run_failed(name: str, words: str) -> None:
    """Prefect recorded the run as failed, with the reason, and its failure logs quote no personal data."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    assert run.state is not None and run.state.is_failed(), run.state
    assert words in (run.state.message or ""), run.state.message
    assert any(words in log.message for log in logs)  # the traceback was logged...
    for record in [run.model_dump_json(), *(log.message for log in logs)]:
        _assert_no_personal_data(record, record[:200])  # ... and quotes nobody


def test_an_unexpected_error_reaches_prefect_without_its_text(demo, monkeypatch):
    """A bug whose message quotes a customer's data (as driver errors quote rows) fails the request
    with its type and place only, in the control database and in everything Prefect records."""
    import flows.access

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError(f"cannot export the row of {DEMO_EMAIL}")

    monkeypatch.setattr(flows.access, "export_collection", broken)
    request_id = demo.request("access")

    with pytest.raises(Exception, match="ValueError at test_flows.py") as raised:
        demo.run("access", request_id)

    assert DEMO_EMAIL not in str(raised.value)
    control = demo.control(request_id)
    assert control["status"] == FAILED and "details withheld" in str(control["outcome"]) and DEMO_EMAIL not in str(control["outcome"])
    _assert_flow_run_failed(f"access-{request_id}", "ValueError at test_flows.py")
