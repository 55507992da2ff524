"""Benchmark: the data map's classification and scan time on a PostgreSQL schema of 200 tables.

What it measures
    The wall-clock time of `dsr.datamap.scan.scan_system` (the project's real code: the SQL
    connector's `schema()` and `sample()`, then `dsr.datamap.classify.Classifier` with Presidio,
    our recognizers and spaCy) over a generated schema, and how well its verdicts match the labels
    the generator knows: precision and recall of "identity field" (email, phone, customer number),
    of "personal column", and of each category.

    Targets: identity-field recall 1.0 and precision >= 0.95; personal-column recall >= 0.95; the
    whole scan under 60 s; no table read in full (every sample within --sample rows, and
    PostgreSQL's own counters show no table's rows all read).

The data
    Schema `bench_datamap` (dropped before and after unless --keep): --tables tables of about 20
    columns, built by rules from column generators. Each generator knows its label (category,
    identity kind) and draws its column's name from realistic variants, some of them misleading:
    `name` on a genre table, `title` holding song titles, `col17` holding emails, `holder` holding
    people's names, `email_sent` holding booleans, `phone_model` holding handset models. Values come
    from Faker (en_US, en_GB, ja_JP) pools, phone numbers in Japanese, British, US, German, French
    and Hong Kong forms, national and international; rows are filled on the server with
    generate_series. Every 20th table has --large-rows rows, the others --rows.

What it does not show
    The misleading names are for data the values give away (emails, phone numbers, people's
    names, song titles). Customer numbers, dates of birth and postcodes look like any code, date
    or number: there the column name is needed, and the generator's names come from the same
    vocabulary as the classifier's hints, so those figures are optimistic for schemas that name
    such columns otherwise. Japanese names in kanji count as names only in a column named for
    people (the installed spaCy model reads English). Sampling is random (TABLESAMPLE), so a run's
    figures vary a little.

How to run (from the project root; PostgreSQL with trust auth, or PGPASSWORD set)
    .venv/bin/python benchmarks/datamap.py
    .venv/bin/python benchmarks/datamap.py --tables 50 --rows 2000 --sample 60 --keep

Exit status: 0 when every target is met, 2 when one is missed. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faker import Faker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.sql import SqlConnector  # noqa: E402
from dsr.config import DatasetConfig, SystemConfig  # noqa: E402
from dsr.datamap.classify import Classifier  # noqa: E402
from dsr.datamap.scan import DEFAULT_SAMPLE, scan_system  # noqa: E402
from scanners.settings import ScannerConfig  # noqa: E402

SCHEMA = "bench_datamap"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POOL = 3000  # distinct values drawn per generated text column (rows cycle through them)


@dataclass(frozen=True)
class Gen:
    """A column generator: its label, the names a real schema gives such a column, its SQL type, and
    either a pool of values (cycled by row number) or a server-side SQL expression of the row number g."""

    label: str  # category, or "none"
    identity: str | None
    names: tuple[str, ...]
    sql_type: str = "text"
    pool: Callable[[Faker, random.Random], list[Any]] | None = None
    expression: str | None = None


def _phones(fake: Faker, rng: random.Random) -> list[str]:
    def one() -> str:
        a, b, c = rng.randint(1000, 9999), rng.randint(1000, 9999), rng.randint(100, 999)
        return rng.choice([
            f"090-{a}-{b}", f"+81 80 {a} {b}", f"0{rng.choice([3, 6])}-{a}-{b}", f"+44 20 7946 {a % 1000:03d}{b % 10}", f"020 7946 {a}",
            f"07700 900{c}", f"(415) 555-{a}", f"+1 212-555-{b}", f"+49 30 {a}{b}", f"+33 1 {a // 100:02d} {a % 100:02d} {b // 100:02d} {b % 100:02d}",
            f"+852 {rng.choice([5, 6, 9])}{c} {b}", fake["ja_JP"].phone_number(), fake["en_GB"].phone_number(),
        ])
    return [one() for _ in range(POOL)]


def _my_number(rng: random.Random) -> str:
    """A 12-digit Individual Number with its mod-11 check digit."""
    digits = [rng.randint(0, 9) for _ in range(11)]
    total = sum(d * (n + 1 if n <= 6 else n - 5) for n, d in enumerate(reversed(digits), start=1))
    check = 0 if total % 11 <= 1 else 11 - total % 11
    return "".join(map(str, digits)) + str(check)


GENRES = ["Jazz", "Rock", "Hip Hop", "Blues", "Classical", "Country", "Electronic", "Reggae", "Soul", "Funk", "Metal", "Punk", "Folk",
          "Gospel", "Disco", "Ambient", "House", "Techno", "Bossa Nova", "Ska", "Enka", "City Pop", "Grunge", "Trance"]

PERSONAL = [
    Gen("contact", "email", ("email", "email_address", "contact_email", "e_mail", "login", "col17", "mail_to"),
        pool=lambda f, r: list(dict.fromkeys(f.unique.email() for _ in range(POOL)))),
    Gen("contact", "phone", ("phone", "tel", "mobile", "contact_number", "msisdn", "col9", "phone_no"), pool=_phones),
    Gen("identifier", "customer_id", ("customer_no", "customer_number", "member_id", "cust_code", "account_no", "membership_no"),
        expression="'{prefix}' || lpad((g + {offset})::text, 10, '0')"),
    Gen("name", None, ("full_name", "customer_name", "contact_name", "holder", "col4", "display_name"),
        pool=lambda f, r: [f["en_US"].name() if r.random() < 0.5 else f["en_GB"].name() for _ in range(POOL)]),
    Gen("name", None, ("first_name", "given_name", "firstname"), pool=lambda f, r: [f.first_name() for _ in range(POOL)]),
    Gen("name", None, ("last_name", "surname", "family_name"), pool=lambda f, r: [f.last_name() for _ in range(POOL)]),
    Gen("address", None, ("city", "town", "billing_city"), pool=lambda f, r: [f["en_US"].city() if r.random() < 0.6 else f["en_GB"].city() for _ in range(POOL)]),
    Gen("address", None, ("state", "region", "prefecture"), pool=lambda f, r: [f["en_US"].state() if r.random() < 0.7 else f["ja_JP"].prefecture() for _ in range(POOL)]),
    Gen("address", None, ("zip", "postcode", "postal_code", "zip_code"),
        pool=lambda f, r: [r.choice([f["en_US"].zipcode(), f["en_GB"].postcode(), "〒" + f["ja_JP"].zipcode(), f["ja_JP"].zipcode()]) for _ in range(POOL)]),
    Gen("address", None, ("street", "address_line1", "address", "line1"), pool=lambda f, r: [f["en_US"].street_address() for _ in range(POOL)]),
    Gen("date_of_birth", None, ("birth_date", "dob", "date_of_birth", "born_on"), "date", expression="date '1936-01-01' + ((g * 7919) % 25000)"),
    Gen("free_text", None, ("note", "comment", "remarks", "body", "agent_notes"),
        pool=lambda f, r: [r.choice([
            f"{f.name()} called about the {r.choice(['invoice', 'router', 'roaming charges', 'contract'])}; call back on {f['ja_JP'].phone_number()}",
            f"Customer asked to update the email to {f.email()} before the next bill.",
            f"Spoke with {f.name()} ({f.email()}), promised a refund within 5 days.",
        ]) for _ in range(POOL)]),
    Gen("network", None, ("ip", "ip_address", "last_login_ip", "client_addr"), pool=lambda f, r: [f.ipv4() if r.random() < 0.8 else f.ipv6() for _ in range(POOL)]),
    Gen("financial", None, ("card_number", "pan", "cc_number"), pool=lambda f, r: [f.credit_card_number() for _ in range(POOL)]),
    Gen("national_id", None, ("my_number", "individual_number"), pool=lambda f, r: [_my_number(r) for _ in range(POOL)]),
    Gen("contact", None, ("last_sender", "reply_to"), pool=lambda f, r: [f.email() for _ in range(8)]),  # a few addresses repeating: not an identity
]

NOT_PERSONAL = [
    Gen("none", None, ("name", "genre", "title", "category"), pool=lambda f, r: list(GENRES)),
    Gen("none", None, ("title", "track_name", "song", "name"), pool=lambda f, r: [" ".join(f.words(r.randint(1, 4))).title() for _ in range(POOL)]),
    Gen("none", None, ("product_name", "name", "item", "sku_name"), pool=lambda f, r: [f.catch_phrase() for _ in range(POOL)]),
    Gen("none", None, ("supplier", "vendor", "label"), pool=lambda f, r: [f.company() for _ in range(400)]),
    Gen("none", None, ("colour", "color", "finish"), pool=lambda f, r: [f.color_name() for _ in range(POOL)]),
    Gen("none", None, ("status", "state_code", "stage"), pool=lambda f, r: ["active", "closed", "pending", "suspended", "ACTIVE", "on_hold"]),
    Gen("none", None, ("currency", "ccy"), pool=lambda f, r: ["JPY", "USD", "HKD", "GBP", "EUR"]),
    Gen("none", None, ("country_code", "market"), pool=lambda f, r: ["JP", "HK", "GB", "US", "DE"]),
    Gen("none", None, ("description", "summary", "details"), pool=lambda f, r: [f.paragraph(nb_sentences=3) for _ in range(POOL)]),
    Gen("none", None, ("sku", "item_no", "part_code"), expression="'SKU-' || ((g * 7) % 99991)::text || '-' || chr(65 + g % 26)"),
    Gen("none", None, ("order_no", "invoice_no", "ticket_ref"), expression="'ORD-' || lpad(g::text, 9, '0')"),
    Gen("none", None, ("checksum", "etag", "hash"), expression="md5(g::text)"),
    Gen("none", None, ("imei", "device_serial"), expression="lpad(((g::bigint * 7919 * 104729) % 1000000000000000)::text, 15, '3')"),
    Gen("none", None, ("email_sent", "phone_verified", "is_active", "opted_in"), "boolean", expression="(g % 3 = 0)"),
    Gen("none", None, ("phone_model", "handset"), pool=lambda f, r: ["iPhone 15", "iPhone 14 Pro", "Galaxy S24", "Pixel 8", "Xperia 10 V", "AQUOS sense8"]),
    Gen("none", None, ("amount", "total", "price", "balance"), "numeric(12,2)", expression="((g * 7919) % 100000) / 100.0"),
    Gen("none", None, ("quantity", "qty", "seconds", "duration"), "integer", expression="(g * 31) % 500"),
    Gen("none", None, ("created_at", "updated_at", "released_on", "shipped_on"), "date", expression="date '1965-01-01' + ((g * 13) % 22000)"),
    Gen("none", None, ("url", "homepage", "link"), pool=lambda f, r: [f"https://shop.example.com/p/{f.slug()}" for _ in range(POOL)]),
]


@dataclass(frozen=True)
class Planned:
    table: str
    column: str
    gen: Gen
    rows: int


def plan(tables: int, rows: int, large_rows: int, seed: int) -> tuple[list[Planned], dict[str, int]]:
    """Which tables have which columns: people-like tables carry most personal generators, catalogue
    and operational tables mostly not; every generator's name is drawn from its variants."""
    rng = random.Random(seed)
    kinds = ["customers", "members", "contacts", "tracks", "products", "genres", "orders", "events", "tickets", "devices"]
    columns: list[Planned] = []
    sizes: dict[str, int] = {}
    for t in range(tables):
        kind = kinds[t % len(kinds)]
        name = f"{kind}_{t:03d}"
        size = large_rows if t % 20 == 19 else rows
        sizes[name] = size
        personal_share = {"customers": 0.7, "members": 0.6, "contacts": 0.6, "tickets": 0.35, "orders": 0.2, "events": 0.2}.get(kind, 0.0)
        chosen: list[Gen] = []
        while len(chosen) < 19:
            pool = PERSONAL if rng.random() < personal_share else NOT_PERSONAL
            gen = rng.choice(pool)
            if gen not in chosen or gen.label == "none":
                chosen.append(gen)
        used = {"id"}
        for gen in chosen:
            candidates = [n for n in gen.names if n not in used] or [f"{gen.names[0]}_{len(used)}"]
            column = rng.choice(candidates)
            if column.startswith("col"):
                column = f"col{len(used)}"  # misleading names are numbered like the rest of a legacy table
            used.add(column)
            columns.append(Planned(name, column, gen, size))
    return columns, sizes


def build(url: str, columns: list[Planned], sizes: dict[str, int], seed: int) -> None:
    fake = Faker(["en_US", "en_GB", "ja_JP"])
    fake.seed_instance(seed)
    rng = random.Random(seed)
    pools: dict[int, str] = {}  # generator -> the temporary table holding its values
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    by_table: dict[str, list[Planned]] = {}
    for c in columns:
        by_table.setdefault(c.table, []).append(c)
    with engine.begin() as conn:
        conn.execute(text(f"SET search_path = {SCHEMA}"))
        for n, (table, cols) in enumerate(by_table.items()):
            ddl = ", ".join(f'"{c.column}" {c.gen.sql_type}' for c in cols)
            conn.execute(text(f'CREATE TABLE "{table}" (id bigint PRIMARY KEY, {ddl})'))
            exprs, joins = [], []
            for i, c in enumerate(cols):
                if c.gen.expression:
                    exprs.append(c.gen.expression.format(prefix=rng.choice(["C-", "M", "HKT-"]), offset=n * 10**6))
                    continue
                key = id(c.gen)
                if key not in pools:
                    assert c.gen.pool is not None
                    pools[key] = f"pool_{len(pools)}"
                    conn.execute(text(f"CREATE TEMPORARY TABLE {pools[key]} (i int PRIMARY KEY, v text)"))
                    conn.execute(text(f"INSERT INTO {pools[key]} SELECT i - 1, v FROM unnest(CAST(:values AS text[])) WITH ORDINALITY AS u(v, i)"),
                                 {"values": [str(v) for v in c.gen.pool(fake, rng)]})
                pool = pools[key]
                joins.append(f"JOIN {pool} t{i} ON t{i}.i = (g * 7919 + {i * 101}) % (SELECT count(*) FROM {pool})")
                exprs.append(f"t{i}.v")
            conn.execute(text(f'INSERT INTO "{table}" SELECT g, {", ".join(exprs)} FROM generate_series(1, {sizes[table]}) g {" ".join(joins)}'))
    engine.dispose()


def _prf(truth: Sequence[bool], predicted: Sequence[bool]) -> tuple[float, float, int]:
    tp = sum(1 for t, p in zip(truth, predicted) if t and p)
    positives, claimed = sum(truth), sum(predicted)
    return (tp / claimed if claimed else 1.0), (tp / positives if positives else 1.0), positives


def tuples_read(url: str) -> dict[str, int]:
    """Rows PostgreSQL's counters say each table had read (sequential and through indexes)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables WHERE schemaname = :s"),
                            {"s": SCHEMA}).all()
    engine.dispose()
    return dict(rows)


def run(args: argparse.Namespace) -> int:
    url = make_url(args.url).update_query_dict({"options": f"-csearch_path={SCHEMA}"}).render_as_string(hide_password=False)
    columns, sizes = plan(args.tables, args.rows, args.large_rows, args.seed)
    started = time.perf_counter()
    build(args.url, columns, sizes, args.seed)
    print(f"built {len(sizes)} tables, {len(columns) + len(sizes)} columns, {sum(sizes.values()):,} rows in {time.perf_counter() - started:.1f} s")
    classifier = Classifier(ScannerConfig())
    classifier.analyzer  # noqa: B018 - load spaCy and Presidio before the clock starts (a nightly run pays it once)
    before = tuples_read(url)
    connector = SqlConnector("bench", SystemConfig(kind="sql", url=url), DatasetConfig(system="bench", collections={}))
    started = time.perf_counter()
    try:
        profiles = scan_system(connector, classifier, args.sample)
    finally:
        connector.close()
    elapsed = time.perf_counter() - started
    time.sleep(1.5)  # PostgreSQL publishes a backend's counters within a second of its going idle
    after = tuples_read(url)

    found = {(p.name, c.name): c for p in profiles for c in p.columns}
    truth = [(c, found[(c.table, c.column)]) for c in columns]
    misses = [f"{c.table}.{c.column}: {c.gen.label}/{c.gen.identity} -> {p.category}/{p.identity} {p.evidence}" for c, p in truth
              if (c.gen.label, c.gen.identity) != (p.category, p.identity)]
    right = sum(1 for c, p in truth if p.identity is not None and p.identity == c.gen.identity)
    claimed, n_id = sum(1 for _, p in truth if p.identity), sum(1 for c, _ in truth if c.gen.identity)
    ip, ir = (right / claimed if claimed else 1.0), (right / n_id if n_id else 1.0)
    pp, pr, n_personal = _prf([c.gen.label != "none" for c, _ in truth], [p.category != "none" for _, p in truth])
    print(f"\nscan: {elapsed:.1f} s for {len(profiles)} tables ({args.sample} rows sampled per table at most)")
    print(f"{'label':<16}{'columns':>8}{'precision':>11}{'recall':>8}")
    print(f"{'identity field':<16}{n_id:>8}{ip:>11.3f}{ir:>8.3f}")
    print(f"{'personal':<16}{n_personal:>8}{pp:>11.3f}{pr:>8.3f}")
    labels = sorted({c.gen.label for c, _ in truth} | {p.category for _, p in truth})
    for label in labels:
        p_, r_, n_ = _prf([c.gen.label == label for c, _ in truth], [p.category == label for _, p in truth])
        print(f"  {label:<14}{n_:>8}{p_:>11.3f}{r_:>8.3f}")
    for kind in ("email", "phone", "customer_id"):
        p_, r_, n_ = _prf([c.gen.identity == kind for c, _ in truth], [p.identity == kind for _, p in truth])
        print(f"  identity {kind:<5}{n_:>8}{p_:>11.3f}{r_:>8.3f}")
    if misses:
        kinds = Counter(f"{c.gen.label}/{c.gen.identity} -> {p.category}/{p.identity}" for c, p in truth if (c.gen.label, c.gen.identity) != (p.category, p.identity))
        print(f"\n{len(misses)} column(s) classified otherwise than labelled: " + "; ".join(f"{k} x{n}" for k, n in kinds.most_common()))
        for line in misses[:args.show]:
            print("  " + line)

    sampled_max = max(p.sampled_rows for p in profiles)
    read = {t: after.get(t, 0) - before.get(t, 0) for t in sizes}
    worst = max(sizes, key=lambda t: read[t] / sizes[t])
    print(f"\nlargest sample: {sampled_max} rows; most read of one table: {read[worst]:,} of {sizes[worst]:,} rows ({worst}); "
          f"rows read in all: {sum(read.values()):,} of {sum(sizes.values()):,}")
    targets = {
        "identity recall 1.0": ir == 1.0, "identity precision >= 0.95": ip >= 0.95, "personal recall >= 0.95": pr >= 0.95,
        "scan < 60 s": elapsed < 60, "no table read in full": sampled_max <= args.sample and all(read[t] < sizes[t] for t in sizes),
    }
    for name, ok in targets.items():
        print(f"{'PASS' if ok else 'MISS'}  {name}")
    if not args.keep:
        engine = create_engine(args.url)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
        engine.dispose()
    print(f"scan_s={elapsed:.1f} identity_precision={ip:.3f} identity_recall={ir:.3f} personal_precision={pp:.3f} personal_recall={pr:.3f} "
          f"max_rows_read={max(read.values())}")
    return 0 if all(targets.values()) else 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=200, help="tables to generate (default 200)")
    parser.add_argument("--rows", type=int, default=5000, help="rows of an ordinary table (default 5,000)")
    parser.add_argument("--large-rows", type=int, default=100_000, help="rows of every 20th table (default 100,000)")
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help=f"rows sampled per table (default {DEFAULT_SAMPLE})")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"PostgreSQL URL, without search_path (default {DEFAULT_URL})")
    parser.add_argument("--keep", action="store_true", help=f"leave schema {SCHEMA} in place at the end")
    parser.add_argument("--show", type=int, default=25, help="misclassified columns to list (default 25)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
