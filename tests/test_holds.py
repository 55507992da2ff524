"""Legal holds: what a hold covers is retained untouched, with its legal basis in the receipts; the
rest of the erasure proceeds; a released hold no longer applies."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsr.cli import app
from dsr.holds import HoldError, add_hold, release_hold
from dsr.requests import Verification, create_request
from dsr.runtime import Runtime
from dsr.subject import Identifier, IdentifierKind
from tests import shop


@pytest.fixture
def estate(tmp_path: Path) -> tuple[Runtime, str, str, Path]:
    main, side = f"sqlite:///{tmp_path / 'main.db'}", f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_main(main)
    shop.load_side(side)
    config = shop.write_config(tmp_path, {"main": main, "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET])
    return Runtime.open(config, create_keys=True), main, side, config


def _request(rt: Runtime, email: str = shop.SUBJECT["email"]) -> str:
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind="erase", identifiers=[Identifier.parse(IdentifierKind.EMAIL, email)], channel="web",
                             department="Support Desk", requested_by="clerk", verification=Verification("photo ID", "officer", dt.datetime.now(dt.UTC)))
        session.commit()
        return row.id


def _count(url: str, sql: str, **params: object) -> int:
    return shop.rows(url, sql, **params)[0][0]


def _receipts(rt: Runtime, request_id: str) -> list[dict]:
    files = [p for p in (rt.receipts_dir / request_id).glob("*.json") if p.name != "certificate.json"]
    bodies = [json.loads(p.read_bytes())["receipt"] for p in files]
    return [b for b in bodies if b["kind"] == "action"]


def test_a_dataset_hold_blocks_only_what_it_covers(estate):
    rt, main, side, _ = estate
    with rt.sessions() as session:
        hold = add_hold(session, rt.estate, rt.keys, legal_basis="Tokyo District Court order 2026 (wa) 1234", placed_by="legal",
                        system="side", collection="tickets", until=dt.date(2027, 12, 31))
        session.commit()
    request_id = _request(rt)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    assert _count(side, "select count(*) from tickets") == 4  # held: untouched, even the mention in ticket 4
    assert _count(side, "select count(*) from tickets where notes = :note", note=shop.REFERRAL_NOTE) == 1
    assert _count(main, "select count(*) from customers where id = 1") == 0  # the rest proceeded
    (held,) = [r for r in _receipts(rt, request_id) if r["action"]["system"] == "side"]
    assert held["action"]["status"] == "retained" and held["action"]["rule"] == f"legal hold #{hold.id}"
    assert held["action"]["legal_basis"].startswith("Tokyo District Court") and held["action"]["purge_by"] == "2027-12-31"


def test_a_hold_keeps_what_held_records_point_at_untouched(estate):
    """Held invoices point at the customer (an enforced foreign key), who points at his address: both
    are kept too, untouched, rather than clearing the held invoice's pointer; the rest proceeds."""
    rt, main, side, _ = estate
    before = shop.rows(main, "select * from invoices order by id"), shop.rows(main, "select * from customers where id = 1"), shop.rows(main, "select * from addresses where customer_id = 1")
    with rt.sessions() as session:
        hold = add_hold(session, rt.estate, rt.keys, legal_basis="Tax audit 2026-17", placed_by="legal", system="main", collection="invoices")
        session.commit()
    request_id = _request(rt)

    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))

    assert (shop.rows(main, "select * from invoices order by id"), shop.rows(main, "select * from customers where id = 1"),
            shop.rows(main, "select * from addresses where customer_id = 1")) == before
    assert _count(main, "select count(*) from orders where customer_id = 1") == 0  # not held, not pointed at: erased
    assert _count(side, "select count(*) from tickets where customer_ref = 1") == 0
    retained = {r["action"]["collection"]: r["action"] for r in _receipts(rt, request_id) if r["action"]["status"] == "retained"}
    assert set(retained) == {"invoices", "customers", "addresses"}
    assert {a["rule"] for a in retained.values()} == {f"legal hold #{hold.id}"} and {a["legal_basis"] for a in retained.values()} == {"Tax audit 2026-17"}


def test_a_subject_hold_retains_everything_of_that_subject_only(estate):
    rt, main, side, _ = estate
    with rt.sessions() as session:
        add_hold(session, rt.estate, rt.keys, legal_basis="Police request, Shibuya station, ref 77", placed_by="legal",
                 identifiers=[Identifier.parse(IdentifierKind.EMAIL, "MIKA.TANAKA@example.jp")])
        session.commit()
    held_request = _request(rt)
    assert all(c.passed for c in shop.erase_without_prefect(rt, held_request))
    assert _count(main, "select count(*) from customers where id = 1") == 1
    assert {r["action"]["operation"] for r in _receipts(rt, held_request)} == {"retain"}
    other = _request(rt, "mika.t@example.org")  # the namesake is not under the hold
    assert all(c.passed for c in shop.erase_without_prefect(rt, other))
    assert _count(main, "select count(*) from customers where id = 3") == 0


def test_a_released_hold_no_longer_applies_and_the_record_stays(estate):
    rt, main, _, config = estate
    with rt.sessions() as session:
        hold = add_hold(session, rt.estate, rt.keys, legal_basis="order 5", placed_by="legal", system="main")
        session.commit()
        release_hold(session, hold.id, "legal")
        session.commit()
        with pytest.raises(HoldError, match="no active hold"):
            release_hold(session, hold.id, "legal")
    assert all(c.passed for c in shop.erase_without_prefect(rt, _request(rt)))
    assert _count(main, "select count(*) from customers where id = 1") == 0
    listed = CliRunner().invoke(app, ["hold", "list", "--all", "--config", str(config)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "order 5" in listed.stdout and "by legal" in listed.stdout


def test_hold_cli_places_lists_and_releases_without_showing_identifiers(estate):
    _, _, _, config = estate
    runner = CliRunner()
    placed = runner.invoke(app, ["hold", "add", "--basis", "Court order 9", "--by", "legal", "--email", "mika.tanaka@example.jp", "--system", "main", "--config", str(config)])
    assert placed.exit_code == 0, placed.output
    hold_id = placed.stdout.strip()
    listed = runner.invoke(app, ["hold", "list", "--config", str(config)], env={"COLUMNS": "200"})
    assert "a subject's data in main" in listed.stdout and "Court order 9" in listed.stdout and "mika" not in listed.stdout.lower()
    assert runner.invoke(app, ["hold", "release", hold_id, "--by", "legal", "--config", str(config)]).exit_code == 0
    refused = runner.invoke(app, ["hold", "add", "--basis", " ", "--by", "legal", "--system", "main", "--config", str(config)])
    assert refused.exit_code != 0 and "legal basis" in refused.stderr
    unknown = runner.invoke(app, ["hold", "add", "--basis", "x", "--by", "legal", "--system", "erp", "--config", str(config)])
    assert unknown.exit_code != 0 and "unknown system 'erp'" in unknown.stderr
