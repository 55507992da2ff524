"""Erasure against real databases with real foreign keys: order, cycles, links, retention, re-reads,
crashes and a system that goes away. These call the plain functions the Prefect flow wires together."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connectors.base import ConnectorError
from dsr import fulfilment
from dsr.control.models import ActionRow, LedgerEntry
from dsr.erasure import discover_now, execute_system, make_plan, record_targets, verify_erasure
from dsr.plan import PlanError
from dsr.requests import FAILED, Verification, create_request, get_request
from dsr.runtime import Runtime
from dsr.subject import Identifier, IdentifierKind
from receipts.receipt import check
from tests import shop


def _estate(tmp_path: Path, main_url: str, side_url: str, policy: dict | None = None) -> tuple[Runtime, str]:
    shop.load_main(main_url)
    shop.load_side(side_url)
    config = shop.write_config(tmp_path, {"main": main_url, "side": side_url}, [shop.MAIN_DATASET, shop.SIDE_DATASET], policy)
    rt = Runtime.open(config, create_keys=True)
    identifiers = [Identifier.parse(IdentifierKind.EMAIL, shop.SUBJECT["email"]), Identifier.parse(IdentifierKind.PHONE, shop.SUBJECT["phone"])]
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind="erase", identifiers=identifiers, channel="web", department="Support Desk",
                             requested_by="clerk", verification=Verification("photo ID", "officer", dt.datetime.now(dt.UTC)))
        session.commit()
        return rt, row.id




@pytest.fixture
def side_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'side.db'}"


def test_discovery_follows_references_across_tables_and_systems(tmp_path, sql_url, side_url):
    rt, request_id = _estate(tmp_path, sql_url, side_url)
    found = discover_now(rt, request_id)
    assert found.counts() == {
        "main.addresses": 1, "main.customers": 1, "main.invoices": 1, "main.order_lines": 3, "main.orders": 2, "side.tickets": 2,
    }
    assert sorted(found.keys("main", "customers")) == [(1,)]  # not the namesake (3)
    assert sorted(found.keys("side", "tickets")) == [(1,), (2,)]  # by reference across systems, and by email in another case
    assert [(f.collection, f.key, f.field) for f in found.links()] == [("customers", (2,), "referred_by")]


def test_erasure_is_foreign_key_safe_and_leaves_others_alone(tmp_path, sql_url, side_url):
    rt, request_id = _estate(tmp_path, sql_url, side_url)
    checks = shop.erase_without_prefect(rt, request_id)
    assert all(c.passed for c in checks), checks

    assert shop.rows(sql_url, "select id from customers order by id") == [(2,), (3,)]
    assert shop.rows(sql_url, "select referred_by from customers where id = 2") == [(None,)]  # link cleared, friend kept
    assert shop.rows(sql_url, "select id from addresses order by id") == [(11,), (12,)]
    assert shop.rows(sql_url, "select id from orders order by id") == [(102,)]
    assert shop.rows(sql_url, "select order_id, line_no from order_lines order by order_id") == [(102, 1)]
    # Retained for the legal period, but no longer identifying: name pseudonymised, address masked, link cleared.
    (invoice,) = shop.rows(sql_url, "select customer_id, billing_name, billing_address, amount from invoices where id = 1000")
    assert invoice[0] is None and invoice[1].startswith("pseu:") and invoice[2] == "[masked]" and invoice[3] == 500
    assert shop.rows(sql_url, "select billing_name from invoices where id = 1001") == [("Ken Mori",)]
    assert shop.rows(side_url, "select id from tickets order by id") == [(3,), (4,)]


def test_free_text_mentions_are_redacted_leaving_the_rest(tmp_path, sql_url):
    rt, request_id = _estate(tmp_path, sql_url, sql_url)  # both systems in one database of each kind
    found = discover_now(rt, request_id)
    (mention,) = found.mentions("side", "tickets")
    assert (mention.key, mention.field, mention.how) == ((4,), "notes", "text:email,phone")
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    assert shop.rows(sql_url, "select notes from tickets where id = 4") == [(shop.REFERRAL_NOTE_REDACTED,)]
    assert shop.rows(sql_url, "select notes from tickets where id = 3") == [("Namesake's ticket.",)]
    with rt.sessions() as session:
        step = session.query(ActionRow).filter_by(request_id=request_id, step="side/tickets/redact_span:notes").one()
        assert (step.state, step.affected_count) == ("done", 1)


def test_row_inserted_after_discovery_is_still_erased(tmp_path, sql_url, side_url):
    rt, request_id = _estate(tmp_path, sql_url, side_url)
    fulfilment.begin(rt, request_id, "erase")
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    engine = create_engine(sql_url)
    with engine.begin() as conn:  # an order placed while the request waited
        conn.execute(text("insert into orders (id, customer_id, total) values (103, 1, 50)"))
        conn.execute(text("insert into order_lines (order_id, line_no, sku) values (103, 1, 'LATE')"))
    engine.dispose()
    for system in plan.systems():
        execute_system(rt, request_id, plan, system)
    assert all(c.passed for c in verify_erasure(rt, request_id, plan))
    assert shop.rows(sql_url, "select id from orders order by id") == [(102,)]
    with rt.sessions() as session:
        lines = session.query(ActionRow).filter_by(request_id=request_id, step="main/order_lines/delete_record").one()
        assert (lines.planned_count, lines.affected_count) == (4, 4)


def test_a_delete_the_store_silently_ignores_fails_verification(tmp_path, sqlite_url, side_url):
    """A store that drops a delete without an error (a trigger, a soft-delete rule): once the customer
    is gone nothing leads discovery to his kept ticket, so the post-check reads the very rows the
    step was applied to."""
    rt, request_id = _estate(tmp_path, sqlite_url, side_url)
    engine = create_engine(side_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TRIGGER keep_ticket BEFORE DELETE ON tickets WHEN old.id = 1 BEGIN SELECT RAISE(IGNORE); END"))
    engine.dispose()

    checks = shop.erase_without_prefect(rt, request_id)

    assert shop.rows(side_url, "select id from tickets where id = 1") == [(1,)]
    assert shop.rows(sqlite_url, "select count(*) from customers where id = 1") == [(0,)]
    assert [(c.step, c.detail) for c in checks if not c.passed] == [("side/tickets/delete_record", "1 record(s) still found")]
    with rt.sessions() as session:
        fulfilment.fail(rt, request_id, RuntimeError("verification failed"))
        assert session.query(ActionRow).filter_by(request_id=request_id, step="side/tickets/delete_record").one().state == "failed"

    # The store is fixed and the request run again: the failed step, and only it, is tried again and receipted again.
    engine = create_engine(side_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER keep_ticket"))
    engine.dispose()
    checks = shop.erase_without_prefect(rt, request_id)

    assert all(c.passed for c in checks), checks
    assert shop.rows(side_url, "select count(*) from tickets where id in (1, 2)") == [(0,)]
    with rt.sessions() as session:
        receipts = {(e.step, json.loads(e.document)["receipt"]["action"]["status"]) for e in session.query(LedgerEntry).filter_by(request_id=request_id, kind="action")}
        steps = [a.step for a in session.query(ActionRow).filter_by(request_id=request_id)]
    assert {r for r in receipts if r[0].startswith("side/tickets/delete_record")} == {("side/tickets/delete_record", "failed"), ("side/tickets/delete_record#2", "done")}
    assert len(receipts) == len(steps) + 1  # every other step receipted once


def test_targets_written_first_make_the_order_of_systems_irrelevant(tmp_path, sqlite_url, side_url):
    """References between systems may form a cycle, and then no order runs dependents first. Even
    erasing the customer's system first must not hide his ticket that only his customer number
    leads to."""
    rt, request_id = _estate(tmp_path, sqlite_url, side_url)
    fulfilment.begin(rt, request_id, "erase")
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    assert plan.systems() == ["side", "main"]

    assert record_targets(rt, request_id, plan) == len(plan.steps)
    for system in reversed(plan.systems()):  # the wrong order: his customer record goes first
        execute_system(rt, request_id, plan, system)

    assert all(c.passed for c in verify_erasure(rt, request_id, plan))
    assert shop.rows(side_url, "select id from tickets order by id") == [(3,), (4,)]
    assert shop.rows(sqlite_url, "select count(*) from customers where id = 1") == [(0,)]
    assert record_targets(rt, request_id, plan) == 0  # a rerun writes nothing new


LINE_NOTES = {
    "primary_key": ["id"],
    "categories": ["order_note"],
    "fields": {"id": {"categories": ["identifier"]}, "order_id": {"categories": ["identifier"]}, "line_no": {"categories": ["identifier"]},
               "note": {"categories": ["order"]}},
    "references": [{"field": "order_id", "to": "orders.id"}],
}


def _estate_with_line_notes(tmp_path: Path, main_url: str, side_url: str, policy: dict | None = None) -> tuple[Runtime, str]:
    """The shop plus notes on order lines, tied to them by a composite foreign key (order_id, line_no)."""
    shop.load_main(main_url)
    engine = create_engine(main_url)
    with engine.begin() as conn:
        conn.execute(text("create table line_notes (id integer primary key, order_id integer, line_no integer, note varchar(200), "
                          "foreign key (order_id, line_no) references order_lines (order_id, line_no))"))
        conn.execute(text("insert into line_notes values (1, 100, 2, 'gift wrap'), (2, 102, 1, 'leave at the door')"))
    engine.dispose()
    dataset = {**shop.MAIN_DATASET, "collections": {**shop.MAIN_DATASET["collections"], "line_notes": LINE_NOTES}}
    shop.load_side(side_url)
    config = shop.write_config(tmp_path, {"main": main_url, "side": side_url}, [dataset, shop.SIDE_DATASET], policy)
    rt = Runtime.open(config, create_keys=True)
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind="erase", identifiers=[Identifier.parse(IdentifierKind.EMAIL, shop.SUBJECT["email"])],
                             channel="web", department="Support Desk", requested_by="clerk", verification=Verification("photo ID", "officer", dt.datetime.now(dt.UTC)))
        session.commit()
        return rt, row.id


def test_a_composite_foreign_key_orders_deletes_as_one_constraint(tmp_path, sql_url, side_url):
    rt, request_id = _estate_with_line_notes(tmp_path, sql_url, side_url)
    (fk,) = [fk for fk in rt.connector("main").foreign_keys() if fk.collection == "line_notes"]
    assert (fk.fields, fk.parent, fk.parent_fields, fk.composite) == (("order_id", "line_no"), "order_lines", ("order_id", "line_no"), True)

    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))  # the store enforces the key: notes go before their lines

    assert shop.rows(sql_url, "select id from line_notes order by id") == [(2,)]
    assert shop.rows(sql_url, "select order_id, line_no from order_lines order by order_id") == [(102, 1)]


def test_a_kept_row_behind_a_composite_foreign_key_is_refused_at_planning(tmp_path, sqlite_url, side_url):
    """Clearing a composite pointer column by column could clear other people's rows: refused, with why."""
    policy = {**shop.POLICY, "erase": {**shop.POLICY["erase"], "records": {**shop.POLICY["erase"]["records"], "order_note": {"action": "keep"}}}}
    rt, request_id = _estate_with_line_notes(tmp_path, sqlite_url, side_url, policy)
    with pytest.raises(PlanError, match=r"line_notes .*composite foreign key \(order_id, line_no\)"):
        make_plan(rt, request_id, discover_now(rt, request_id))
    assert shop.rows(sqlite_url, "select count(*) from order_lines") == [(4,)]


def test_every_process_makes_the_same_plan(tmp_path, sqlite_url, side_url):
    """Python salts its string hashes per process; a plan (its order, its digest) must not depend on
    it, or a suspended run restarted in another process would see a plan that changed."""
    rt, request_id = _estate(tmp_path, sqlite_url, side_url)
    code = ("import sys\nfrom dsr.erasure import _new_plan, discover_now\nfrom dsr.runtime import Runtime\n"
            "rt = Runtime.open(sys.argv[1])\nwith rt.sessions() as session:\n"
            "    print(_new_plan(rt, session, sys.argv[2], discover_now(rt, sys.argv[2])).digest)\n")
    digests = {
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "config"), request_id], env={**os.environ, "PYTHONHASHSEED": seed},
                       capture_output=True, text=True, timeout=120, check=True).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1 and next(iter(digests)).startswith("sha256:")


def test_references_across_postgresql_and_mariadb(tmp_path, postgres_url, mariadb_url):
    rt, request_id = _estate(tmp_path, postgres_url, mariadb_url)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    assert shop.rows(mariadb_url, "select id from tickets order by id") == [(3,), (4,)]
    assert shop.rows(mariadb_url, "select notes from tickets where id = 4") == [(shop.REFERRAL_NOTE_REDACTED,)]
    assert shop.rows(postgres_url, "select id from customers order by id") == [(2,), (3,)]


def test_crash_between_commit_and_bookkeeping_then_rerun(tmp_path, sqlite_url, side_url, monkeypatch):
    """The worst moment to die: a system's transaction committed, its results not yet written."""
    rt, request_id = _estate(tmp_path, sqlite_url, side_url)
    fulfilment.begin(rt, request_id, "erase")
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    first, second = plan.systems()
    assert (first, second) == ("side", "main")  # dependents' system first
    execute_system(rt, request_id, plan, first)

    connector = rt.connector(second)
    real_apply = connector.apply

    def apply_then_die(steps, context):
        real_apply(steps, context)
        raise SystemExit("process killed")

    monkeypatch.setattr(connector, "apply", apply_then_die)
    with pytest.raises(SystemExit):
        execute_system(rt, request_id, plan, second)
    monkeypatch.setattr(connector, "apply", real_apply)
    with rt.sessions() as session:
        states = {a.step: a.state for a in session.query(ActionRow).filter_by(request_id=request_id)}
    assert {s for step, s in states.items() if step.startswith("main/")} == {"intent"}
    assert {s for step, s in states.items() if step.startswith("side/")} == {"done"}

    # Rerun the whole request: nothing is repeated (pseudonyms are not re-hashed), nothing skipped.
    (before,) = shop.rows(sqlite_url, "select billing_name from invoices where id = 1000")
    checks = shop.erase_without_prefect(rt, request_id)
    assert all(c.passed for c in checks)
    assert shop.rows(sqlite_url, "select billing_name from invoices where id = 1000") == [before]
    with rt.sessions() as session:
        actions = session.query(ActionRow).filter_by(request_id=request_id).all()
        assert {a.state for a in actions} == {"done"}
        resumed = {a.step: a for a in actions if a.details.get("resumed")}
        assert set(resumed) == {s.name for s in plan.steps_for("main")}
        assert resumed["main/orders/delete_record"].planned_count == 2
        receipts = session.query(LedgerEntry).filter_by(request_id=request_id, kind="action").all()
        assert sorted(r.step for r in receipts) == sorted(s.name for s in plan.steps)  # one each, no duplicates


def test_system_down_fails_the_request_and_commits_nothing(tmp_path, sqlite_url, side_url):
    rt, request_id = _estate(tmp_path, sqlite_url, side_url)
    fulfilment.begin(rt, request_id, "erase")
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    # The side system goes away between planning and execution (its URL now points at a closed port).
    rt._connectors.pop("side").close()
    down = rt.estate.systems["side"].model_copy(update={"url": "postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2"})
    rt.estate.systems["side"] = down
    with pytest.raises(ConnectorError, match="'side'.*unreachable") as failure:
        execute_system(rt, request_id, plan, "side")
    fulfilment.fail(rt, request_id, failure.value)
    with rt.sessions() as session:
        row = get_request(session, request_id)
        assert row.status == FAILED and "unreachable" in row.outcome
        assert session.query(ActionRow).filter_by(request_id=request_id).count() == 0
    assert len(shop.rows(sqlite_url, "select id from customers")) == 3
    assert "mika" not in row.outcome.lower()


def test_a_failing_step_rolls_back_the_whole_system(tmp_path, sql_url, side_url):
    """A constraint the dataset does not know about refuses a delete: every change to that system is
    undone. (Planning and the recording of targets refuse what they can see, tests/test_subject_graph.py;
    this table and its row appear after both.)"""
    rt, request_id = _estate(tmp_path, sql_url, side_url)
    fulfilment.begin(rt, request_id, "erase")
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    record_targets(rt, request_id, plan)
    engine = create_engine(sql_url)
    with engine.begin() as conn:
        conn.execute(text("create table loyalty (id integer primary key, customer_id integer not null references customers(id))"))
        conn.execute(text("insert into loyalty values (1, 1)"))
    engine.dispose()
    with pytest.raises(ConnectorError, match="rolled back") as failure:
        execute_system(rt, request_id, plan, "main")
    assert "mika" not in str(failure.value).lower()
    assert len(shop.rows(sql_url, "select id from orders")) == 3
    assert shop.rows(sql_url, "select billing_name from invoices where id = 1000") == [("TANAKA Mika",)]
    assert shop.rows(sql_url, "select referred_by from customers where id = 2") == [(1,)]


def test_retaining_a_child_with_a_not_null_key_to_a_deleted_parent_is_refused_at_planning(tmp_path, sqlite_url, side_url):
    policy = {**shop.POLICY, "erase": {**shop.POLICY["erase"], "records": {**shop.POLICY["erase"]["records"], "order": {"action": "retain", "legal_basis": "warranty", "retention": "2y"}}}}
    rt, request_id = _estate(tmp_path, sqlite_url, side_url, policy)
    with pytest.raises(PlanError, match="orders.*NOT NULL.*customer_id"):
        make_plan(rt, request_id, discover_now(rt, request_id))


def test_receipts_verify_and_hold_no_personal_data(tmp_path, sqlite_url, side_url):
    rt, request_id = _estate(tmp_path, sqlite_url, side_url)
    shop.erase_without_prefect(rt, request_id)
    files = sorted(p for p in (rt.receipts_dir / request_id).glob("*.json") if p.name != "certificate.json")
    verdicts = [check(p.name, p.read_bytes(), rt.keys.keyring, rt.estate.settings.ledger_origin) for p in files]
    assert verdicts and all(v.ok for v in verdicts), verdicts
    kinds = sorted(v.body["kind"] for v in verdicts)
    assert kinds.count("certificate") == 1 and kinds.count("action") == len(files) - 1
    for path in (rt.receipts_dir / request_id).glob("*.json"):
        document = path.read_text()
        if path.name != "certificate.json":
            receipt = json.loads(document)["receipt"]
            assert receipt["request"]["received_at"].endswith("+00:00") and receipt["request"]["due_at"].endswith("+00:00")
        for needle in ("mika", "tanaka", "example.jp", "1111-2222", "11112222", "shibuya"):
            assert needle not in document.lower()


def test_the_ledger_refuses_to_rewrite_history(tmp_path, sqlite_url, side_url):
    rt, request_id = _estate(tmp_path, sqlite_url, side_url)
    shop.erase_without_prefect(rt, request_id)
    engine = rt.sessions.kw["bind"]
    for statement in ("update ledger_entries set step = 'x'", "delete from ledger_entries", "delete from ledger_checkpoints"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
