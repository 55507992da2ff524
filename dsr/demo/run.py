"""`hkt-dsr demo`: build the fake estate, then fulfil a verified access and a verified erasure request.

Everything printed is what a compliance officer would want to see: where the customer was found,
what was exported, what was deleted, masked or retained and why, and that the receipts verify.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from dsr.demo.estate import DEMO_CUSTOMER, build_estate
from dsr.subject import Identifier, IdentifierKind

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo"
STAFF = {"intake": "Aiko Sato (Support Desk)", "verifier": "Ken Ito (Privacy Office)"}


def _fresh(workdir: Path) -> None:
    for name in ("crm.db", "billing.db", "support.db", "marketing.db", "control.db"):
        (workdir / name).unlink(missing_ok=True)
    for name in ("exports", "receipts"):
        shutil.rmtree(workdir / name, ignore_errors=True)


def run_demo(workdir: Path, console: Console) -> int:
    os.environ.setdefault("PREFECT_HOME", str(workdir / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from dsr.cli import run_flow
    from dsr.control.models import ActionRow
    from dsr.discovery import discover
    from dsr.requests import Verification, create_request, subject_of
    from dsr.runtime import Runtime
    from receipts.receipt import check_directory
    from receipts.signing import key_id, load_public_key

    _fresh(workdir)
    console.rule("[bold]1. A fake HKT estate")
    counts = build_estate(workdir)
    table = Table("system", "what it holds", "rows")
    rt = Runtime.open(DEMO_CONFIG, create_keys=True)
    for system, n in counts.items():
        table.add_row(system, rt.estate.systems[system].description, f"{n:,}")
    console.print(table)
    customer = DEMO_CUSTOMER
    console.print(f"The customer: [bold]{customer.name}[/], who wrote to the Support Desk from {customer.email} and gave {customer.phone}.")
    console.print("He has a namesake (another Taro Yamada) and referred a friend: neither may be touched.\n")

    identifiers = [Identifier.parse(IdentifierKind.EMAIL, customer.email), Identifier.parse(IdentifierKind.PHONE, customer.phone)]
    verification = Verification("photo ID checked and call-back to the registered number", STAFF["verifier"], _now())

    def new_request(kind: str) -> str:
        with rt.sessions() as session:
            row = create_request(session, rt.estate, rt.keys, kind=kind, identifiers=identifiers, channel="web", department="Support Desk",
                                 requested_by=STAFF["intake"], verification=verification)
            session.commit()
            return row.id

    console.rule("[bold]2. Access request (privacy policy §7: disclose)")
    access_id = new_request("access")
    with rt.sessions() as session:
        from dsr.requests import get_request

        subject = subject_of(get_request(session, access_id))
    found = discover(rt.estate, rt.connector, subject)
    table = Table("system.collection", "records", "found by", title=f"Where the customer was found ({access_id})")
    by_collection: dict[str, set[str]] = {}
    for f in found.owned():
        by_collection.setdefault(f.collection_path, set()).add(f.how)
    for path, n in found.counts().items():
        table.add_row(path, str(n), "; ".join(sorted(by_collection[path])))
    console.print(table)
    console.print(f"{len(found.links())} record(s) of other people point at him (a referral): they are not his data and are not exported.")
    result = run_flow("access", access_id, DEMO_CONFIG)
    manifest = json.loads((Path(result["export"]).with_suffix("") / "manifest.json").read_text())
    table = Table("system.collection", "records", "exported fields", "withheld (policy)", title="What was exported")
    for c in manifest["collections"]:
        table.add_row(f"{c['system']}.{c['collection']}", str(c["records"]), ", ".join(c["fields"]), ", ".join(c["withheld_fields"]) or "-")
    console.print(table)
    console.print(f"Export package: {result['export']} ({len(manifest['files'])} files, SHA-256 of each in manifest.json)\n")

    console.rule("[bold]3. Erasure request (privacy policy §7: delete)")
    erase_id = new_request("erase")
    result = run_flow("erase", erase_id, DEMO_CONFIG)
    with rt.sessions() as session:
        actions = session.query(ActionRow).filter_by(request_id=erase_id).order_by(ActionRow.id).all()
    table = Table("system.collection", "action", "fields", "records", "policy rule", title=f"What was done ({erase_id}, plan {result['plan_digest'][:19]}…)")
    bases: dict[str, str] = {}
    for a in actions:
        if a.details.get("legal_basis"):
            bases[f"{a.system}.{a.collection}"] = f"{a.details['legal_basis']}; kept until {a.details['retained_until']}"
        table.add_row(f"{a.system}.{a.collection}", a.operation, ", ".join(a.details.get("fields", [])) or "-", str(a.affected_count), str(a.details.get("rule")))
    console.print(table)
    for path, basis in bases.items():
        console.print(f"Retained {path}: {basis}", highlight=False)
    console.print("Verification: discovery ran again after erasure; nothing that the plan did not retain was found.")
    for system, sql, label in (
        ("crm", "select count(*) from customers where customer_no = 'HKT-0000043'", "namesake's account still there"),
        ("crm", "select count(*) from customers where customer_no = 'HKT-0000044' and referred_by is null", "referred friend kept, link cleared"),
        ("crm", "select count(*) from customers where customer_no = 'HKT-0000042'", "demo customer's accounts left"),
    ):
        engine = create_engine(f"sqlite:///{workdir / (system + '.db')}")
        with engine.connect() as conn:
            console.print(f"  {label}: {conn.execute(text(sql)).scalar_one()}")
        engine.dispose()

    console.rule("[bold]4. Receipts")
    keys_dir = rt.receipts_dir / "keys"
    pinned = {key_id(k): k for k in (load_public_key(p) for p in keys_dir.glob("*.pem"))}
    verdicts = check_directory(rt.receipts_dir, pinned)
    failed = [v for v in verdicts if not v.ok]
    console.print(f"{len(verdicts)} signed receipts in {rt.receipts_dir}; {len(verdicts) - len(failed)} verify, {len(failed)} fail.")
    console.print(f"An auditor checks them with: hkt-dsr receipts verify {rt.receipts_dir} --keys {keys_dir}")
    rt.close()
    return 1 if failed else 0


def _now():  # noqa: ANN202
    import datetime as dt

    return dt.datetime.now(dt.UTC)
