"""A small shop estate for tests: real foreign keys (with a cycle and a self-reference), a retained
collection, and a second system that refers to the first. Written as config YAML like a real estate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, Text, create_engine, insert, text, update

from connectors.sql import enable_sqlite_foreign_keys
from dsr import fulfilment
from dsr.erasure import PostCheck, add_suppression, discover_now, execute_system, make_plan, record_targets, verify_erasure
from dsr.requests import Verification, create_request
from dsr.runtime import Runtime
from dsr.sealing import Outcome, seal_request
from dsr.subject import Identifier, IdentifierKind

SUBJECT = {"email": "Mika.Tanaka@Example.jp", "phone": "+81 90-1111-2222"}
#: Somebody else's ticket that mentions the subject in its free text.
REFERRAL_NOTE = "Ken says MIKA.TANAKA@EXAMPLE.JP (tel 090 1111 2222) referred him. Ken's own number: 080-3333-4444."
REFERRAL_NOTE_REDACTED = "Ken says [redacted] (tel [redacted]) referred him. Ken's own number: 080-3333-4444."

POLICY = {
    "id": "test-policy",
    "version": "1",
    "categories": ["account", "internal", "marketing", "order_note", "support_case"],  # need no rule of their own
    "due_days": {"access": 30, "erase": 30, "rectify": 14, "opt_out": 7},
    "access": {"export": ["identifier", "name", "contact", "address", "order", "billing", "support"]},
    "erase": {
        "default": {"action": "delete_record"},
        "records": {"billing_record": {"action": "retain", "legal_basis": "tax law, 7 years", "retention": "7y"}},
        "fields": {"name": {"action": "pseudonymize"}, "address": {"action": "mask"}, "contact": {"action": "null_field"}},
    },
}

MAIN_DATASET = {
    "system": "main",
    "collections": {
        "customers": {
            "primary_key": ["id"],
            "categories": ["account"],
            "fields": {
                "id": {"categories": ["identifier"]},
                "email": {"categories": ["contact"], "identity": "email"},
                "phone": {"categories": ["contact"], "identity": "phone", "match": {"expression": "digits"}},
                "name": {"categories": ["name"]},
                "risk": {"categories": ["internal"]},
                "primary_address_id": {"categories": ["identifier"]},
                "referred_by": {"categories": ["identifier"]},
            },
            "references": [
                {"field": "primary_address_id", "to": "addresses.id", "ownership": "owns_target"},
                {"field": "referred_by", "to": "customers.id", "ownership": "link"},
            ],
        },
        "addresses": {
            "primary_key": ["id"],
            "categories": ["account"],
            "fields": {"id": {"categories": ["identifier"]}, "customer_id": {"categories": ["identifier"]}, "line1": {"categories": ["address"]}},
            "references": [{"field": "customer_id", "to": "customers.id"}],
        },
        "orders": {
            "primary_key": ["id"],
            "categories": ["order"],
            "fields": {"id": {"categories": ["identifier"]}, "customer_id": {"categories": ["identifier"]}, "total": {"categories": ["order"]}},
            "references": [{"field": "customer_id", "to": "customers.id"}],
        },
        "order_lines": {
            "primary_key": ["order_id", "line_no"],
            "categories": ["order"],
            "fields": {"order_id": {"categories": ["identifier"]}, "line_no": {"categories": ["identifier"]}, "sku": {"categories": ["order"]}},
            "references": [{"field": "order_id", "to": "orders.id"}],
        },
        "invoices": {
            "primary_key": ["id"],
            "categories": ["billing_record"],
            "fields": {
                "id": {"categories": ["identifier"]},
                "customer_id": {"categories": ["identifier"]},
                "billing_name": {"categories": ["name"]},
                "billing_address": {"categories": ["address"]},
                "amount": {"categories": ["billing"]},
            },
            "references": [{"field": "customer_id", "to": "customers.id"}],
        },
    },
}

SIDE_DATASET = {
    "system": "side",
    "collections": {
        "tickets": {
            "primary_key": ["id"],
            "categories": ["support_case"],
            "fields": {
                "id": {"categories": ["identifier"]},
                "customer_ref": {"categories": ["identifier"]},
                "contact_email": {"categories": ["contact"], "identity": "email", "match": {"expression": "lower"}},
                "notes": {"categories": ["support"], "free_text": True},
            },
            "references": [{"field": "customer_ref", "to": "main.customers.id"}],
        }
    },
}


def main_schema() -> MetaData:
    md = MetaData()
    Table("customers", md,
          Column("id", Integer, primary_key=True, autoincrement=False),
          Column("email", String(200), index=True),
          Column("phone", String(40)),
          Column("name", String(100)),
          Column("risk", Integer),
          Column("primary_address_id", Integer, ForeignKey("addresses.id", use_alter=True, name="fk_customer_address"), nullable=True),
          Column("referred_by", Integer, ForeignKey("customers.id"), nullable=True))
    Table("addresses", md,
          Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
          Column("line1", String(200)))
    Table("orders", md,
          Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
          Column("total", Integer))
    Table("order_lines", md,
          Column("order_id", Integer, ForeignKey("orders.id"), primary_key=True),
          Column("line_no", Integer, primary_key=True, autoincrement=False),
          Column("sku", String(40)))
    Table("invoices", md,
          Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer, ForeignKey("customers.id"), nullable=True, index=True),
          Column("billing_name", String(100)),
          Column("billing_address", String(200)),
          Column("amount", Integer))
    return md


def side_schema() -> MetaData:
    md = MetaData()
    Table("tickets", md,
          Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_ref", Integer, index=True),
          Column("contact_email", String(200), index=True),
          Column("notes", Text))
    return md


def load_main(url: str) -> None:
    """Customer 1 is the subject; 2 is a stranger she referred; 3 shares her name and nothing else."""
    engine = create_engine(url)
    enable_sqlite_foreign_keys(engine)
    md = main_schema()
    md.create_all(engine)
    t = md.tables
    with engine.begin() as conn:
        conn.execute(insert(t["customers"]), [
            {"id": 1, "email": "mika.tanaka@example.jp", "phone": "090-1111-2222", "name": "Mika Tanaka", "risk": 3, "primary_address_id": None, "referred_by": None},
            {"id": 2, "email": "ken@example.com", "phone": "080-3333-4444", "name": "Ken Mori", "risk": 1, "primary_address_id": None, "referred_by": 1},
            {"id": 3, "email": "mika.t@example.org", "phone": "070-5555-6666", "name": "Mika Tanaka", "risk": 2, "primary_address_id": None, "referred_by": None},
        ])
        conn.execute(insert(t["addresses"]), [
            {"id": 10, "customer_id": 1, "line1": "1-2-3 Shibuya"},
            {"id": 11, "customer_id": 2, "line1": "4-5-6 Shinjuku"},
            {"id": 12, "customer_id": 3, "line1": "7-8-9 Ueno"},
        ])
        for cid, aid in ((1, 10), (2, 11), (3, 12)):
            conn.execute(update(t["customers"]).where(t["customers"].c.id == cid).values(primary_address_id=aid))
        conn.execute(insert(t["orders"]), [{"id": 100, "customer_id": 1, "total": 500}, {"id": 101, "customer_id": 1, "total": 700}, {"id": 102, "customer_id": 2, "total": 900}])
        conn.execute(insert(t["order_lines"]), [
            {"order_id": 100, "line_no": 1, "sku": "SIM"}, {"order_id": 100, "line_no": 2, "sku": "ROUTER"},
            {"order_id": 101, "line_no": 1, "sku": "PLAN"}, {"order_id": 102, "line_no": 1, "sku": "SIM"},
        ])
        conn.execute(insert(t["invoices"]), [
            {"id": 1000, "customer_id": 1, "billing_name": "TANAKA Mika", "billing_address": "1-2-3 Shibuya", "amount": 500},
            {"id": 1001, "customer_id": 2, "billing_name": "Ken Mori", "billing_address": "4-5-6 Shinjuku", "amount": 900},
        ])
    engine.dispose()


def load_side(url: str) -> None:
    engine = create_engine(url)
    md = side_schema()
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(md.tables["tickets"]), [
            {"id": 1, "customer_ref": 1, "contact_email": "someone@else.example", "notes": "Asked about the router."},
            {"id": 2, "customer_ref": None, "contact_email": "MIKA.TANAKA@EXAMPLE.JP", "notes": "Wrote in from the web form."},
            {"id": 3, "customer_ref": 3, "contact_email": "mika.t@example.org", "notes": "Namesake's ticket."},
            {"id": 4, "customer_ref": 2, "contact_email": "ken@example.com", "notes": REFERRAL_NOTE},
        ])
    engine.dispose()


def rows(url: str, sql: str, **params: object) -> list[tuple]:
    """What a store holds now, read directly (not through the code under test)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        result = [tuple(r) for r in conn.execute(text(sql), params)]
    engine.dispose()
    return result


def write_config(root: Path, systems: dict[str, str], datasets: list[dict[str, Any]], policy: dict[str, Any] | None = None) -> Path:
    """A configuration directory like a real estate's; control DB and keys inside `root`."""
    yaml = YAML()
    config = root / "config"
    (config / "datasets").mkdir(parents=True, exist_ok=True)
    with (config / "estate.yaml").open("w") as f:
        yaml.dump({
            "control_db": f"sqlite:///{root / 'control.db'}",
            "signing_key_file": str(root / "keys" / "signing.pem"),
            "keyring_file": str(root / "keys" / "keyring.json"),
            "hmac_key_file": str(root / "keys" / "hmac.key"),
            "export_dir": str(root / "exports"),
            "receipts_dir": str(root / "receipts"),
        }, f)
    with (config / "systems.yaml").open("w") as f:
        yaml.dump({"systems": {name: {"kind": "sql", "url": url} for name, url in systems.items()}}, f)
    for dataset in datasets:
        with (config / "datasets" / f"{dataset['system']}.yaml").open("w") as f:
            yaml.dump(dataset, f)
    with (config / "policies.yaml").open("w") as f:
        yaml.dump(policy or POLICY, f)
    return config


def erase_without_prefect(rt: Runtime, request_id: str, kind: str = "erase") -> list[PostCheck]:
    """The erasure (rectification, opt-out) flow's steps as plain calls, for tests not about Prefect."""
    fulfilment.begin(rt, request_id, kind)
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    record_targets(rt, request_id, plan)
    for system in plan.systems():
        execute_system(rt, request_id, plan, system)
    if kind == "opt_out":
        add_suppression(rt, request_id)
    checks = verify_erasure(rt, request_id, plan)
    seal_request(rt, request_id, {c.step: Outcome("passed" if c.passed else f"failed: {c.detail}") for c in checks}, "test run")
    return checks


def open_shop(root: Path, main: str, estate: dict[str, Any] | None = None, loaded: Callable[[], None] = lambda: None) -> Runtime:
    """Both shop systems loaded (main at `main`, side in SQLite under `root`), their configuration
    written (with `estate` settings added to estate.yaml), keys made, a Runtime open. `loaded`
    runs once the stores are filled, before anything else touches them."""
    side = f"sqlite:///{root / 'side.db'}"
    load_main(main)
    load_side(side)
    loaded()
    config = write_config(root, {"main": main, "side": side}, [MAIN_DATASET, SIDE_DATASET])
    if estate:
        settings = YAML().load(config / "estate.yaml")
        settings.update(estate)
        YAML().dump(settings, config / "estate.yaml")
    return Runtime.open(config, create_keys=True)


def verified_request(rt: Runtime, kind: str = "erase") -> str:
    """A verified request about the subject, by her email, taken by one person, verified by another."""
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind=kind, identifiers=[Identifier.parse(IdentifierKind.EMAIL, SUBJECT["email"])],
                             channel="web", department="Support Desk", requested_by="clerk",
                             verification=Verification("photo ID", "officer", dt.datetime.now(dt.UTC)))
        session.commit()
        return row.id
