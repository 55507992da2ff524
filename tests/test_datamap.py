"""The data map, on real stores: every table (declared or not) reflected, a bounded sample classified
by its values (not by its column names), stored without a single value, compared with the datasets
and with the previous scan.

The shop below has the shapes real schemas have: a customer table whose dataset forgot some
columns, an undeclared table of orders pointing at customers, a music catalogue whose `name` and
`title` columns hold no one's name, a contact log with emails in a column called `col17` and
notes about people, a view (not a table), and on PostgreSQL an inheritance child. Values come
from Faker under fixed seeds; the expectations come from what each column was generated from.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from faker import Faker
from ruamel.yaml import YAML
from sqlalchemy import Column, Date, ForeignKey, Integer, MetaData, String, Table, Text, create_engine, insert, text
from typer.testing import CliRunner

from connectors.base import ConnectorError
from connectors.base import ForeignKey as StoreForeignKey
from connectors.s3 import S3Connector
from connectors.sql import SqlConnector
from dsr.cli import app
from dsr.config import DatasetConfig, SystemConfig
from dsr.control.db import session_factory
from dsr.datamap.classify import PATTERN_FIRST, Classifier
from dsr.datamap.coverage import coverage, drift
from dsr.datamap.model import CollectionProfile, ColumnProfile, DataMap
from dsr.datamap.page import render_page
from dsr.datamap.scan import merge, scan_system
from dsr.datamap.store import latest_map, record_map, save_map
from scanners.settings import ScannerConfig

SAMPLE = 40
CUSTOMERS = 120
GENRES = ["Jazz", "Rock", "Hip Hop", "Blues", "Classical", "Country", "Electronic", "Reggae", "Soul", "Funk", "Metal", "Punk", "Folk",
          "Gospel", "Disco", "Ambient", "House", "Techno", "Bossa Nova", "Ska"]

#: The dataset as a hurried engineer wrote it: phone without `identity`, city forgotten, most tables missing.
DATASET = {
    "system": "shop",
    "collections": {
        "customers": {"primary_key": ["id"], "fields": {
            "id": {}, "customer_no": {"categories": ["identifier"], "identity": "customer_id"}, "full_name": {"categories": ["name"]},
            "email": {"categories": ["contact"], "identity": "email"}, "phone": {"categories": ["contact"]},
            "postcode": {"categories": ["address"]}, "birth_date": {"categories": ["profile"]}, "status": {},
        }},
        "genres": {"primary_key": ["id"], "fields": {"id": {}, "name": {}}},
    },
}

#: What each generated column is: (category, identity) as the generator knows it.
EXPECTED = {
    ("customers", "id"): ("none", None),
    ("customers", "customer_no"): ("identifier", "customer_id"),
    ("customers", "full_name"): ("name", None),
    ("customers", "email"): ("contact", "email"),
    ("customers", "phone"): ("contact", "phone"),
    ("customers", "city"): ("address", None),
    ("customers", "postcode"): ("address", None),
    ("customers", "birth_date"): ("date_of_birth", None),
    ("customers", "status"): ("none", None),
    ("orders", "customer_id"): ("none", None),
    ("orders", "total"): ("none", None),
    ("orders", "placed"): ("none", None),
    ("genres", "name"): ("none", None),
    ("tracks", "title"): ("none", None),
    ("tracks", "genre_id"): ("none", None),
    ("tracks", "seconds"): ("none", None),
    ("contact_log", "col17"): ("contact", "email"),
    ("contact_log", "note"): ("free_text", None),
}


def _schema() -> MetaData:
    md = MetaData()
    Table("customers", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("customer_no", String(20)),
          Column("full_name", String(120)), Column("email", String(200)), Column("phone", String(40)), Column("city", String(80)),
          Column("postcode", String(12)), Column("birth_date", Date), Column("status", String(10)))
    Table("orders", md, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False), Column("total", Integer), Column("placed", Date))
    Table("genres", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("name", String(40)))
    Table("tracks", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("genre_id", Integer, ForeignKey("genres.id")),
          Column("title", String(120)), Column("seconds", Integer))
    Table("contact_log", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("col17", String(200)), Column("note", Text))
    return md


def _people(seed: int) -> Faker:
    fake = Faker(["en_US", "en_GB"])
    fake.seed_instance(seed)
    return fake


def _phone(fake: Faker, rng: random.Random) -> str:
    """Phone numbers as customers type them, in Japanese, British and US national and international forms."""
    a, b = rng.randint(1000, 9999), rng.randint(1000, 9999)
    return rng.choice([f"090-{a}-{b}", f"+81 80 {a} {b}", f"+44 20 7946 {a % 1000:03d}{b % 10}", f"020 7946 {a}", f"(415) 555-{a}",
                       f"+1 212 555 {b}", fake["en_US"].phone_number()])


def _rows(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    fake, rng = _people(seed), random.Random(seed)
    words = Faker("en_US")
    words.seed_instance(seed + 1)
    today = dt.date(2026, 11, 30)
    customers = [{
        "id": i, "customer_no": f"HKT-{rng.randint(10**6, 10**7 - 1):07d}", "full_name": fake.name(), "email": fake.unique.email(),
        "phone": _phone(fake, rng), "city": fake["en_US"].city(), "postcode": fake["en_US"].zipcode(),
        "birth_date": today - dt.timedelta(days=rng.randint(18 * 365, 90 * 365)), "status": rng.choice(["active", "closed", "pending"]),
    } for i in range(1, CUSTOMERS + 1)]
    return {
        "customers": customers,
        "orders": [{"id": i, "customer_id": rng.randint(1, CUSTOMERS), "total": rng.randint(100, 90000),
                    "placed": today - dt.timedelta(days=rng.randint(0, 900))} for i in range(1, 301)],
        "genres": [{"id": i, "name": g} for i, g in enumerate(GENRES, start=1)],
        "tracks": [{"id": i, "genre_id": rng.randint(1, len(GENRES)), "title": " ".join(words.words(rng.randint(1, 4))).title(),
                    "seconds": rng.randint(90, 420)} for i in range(1, 201)],
        "contact_log": [{"id": i, "col17": fake.unique.free_email(),
                         "note": f"{fake.name()} called about the {rng.choice(['invoice', 'router', 'roaming bill'])}; call back on {_phone(fake, rng)}"}
                        for i in range(1, 61)],
    }


def _load(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    engine = create_engine(url)
    md = _schema()
    md.create_all(engine)
    with engine.begin() as conn:
        for table in md.sorted_tables:
            conn.execute(insert(table), rows[table.name])
        conn.execute(text("CREATE VIEW customer_emails AS SELECT id, email FROM customers"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("CREATE TABLE customers_2019 (closed_on date) INHERITS (customers)"))
            conn.execute(text("INSERT INTO customers_2019 (id, email, full_name, closed_on) VALUES (:i, :e, :n, '2019-12-31')"),
                         [{"i": 10_000 + r["id"], "e": r["email"].replace("@", ".old@"), "n": r["full_name"]} for r in rows["customers"][:30]])
            conn.execute(text("CREATE TABLE call_log (id int, at date, caller text) PARTITION BY RANGE (at)"))
            conn.execute(text("CREATE TABLE call_log_2026 PARTITION OF call_log FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"))
    engine.dispose()


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(ScannerConfig())


def _connector(url: str, dataset: dict | None = None) -> SqlConnector:
    return SqlConnector("shop", SystemConfig(kind="sql", url=url), DatasetConfig.model_validate(dataset or DATASET))


def _values(rows: dict[str, list[dict[str, Any]]]) -> set[str]:
    """Every personal value the shop holds (long enough not to be a word of the map itself)."""
    personal = {name for (table, name), (category, _) in EXPECTED.items() if category != "none"}
    return {str(v) for table in rows.values() for row in table for k, v in row.items() if k in personal and len(str(v)) >= 6}


# --------------------------------------------------------------------------- classification on every SQL store


def test_every_table_is_mapped_by_its_values_not_its_names(sql_url: str, classifier: Classifier, tmp_path: Path) -> None:
    rows = _rows()
    _load(sql_url, rows)
    connector = _connector(sql_url)
    try:
        profiles = scan_system(connector, classifier, SAMPLE)
    finally:
        connector.close()
    by_name = {p.name: p for p in profiles}
    assert "customer_emails" not in by_name  # a view is not a table
    assert {"customers", "orders", "genres", "tracks", "contact_log"} <= set(by_name)
    found = {(p.name, c.name): (c.category, c.identity) for p in profiles for c in p.columns}
    wrong = {key: (found.get(key), want) for key, want in EXPECTED.items() if found.get(key) != want}
    assert not wrong, wrong
    for p in profiles:  # the sample is bounded: never more than asked, all of a small table
        assert p.sampled_rows == min(SAMPLE, len(rows.get(p.name, [])) or p.sampled_rows)
    email = by_name["customers"].column("email")
    assert email.evidence.get("EMAIL_ADDRESS", 0) >= PATTERN_FIRST and email.distinct_ratio == 1.0 and email.confidence >= 0.9
    assert by_name["genres"].column("name").hint is None and by_name["tracks"].column("title").category == "none"
    assert StoreForeignKey("orders", ("customer_id",), "customers", ("id",), False) in by_name["orders"].references

    data_map = DataMap(dt.datetime.now(dt.UTC), profiles, sample_size=SAMPLE)
    gaps = {(g.kind, g.collection, g.column) for g in coverage(data_map, {"shop": DatasetConfig.model_validate(DATASET)}).gaps}
    assert {
        ("unmapped_collection", "contact_log", None), ("unmapped_reference", "orders", "customer_id"),
        ("undeclared_identity", "customers", "phone"), ("undeclared_column", "customers", "city"),
    } <= gaps
    assert not {g for g in gaps if g[1] in ("genres", "tracks")}  # a catalogue is nobody's data

    # Stored, rendered and compared: no sampled value anywhere.
    control = f"sqlite:///{tmp_path / 'control.db'}"
    with session_factory(control)() as session:
        save_map(session, data_map)
        session.commit()
    with sqlite3.connect(tmp_path / "control.db") as db:
        stored = " ".join(json.dumps(r[0]) if not isinstance(r[0], str) else r[0] for r in db.execute("SELECT collections FROM data_maps"))
    page = render_page(data_map, coverage(data_map, {}), (), _estate_stub())
    leaked = {v for v in _values(rows) if v in stored or v in page or json.dumps(v)[1:-1] in stored}
    assert not leaked, sorted(leaked)[:5]


def test_postgres_inheritance_child_and_partition_are_mapped_under_their_parents(postgres_url: str, classifier: Classifier) -> None:
    _load(postgres_url, _rows())
    connector = _connector(postgres_url)
    try:
        schema = connector.schema()
        child = schema.collection("customers_2019")
        assert child is not None and (child.kind, child.parent) == ("inheritance_child", "customers")
        assert [c.name for c in child.columns][-1] == "closed_on"
        partition = schema.collection("call_log_2026")
        assert partition is not None and (partition.kind, partition.parent) == ("partition", "call_log")
        (profile,) = [p for p in scan_system(connector, classifier, SAMPLE) if p.name == "customers_2019"]
    finally:
        connector.close()
    assert (profile.column("email").category, profile.column("email").identity) == ("contact", "email")
    data_map = DataMap(dt.datetime.now(dt.UTC), (profile,))
    gaps = coverage(data_map, {"shop": DatasetConfig.model_validate(DATASET)}).gaps
    assert not [g for g in gaps if g.kind == "unmapped_collection"]  # declared through its parent
    assert ("undeclared_column", "closed_on") not in {(g.kind, g.column) for g in gaps}  # a date is nobody's data by itself


def test_sample_of_a_large_postgres_table_reads_a_few_pages_not_the_table(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text('CREATE TABLE "Big Events" (id int PRIMARY KEY, payload text)'))
        conn.execute(text('INSERT INTO "Big Events" SELECT g, md5(g::text) FROM generate_series(1, 200000) g'))
    engine.dispose()
    connector = _connector(postgres_url, {"system": "shop", "collections": {}})
    try:
        info = connector.schema().collection("Big Events")
        assert info is not None and info.rows_estimate is not None and info.rows_estimate > 100_000
        rows = connector.sample("Big Events", 50)
    finally:
        connector.close()
    ids = sorted(r["id"] for r in rows)
    assert len(ids) == 50 and set(rows[0]) == {"id", "payload"}
    assert ids[-1] > 1000  # random pages (TABLESAMPLE), not the table's first rows


def test_sample_is_bounded_and_names_are_quoted(sql_url: str) -> None:
    engine = create_engine(sql_url)
    md = MetaData()
    odd = Table("Order Lines; DROP TABLE x", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("select", String(20)))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(odd), [{"id": i, "select": f"v{i}"} for i in range(1, 301)])
    engine.dispose()
    connector = _connector(sql_url, {"system": "shop", "collections": {}})
    try:
        assert connector.schema().collection("Order Lines; DROP TABLE x").rows_estimate == 300
        assert len(connector.sample("Order Lines; DROP TABLE x", 25)) == 25
        with pytest.raises(ConnectorError, match="no_such_table"):
            connector.sample("no_such_table", 5)
    finally:
        connector.close()


# --------------------------------------------------------------------------- S3


def test_s3_prefixes_declared_or_not_are_sampled_and_classified(s3_endpoint: str, classifier: Classifier) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    fake, rng = _people(11), random.Random(11)
    for bucket in ("hkt-support", "hkt-exports"):
        s3.create_bucket(Bucket=bucket)
    for i in range(6):
        s3.put_object(Bucket="hkt-support", Key=f"tickets/{i}.txt",
                      Body="\n".join(f"{fake.name()} <{fake.email()}> reported a fault, call {_phone(fake, rng)}" for _ in range(20)).encode())
    crm = "id,name,email,phone\n" + "".join(f"{i},{fake.name()},{fake.email()},{_phone(fake, rng)}\n" for i in range(500))
    s3.put_object(Bucket="hkt-exports", Key="crm/customers.csv", Body=crm.encode())
    catalogue = "".join(json.dumps({"sku": f"SKU-{i}", "colour": fake.color_name(), "size": rng.choice("SML")}) + "\n" for i in range(200))
    s3.put_object(Bucket="hkt-exports", Key="catalogue/items.jsonl", Body=catalogue.encode())
    dataset = DatasetConfig.model_validate({"system": "files", "collections": {
        "tickets": {"objects": {"bucket": "hkt-support", "prefix": "tickets/", "format": "text"}},
        "faxes": {"objects": {"bucket": "hkt-faxes", "prefix": "in/"}}}})  # a bucket nobody created
    connector = S3Connector("files", SystemConfig(kind="s3", url=s3_endpoint, options={"region": "us-east-1"}), dataset)
    try:
        schema = connector.schema()
        assert {c.name: c.rows_estimate for c in schema.collections} == {"hkt-exports/catalogue/": 1, "hkt-exports/crm/": 1, "hkt-support/tickets/": 6}
        assert len(connector.sample("hkt-exports/crm/", 5)) == 5  # five lines of a 500-line object
        profiles = scan_system(connector, classifier, SAMPLE)
    finally:
        connector.close()
    texts = {p.name: p.column("text") for p in profiles}
    assert all(p.sampled_rows <= SAMPLE for p in profiles)
    assert texts["hkt-exports/crm/"].category == "free_text" and texts["hkt-support/tickets/"].category == "free_text"
    assert texts["hkt-exports/catalogue/"].category == "none"
    gaps = coverage(DataMap(dt.datetime.now(dt.UTC), profiles), {"files": dataset}).gaps
    assert [(g.kind, g.collection) for g in gaps] == [("unmapped_collection", "hkt-exports/crm/"), ("missing_collection", "faxes")]


# --------------------------------------------------------------------------- control database, drift


def _map(at: dt.datetime, *extra: CollectionProfile) -> DataMap:
    customers = CollectionProfile(
        "crm", "customers", primary_key=("id",), rows_estimate=3000, sampled_rows=100,
        columns=(ColumnProfile("id", "INTEGER", False), ColumnProfile("メール", "VARCHAR(200)", True, "contact", "email", 0.97, {"EMAIL_ADDRESS": 97}, 100, 1.0, "contact")),
        references=(StoreForeignKey("customers", ("address_id", "region"), "addresses", ("id", "region"), True),),
    )
    return DataMap(at, (customers, *extra), errors={"storage": "system 'storage': listing bucket x failed (AccessDenied)"}, sample_size=100)


def test_map_round_trips_through_the_control_database(sql_url: str) -> None:
    first = _map(dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC))
    logs = CollectionProfile("crm", "call_logs", columns=(ColumnProfile("caller", "TEXT", True, "contact", "phone", 0.9, {"PHONE_NUMBER": 9}, 10, 1.0),))
    second = _map(dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC), logs)
    sessions = session_factory(sql_url)
    with sessions() as session:
        assert record_map(session, first) is None
        session.commit()
    with sessions() as session:
        assert record_map(session, second) == first
        session.commit()
    with sessions() as session:
        assert latest_map(session) == second
        assert latest_map(session, systems=["crm"]) == DataMap(second.scanned_at, second.collections, {}, 100)
    assert [str(g) for g in drift(first, second)] == ["new_collection: crm.call_logs (contact): 1 personal column(s)"]


def test_drift_reports_new_personal_columns_and_nothing_without_a_baseline() -> None:
    at = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    before = DataMap(at, (CollectionProfile("crm", "t", columns=(ColumnProfile("a", "TEXT", True), ColumnProfile("b", "TEXT", True))),))
    after = DataMap(at, (CollectionProfile("crm", "t", columns=(
        ColumnProfile("a", "TEXT", True, "name", None, 0.8, {"PERSON": 8}, 10, examined=10),
        ColumnProfile("b", "TEXT", True, "name", None, 0.45, {"PERSON": 1}, 10, hint="name", examined=12),  # at the threshold: not drift
        ColumnProfile("c", "TEXT", True, "contact", "email", 1.0, {"EMAIL_ADDRESS": 10}, 10, 1.0))),
        CollectionProfile("billing", "x", columns=(ColumnProfile("c", "TEXT", True, "contact"),))))
    assert {(g.kind, g.column) for g in drift(before, after)} == {("newly_personal", "a"), ("new_column", "c")}  # billing: no baseline
    assert drift(None, after) == ()
    assert merge([before, DataMap(at, errors={"s3": "down"})]).errors == {"s3": "down"}


def test_coverage_knows_normal_form_columns_and_reference_fields_are_reached() -> None:
    """phone_e164 (a phone's declared normal form) and customer_no (a declared reference) need no
    identity of their own; an email column declared without one does."""
    dataset = DatasetConfig.model_validate({"system": "crm", "collections": {"customers": {
        "primary_key": ["id"], "references": [{"field": "customer_no", "to": "billing.accounts.customer_no"}],
        "fields": {"id": {}, "phone": {"identity": "phone", "match": {"column": "phone_e164"}}, "phone_e164": {}, "customer_no": {}, "email": {}}}}})
    found = CollectionProfile("crm", "customers", columns=(ColumnProfile("id", "INTEGER", False),) + tuple(
        ColumnProfile(name, "TEXT", True, category, identity, 0.9, {}, 50, 1.0, examined=5)
        for name, category, identity in (("phone", "contact", "phone"), ("phone_e164", "contact", "phone"),
                                         ("customer_no", "identifier", "customer_id"), ("email", "contact", "email"))))
    result = coverage(DataMap(dt.datetime.now(dt.UTC), (found,)), {"crm": dataset})
    assert [(g.kind, g.column) for g in result.gaps] == [("undeclared_identity", "email")]
    assert (result.found, result.declared, result.ratio) == (4, 4, 1.0)


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def estate_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    _load(url, _rows(3))
    config = tmp_path / "config"
    (config / "datasets").mkdir(parents=True)
    yaml = YAML()
    with open(config / "estate.yaml", "w") as fh:
        yaml.dump({"control_db": f"sqlite:///{tmp_path / 'control.db'}", "hmac_key_file": str(tmp_path / "keys/hmac.key"),
                   "signing_key_file": str(tmp_path / "keys/signing.pem"), "keyring_file": str(tmp_path / "keys/keyring.json")}, fh)
    with open(config / "systems.yaml", "w") as fh:
        yaml.dump({"systems": {"shop": {"kind": "sql", "url": url}}}, fh)
    with open(config / "datasets" / "shop.yaml", "w") as fh:
        yaml.dump(DATASET, fh)
    yield config, url  # note: no policies.yaml: mapping comes before policy


def _cli(*args: str | Path) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"hkt-dsr {' '.join(map(str, args))} crashed: {result.exception!r}\n{result.output}") from result.exception
    return result


def test_cli_scans_before_any_policy_exists_and_reports_drift(estate_dir: tuple[Path, str], tmp_path: Path) -> None:
    config, url = estate_dir
    keys = _cli("keys", "init", "--config", config)
    assert keys.exit_code == 0, keys.output
    assert (tmp_path / "keys" / "signing.pem").exists()

    first = _cli("datamap", "scan", "shop", "--sample", "30", "--page", tmp_path / "pages", "--config", config)
    assert first.exit_code == 0, first.output
    out = " ".join(first.output.split())
    page = (tmp_path / "pages" / "datamap.html").read_text(encoding="utf-8")
    assert "col17" in page and not {v for v in _values(_rows(3)) if v in page}
    assert "contact_log" in out and "col17" in out and "unmapped_collection: shop.contact_log" in out
    assert "undeclared_identity: shop.customers.phone" in out and "0 change(s) since the last scan" in out
    assert not {v for v in _values(_rows(3)) if v in first.output}  # evidence counts, never values

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE referrals (id INTEGER PRIMARY KEY, friend_email TEXT)"))
        conn.execute(text("INSERT INTO referrals VALUES (:i, :e)"), [{"i": i, "e": f"friend{i}@example.org"} for i in range(25)])
    engine.dispose()
    second = _cli("datamap", "scan", "--config", config)
    assert second.exit_code == 0, second.output
    assert "new_collection: shop.referrals (contact)" in " ".join(second.output.split())
    with sqlite3.connect(tmp_path / "control.db") as db:
        assert db.execute("SELECT count(*) FROM data_maps WHERE system = 'shop'").fetchone() == (2,)

    unknown = _cli("datamap", "scan", "nowhere", "--config", config)
    assert unknown.exit_code == 1 and "unknown system(s) nowhere" in unknown.output


@pytest.mark.prefect
def test_nightly_flow_publishes_the_map_and_fails_on_new_personal_data(prefect_harness: None, estate_dir: tuple[Path, str], tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.datamap import DataMapDrift, datamap_scan

    config, url = estate_dir
    pages = tmp_path / "pages"
    result = datamap_scan(str(config), sample=30, page_dir=str(pages))
    html = (pages / "datamap.html").read_text(encoding="utf-8")
    assert Path(result["page"]).read_text(encoding="utf-8") == html and result["unmapped"] >= 2
    assert "contact_log" in html and "in no dataset" in html and "http" not in html.split("<body>")[1]  # nothing to fetch
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["datamap"])), limit=1)
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert {"collection": "contact_log", "column": "col17", "category": "contact", "identity": "email"}.items() <= next(
        r for r in rows if r["column"] == "col17").items()
    published = html + json.dumps(rows)
    assert not {v for v in _values(_rows(3)) if v in published}

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE genres ADD COLUMN curator_email TEXT"))
        conn.execute(text("UPDATE genres SET curator_email = 'curator' || id || '@example.org'"))
    engine.dispose()
    with pytest.raises(DataMapDrift, match=r"new_column: shop\.genres\.curator_email \(contact\)"):
        datamap_scan(str(config), sample=30, page_dir=str(pages))
    assert "curator_email" in (pages / "datamap.html").read_text(encoding="utf-8")


def _estate_stub() -> Any:
    """What the page needs of an estate: systems and datasets (none declared here)."""
    from types import SimpleNamespace

    return SimpleNamespace(systems={}, datasets={})
