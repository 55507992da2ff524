"""`hkt-dsr demo`: build the fake estate, then fulfil a verified access and a verified erasure request.

Everything printed is what a compliance officer would want to see: where the customer was found,
what was exported, what was deleted, masked, redacted or retained and why, and that the receipts
verify. The S3 buckets are served by moto's standalone server, started and stopped here.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import boto3
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from dsr.demo.estate import DEMO_CUSTOMER, build_estate
from dsr.demo.objects import ATTACHMENTS, TRANSCRIPTS, build_buckets
from dsr.demo.s3server import DEMO_CREDENTIALS, moto_s3_server
from dsr.runtime import Runtime
from dsr.subject import Identifier, IdentifierKind

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo"
STAFF = {"intake": "Aiko Sato (Support Desk)", "verifier": "Ken Ito (Privacy Office)", "approver": "Mari Tanaka (Privacy Office)"}


def _fresh(workdir: Path) -> None:
    for name in ("crm.db", "billing.db", "support.db", "marketing.db", "control.db"):
        (workdir / name).unlink(missing_ok=True)
    for name in ("exports", "receipts"):
        shutil.rmtree(workdir / name, ignore_errors=True)


def run_demo(workdir: Path, console: Console) -> int:
    os.environ.setdefault("PREFECT_HOME", str(workdir / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    for name, value in DEMO_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    _fresh(workdir)
    with moto_s3_server() as endpoint:
        os.environ["DSR_S3_ENDPOINT"] = endpoint
        return _run(workdir, endpoint, console)


def _run(workdir: Path, endpoint: str, console: Console) -> int:
    from dsr.cli import run_flow
    from dsr.control.models import ActionRow
    from dsr.erasure import discover_now
    from dsr.ledger import export_bundle
    from dsr.requests import Verification, create_request
    from receipts.receipt import check

    console.rule("[bold]1. A fake HKT estate")
    counts = build_estate(workdir)
    objects = build_buckets(endpoint)
    rt = Runtime.open(DEMO_CONFIG, create_keys=True)
    table = Table("system", "what it holds", "rows / objects")
    for system, n in counts.items():
        table.add_row(system, rt.estate.systems[system].description, f"{n:,} rows")
    table.add_row("storage", rt.estate.systems["storage"].description, f"{sum(objects.values()):,} object versions (moto S3 at {endpoint})")
    console.print(table)
    customer = DEMO_CUSTOMER
    console.print(f"The customer: [bold]{customer.name}[/] (山田 太郎), who wrote to the Support Desk from {customer.email} and gave {customer.phone}.")
    console.print("He has a namesake (another Taro Yamada) and referred a friend: neither may be touched.\n")

    identifiers = [Identifier.parse(IdentifierKind.EMAIL, customer.email), Identifier.parse(IdentifierKind.PHONE, customer.phone),
                   Identifier.parse(IdentifierKind.NAME, customer.name), Identifier.parse(IdentifierKind.NAME, "山田 太郎")]
    verification = Verification("photo ID checked and call-back to the registered number", STAFF["verifier"], dt.datetime.now(dt.UTC))

    def new_request(kind: str) -> str:
        with rt.sessions() as session:
            row = create_request(session, rt.estate, kind=kind, identifiers=identifiers, channel="web", department="Support Desk",
                                 requested_by=STAFF["intake"], verification=verification)
            session.commit()
            return row.id

    console.rule("[bold]2. Access request (privacy policy §7: disclose)")
    access_id = new_request("access")
    found = discover_now(rt, access_id)
    table = Table("system.collection", "records / objects", "found by", title=f"Where the customer was found ({access_id})")
    how: dict[str, set[str]] = defaultdict(set)
    count: dict[str, set] = defaultdict(set)
    for f in found.owned() + found.mentions():
        label = f.collection_path + (" (mentions in others' records)" if f.relation == "mention" and f.field else "")
        how[label].add(f.how)
        count[label].add(f.key[0] if f.field is None and f.relation == "mention" else f.key)
    for label in sorted(how):
        table.add_row(label, str(len(count[label])), "; ".join(sorted(how[label])))
    console.print(table)
    console.print(f"{len(found.links())} record(s) of other people point at him (a referral): not his data, not exported.")
    for f in found.skipped():
        console.print(f"Skipped {f.collection_path}: an object is not readable as text ({f.how.removeprefix('skipped:')}); reported in the receipts.")
    result = run_flow("access", access_id, DEMO_CONFIG)
    manifest = json.loads((Path(result["export"]).with_suffix("") / "manifest.json").read_text())
    table = Table("system.collection", "records", "mentions", "exported fields", "withheld (policy)", title="What was exported")
    for c in manifest["collections"]:
        table.add_row(f"{c['system']}.{c['collection']}", str(c["records"]), str(c["mentions"]) if c["mentions"] else "-", ", ".join(c["fields"]), ", ".join(c["withheld_fields"]) or "-")
    console.print(table)
    console.print(f"Export package: {result['export']} ({len(manifest['files'])} files, SHA-256 of each in manifest.json);")
    console.print("report.html inside it tells the customer, in plain words, what we hold, why, and with whom it is shared (§4, §5).")
    console.print("Other people named in exported notes and transcripts are masked as \\[other person].\n")

    console.rule("[bold]3. Erasure request (privacy policy §7: delete), approved by a second person")
    erase_id = new_request("erase")
    result = _erase_with_approval(rt, erase_id, console)
    with rt.sessions() as session:
        actions = session.query(ActionRow).filter_by(request_id=erase_id).order_by(ActionRow.id).all()
    table = Table("system.collection", "action", "fields", "count", "policy rule", title=f"What was done ({erase_id}, plan {result['plan_digest'][:19]}…)")
    bases: dict[str, str] = {}
    for a in actions:
        if a.details.get("legal_basis"):
            bases[f"{a.system}.{a.collection}"] = f"{a.details['legal_basis']}; kept until {a.details['retained_until']}"
        table.add_row(f"{a.system}.{a.collection}", a.operation, ", ".join(a.details.get("fields", [])) or "-", str(a.affected_count), str(a.details.get("rule")))
    console.print(table)
    for path, basis in bases.items():
        console.print(f"Retained {path}: {basis}", highlight=False)
    console.print("Verification: discovery ran again after erasure; nothing that the plan did not retain was found.")
    _show_what_remains(workdir, endpoint, console)

    console.rule("[bold]4. Receipts and the ledger")
    verdicts = [check(str(p), p.read_bytes(), rt.keys.keyring) for p in sorted(rt.receipts_dir.glob("DSR-*/*.json")) if p.name != "certificate.json"]
    failed = [v for v in verdicts if not v.ok]
    console.print(f"{len(verdicts)} signed receipts in {rt.receipts_dir}; {len(verdicts) - len(failed)} verify, {len(failed)} fail.")
    audit = workdir / "audit"
    shutil.rmtree(audit, ignore_errors=True)
    bundle = export_bundle(rt, audit)
    console.print(f"Audit bundle: {audit} ({len(bundle.entries)} ledger entries, {len(bundle.checkpoints)} signed checkpoints, one certificate per request).")
    keyring = rt.estate.resolve_path(rt.estate.settings.keyring_file)
    command = [str(Path(sys.executable).with_name("hkt-dsr-verify")), "log", str(audit), "--keys", str(keyring)]
    console.print(f"An auditor replays it offline: hkt-dsr-verify log {audit} --keys {keyring}")
    replay = subprocess.run(command, capture_output=True, text=True)
    console.print(replay.stdout.strip().splitlines()[-1] if replay.stdout.strip() else replay.stderr.strip(), highlight=False)
    rt.close()
    return 1 if failed or replay.returncode else 0


def _erase_with_approval(rt: Runtime, request_id: str, console: Console) -> dict:
    """Run the erasure flow; it pauses with its plan, and a second person approves it, as
    `hkt-dsr approve` would from another terminal (the requester's own approval is refused)."""
    from dsr.approval import ApprovalError, decide, plan_table
    from dsr.cli import run_flow
    from dsr.plan import ErasurePlan
    from dsr.requests import get_request
    from flows.approval import resume_waiting_run

    outcome: dict[str, dict] = {}
    run = threading.Thread(target=contextvars.copy_context().run, args=(lambda: outcome.update(result=run_flow("erase", request_id, DEMO_CONFIG)),), daemon=True)
    run.start()
    while run.is_alive():
        with rt.sessions() as session:
            row = get_request(session, request_id)
            if row.status == "awaiting_approval":
                plan = ErasurePlan.from_json(row.plan or {})
                break
        time.sleep(0.3)
    else:
        raise RuntimeError(f"request {request_id} ended before its plan was approved")
    table = Table("system", "collection", "records", "action", "fields", "legal basis", title=f"The plan awaiting approval ({plan.digest[:19]}…)")
    for step in plan_table(plan):
        table.add_row(*(str(v) for v in step.values()))
    console.print(table)
    console.print("The run is paused (Prefect state Paused); the plan is also a Prefect artifact. Nothing has been touched yet.")
    for actor in (STAFF["intake"], STAFF["approver"]):
        console.print(f"$ hkt-dsr approve {request_id} --as '{actor}' --digest {plan.digest[:19]}…", highlight=False)
        with rt.sessions() as session:
            try:
                decision = decide(session, request_id, actor=actor, verdict="approve", plan_digest=plan.digest, via="demo", staff=rt.estate.staff)
            except ApprovalError as exc:
                console.print(f"  refused: {str(exc).split('refused: ', 1)[-1]}", highlight=False)
                continue
            flow_run_id = get_request(session, request_id).flow_run_id
        console.print(f"  approved and recorded; the waiting flow run {flow_run_id} resumes", highlight=False)
        resume_waiting_run(flow_run_id or "", decision)
    run.join()
    if "result" not in outcome:
        raise RuntimeError(f"request {request_id}: the erasure run did not complete")
    return outcome["result"]


def _show_what_remains(workdir: Path, endpoint: str, console: Console) -> None:
    for system, sql, label in (
        ("crm", "select count(*) from customers where customer_no = 'HKT-0000043'", "namesake's account still there"),
        ("crm", "select count(*) from customers where customer_no = 'HKT-0000044' and referred_by is null", "referred friend kept, link cleared"),
        ("crm", "select count(*) from customers where customer_no = 'HKT-0000042'", "demo customer's accounts left"),
        ("support", "select count(*) from tickets where notes like '%[redacted]%'", "other customers' tickets with his mention redacted"),
    ):
        engine = create_engine(f"sqlite:///{workdir / (system + '.db')}")
        with engine.connect() as conn:
            console.print(f"  {label}: {conn.execute(text(sql)).scalar_one()}")
        engine.dispose()
    s3 = boto3.client("s3", endpoint_url=endpoint)
    versions = s3.list_object_versions(Bucket=ATTACHMENTS, Prefix="tickets/T-88001/")
    left = [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    text_left = sum(1 for key in left if not key.endswith(".png"))
    console.print(f"  versions and delete markers left of his ticket's text attachments (versioned bucket): {text_left}")
    console.print(f"  unreadable attachments left for manual review (reported as skipped): {len(left) - text_left}")
    transcript = s3.get_object(Bucket=TRANSCRIPTS, Key="calls/2025/07/call-0007.jsonl")["Body"].read().decode()
    console.print(f"  his call transcript, kept for quality assurance: {transcript.count('[redacted]')} mention(s) redacted, "
                  f"{len(s3.list_object_versions(Bucket=TRANSCRIPTS, Prefix='calls/2025/07/call-0007.jsonl').get('Versions', []))} version left")
