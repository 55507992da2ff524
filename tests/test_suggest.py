"""`datasets suggest` on schemas shaped like public sample databases: a music store (customers served by a
support rep, invoices, invoice lines pointing into a catalogue of tracks, albums, artists, genres, media
types) and a DVD rental (customer -> address -> city -> country, stores and staff at addresses, rentals
and payments taken by staff). The suggestion, written to YAML as it stands and used as the configuration,
must never make a request find another person's records."""

from __future__ import annotations

import copy
import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from sqlalchemy import Column, Date, ForeignKey, Integer, MetaData, Numeric, String, Table, create_engine, insert, update

from connectors.registry import open_connector
from dsr.checks import check_config
from dsr.config import load_estate
from dsr.discovery import discover
from dsr.plan import plan_erasure
from dsr.subject import Identifier, IdentifierKind, Subject
from tests import shop
from tests.test_cli import invoke

GIVEN = ("James", "Mary", "Robert", "Patricia", "Michael", "Linda", "William", "Barbara", "David", "Susan", "Richard", "Jessica",
         "Joseph", "Sarah", "Thomas", "Karen", "Daniel", "Nancy", "Matthew", "Lisa")
FAMILY = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas",
          "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis")
PLACES = (("Calgary", "Canada", "T2P {d}A{d}"), ("Boston", "USA", "021{d}{d}"), ("Berlin", "Germany", "101{d}{d}"), ("Paris", "France", "750{d}{d}"),
          ("London", "United Kingdom", "SW1A {d}AA"), ("Tokyo", "Japan", "100-00{d}{d}"), ("Sydney", "Australia", "20{d}{d}"),
          ("Madrid", "Spain", "280{d}{d}"), ("Toronto", "Canada", "M5V {d}A{d}"), ("Chicago", "USA", "606{d}{d}"))
STREETS = ("Main Street", "Oak Avenue", "Maple Road", "Cedar Lane", "Elm Street", "Park Avenue", "Hill Road", "Lake Drive")
WORDS = ("Midnight", "Highway", "Electric", "Dreams", "River", "Fire", "Silent", "Storm", "Golden", "Heart", "Summer", "Rain",
         "Broken", "Wings", "Velvet", "Thunder", "Neon", "Shadows", "Wild", "Ocean")
GENRES = ("Rock", "Jazz", "Metal", "Alternative & Punk", "Blues", "Latin", "Reggae", "Pop", "Soundtrack", "Classical")
MEDIA = ("MPEG audio file", "Protected AAC audio file", "AAC audio file", "Purchased AAC audio file")


class People:
    """Distinct people made by rules: given x family name, a mailbox from the name, a phone and an address."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.used: set[str] = set()

    def person(self, domain: str) -> dict[str, Any]:
        while True:
            given, family = self.rng.choice(GIVEN), self.rng.choice(FAMILY)
            email = f"{given.lower()}.{family.lower()}{self.rng.randint(1, 999)}@{domain}"
            if email not in self.used:
                self.used.add(email)
                break
        city, country, postcode = self.rng.choice(PLACES)
        return {
            "first_name": given, "last_name": family, "email": email,
            "phone": f"+1 ({self.rng.randint(201, 989)}) {self.rng.randint(200, 999)}-{self.rng.randint(1000, 9999)}",
            "address": f"{self.rng.randint(1, 9999)} {self.rng.choice(STREETS)}", "city": city, "country": country,
            "postal_code": postcode.format(d=self.rng.randint(1, 9)),
        }

    def title(self, words: int = 2) -> str:
        return " ".join(self.rng.sample(WORDS, words))


def _create(url: str, md: MetaData, rows: dict[str, list[dict[str, Any]]], after: list[tuple[str, str, dict[int, int]]] = ()) -> None:
    """Create the tables and load them in order; `after` sets pointers that close a cycle (table, column, id -> value)."""
    engine = create_engine(url)
    md.create_all(engine)
    with engine.begin() as conn:
        for name, batch in rows.items():
            conn.execute(insert(md.tables[name]), batch)
        for name, column, values in after:
            table = md.tables[name]
            for key, value in values.items():
                conn.execute(update(table).where(table.c[f"{name}_id"] == key).values({column: value}))
    engine.dispose()


def music_store(url: str) -> dict[str, Any]:
    """Customers, their support reps (employees), invoices and lines; a catalogue the lines point into."""
    md = MetaData()
    Table("genre", md, Column("genre_id", Integer, primary_key=True, autoincrement=False), Column("name", String(120)))
    Table("media_type", md, Column("media_type_id", Integer, primary_key=True, autoincrement=False), Column("name", String(120)))
    Table("artist", md, Column("artist_id", Integer, primary_key=True, autoincrement=False), Column("name", String(120)))
    Table("album", md, Column("album_id", Integer, primary_key=True, autoincrement=False), Column("title", String(160)),
          Column("artist_id", Integer, ForeignKey("artist.artist_id"), nullable=False))
    Table("track", md, Column("track_id", Integer, primary_key=True, autoincrement=False), Column("name", String(200)),
          Column("album_id", Integer, ForeignKey("album.album_id")), Column("media_type_id", Integer, ForeignKey("media_type.media_type_id"), nullable=False),
          Column("genre_id", Integer, ForeignKey("genre.genre_id")), Column("milliseconds", Integer), Column("unit_price", Numeric(10, 2)))
    Table("employee", md, Column("employee_id", Integer, primary_key=True, autoincrement=False), Column("last_name", String(20)), Column("first_name", String(20)),
          Column("title", String(30)), Column("reports_to", Integer, ForeignKey("employee.employee_id")), Column("city", String(40)),
          Column("country", String(40)), Column("phone", String(24)), Column("email", String(60)))
    Table("customer", md, Column("customer_id", Integer, primary_key=True, autoincrement=False), Column("first_name", String(40)),
          Column("last_name", String(20)), Column("address", String(70)), Column("city", String(40)), Column("country", String(40)),
          Column("postal_code", String(10)), Column("phone", String(24)), Column("email", String(60), index=True),
          Column("support_rep_id", Integer, ForeignKey("employee.employee_id")))
    Table("invoice", md, Column("invoice_id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer, ForeignKey("customer.customer_id"), nullable=False), Column("invoice_date", Date),
          Column("billing_address", String(70)), Column("billing_city", String(40)), Column("billing_country", String(40)),
          Column("billing_postal_code", String(10)), Column("total", Numeric(10, 2)))
    Table("invoice_line", md, Column("invoice_line_id", Integer, primary_key=True, autoincrement=False),
          Column("invoice_id", Integer, ForeignKey("invoice.invoice_id"), nullable=False), Column("track_id", Integer, ForeignKey("track.track_id"), nullable=False),
          Column("unit_price", Numeric(10, 2)), Column("quantity", Integer))
    people = People(7)
    rng = people.rng
    employees = []
    for i in range(1, 9):
        p = people.person("chinookcorp.example.com")
        employees.append({"employee_id": i, "last_name": p["last_name"], "first_name": p["first_name"], "title": "Sales Support Agent" if i > 2 else "Manager",
                          "reports_to": None if i == 1 else 1 + (i > 2), "city": p["city"], "country": p["country"], "phone": p["phone"], "email": p["email"]})
    customers, invoices, lines = [], [], []
    for i in range(1, 61):
        p = people.person(rng.choice(("mail.example.com", "post.example.org", "inbox.example.net")))
        customers.append({"customer_id": i, **{k: p[k] for k in ("first_name", "last_name", "address", "city", "country", "postal_code", "phone", "email")},
                          "support_rep_id": rng.randint(3, 8)})
        for _ in range(rng.randint(4, 9)):
            invoice_id = len(invoices) + 1
            invoices.append({"invoice_id": invoice_id, "customer_id": i, "invoice_date": dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(0, 600)),
                             "billing_address": p["address"], "billing_city": p["city"], "billing_country": p["country"],
                             "billing_postal_code": p["postal_code"], "total": 0})
            for _ in range(rng.randint(1, 5)):
                lines.append({"invoice_line_id": len(lines) + 1, "invoice_id": invoice_id, "track_id": rng.randint(1, 300), "unit_price": 0.99, "quantity": 1})
    _create(url, md, {
        "genre": [{"genre_id": i, "name": g} for i, g in enumerate(GENRES, 1)],
        "media_type": [{"media_type_id": i, "name": m} for i, m in enumerate(MEDIA, 1)],
        "artist": [{"artist_id": i, "name": f"The {people.title()}"} for i in range(1, 31)],
        "album": [{"album_id": i, "title": people.title(3), "artist_id": rng.randint(1, 30)} for i in range(1, 51)],
        "track": [{"track_id": i, "name": people.title(rng.randint(1, 3)), "album_id": rng.randint(1, 50), "media_type_id": rng.randint(1, 4),
                   "genre_id": rng.randint(1, 10), "milliseconds": rng.randint(90_000, 400_000), "unit_price": 0.99} for i in range(1, 301)],
        "employee": employees, "customer": customers, "invoice": invoices, "invoice_line": lines,
    })
    return {"employees": employees, "customers": customers, "invoices": invoices}


def dvd_rental(url: str) -> dict[str, Any]:
    """Customers at addresses in cities of countries; two stores with their staff; films on inventory; rentals and payments."""
    md = MetaData()
    Table("country", md, Column("country_id", Integer, primary_key=True, autoincrement=False), Column("country", String(50)))
    Table("city", md, Column("city_id", Integer, primary_key=True, autoincrement=False), Column("city", String(50)),
          Column("country_id", Integer, ForeignKey("country.country_id"), nullable=False))
    Table("address", md, Column("address_id", Integer, primary_key=True, autoincrement=False), Column("address", String(50)),
          Column("district", String(20)), Column("city_id", Integer, ForeignKey("city.city_id"), nullable=False), Column("postal_code", String(10)),
          Column("phone", String(20)))
    Table("staff", md, Column("staff_id", Integer, primary_key=True, autoincrement=False), Column("first_name", String(45)), Column("last_name", String(45)),
          Column("address_id", Integer, ForeignKey("address.address_id"), nullable=False), Column("email", String(50)),
          Column("store_id", Integer, ForeignKey("store.store_id", use_alter=True, name="fk_staff_store")), Column("username", String(16)))
    Table("store", md, Column("store_id", Integer, primary_key=True, autoincrement=False),
          Column("manager_staff_id", Integer, ForeignKey("staff.staff_id"), nullable=False),
          Column("address_id", Integer, ForeignKey("address.address_id"), nullable=False))
    Table("customer", md, Column("customer_id", Integer, primary_key=True, autoincrement=False),
          Column("store_id", Integer, ForeignKey("store.store_id"), nullable=False), Column("first_name", String(45)), Column("last_name", String(45)),
          Column("email", String(50), index=True), Column("address_id", Integer, ForeignKey("address.address_id"), nullable=False), Column("active", Integer))
    Table("language", md, Column("language_id", Integer, primary_key=True, autoincrement=False), Column("name", String(20)))
    Table("film", md, Column("film_id", Integer, primary_key=True, autoincrement=False), Column("title", String(128)),
          Column("release_year", Integer), Column("language_id", Integer, ForeignKey("language.language_id"), nullable=False), Column("rental_rate", Numeric(4, 2)))
    Table("inventory", md, Column("inventory_id", Integer, primary_key=True, autoincrement=False),
          Column("film_id", Integer, ForeignKey("film.film_id"), nullable=False), Column("store_id", Integer, ForeignKey("store.store_id"), nullable=False))
    Table("rental", md, Column("rental_id", Integer, primary_key=True, autoincrement=False), Column("rental_date", Date),
          Column("inventory_id", Integer, ForeignKey("inventory.inventory_id"), nullable=False),
          Column("customer_id", Integer, ForeignKey("customer.customer_id"), nullable=False), Column("return_date", Date),
          Column("staff_id", Integer, ForeignKey("staff.staff_id"), nullable=False))
    Table("payment", md, Column("payment_id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer, ForeignKey("customer.customer_id"), nullable=False),
          Column("staff_id", Integer, ForeignKey("staff.staff_id"), nullable=False), Column("rental_id", Integer, ForeignKey("rental.rental_id")),
          Column("amount", Numeric(5, 2)), Column("payment_date", Date))
    people = People(11)
    rng = people.rng
    countries = sorted({c for _, c, _ in PLACES})
    cities = [{"city_id": i, "city": city, "country_id": countries.index(country) + 1} for i, (city, country, _) in enumerate(PLACES, 1)]
    addresses, staff, customers, rentals, payments = [], [], [], [], []

    def address_of(p: dict[str, Any]) -> int:
        city_id = next(c["city_id"] for c in cities if c["city"] == p["city"])
        addresses.append({"address_id": len(addresses) + 1, "address": p["address"], "district": p["country"][:20], "city_id": city_id,
                          "postal_code": p["postal_code"], "phone": p["phone"]})
        return len(addresses)

    stores = [{"store_id": s, "manager_staff_id": s, "address_id": address_of(people.person("store.example.com"))} for s in (1, 2)]
    for s in (1, 2):
        p = people.person("sakilastaff.example.com")
        staff.append({"staff_id": s, "first_name": p["first_name"], "last_name": p["last_name"], "address_id": address_of(p), "email": p["email"],
                      "store_id": None, "username": p["first_name"]})
    for i in range(1, 61):
        p = people.person(rng.choice(("sakilacustomer.example.com", "mail.example.com")))
        customers.append({"customer_id": i, "store_id": rng.randint(1, 2), "first_name": p["first_name"], "last_name": p["last_name"],
                          "email": p["email"], "address_id": address_of(p), "active": 1})
        for _ in range(rng.randint(2, 5)):
            rental_id = len(rentals) + 1
            day = dt.date(2025, 5, 1) + dt.timedelta(days=rng.randint(0, 300))
            rentals.append({"rental_id": rental_id, "rental_date": day, "inventory_id": rng.randint(1, 60), "customer_id": i,
                            "return_date": day + dt.timedelta(days=rng.randint(1, 7)), "staff_id": rng.randint(1, 2)})
            payments.append({"payment_id": rental_id, "customer_id": i, "staff_id": rng.randint(1, 2), "rental_id": rental_id,
                             "amount": rng.choice((0.99, 2.99, 4.99)), "payment_date": day})
    _create(url, md, {
        "country": [{"country_id": i, "country": c} for i, c in enumerate(countries, 1)], "city": cities, "address": addresses,
        "staff": staff, "store": stores, "customer": customers,
        "language": [{"language_id": i, "name": n} for i, n in enumerate(("English", "Italian", "Japanese"), 1)],
        "film": [{"film_id": i, "title": people.title().upper(), "release_year": 2006, "language_id": 1, "rental_rate": 2.99} for i in range(1, 31)],
        "inventory": [{"inventory_id": i, "film_id": rng.randint(1, 30), "store_id": rng.randint(1, 2)} for i in range(1, 61)],
        "rental": rentals, "payment": payments,
    }, after=[("staff", "store_id", {1: 1, 2: 2})])
    return {"staff": staff, "customers": customers, "rentals": rentals, "payments": payments, "addresses": addresses}


# --------------------------------------------------------------------------- helpers


POLICY_FOR_SUGGESTIONS = {
    **copy.deepcopy(shop.POLICY),
    "categories": ["other_party", "identifier"],
    "access": {"export": ["account", "activity", "contact", "name", "address", "financial", "free_text", "date_of_birth", "network", "national_id"]},
    "erase": {"default": {"action": "delete_record"}, "records": {}, "fields": {}},
}


def _suggest(tmp_path: Path, url: str) -> tuple[Path, dict[str, Any], str]:
    """`datasets suggest store` before any policy exists; its output written as the dataset file, as it stands."""
    config = shop.write_config(tmp_path, {"store": url}, [])
    (config / "policies.yaml").unlink()
    result = invoke("datasets", "suggest", "store", "--config", config)
    assert result.exit_code == 0, result.output
    (config / "datasets" / "store.yaml").write_text(result.stdout)
    with (config / "policies.yaml").open("w") as f:
        YAML().dump(POLICY_FOR_SUGGESTIONS, f)
    return config, YAML(typ="safe").load(result.stdout), result.stdout


def _request(config: Path, email: str) -> tuple[dict[str, set[Any]], dict[str, int]]:
    """What a request for this email finds (discovery, the first step of every request: collection ->
    record keys) and what its erasure plan would delete (collection -> rows)."""
    estate = load_estate(config)
    connectors: dict[str, Any] = {}

    def connect(system: str) -> Any:
        if system not in connectors:
            connectors[system] = open_connector(estate, system)
        return connectors[system]

    try:
        discovery = discover(estate, connect, Subject((Identifier.parse(IdentifierKind.EMAIL, email),)))
        plan = plan_erasure(estate, "DSR-TEST", dt.datetime.now(dt.UTC), discovery, connect)
    finally:
        for connector in connectors.values():
            connector.close()
    found: dict[str, set[Any]] = {}
    for f in discovery.owned():
        found.setdefault(f.collection, set()).add(f.key[0])
    return found, {s.collection: s.count for s in plan.steps if s.operation == "delete_record"}


def _refs(collection: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["field"], r["to"], r["ownership"]) for r in collection.get("references", [])}


# --------------------------------------------------------------------------- the music store


def test_music_store_suggestion_is_the_customers_part_with_support_reps_as_links(tmp_path: Path, sql_url: str) -> None:
    data = music_store(sql_url)
    config, proposal, text = _suggest(tmp_path, sql_url)
    collections = proposal["collections"]

    # (a) the catalogue is left out, and the header says why
    assert sorted(collections) == ["customer", "employee", "invoice", "invoice_line"]
    for catalogue in ("track", "album", "artist", "genre", "media_type"):
        assert any(line.startswith(f"# left out: {catalogue}:") for line in text.splitlines()), catalogue
    # (b) the support reps are other people: a link target with no identity field, never owned
    assert collections["employee"]["categories"] == ["other_party"]
    assert not any("identity" in f for f in collections["employee"]["fields"].values())
    assert "references" not in collections["employee"]
    assert ("support_rep_id", "employee.employee_id", "link") in _refs(collections["customer"])
    assert _refs(collections["invoice"]) == {("customer_id", "customer.customer_id", "dependent")}
    assert _refs(collections["invoice_line"]) == {("invoice_id", "invoice.invoice_id", "dependent")}
    assert collections["customer"]["fields"]["email"]["identity"] == "email"
    assert collections["customer"]["categories"] == ["account"] and collections["invoice"]["categories"] == ["activity"]
    # (c) places are addresses
    for table, column in (("customer", "city"), ("customer", "postal_code"), ("invoice", "billing_city"), ("invoice", "billing_postal_code")):
        assert collections[table]["fields"][column]["categories"] == ["address"], (table, column)
    # evidence for the reviewer, never a value
    assert "EMAIL_ADDRESS" in text and "other people" in text
    assert not any(c["email"] in text or c["last_name"] in text for c in data["customers"] + data["employees"])

    # (d) used as written: a support rep's request finds none of her customers; a customer's finds her invoices
    rep = data["employees"][3]
    served = [c["customer_id"] for c in data["customers"] if c["support_rep_id"] == rep["employee_id"]]
    assert served, "the rep serves customers"
    assert _request(config, rep["email"]) == ({}, {})
    customer = data["customers"][10]
    found, deleted = _request(config, customer["email"].upper())
    assert found["customer"] == {customer["customer_id"]}
    assert found["invoice"] == {i["invoice_id"] for i in data["invoices"] if i["customer_id"] == customer["customer_id"]}
    assert "employee" not in found
    assert deleted == {"customer": 1, "invoice": len(found["invoice"]), "invoice_line": len(found["invoice_line"])}
    report = check_config(config, maps=lambda _estate: (None, None))
    assert not report.errors, report.errors


# --------------------------------------------------------------------------- the DVD rental


def test_dvd_rental_suggestion_owns_the_customers_address_and_links_staff(tmp_path: Path, sql_url: str) -> None:
    data = dvd_rental(sql_url)
    config, proposal, text = _suggest(tmp_path, sql_url)
    collections = proposal["collections"]

    assert sorted(collections) == ["address", "customer", "payment", "rental", "staff"]
    for left_out in ("film", "inventory", "language", "store", "city", "country"):
        assert any(line.startswith(f"# left out: {left_out}:") for line in text.splitlines()), left_out
    assert collections["staff"]["categories"] == ["other_party"] and not any("identity" in f for f in collections["staff"]["fields"].values())
    assert ("staff_id", "staff.staff_id", "link") in _refs(collections["rental"])
    assert ("staff_id", "staff.staff_id", "link") in _refs(collections["payment"])
    assert ("address_id", "address.address_id", "owns_target") in _refs(collections["customer"])
    assert ("customer_id", "customer.customer_id", "dependent") in _refs(collections["payment"])
    assert collections["address"]["fields"]["postal_code"]["categories"] == ["address"]
    assert not any("identity" in f for f in collections["address"]["fields"].values())  # addresses never seed a request

    clerk = data["staff"][0]
    assert _request(config, clerk["email"]) == ({}, {})
    customer = data["customers"][5]
    found, deleted = _request(config, customer["email"])
    cid = customer["customer_id"]
    assert found["customer"] == {cid}
    assert found["rental"] == {r["rental_id"] for r in data["rentals"] if r["customer_id"] == cid}
    assert found["payment"] == {p["payment_id"] for p in data["payments"] if p["customer_id"] == cid}
    assert found["address"] == {customer["address_id"]}
    assert "staff" not in found
    assert deleted == {"customer": 1, "rental": len(found["rental"]), "payment": len(found["payment"]), "address": 1}  # her address is hers alone


@pytest.mark.parametrize("system", ["nowhere"])
def test_suggest_for_an_unknown_system_is_one_clean_line(tmp_path: Path, system: str) -> None:
    config = shop.write_config(tmp_path, {"store": f"sqlite:///{tmp_path / 'store.db'}"}, [])
    result = invoke("datasets", "suggest", system, "--config", config)
    assert result.exit_code == 1
    assert "unknown system 'nowhere'" in result.stderr and "Traceback" not in result.output


# --------------------------------------------------------------------------- objects


def test_object_prefixes_with_personal_data_are_listed_for_review_never_proposed(tmp_path: Path, s3_endpoint: str) -> None:
    """Objects name several people at once: a suggestion never declares them (an erasure could delete
    other people's lines with them); the header names the prefixes that hold personal data."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="hkt-calls")
    people = People(5)
    for i in range(4):
        lines = [f"{p['first_name']} {p['last_name']} <{p['email']}> called about a fault, call back on {p['phone']}"
                 for p in (people.person("mail.example.com") for _ in range(15))]
        s3.put_object(Bucket="hkt-calls", Key=f"transcripts/{i}.txt", Body="\n".join(lines).encode())
    s3.put_object(Bucket="hkt-calls", Key="catalogue/plans.jsonl", Body=b"".join(b'{"plan": "Fibre %d", "speed": %d}\n' % (i, 100 * i) for i in range(30)))
    config = tmp_path / "config"
    (config / "datasets").mkdir(parents=True)
    (config / "estate.yaml").write_text(f"control_db: sqlite:///{tmp_path / 'control.db'}\n")
    (config / "systems.yaml").write_text(f"systems:\n  calls:\n    kind: s3\n    url: {s3_endpoint}\n    options: {{region: us-east-1}}\n")
    result = invoke("datasets", "suggest", "calls", "--config", config)
    assert result.exit_code == 0, result.output
    assert YAML(typ="safe").load(result.stdout) == {"system": "calls", "collections": {}}
    left_out = [line for line in result.stdout.splitlines() if line.startswith("# left out:")]
    assert len(left_out) == 1 and left_out[0].startswith("# left out: hkt-calls/transcripts/: objects holding free_text")
