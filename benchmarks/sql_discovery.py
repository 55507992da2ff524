"""Benchmark: SQL discovery of one data subject in a PostgreSQL table of a million customers.

What it measures
    The wall-clock time of `dsr.discovery.discover` (the project's real code, through the real
    `connectors.sql.SqlConnector` found by `connectors.registry.open_connector`) for one subject,
    end to end: identity lookup on `customers` by email (matched through a `lower(email)`
    expression index) and phone (see --phone-match), then the reference walk to the subject's
    `orders` and `order_items` through their foreign-key indexes. Every result is checked
    against the database: exactly the subject's customer row, orders and order items, nothing else.

    As a baseline it times a naive discovery for a few of the same subjects: `SELECT * FROM
    customers` streamed through the same engine, each row compared in Python with
    `Identifier.matches`, then the orders and order items of the ids found.

    Targets: discovery p95 under 50 ms per subject, and at least 100x faster than the baseline.

Phone matching (--phone-match)
    `spellings` (default): the dataset declares `match: {expression: spellings}` and the connector
    probes the usual spellings of the number with `phone IN (...)` through a plain index on phone.
    `digits`: the dataset declares no `match`, so the project's default for phone numbers applies
    (`regexp_replace(phone, '[^0-9]', '', 'g') IN (...)`), and the build adds an index on exactly
    that expression.

The data
    Synthetic only, generated on the server with `generate_series` in a dedicated schema
    `bench_dsr`, which is dropped before the run and again at the end (unless --keep). Emails are
    `user{n}@example.com` (every 7th `User{n}@...`); phones are unique Japanese mobile numbers
    (070/080/090 + 8 digits) in four spellings ('090-1234-5678', '09012345678', '090 1234 5678',
    '+81 90-1234-5678'). Subjects are looked up with an email in a different case for two thirds
    of them and with the phone written '+81 90 1234 5678', so both matches need normalisation.

How to run (from the project root; PostgreSQL with trust auth, or PGPASSWORD set)
    .venv/bin/python benchmarks/sql_discovery.py                       # 1M customers, 100 subjects
    .venv/bin/python benchmarks/sql_discovery.py --rows 100000 --subjects 20
    .venv/bin/python benchmarks/sql_discovery.py --phone-match digits
    .venv/bin/python benchmarks/sql_discovery.py --url postgresql+psycopg://postgres@host:5432/db --keep

Exit status: 0 when every result is right and both targets are met, 1 when a discovery result
is wrong (the message says which), 2 when the results are right but a target is missed. The
last line of output is machine-readable: `p50_ms=... p95_ms=... baseline_ms=... speedup=...`.
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from sqlalchemy import Engine, bindparam, create_engine, event, text
from sqlalchemy.engine import make_url

from connectors.base import Connector, Key
from connectors.registry import open_connector
from dsr.config import Estate, load_estate
from dsr.discovery import Discovery, discover
from dsr.subject import Identifier, IdentifierKind, Subject

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_dsr"
SYSTEM = "bench"
SEED = 20_240_601
TARGET_P95_MS = 50.0
TARGET_SPEEDUP = 100.0
STREAM_CHUNK = 10_000
PHONE_MATCHES = ("spellings", "digits")
DIGITS_INDEX = f"CREATE INDEX customers_phone_digits_idx ON {SCHEMA}.customers (regexp_replace(phone, '[^0-9]', '', 'g'))"

Expected = set[tuple[str, Key]]
"""(collection, primary key) of every record that belongs to one subject."""


# --------------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers to generate (default 1,000,000)")
    parser.add_argument("--subjects", type=int, default=100, help="subjects to discover (default 100)")
    parser.add_argument(
        "--baseline-subjects",
        type=int,
        default=3,
        help="how many of those subjects the slow naive baseline runs for (default 3; it reads the whole table each time)",
    )
    parser.add_argument(
        "--phone-match",
        choices=PHONE_MATCHES,
        default="spellings",
        help="spellings: IN probe on a plain index (default); digits: the project's default digits() match, with an expression index",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"PostgreSQL URL, without search_path (default {DEFAULT_URL})")
    parser.add_argument("--keep", action="store_true", help=f"leave schema {SCHEMA} in place at the end")
    args = parser.parse_args(argv)
    if not 1 <= args.rows <= 99_999_999:
        parser.error("--rows must be between 1 and 99,999,999 (phone numbers have 8 free digits)")
    if not 1 <= args.subjects < args.rows:
        parser.error("--subjects must be at least 1 and less than --rows (one more customer warms up)")
    if not 1 <= args.baseline_subjects:
        parser.error("--baseline-subjects must be at least 1")
    args.baseline_subjects = min(args.baseline_subjects, args.subjects)
    if make_url(args.url).get_backend_name() != "postgresql":
        parser.error("--url must be a PostgreSQL URL")
    return args


def schema_url(url: str) -> str:
    """The URL with every session's search_path set to the benchmark schema."""
    return make_url(url).update_query_dict({"options": f"-csearch_path={SCHEMA}"}).render_as_string(hide_password=False)


# --------------------------------------------------------------------------- building the data


_PHONE_DIGITS = "lpad(((n * 48271) % 100000000)::text, 8, '0')"  # 48271 is coprime with 10^8: unique per n
_PHONE_PREFIX = "(ARRAY['090', '080', '070'])[1 + n % 3]"

BUILD: list[tuple[str, str]] = [
    ("create tables", f"""
        CREATE TABLE {SCHEMA}.customers (id bigint NOT NULL, customer_no text NOT NULL, email text, phone text, full_name text);
        CREATE TABLE {SCHEMA}.orders (id bigserial NOT NULL, customer_id bigint NOT NULL, total numeric);
        CREATE TABLE {SCHEMA}.order_items (id bigserial NOT NULL, order_id bigint NOT NULL, sku text)
    """),
    ("insert customers", f"""
        INSERT INTO {SCHEMA}.customers (id, customer_no, email, phone, full_name)
        SELECT n,
               'C' || lpad(n::text, 9, '0'),
               CASE WHEN n % 7 = 0 THEN 'User' ELSE 'user' END || n || '@example.com',
               CASE n % 4
                   WHEN 0 THEN p || '-' || substr(d, 1, 4) || '-' || substr(d, 5, 4)
                   WHEN 1 THEN p || d
                   WHEN 2 THEN p || ' ' || substr(d, 1, 4) || ' ' || substr(d, 5, 4)
                   ELSE '+81 ' || substr(p, 2) || '-' || substr(d, 1, 4) || '-' || substr(d, 5, 4)
               END,
               (ARRAY['Sato', 'Suzuki', 'Takahashi', 'Tanaka', 'Ito', 'Watanabe', 'Yamamoto', 'Nakamura'])[1 + n % 8]
               || ' ' ||
               (ARRAY['Taro', 'Hanako', 'Yuki', 'Haruto', 'Aoi', 'Sota', 'Yui', 'Ren'])[1 + (n / 8) % 8]
        FROM generate_series(1, CAST(:rows AS bigint)) AS n,
             LATERAL (SELECT {_PHONE_PREFIX} AS p, {_PHONE_DIGITS} AS d) AS phone
    """),
    # 1 to 3 orders per customer (2 on average), interleaved across customers like real order history.
    ("insert orders", f"""
        INSERT INTO {SCHEMA}.orders (customer_id, total)
        SELECT n, round(((n * 7919 + k * 104729) % 100000) / 100.0, 2)
        FROM generate_series(1, 3) AS k, generate_series(1, CAST(:rows AS bigint)) AS n
        WHERE k <= 1 + n % 3
    """),
    # One item per order, a second one for every 10th order.
    ("insert order_items", f"""
        INSERT INTO {SCHEMA}.order_items (order_id, sku)
        SELECT o.id, 'SKU-' || lpad(((o.id * 31 + k) % 100000)::text, 5, '0')
        FROM generate_series(1, 2) AS k, {SCHEMA}.orders AS o
        WHERE k = 1 OR o.id % 10 = 0
    """),
    ("keys and indexes", f"""
        ALTER TABLE {SCHEMA}.customers ADD PRIMARY KEY (id), ADD CONSTRAINT customers_customer_no_key UNIQUE (customer_no);
        CREATE INDEX customers_email_lower_idx ON {SCHEMA}.customers (lower(email));
        CREATE INDEX customers_email_idx ON {SCHEMA}.customers (email);
        CREATE INDEX customers_phone_idx ON {SCHEMA}.customers (phone);
        ALTER TABLE {SCHEMA}.orders ADD PRIMARY KEY (id),
            ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES {SCHEMA}.customers (id);
        CREATE INDEX orders_customer_id_idx ON {SCHEMA}.orders (customer_id);
        ALTER TABLE {SCHEMA}.order_items ADD PRIMARY KEY (id),
            ADD CONSTRAINT order_items_order_id_fkey FOREIGN KEY (order_id) REFERENCES {SCHEMA}.orders (id);
        CREATE INDEX order_items_order_id_idx ON {SCHEMA}.order_items (order_id)
    """),
    # VACUUM as well as ANALYZE: sets hint bits and the visibility map now, not during the timed runs.
    ("vacuum analyze", f"VACUUM (ANALYZE) {SCHEMA}.customers, {SCHEMA}.orders, {SCHEMA}.order_items"),
]


def drop_schema(admin: Engine) -> None:
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))


def build(admin: Engine, rows: int, phone_match: str) -> dict[str, int]:
    """Create the schema and its data on the server; returns the row count of each table."""
    steps = list(BUILD)
    if phone_match == "digits":
        steps.insert(-1, ("phone digits index", DIGITS_INDEX))
    drop_schema(admin)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        for label, sql in steps:
            started = time.perf_counter()
            for statement in (s for s in sql.split(";") if s.strip()):
                conn.execute(text(statement), {"rows": rows} if ":rows" in statement else {})
            print(f"  {label:<20} {time.perf_counter() - started:7.2f} s", flush=True)
        return {
            table: conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.{table}")).scalar_one()
            for table in ("customers", "orders", "order_items")
        }


# --------------------------------------------------------------------------- configuration


DATASET: dict[str, Any] = {
    "system": SYSTEM,
    "collections": {
        "customers": {
            "primary_key": ["id"],
            "categories": ["customer_account"],
            "fields": {
                "id": {"categories": ["identifier"]},
                "customer_no": {"categories": ["identifier"], "identity": "customer_id"},
                "email": {"categories": ["contact"], "identity": "email", "match": {"expression": "lower"}},
                "phone": {"categories": ["contact"], "identity": "phone"},  # `match` set by --phone-match
                "full_name": {"categories": ["name"]},
            },
        },
        "orders": {
            "primary_key": ["id"],
            "categories": ["orders"],
            "fields": {"id": {"categories": ["identifier"]}, "customer_id": {"categories": ["identifier"]}, "total": {"categories": ["billing"]}},
            "references": [{"field": "customer_id", "to": "customers.id"}],
        },
        "order_items": {
            "primary_key": ["id"],
            "categories": ["orders"],
            "fields": {"id": {"categories": ["identifier"]}, "order_id": {"categories": ["identifier"]}, "sku": {"categories": ["orders"]}},
            "references": [{"field": "order_id", "to": "orders.id"}],
        },
    },
}

POLICY: dict[str, Any] = {
    "id": "bench-policy",
    "version": "1",
    "due_days": {"access": 30, "erase": 30},
    "access": {"export": ["contact"]},
    "erase": {},
}


def dataset(phone_match: str) -> dict[str, Any]:
    """The dataset; `digits` leaves phone's `match` out, so the project's default applies."""
    result = copy.deepcopy(DATASET)
    if phone_match == "spellings":
        result["collections"]["customers"]["fields"]["phone"]["match"] = {"expression": "spellings"}
    return result


def write_config(root: Path, url: str, phone_match: str) -> Estate:
    """A configuration directory with one SQL system, its dataset and a minimal policy, loaded."""
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    (root / "datasets").mkdir()
    documents = {
        "systems.yaml": {"systems": {SYSTEM: {"kind": "sql", "url": url, "description": "discovery benchmark (synthetic)"}}},
        "datasets/bench.yaml": dataset(phone_match),
        "policies.yaml": POLICY,
    }
    for name, data in documents.items():
        with (root / name).open("w", encoding="utf-8") as fh:
            yaml.dump(data, fh)
    return load_estate(root)


# --------------------------------------------------------------------------- subjects


@dataclass(frozen=True)
class Case:
    """One subject to find: the customer id, the spellings it is asked for by, what must be found."""

    customer_id: int
    email: str
    phone: str
    stored_email: str
    stored_phone: str
    expected: Expected

    def subject(self, kinds: Sequence[IdentifierKind] = (IdentifierKind.EMAIL, IdentifierKind.PHONE)) -> Subject:
        raw = {IdentifierKind.EMAIL: self.email, IdentifierKind.PHONE: self.phone}
        return Subject(tuple(Identifier.parse(kind, raw[kind]) for kind in kinds))


def respell_email(stored: str, i: int) -> str:
    """Two subjects in three ask with a case the store does not hold."""
    local, _, domain = stored.partition("@")
    if i % 3 == 0:
        return stored.upper()
    if i % 3 == 1:
        return f"{local.capitalize() if local.islower() else local.lower()}@{domain.upper()}"
    return stored


def respell_phone(stored: str) -> str:
    """'+81 90 1234 5678' for whichever of the four spellings the store holds."""
    digits = re.sub(r"\D", "", stored)
    national = "0" + digits[2:] if digits.startswith("81") else digits
    return f"+81 {national[1:3]} {national[3:7]} {national[7:]}"


def load_cases(engine: Engine, ids: Sequence[int]) -> list[Case]:
    """The subjects' stored identifiers and, as ground truth, every record that is theirs."""
    expanding = bindparam("ids", expanding=True)
    with engine.connect() as conn:
        customers = {
            row.id: row
            for row in conn.execute(text("SELECT id, email, phone FROM customers WHERE id IN :ids").bindparams(expanding), {"ids": list(ids)})
        }
        expected: dict[int, Expected] = {cid: {("customers", (cid,))} for cid in customers}
        for row in conn.execute(text("SELECT customer_id, id FROM orders WHERE customer_id IN :ids").bindparams(expanding), {"ids": list(ids)}):
            expected[row.customer_id].add(("orders", (row.id,)))
        items = text(
            "SELECT o.customer_id, i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.customer_id IN :ids"
        ).bindparams(expanding)
        for row in conn.execute(items, {"ids": list(ids)}):
            expected[row.customer_id].add(("order_items", (row.id,)))
    missing = [cid for cid in ids if cid not in customers]
    if missing:
        fail(f"customers {missing[:5]} are missing from the generated data")
    return [
        Case(cid, respell_email(customers[cid].email, i), respell_phone(customers[cid].phone), customers[cid].email, customers[cid].phone, expected[cid])
        for i, cid in enumerate(ids)
    ]


# --------------------------------------------------------------------------- checking and timing


def fail(message: str) -> None:
    print(f"FAIL: {message}", file=sys.stderr)
    raise SystemExit(1)


def check(case: Case, found: Discovery, label: str) -> None:
    """The discovery found exactly the subject's records, each once, and no links."""
    owned = [(f.collection, f.key) for f in found.owned() if f.system == SYSTEM]
    if len(owned) != len(found.findings) or len(set(owned)) != len(owned):
        fail(f"{label}: customer {case.customer_id}: unexpected links, other systems or duplicates in {len(found.findings)} findings")
    got = set(owned)
    if got != case.expected:
        missing, extra = sorted(case.expected - got, key=repr), sorted(got - case.expected, key=repr)
        fail(f"{label}: customer {case.customer_id}: missing {missing[:5]} ({len(missing)}), unexpected {extra[:5]} ({len(extra)})")


def timed(function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Milliseconds taken by function(*args), and its result."""
    started = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - started) * 1000.0, result


def naive_discover(engine: Engine, subject: Subject) -> Expected:
    """The baseline: read every customer, compare in Python, then fetch the orders and items found."""
    emails, phones = subject.of_kind(IdentifierKind.EMAIL), subject.of_kind(IdentifierKind.PHONE)
    found: Expected = set()
    with engine.connect() as conn:
        ids: list[int] = []
        rows = conn.execution_options(stream_results=True, yield_per=STREAM_CHUNK).execute(text("SELECT * FROM customers"))
        for row in rows:
            if any(i.matches(row.email) for i in emails) or any(i.matches(row.phone) for i in phones):
                ids.append(row.id)
        order_ids: list[int] = []
        if ids:
            query = text("SELECT id FROM orders WHERE customer_id IN :ids").bindparams(bindparam("ids", expanding=True))
            order_ids = list(conn.execute(query, {"ids": ids}).scalars())
        item_ids: list[int] = []
        if order_ids:
            query = text("SELECT id FROM order_items WHERE order_id IN :ids").bindparams(bindparam("ids", expanding=True))
            item_ids = list(conn.execute(query, {"ids": order_ids}).scalars())
    found |= {("customers", (i,)) for i in ids}
    found |= {("orders", (i,)) for i in order_ids}
    found |= {("order_items", (i,)) for i in item_ids}
    return found


@contextmanager
def capture_statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with their parameters) that the engine runs inside the block."""
    statements: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def plan_summary(engine: Engine, statements: Sequence[tuple[str, Any]]) -> list[str]:
    """For each captured SELECT: its table and the scan nodes PostgreSQL plans for it."""
    lines = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            table = re.search(r"\bFROM\s+(\w+)", statement)
            if not statement.lstrip().upper().startswith("SELECT") or table is None:
                continue
            plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
            scans = [node.strip().removeprefix("->").strip().split("  (")[0] for node in plan if "Scan" in node]
            lines.append(f"{table.group(1)}: {'; '.join(scans) or plan[0]}")
    return lines


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    url = schema_url(args.url)
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    print(f"PostgreSQL schema {SCHEMA} via {make_url(url).render_as_string(hide_password=True)}")
    print(f"building {args.rows:,} customers on the server ...", flush=True)
    started = time.perf_counter()
    counts = build(admin, args.rows, args.phone_match)
    build_s = time.perf_counter() - started
    print(f"  built in {build_s:.1f} s: " + ", ".join(f"{table} {n:,}" for table, n in counts.items()))

    connectors: dict[str, Connector] = {}

    def connect(system: str) -> Connector:
        if system not in connectors:
            connectors[system] = open_connector(estate, system)
        return connectors[system]

    try:
        with tempfile.TemporaryDirectory(prefix="dsr-bench-") as config_dir:
            estate = write_config(Path(config_dir), url, args.phone_match)
            connector = connect(SYSTEM)
            engine: Engine = connector.engine  # type: ignore[attr-defined]  # SqlConnector's engine, for the baseline

            rng = random.Random(SEED)
            ids = rng.sample(range(1, args.rows + 1), args.subjects + 1)
            warmup, *cases = load_cases(engine, ids)
            respelled = sum(c.email != c.stored_email for c in cases)
            print(f"{args.subjects} subjects (seed {SEED}): {respelled} asked with a differently-cased email, all with the phone as '+81 90 1234 5678'")

            # Untimed first call (it reflects the tables), with its SQL captured to show the plans.
            # Then one identifier at a time, to prove that each lookup finds the subject on its own.
            cold_ms, found = timed(discover, estate, connect, warmup.subject())
            check(warmup, found, "warm-up")
            with capture_statements(engine) as statements:
                check(warmup, discover(estate, connect, warmup.subject()), "warm-up")
            print(f"one discovery runs {len(statements)} SQL statements; their plans:")
            for line in plan_summary(engine, statements):
                print(f"  {line}")
            for warning in [*map(str, estate.warnings), *connector.check()]:
                print(f"  warning: {warning}")
            for kind in (IdentifierKind.EMAIL, IdentifierKind.PHONE):
                only_ms, found = timed(discover, estate, connect, warmup.subject([kind]))
                check(warmup, found, f"{kind.value} only")
                how = {f.how for f in found.owned() if f.collection == "customers"}
                if how != {f"identity:{kind.value}"}:
                    fail(f"{kind.value} only: customer found as {how}")
                print(f"  {kind.value}-only lookup ({warmup.email if kind is IdentifierKind.EMAIL else warmup.phone!r}): {only_ms:.1f} ms")

            print("discovery ...", flush=True)
            times: list[float] = []
            for case in cases:
                elapsed, found = timed(discover, estate, connect, case.subject())
                check(case, found, "discovery")
                how = {f.how for f in found.owned() if f.collection == "customers"}
                if how != {"identity:email,phone"}:
                    fail(f"discovery: customer {case.customer_id} confirmed as {how}, expected by email and phone")
                times.append(elapsed)

            baseline_cases = cases[: args.baseline_subjects]
            print(f"baseline (full table scan, Python matching) for {len(baseline_cases)} of the {len(cases)} subjects ...", flush=True)
            baseline: list[float] = []
            for case in baseline_cases:
                elapsed, got = timed(naive_discover, engine, case.subject())
                if got != case.expected:
                    fail(f"baseline: customer {case.customer_id}: found {len(got)} records, expected {len(case.expected)}")
                baseline.append(elapsed)
                print(f"  customer {case.customer_id}: {elapsed / 1000:.1f} s", flush=True)
    finally:
        for opened in connectors.values():
            opened.close()
        if args.keep:
            print(f"schema {SCHEMA} kept (--keep)")
        else:
            drop_schema(admin)
        admin.dispose()

    p50, p95, worst = statistics.median(times), percentile(times, 95), max(times)
    same = statistics.median(times[: len(baseline)])
    base50 = statistics.median(baseline)
    speedup = base50 / p50
    records = statistics.mean(len(c.expected) for c in cases)
    rows = [
        ("customers / orders / order_items", f"{counts['customers']:,} / {counts['orders']:,} / {counts['order_items']:,}"),
        ("build time", f"{build_s:.1f} s"),
        ("phone match", args.phone_match),
        ("subjects (discovery)", f"{len(times)}, {records:.1f} records each on average, all correct"),
        ("first discovery (reflects tables)", f"{cold_ms:.1f} ms (not counted)"),
        ("discovery p50 / p95 / max", f"{p50:.2f} / {p95:.2f} / {worst:.2f} ms per subject"),
        ("subjects (baseline)", f"{len(baseline)} (first {len(baseline)} of the {len(times)}; it scans the whole table each time)"),
        ("baseline p50", f"{base50:,.1f} ms per subject"),
        ("discovery p50, same subjects", f"{same:.2f} ms per subject"),
        ("speedup (baseline p50 / discovery p50)", f"{speedup:,.0f}x"),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    p95_ok, speed_ok = p95 < TARGET_P95_MS, speedup >= TARGET_SPEEDUP
    print()
    print(f"  {'PASS' if p95_ok else 'FAIL'}  discovery p95 {p95:.2f} ms < {TARGET_P95_MS:.0f} ms per subject")
    print(f"  {'PASS' if speed_ok else 'FAIL'}  speedup {speedup:,.0f}x >= {TARGET_SPEEDUP:.0f}x over the full-scan baseline")
    print(f"p50_ms={p50:.3f} p95_ms={p95:.3f} baseline_ms={base50:.1f} speedup={speedup:.1f}")
    return 0 if p95_ok and speed_ok else 2


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
