"""A realistic fake HKT estate in SQLite files: CRM, billing, support and marketing.

Thousands of Faker customers (ja_JP and en_US) and one known demo customer, Taro Yamada, spread
across every system in the spellings real systems end up with: an upper-cased email on the
mailing list, a national phone number in the CRM, an invoice addressed to "YAMADA Taro". He also
has a namesake (another Taro Yamada, another email) and referred a friend: neither may be touched.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from faker import Faker
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    text,
)

from connectors.sql import enable_sqlite_foreign_keys


@dataclass(frozen=True)
class DemoCustomer:
    """The customer whose requests the demo fulfils, as the support desk wrote the identifiers down."""

    name: str = "Taro Yamada"
    email: str = "Taro.Yamada@example.jp"
    phone: str = "+81 90-1234-5678"
    customer_no: str = "HKT-0000042"


DEMO_CUSTOMER = DemoCustomer()


def _crm(md: MetaData) -> None:
    Table(
        "customers", md,
        Column("id", Integer, primary_key=True),
        Column("customer_no", String(20), nullable=False, unique=True),
        Column("full_name", String(120), nullable=False),
        Column("email", String(200)),
        Column("phone", String(40)),
        Column("phone_e164", String(20), index=True),
        Column("birth_date", Date),
        Column("credit_score", Integer),
        Column("primary_address_id", Integer, ForeignKey("addresses.id", use_alter=True), nullable=True),
        Column("referred_by", Integer, ForeignKey("customers.id"), nullable=True),
        Index("ix_customers_email_lower", func.lower(text("email"))),
    )
    Table(
        "addresses", md,
        Column("id", Integer, primary_key=True),
        Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
        Column("postcode", String(10)),
        Column("prefecture", String(40)),
        Column("city", String(80)),
        Column("line1", String(200)),
    )
    Table(
        "contact_points", md,
        Column("id", Integer, primary_key=True),
        Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
        Column("kind", String(10)),
        Column("value", String(200)),
    )


def _billing(md: MetaData) -> None:
    Table(
        "invoices", md,
        Column("id", Integer, primary_key=True),
        Column("customer_no", String(20), index=True),
        Column("billing_name", String(120)),
        Column("billing_address", String(300)),
        Column("email", String(200), index=True),
        Column("amount_yen", Integer),
        Column("issued_on", Date),
    )
    Table(
        "payments", md,
        Column("id", Integer, primary_key=True),
        Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False, index=True),
        Column("method", String(20)),
        Column("card_last4", String(4)),
        Column("paid_at", DateTime),
    )


def _support(md: MetaData) -> None:
    Table(
        "tickets", md,
        Column("id", Integer, primary_key=True),
        Column("customer_no", String(20), index=True),
        Column("contact_email", String(200), index=True),
        Column("department", String(60)),
        Column("subject", String(200)),
        Column("notes", Text),
        Column("opened_at", DateTime),
    )


def _marketing(md: MetaData) -> None:
    Table(
        "mailing_list", md,
        Column("id", Integer, primary_key=True),
        Column("email", String(200)),
        Column("phone", String(40)),
        Column("full_name", String(120)),
        Column("consent_direct_mail", Boolean, nullable=False),
        Column("source", String(40)),
        Column("subscribed_at", DateTime),
        Index("ix_mailing_list_email_lower", func.lower(text("email"))),
    )
    Table(
        "web_events", md,
        Column("id", Integer, primary_key=True),
        Column("subscriber_id", Integer, ForeignKey("mailing_list.id"), nullable=True, index=True),
        Column("event", String(40)),
        Column("page", String(200)),
        Column("at", DateTime),
    )


SCHEMAS = {"crm": _crm, "billing": _billing, "support": _support, "marketing": _marketing}


def _national(phone: str) -> str:
    number = phonenumbers.parse(phone, "JP")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def build_estate(workdir: Path, customers: int = 3000, seed: int = 20261129) -> dict[str, int]:
    """(Re)create the four SQLite databases in `workdir`; returns rows written per system."""
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    Faker.seed(seed)
    fakers = [Faker("ja_JP"), Faker("en_US")]
    rows: dict[str, dict[str, list[dict]]] = {s: {} for s in SCHEMAS}

    def add(system: str, table: str, **values: object) -> int:
        bucket = rows[system].setdefault(table, [])
        values.setdefault("id", len(bucket) + 1)
        bucket.append(values)
        return int(values["id"])  # type: ignore[call-overload]

    start = dt.datetime(2024, 1, 1)

    def person(i: int, fake: Faker, name: str, email: str, phone: str, customer_no: str, referred_by: int | None = None) -> int:
        cid = add("crm", "customers", customer_no=customer_no, full_name=name, email=email, phone=_national(phone) if i % 2 else phone,
                  phone_e164=phonenumbers.format_number(phonenumbers.parse(phone, "JP"), phonenumbers.PhoneNumberFormat.E164),
                  birth_date=fake.date_of_birth(minimum_age=18, maximum_age=90), credit_score=rng.randint(300, 850),
                  primary_address_id=None, referred_by=referred_by)
        for n in range(1 + (i % 2)):
            aid = add("crm", "addresses", customer_id=cid, postcode=fake.postcode(), prefecture=fake.city(), city=fake.city(), line1=fake.street_address())
            if n == 0:
                rows["crm"]["customers"][cid - 1]["primary_address_id"] = aid
        add("crm", "contact_points", customer_id=cid, kind="email", value=email)
        add("crm", "contact_points", customer_id=cid, kind="phone", value=phone)
        for n in range(i % 3 + 1):
            issued = start + dt.timedelta(days=rng.randint(0, 700))
            inv = add("billing", "invoices", customer_no=customer_no, billing_name=name.upper() if n % 2 else name, billing_address=fake.address().replace("\n", " "),
                      email=email.upper() if n == 1 else email, amount_yen=rng.randint(1000, 20000), issued_on=issued.date())
            add("billing", "payments", invoice_id=inv, method=rng.choice(["card", "bank", "konbini"]), card_last4=f"{rng.randint(0, 9999):04d}", paid_at=issued + dt.timedelta(days=3))
        if i % 4 == 0:
            add("support", "tickets", customer_no=customer_no, contact_email=email, department=rng.choice(["Mobile", "Broadband", "Billing"]),
                subject=fake.sentence(nb_words=5), notes=fake.paragraph(nb_sentences=3), opened_at=start + dt.timedelta(days=rng.randint(0, 700)))
        if i % 3 == 0:
            sub = add("marketing", "mailing_list", email=email.upper() if i % 2 else email, phone=phone, full_name=name, consent_direct_mail=bool(i % 5),
                      source=rng.choice(["web", "shop", "event"]), subscribed_at=start + dt.timedelta(days=rng.randint(0, 700)))
            for _ in range(rng.randint(1, 4)):
                add("marketing", "web_events", subscriber_id=sub, event=rng.choice(["open", "click", "visit"]), page="/plans", at=start + dt.timedelta(days=rng.randint(0, 700)))
        return cid

    for i in range(customers):
        fake = fakers[i % 2]
        phone = f"+81 {rng.choice(['70', '80', '90'])}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        if phone.endswith("1234-5678"):
            continue
        person(i, fake, fake.name(), f"c{i}.{fake.user_name()}@{fake.free_email_domain()}", phone, f"HKT-{100000 + i:07d}")

    demo = DEMO_CUSTOMER
    ja = fakers[0]
    demo_id = person(6, ja, demo.name, demo.email.lower(), demo.phone, demo.customer_no)
    # The same person, other spellings: an invoice with the upper-cased email, a mailing list entry
    # typed by hand with a national number, a ticket opened from the support desk's phone log.
    add("billing", "invoices", customer_no=None, billing_name="YAMADA Taro", billing_address="〒150-0002 東京都渋谷区渋谷2-21-1",
        email="TARO.YAMADA@EXAMPLE.JP", amount_yen=5400, issued_on=dt.date(2025, 3, 31))
    sub = add("marketing", "mailing_list", email="Taro.Yamada@Example.jp", phone="090 1234 5678", full_name="山田 太郎", consent_direct_mail=True, source="shop",
              subscribed_at=dt.datetime(2025, 6, 1))
    add("marketing", "web_events", subscriber_id=sub, event="click", page="/campaign/5g", at=dt.datetime(2025, 6, 2))
    add("support", "tickets", customer_no=demo.customer_no, contact_email=demo.email.lower(), department="Mobile", subject="Roaming charges",
        notes="Customer asked about roaming charges in Hong Kong; explained the day pass.", opened_at=dt.datetime(2025, 7, 3))
    # Not him: a namesake with his own email and number, and the friend he referred.
    person(7, ja, demo.name, "taro.yamada@example.com", "+81 80-2222-3333", "HKT-0000043")
    person(8, ja, "Hanako Suzuki", "hanako.suzuki@example.jp", "+81 70-4444-5555", "HKT-0000044", referred_by=demo_id)
    # The friend's own ticket mentions him in its free text: only those words are his.
    add("support", "tickets", customer_no="HKT-0000044", contact_email="hanako.suzuki@example.jp", department="Mobile", subject="Referral bonus",
        notes="Referral bonus not applied. Referred by Taro Yamada (tel 090 1234 5678); agent Kenji Mori checked the campaign.",
        opened_at=dt.datetime(2025, 8, 1))

    counts = {}
    for system, define in SCHEMAS.items():
        path = workdir / f"{system}.db"
        path.unlink(missing_ok=True)
        engine = create_engine(f"sqlite:///{path}")
        enable_sqlite_foreign_keys(engine)
        md = MetaData()
        define(md)
        md.create_all(engine)
        with engine.begin() as conn:
            for table in md.sorted_tables:
                batch = rows[system].get(table.name, [])
                if table.name == "customers":  # the address cycle: insert, then point at the address
                    conn.execute(insert(table), [{**r, "primary_address_id": None} for r in batch])
                    continue
                if batch:
                    conn.execute(insert(table), batch)
            if "customers" in md.tables:
                customers_table = md.tables["customers"]
                for r in rows[system]["customers"]:
                    conn.execute(customers_table.update().where(customers_table.c.id == r["id"]).values(primary_address_id=r["primary_address_id"]))
        engine.dispose()
        counts[system] = sum(len(v) for v in rows[system].values())
    return counts
