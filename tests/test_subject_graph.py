"""The subject graph on real PostgreSQL, MariaDB and SQLite (tests/graph_estate.py): rows the
customer points at, rows others share, staff that customers point at, tables no dataset declares,
systems that would fail half-way, inheritance children and views. Each case makes an access and
an erasure request through the plain functions and reads the stores afterwards."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, text

from connectors.base import ConnectorError
from dsr import fulfilment
from dsr.config import ConfigError, ReferenceConfig, RuleConfig, load_estate
from dsr.control.models import ActionRow, LedgerEntry
from dsr.erasure import discover_now, execute_system, make_plan, record_targets
from dsr.plan import ErasurePlan, PlanError
from dsr.requests import get_request
from dsr.runtime import Runtime
from tests import graph_estate as graph
from tests import shop
from tests.graph_estate import HANA, KEN, MIKA

RETAIL = ("staff", "addresses", "stores", "customers", "invoices")


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _plan_of(rt: Runtime, request_id: str) -> ErasurePlan:
    with rt.sessions() as session:
        return ErasurePlan.from_json(get_request(session, request_id).plan)


def _steps(plan: ErasurePlan) -> dict[tuple[str, str, tuple[str, ...]], int]:
    return {(s.collection, s.operation, s.fields): s.count for s in plan.steps}


def _estate(tmp_path, url: str) -> Runtime:
    graph.load(url)
    return graph.open_estate(tmp_path, {"retail": url})


def _untouched(url: str) -> None:
    """Nothing of the estate changed (every table as loaded)."""
    assert shop.rows(url, "select id from customers order by id") == [(1,), (2,), (3,), (4,), (5,)]
    assert shop.rows(url, "select id from addresses order by id") == [(10,), (11,), (12,)]
    assert shop.rows(url, "select id, customer_id, billing_name from invoices where id in (100, 101) order by id") == [(100, 1, "Mika Tanaka"), (101, 5, "Mika Tanaka")]
    assert shop.rows(url, "select count(*) from customers where support_rep_id = 1") == [(3,)]


# ------------------------------------------------------------------ the customer's own address


def test_an_address_only_her_accounts_point_at_is_exported_and_erased(tmp_path, sql_url):
    rt = _estate(tmp_path, sql_url)

    exported = graph.access(rt, graph.request(rt, "access", MIKA))
    assert sorted(r["id"] for r in exported["retail.customers"]) == [1, 5]  # both of her accounts
    assert exported["retail.addresses"] == [{"id": 10, "street": "1-2-3 Shibuya", "postcode": "150-0002", "phone": "03-5555-0010"}]
    assert sorted(r["id"] for r in exported["retail.invoices"]) == [100, 101]
    assert set(exported) == {"retail.customers", "retail.addresses", "retail.invoices"}  # no staff, no store

    request_id = graph.request(rt, "erase", MIKA)
    checks = shop.erase_without_prefect(rt, request_id)
    assert all(c.passed for c in checks), checks

    plan = _plan_of(rt, request_id)
    assert _steps(plan) == {
        ("invoices", "retain", ()): 2, ("invoices", "pseudonymize", ("billing_name", "shipping_name")): 2,
        ("invoices", "unlink", ("customer_id",)): 2,  # counted: the two retained invoices lose their pointer
        ("customers", "delete_record", ()): 2, ("addresses", "delete_record", ()): 1,
    }
    (retain,) = [s for s in plan.steps if s.operation == "retain"]
    assert retain.retained_until == "2031-01-15"  # seven years from the later invoice's issue date, not from the request
    assert shop.rows(sql_url, "select id from customers order by id") == [(2,), (3,), (4,)]
    assert shop.rows(sql_url, "select id from addresses order by id") == [(11,), (12,)]  # the street, the postcode and the phone are gone
    invoices = shop.rows(sql_url, "select id, customer_id, billing_name, shipping_name, amount from invoices where id in (100, 101) order by id")
    assert [(i[0], i[1], i[4]) for i in invoices] == [(100, None, 500), (101, None, 700)]
    # Pseudonyms are per column: one name in two columns does not link them; one column groups by value.
    assert all(i[2].startswith("pseu:") and i[3].startswith("pseu:") and i[2] != i[3] for i in invoices)
    assert invoices[0][2] == invoices[1][2] and invoices[0][3] == invoices[1][3]
    with rt.sessions() as session:
        actions = {a.step: (a.planned_count, a.affected_count) for a in session.query(ActionRow).filter_by(request_id=request_id)}
    assert actions["retail/invoices/unlink:customer_id"] == (2, 2)
    assert actions["retail/invoices/retain"] == (2, 0)  # retained rows are not changed rows


def test_an_address_a_store_and_his_sister_share_is_kept_and_the_plan_says_why(tmp_path, sql_url):
    rt = _estate(tmp_path, sql_url)

    exported = graph.access(rt, graph.request(rt, "access", KEN))
    assert [r["id"] for r in exported["retail.customers"]] == [2]  # not his sister at the same address
    assert [r["id"] for r in exported["retail.addresses"]] == [11]  # his address is his data too

    request_id = graph.request(rt, "erase", KEN)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))

    plan = _plan_of(rt, request_id)
    (kept,) = [s for s in plan.steps if s.collection == "addresses"]
    assert (kept.operation, kept.count, kept.rule) == ("keep_shared", 1, "shared: also referenced by retail.customers.address_id, retail.stores.address_id")
    assert shop.rows(sql_url, "select id, street, postcode, phone from addresses where id = 11") == [(11, "4-5-6 Shinjuku", "160-0022", "03-5555-0011")]
    assert shop.rows(sql_url, "select id, address_id from customers where id in (2, 3) order by id") == [(3, 11)]
    assert shop.rows(sql_url, "select address_id from stores where id = 1") == [(11,)]
    with rt.sessions() as session:
        receipts = [json.loads(e.document)["receipt"]["action"] for e in session.query(LedgerEntry).filter_by(request_id=request_id, kind="action")]
    (shared,) = [r for r in receipts if r["collection"] == "addresses"]
    assert (shared["status"], shared["planned"], shared["affected"]) == ("retained", 1, 0)


# ------------------------------------------------------------------ other people


def test_a_staff_members_request_exports_and_erases_no_customer(tmp_path, sql_url):
    rt = _estate(tmp_path, sql_url)

    exported = graph.access(rt, graph.request(rt, "access", HANA))
    assert exported == {"retail.staff": [{"id": 1, "name": "Hana Sato", "email": HANA, "phone": "03-1111-0001"}]}

    request_id = graph.request(rt, "erase", HANA)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))

    assert _steps(_plan_of(rt, request_id)) == {("staff", "delete_record", ()): 1, ("customers", "unlink", ("support_rep_id",)): 3}
    assert shop.rows(sql_url, "select id from staff") == [(2,)]
    assert shop.rows(sql_url, "select id, name, support_rep_id from customers order by id") == [
        (1, "Mika Tanaka", None), (2, "Ken Mori", None), (3, "Aya Mori", None), (4, "Sota Abe", 2), (5, "Mika Tanaka", None)]
    assert shop.rows(sql_url, "select id, billing_name from invoices order by id") == [(100, "Mika Tanaka"), (101, "Mika Tanaka"), (102, "Ken Mori"), (103, "Sota Abe")]


def test_a_staff_row_is_never_taken_as_what_a_customer_owns(tmp_path, sqlite_url):
    """Even a dataset that says her rep is what a customer owns (owns_target into a collection that
    names people) does not make a staff member's record the customer's."""
    graph.load(sqlite_url)
    data = graph.dataset()
    data["collections"]["customers"]["references"][1]["ownership"] = "owns_target"
    rt = graph.open_estate(tmp_path, {"retail": sqlite_url}, [data])
    assert "retail.staff" not in graph.access(rt, graph.request(rt, "access", MIKA))
    request_id = graph.request(rt, "erase", MIKA)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    assert not [s for s in _plan_of(rt, request_id).steps if s.collection == "staff"]
    assert shop.rows(sqlite_url, "select id, name from staff order by id") == [(1, "Hana Sato"), (2, "Jiro Ito")]


def test_a_staff_member_whose_customers_cannot_lose_their_rep_is_refused_before_any_change(tmp_path, sql_url):
    graph.load(sql_url, rep_required=True)
    rt = graph.open_estate(tmp_path, {"retail": sql_url})
    assert set(graph.access(rt, graph.request(rt, "access", HANA))) == {"retail.staff"}
    request_id = graph.request(rt, "erase", HANA)
    fulfilment.begin(rt, request_id, "erase")
    with pytest.raises(PlanError, match=r"retail\.customers has 3 row\(s\) this plan does not delete, but its NOT NULL foreign key fk_customer_rep"):
        make_plan(rt, request_id, discover_now(rt, request_id))
    assert shop.rows(sql_url, "select id from staff order by id") == [(1,), (2,)]
    assert shop.rows(sql_url, "select count(*) from customers where support_rep_id = 1") == [(3,)]


# ------------------------------------------------------------------ tables no dataset declares


@pytest.mark.parametrize("nullable", [False, True], ids=["not-null", "nullable"])
def test_an_undeclared_table_pointing_at_her_rows_refuses_the_plan_before_any_change(tmp_path, sql_url, nullable):
    rt = _estate(tmp_path, sql_url)
    null = "" if nullable else " not null"
    _execute(sql_url, f"create table loyalty_cards (id integer primary key, customer_id integer{null}, "
                      "constraint fk_loyalty_customer foreign key (customer_id) references customers (id))",
             "insert into loyalty_cards (id, customer_id) values (1, 1), (2, 4)")

    exported = graph.access(rt, graph.request(rt, "access", MIKA))  # access reads, and is not refused
    assert sorted(r["id"] for r in exported["retail.customers"]) == [1, 5]

    request_id = graph.request(rt, "erase", MIKA)
    fulfilment.begin(rt, request_id, "erase")
    with pytest.raises(PlanError, match=r"retail\.loyalty_cards is in no dataset, but 1 of its row\(s\) point at retail\.customers.*fk_loyalty_customer") as refused:
        make_plan(rt, request_id, discover_now(rt, request_id))
    assert "mika" not in str(refused.value).lower()
    _untouched(sql_url)
    assert shop.rows(sql_url, "select id, customer_id from loyalty_cards order by id") == [(1, 1), (2, 4)]

    # Ken has no card: his erasure goes through, and the undeclared table is left as it was.
    ken = graph.request(rt, "erase", KEN)
    assert all(c.passed for c in shop.erase_without_prefect(rt, ken))
    assert shop.rows(sql_url, "select id from customers where id = 2") == []
    assert shop.rows(sql_url, "select id, customer_id from loyalty_cards order by id") == [(1, 1), (2, 4)]


def test_an_undeclared_table_pointing_at_her_address_keeps_it_as_shared(tmp_path, sql_url):
    rt = _estate(tmp_path, sql_url)
    _execute(sql_url, "create table deliveries (id integer primary key, address_id integer not null, "
                      "constraint fk_delivery_address foreign key (address_id) references addresses (id))",
             "insert into deliveries (id, address_id) values (1, 10)")
    assert {(fk.collection, fk.parent, fk.name) for fk in rt.connector("retail").foreign_keys()} >= {("deliveries", "addresses", "fk_delivery_address")}
    assert [r["id"] for r in graph.access(rt, graph.request(rt, "access", MIKA))["retail.addresses"]] == [10]  # still her address

    request_id = graph.request(rt, "erase", MIKA)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))

    (kept,) = [s for s in _plan_of(rt, request_id).steps if s.collection == "addresses"]
    assert (kept.operation, kept.rule) == ("keep_shared", "shared: also referenced by retail.deliveries.address_id")
    assert shop.rows(sql_url, "select id from addresses order by id") == [(10,), (11,), (12,)]
    assert shop.rows(sql_url, "select id from customers order by id") == [(2,), (3,), (4,)]


def test_no_system_commits_when_a_later_one_is_certain_to_fail(tmp_path, postgres_url, mariadb_url):
    """The customer in PostgreSQL, her invoices in MariaDB (pointing across systems, so nothing but the
    plan enforces it). Invoices' system runs first; an undeclared key in the customers' system would
    refuse the second transaction after the first committed: refused before either."""
    graph.load(postgres_url, ("staff", "addresses", "stores", "customers"))
    graph.load(mariadb_url, ("invoices",))
    crm = graph.dataset("crm")
    billing = {"system": "billing", "collections": {"invoices": crm["collections"].pop("invoices")}}
    billing["collections"]["invoices"]["references"] = [{"field": "customer_id", "to": "crm.customers.id"}]
    rt = graph.open_estate(tmp_path, {"crm": postgres_url, "billing": mariadb_url}, [crm, billing])
    _execute(postgres_url, "create table loyalty_cards (id integer primary key, customer_id integer not null "
                           "constraint fk_loyalty_customer references customers (id))", "insert into loyalty_cards values (1, 5)")

    exported = graph.access(rt, graph.request(rt, "access", MIKA))
    assert sorted(r["id"] for r in exported["billing.invoices"]) == [100, 101] and sorted(r["id"] for r in exported["crm.customers"]) == [1, 5]

    request_id = graph.request(rt, "erase", MIKA)
    fulfilment.begin(rt, request_id, "erase")
    with pytest.raises(PlanError, match=r"crm\.loyalty_cards is in no dataset.*fk_loyalty_customer"):
        make_plan(rt, request_id, discover_now(rt, request_id))

    # The card goes, a plan is made; the card comes back before the first change: still refused, nothing changed.
    _execute(postgres_url, "delete from loyalty_cards")
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    assert plan.systems() == ["billing", "crm"]
    _execute(postgres_url, "insert into loyalty_cards values (1, 5)")
    with pytest.raises(PlanError, match="fk_loyalty_customer"):
        record_targets(rt, request_id, plan)
    assert shop.rows(mariadb_url, "select id, billing_name from invoices where id in (100, 101) order by id") == [(100, "Mika Tanaka"), (101, "Mika Tanaka")]
    assert shop.rows(postgres_url, "select id from customers order by id") == [(1,), (2,), (3,), (4,), (5,)]

    _execute(postgres_url, "delete from loyalty_cards")
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    assert shop.rows(postgres_url, "select id from customers order by id") == [(2,), (3,), (4,)]
    assert shop.rows(postgres_url, "select id from addresses order by id") == [(11,), (12,)]
    assert all(n.startswith("pseu:") for (n,) in shop.rows(mariadb_url, "select billing_name from invoices where id in (100, 101)"))


# ------------------------------------------------------------------ PostgreSQL inheritance, views


def test_rows_living_only_in_inheritance_children_are_found_and_erased_through_the_parent(tmp_path, postgres_url):
    rt = _estate(tmp_path, postgres_url)
    _execute(postgres_url,
             "alter table invoices drop constraint fk_invoice_customer",  # a key cannot point into an inheritance tree
             "alter table customers drop constraint fk_customer_address",
             "create table customers_2025 () inherits (customers)",
             "create table customers_2026 (constraint fk_c2026_address foreign key (address_id) references addresses (id)) inherits (customers)",
             "insert into customers_2026 select * from only customers where id in (1, 5)",
             "delete from only customers where id in (1, 5)")
    assert shop.rows(postgres_url, "select count(*) from only customers where email ilike :e", e=MIKA) == [(0,)]
    fks = {(fk.collection, fk.fields, fk.parent, fk.name) for fk in rt.connector("retail").foreign_keys()}
    assert ("customers", ("address_id",), "addresses", "fk_c2026_address") in fks  # the child's key is its parent's
    assert not any("customers_20" in fk[0] or "customers_20" in fk[2] for fk in fks)

    exported = graph.access(rt, graph.request(rt, "access", MIKA))
    assert sorted(r["id"] for r in exported["retail.customers"]) == [1, 5]
    assert [r["id"] for r in exported["retail.addresses"]] == [10]

    request_id = graph.request(rt, "erase", MIKA)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    assert shop.rows(postgres_url, "select count(*) from customers_2026") == [(0,)]
    assert shop.rows(postgres_url, "select id from customers order by id") == [(2,), (3,), (4,)]
    assert shop.rows(postgres_url, "select id from addresses order by id") == [(11,), (12,)]


def test_an_undeclared_partitioned_table_is_one_table_and_refuses_the_plan(tmp_path, postgres_url):
    rt = _estate(tmp_path, postgres_url)
    _execute(postgres_url,
             "create table visits (id integer, at date, customer_id integer not null constraint fk_visit_customer references customers (id), "
             "primary key (id, at)) partition by range (at)",
             "create table visits_2025 partition of visits for values from ('2025-01-01') to ('2026-01-01')",
             "create table visits_2026 partition of visits for values from ('2026-01-01') to ('2027-01-01')",
             "insert into visits values (1, '2026-03-01', 5), (2, '2025-03-01', 2)")
    assert [(fk.collection, fk.name) for fk in rt.connector("retail").foreign_keys() if fk.parent == "customers"] == [
        ("invoices", "fk_invoice_customer"), ("visits", "fk_visit_customer")]
    assert sorted(r["id"] for r in graph.access(rt, graph.request(rt, "access", MIKA))["retail.customers"]) == [1, 5]

    request_id = graph.request(rt, "erase", MIKA)
    fulfilment.begin(rt, request_id, "erase")
    with pytest.raises(PlanError, match=r"retail\.visits is in no dataset, but 1 of its row\(s\).*fk_visit_customer"):
        make_plan(rt, request_id, discover_now(rt, request_id))
    _untouched(postgres_url)


def test_views_are_ignored(tmp_path, sql_url):
    rt = _estate(tmp_path, sql_url)
    _execute(sql_url, "create view customer_directory as select c.id, c.email, a.street from customers c left join addresses a on a.id = c.address_id")
    fks = rt.connector("retail").foreign_keys()
    assert {fk.collection for fk in fks} == {"stores", "customers", "invoices"}

    exported = graph.access(rt, graph.request(rt, "access", MIKA))
    assert set(exported) == {"retail.customers", "retail.addresses", "retail.invoices"}
    request_id = graph.request(rt, "erase", MIKA)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    assert "customer_directory" not in json.dumps(_plan_of(rt, request_id).to_json())
    assert shop.rows(sql_url, "select id, street from customer_directory order by id") == [(2, "4-5-6 Shinjuku"), (3, "4-5-6 Shinjuku"), (4, None)]


# ------------------------------------------------------------------ failed attempts, retention, pseudonyms


def test_a_failed_transaction_receipts_every_step_of_it_and_the_rerun_its_own_attempt(tmp_path, sqlite_url):
    rt = _estate(tmp_path, sqlite_url)
    request_id = graph.request(rt, "erase", MIKA)
    fulfilment.begin(rt, request_id, "erase")
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    record_targets(rt, request_id, plan)
    # A table nobody declared, with a row for her, appears after the targets were recorded: the store refuses.
    _execute(sqlite_url, "create table loyalty_cards (id integer primary key, customer_id integer not null references customers (id))",
             "insert into loyalty_cards values (1, 1)")
    with pytest.raises(ConnectorError, match="rolled back"):
        execute_system(rt, request_id, plan, "retail")
    _untouched(sqlite_url)

    def receipts() -> dict[str, dict]:
        with rt.sessions() as session:
            return {e.step: json.loads(e.document)["receipt"]["action"] for e in session.query(LedgerEntry).filter_by(request_id=request_id, kind="action")}

    failed = receipts()
    assert set(failed) == {s.name for s in plan.steps}  # every step of the system, mutating or not
    assert {(r["status"], r["attempt"], r["affected"]) for r in failed.values()} == {("failed", 1, 0)}
    assert all("rolled back" in r["refused"][0] and "mika" not in json.dumps(r).lower() for r in failed.values())

    _execute(sqlite_url, "delete from loyalty_cards")
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    after = receipts()
    assert {k: v for k, v in after.items() if k in failed} == failed  # the failed attempt stays on record
    assert {(r["status"] if r["status"] != "retained" else "done", r["attempt"]) for k, r in after.items() if k not in failed} == {("done", 2)}
    assert set(after) - set(failed) == {f"{s.name}#2" for s in plan.steps}
    assert shop.rows(sqlite_url, "select id from customers order by id") == [(2,), (3,), (4,)]


@pytest.mark.parametrize(("start", "period", "until"), [
    (dt.date(2026, 11, 30), "7y", dt.date(2033, 11, 30)),
    (dt.date(2024, 2, 29), "1y", dt.date(2025, 2, 28)),
    (dt.date(2024, 2, 29), "4y", dt.date(2028, 2, 29)),
    (dt.date(2026, 8, 31), "18m", dt.date(2028, 2, 29)),
    (dt.date(2026, 1, 31), "1m", dt.date(2026, 2, 28)),
    (dt.date(2026, 12, 31), "90d", dt.date(2027, 3, 31)),
])
def test_retention_periods_keep_the_day_of_the_month(start, period, until):
    assert RuleConfig(action="retain", legal_basis="law", retention=period).retained_until(start) == until


def test_pseudonyms_are_keyed_per_system_collection_and_field(tmp_path, sqlite_url):
    keys = _estate(tmp_path, sqlite_url).keys
    one = keys.pseudonym("billing", "invoices", "billing_name", "Mika Tanaka")
    assert one == keys.pseudonym("billing", "invoices", "billing_name", "Mika Tanaka")  # stable within a column
    others = {keys.pseudonym(*where, "Mika Tanaka") for where in (("billing", "invoices", "shipping_name"), ("billing", "orders", "billing_name"), ("crm", "invoices", "billing_name"))}
    assert one not in others and len(others) == 3
    assert keys.pseudonym("billing", "invoices", "billing_name", "Ken Mori") != one


def test_a_row_found_both_as_pointed_at_and_pointing_back_counts_as_found_directly(tmp_path, sqlite_url):
    """The shop's address points back at its customer (addresses.customer_id) and the customer at it
    (owns_target): found directly, it is the subject's without a sharing question, and no other
    customer at that address is pulled in."""
    shop.load_main(sqlite_url)
    _execute(sqlite_url, "update customers set primary_address_id = 10 where id = 3")  # the namesake moves in with her
    config = shop.write_config(tmp_path, {"main": sqlite_url, "side": sqlite_url}, [shop.MAIN_DATASET, {**shop.SIDE_DATASET, "collections": {}}])
    rt = Runtime.open(config, create_keys=True)
    request_id = graph.request(rt, "access", shop.SUBJECT["email"])
    found = discover_now(rt, request_id)
    assert found.keys("main", "addresses") == [(10,)] and found.via_parent("main", "addresses") == []
    assert found.keys("main", "customers") == [(1,)]



def test_reference_directions_and_their_older_spelling():
    assert [ReferenceConfig(field="f", to="t.id", **given).ownership for given in ({}, {"owned": True}, {"owned": False}, {"ownership": "owns_target"})] == [
        "dependent", "dependent", "link", "owns_target"]
    with pytest.raises(ValidationError, match="either ownership or its older spelling owned"):
        ReferenceConfig(field="f", to="t.id", owned=True, ownership="owns_target")
    with pytest.raises(ValidationError, match="ownership"):
        ReferenceConfig(field="f", to="t.id", ownership="parent")


def test_retention_from_must_name_a_declared_field(tmp_path):
    data = graph.dataset()
    data["collections"]["invoices"]["retention_from"] = "issued_at"
    config = shop.write_config(tmp_path, {"retail": "sqlite:///unused.db"}, [data], graph.POLICY)
    with pytest.raises(ConfigError) as failure:
        load_estate(config)
    (problem,) = failure.value.problems
    assert (problem.file, problem.path) == ("datasets/retail.yaml", "collections.invoices.retention_from") and "issued_at" in problem.message


def test_owned_true_on_a_collection_of_people_asks_for_the_direction(tmp_path):
    """The issue's literal `{field: address_id, to: addresses.id, owned: true}` on customers reads both ways."""
    data = graph.dataset()
    data["collections"]["customers"]["references"][0] = {"field": "address_id", "to": "addresses.id", "owned": True}
    data["collections"]["invoices"]["references"][0]["owned"] = True  # invoices hold no identity of their own: unambiguous
    estate = load_estate(shop.write_config(tmp_path, {"retail": "sqlite:///unused.db"}, [data], graph.POLICY))
    (warning,) = estate.warnings
    assert (warning.path, warning.severity) == ("collections.customers.references.0.owned", "warning") and "ownership: owns_target" in warning.message
    assert estate.collection("retail", "customers").references[0].ownership == "dependent"
