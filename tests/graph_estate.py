"""A retail estate with the shapes that broke the subject graph on real sample databases: customers
that point AT their address row (no address points back), an address a store shares, staff rows
that customers point at, and tables no dataset declares. Written as config YAML like a real estate.

People (the data is derived from these rules, not from what the code looks for):
- Mika (customer 1, and a second account 5 under the same email) lives at address 10, which only
  her accounts point at; she has two invoices, retained for seven years from their issue date.
- Ken (customer 2) lives at address 11, which store 1 and his sister Aya (customer 3) point at too.
- Hana (staff 1) is the support rep that customers 1, 2 and 3 point at; she is also a data subject.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Date, ForeignKey, Integer, MetaData, String, Table, create_engine, insert

from connectors.sql import enable_sqlite_foreign_keys
from dsr.erasure import discover_now, request_subject
from dsr.export import export_collection, exported_collections, package_dir
from dsr.requests import Verification, create_request
from dsr.runtime import Runtime
from dsr.subject import Identifier, IdentifierKind
from tests import shop

MIKA, KEN, AYA, HANA = "mika.tanaka@example.jp", "ken.mori@example.com", "aya.mori@example.com", "hana.sato@hkt.example"
MIKA_INVOICE_DATES = (dt.date(2020, 3, 31), dt.date(2024, 1, 15))

POLICY = {
    "id": "graph-policy",
    "version": "1",
    "categories": ["account", "address_record", "staff_record", "store", "store_record"],  # need no rule of their own
    "due_days": {"access": 30, "erase": 30, "rectify": 14, "opt_out": 7},
    "access": {"export": ["identifier", "name", "contact", "address", "billing", "staff"]},
    "erase": {
        "default": {"action": "delete_record"},
        "records": {"billing_record": {"action": "retain", "legal_basis": "tax law, 7 years", "retention": "7y"}},
        "fields": {"name": {"action": "pseudonymize"}, "address": {"action": "mask"}, "contact": {"action": "null_field"},
                   "billing": {"action": "keep"}},  # said outright: retained amounts and dates stay as they are
    },
}


def _f(*categories: str, **extra: Any) -> dict[str, Any]:
    return {"categories": list(categories), **extra}


def dataset(system: str = "retail") -> dict[str, Any]:
    return {
        "system": system,
        "collections": {
            "staff": {
                "primary_key": ["id"],
                "categories": ["staff_record"],
                "fields": {"id": _f("identifier"), "name": _f("staff"), "email": _f("staff", identity="email"), "phone": _f("staff", identity="phone")},
            },
            "addresses": {
                "primary_key": ["id"],
                "categories": ["address_record"],
                "fields": {"id": _f("identifier"), "street": _f("address"), "postcode": _f("address"), "phone": _f("contact")},
            },
            "stores": {
                "primary_key": ["id"],
                "categories": ["store_record"],
                "fields": {"id": _f("identifier"), "name": _f("store"), "address_id": _f("identifier")},
                "references": [{"field": "address_id", "to": "addresses.id", "ownership": "owns_target"}],
            },
            "customers": {
                "primary_key": ["id"],
                "categories": ["account"],
                "fields": {
                    "id": _f("identifier"), "email": _f("contact", identity="email"), "name": _f("name"),
                    "address_id": _f("identifier"), "support_rep_id": _f("identifier"),
                },
                "references": [
                    {"field": "address_id", "to": "addresses.id", "ownership": "owns_target"},  # her address is hers
                    {"field": "support_rep_id", "to": "staff.id", "ownership": "link"},  # she is not her support rep's data
                ],
            },
            "invoices": {
                "primary_key": ["id"],
                "categories": ["billing_record"],
                "retention_from": "issued_on",
                "fields": {
                    "id": _f("identifier"), "customer_id": _f("identifier"), "billing_name": _f("name"), "shipping_name": _f("name"),
                    "amount": _f("billing"), "issued_on": _f("billing"),
                },
                "references": [{"field": "customer_id", "to": "customers.id"}],
            },
        },
    }


def schema(invoice_key: bool = True, rep_required: bool = False) -> MetaData:
    """The tables; `invoice_key`: invoices carry an enforced key to customers (not when another system
    holds them); `rep_required`: every customer must have a support rep (a NOT NULL key to staff)."""
    md = MetaData()
    customer_key = [ForeignKey("customers.id", name="fk_invoice_customer")] if invoice_key else []
    Table("staff", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("name", String(100)),
          Column("email", String(200)), Column("phone", String(40)))
    Table("addresses", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("street", String(200)),
          Column("postcode", String(20)), Column("phone", String(40)))
    Table("stores", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("name", String(100)),
          Column("address_id", Integer, ForeignKey("addresses.id", name="fk_store_address"), nullable=False))
    Table("customers", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("email", String(200), index=True),
          Column("name", String(100)),
          Column("address_id", Integer, ForeignKey("addresses.id", name="fk_customer_address"), nullable=True),
          Column("support_rep_id", Integer, ForeignKey("staff.id", name="fk_customer_rep"), nullable=not rep_required))
    Table("invoices", md, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer, *customer_key, nullable=True),
          Column("billing_name", String(100)), Column("shipping_name", String(100)), Column("amount", Integer), Column("issued_on", Date))
    return md


def load(url: str, tables: tuple[str, ...] = ("staff", "addresses", "stores", "customers", "invoices"), rep_required: bool = False) -> None:
    """The estate's rows (only `tables`, for a system that holds part of it)."""
    engine = create_engine(url)
    enable_sqlite_foreign_keys(engine)
    md = schema(invoice_key="customers" in tables, rep_required=rep_required)
    md.create_all(engine, tables=[md.tables[t] for t in tables])
    rows: dict[str, list[dict[str, Any]]] = {
        "staff": [{"id": 1, "name": "Hana Sato", "email": HANA, "phone": "03-1111-0001"},
                  {"id": 2, "name": "Jiro Ito", "email": "jiro.ito@hkt.example", "phone": "03-1111-0002"}],
        "addresses": [{"id": 10, "street": "1-2-3 Shibuya", "postcode": "150-0002", "phone": "03-5555-0010"},
                      {"id": 11, "street": "4-5-6 Shinjuku", "postcode": "160-0022", "phone": "03-5555-0011"},
                      {"id": 12, "street": "7-8-9 Ueno", "postcode": "110-0005", "phone": None}],
        "stores": [{"id": 1, "name": "Shinjuku store", "address_id": 11}, {"id": 2, "name": "Ueno store", "address_id": 12}],
        "customers": [{"id": 1, "email": MIKA, "name": "Mika Tanaka", "address_id": 10, "support_rep_id": 1},
                      {"id": 2, "email": KEN, "name": "Ken Mori", "address_id": 11, "support_rep_id": 1},
                      {"id": 3, "email": AYA, "name": "Aya Mori", "address_id": 11, "support_rep_id": 1},
                      {"id": 4, "email": "sota@example.org", "name": "Sota Abe", "address_id": None, "support_rep_id": 2},
                      {"id": 5, "email": MIKA.upper(), "name": "Mika Tanaka", "address_id": 10, "support_rep_id": 2 if rep_required else None}],
        "invoices": [{"id": 100, "customer_id": 1, "billing_name": "Mika Tanaka", "shipping_name": "Mika Tanaka", "amount": 500, "issued_on": MIKA_INVOICE_DATES[0]},
                     {"id": 101, "customer_id": 5, "billing_name": "Mika Tanaka", "shipping_name": "Mika Tanaka", "amount": 700, "issued_on": MIKA_INVOICE_DATES[1]},
                     {"id": 102, "customer_id": 2, "billing_name": "Ken Mori", "shipping_name": "Aya Mori", "amount": 900, "issued_on": dt.date(2025, 6, 1)},
                     {"id": 103, "customer_id": 4, "billing_name": "Sota Abe", "shipping_name": "Sota Abe", "amount": 300, "issued_on": dt.date(2025, 7, 1)}],
    }
    with engine.begin() as conn:
        for table in tables:
            conn.execute(insert(md.tables[table]), rows[table])
    engine.dispose()


def open_estate(root: Path, systems: dict[str, str], datasets: list[dict[str, Any]] | None = None) -> Runtime:
    config = shop.write_config(root, systems, datasets or [dataset()], POLICY)
    return Runtime.open(config, create_keys=True)


def request(rt: Runtime, kind: str, email: str) -> str:
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind=kind, identifiers=[Identifier.parse(IdentifierKind.EMAIL, email)], channel="web",
                             department="Support Desk", requested_by="clerk", verification=Verification("photo ID", "officer", dt.datetime.now(dt.UTC)))
        session.commit()
        return row.id


def access(rt: Runtime, request_id: str) -> dict[str, list[dict[str, Any]]]:
    """The access export's steps as plain calls; returns what the package holds, per collection."""
    discovery = discover_now(rt, request_id)
    matcher = rt.matcher(request_subject(rt, request_id))
    package = package_dir(rt, request_id)
    for path in exported_collections(discovery):
        export_collection(rt, package, discovery, matcher, *path.split(".", 1))
    return {p.name.removesuffix(".json"): json.loads(p.read_text(encoding="utf-8")) for p in sorted((package / "data").glob("*.json"))}
