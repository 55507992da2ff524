"""When PostgreSQL receives COMMIT and its reply is lost, the outcome says the commit is in doubt
(never "rolled back"), and the rerun settles it: nothing applied twice, receipts counting the rows
that are really gone. Also the plain crash between a commit and its bookkeeping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from connectors.base import CommitInDoubt
from dsr import fulfilment
from dsr.control.models import ActionRow
from dsr.erasure import discover_now, execute_system, make_plan, record_targets, verify_erasure
from dsr.runtime import Runtime
from dsr.sealing import Outcome, seal_request
from tests import shop
from tests.pgproxy import losing_commit_replies

pytestmark = pytest.mark.postgres

COUNTED = ("customers", "orders", "order_lines", "addresses")


def _through(url: str, port: int) -> str:
    """The same database, reached through the proxy on `port`, in plain TCP the proxy can read."""
    return make_url(url).set(port=port).update_query_dict({"sslmode": "disable", "gssencmode": "disable"}).render_as_string(hide_password=False)


def _subject_rows(url: str) -> dict[str, int]:
    """The subject's rows per table, read directly (customer 1 is the subject in tests/shop.py)."""
    return {
        "customers": shop.rows(url, "SELECT count(*) FROM customers WHERE id = 1")[0][0],
        "orders": shop.rows(url, "SELECT count(*) FROM orders WHERE customer_id = 1")[0][0],
        "order_lines": shop.rows(url, "SELECT count(*) FROM order_lines WHERE order_id IN (SELECT id FROM orders WHERE customer_id = 1)")[0][0],
        "addresses": shop.rows(url, "SELECT count(*) FROM addresses WHERE customer_id = 1")[0][0],
    }


def _finish(rt: Runtime, request_id: str) -> dict[str, dict]:
    """A plain rerun of the erasure, then the receipts' action parts by collection and operation."""
    fulfilment.begin(rt, request_id, "erase")
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    record_targets(rt, request_id, plan)
    for system in plan.systems():
        execute_system(rt, request_id, plan, system)
    checks = verify_erasure(rt, request_id, plan)
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    seal_request(rt, request_id, {c.step: Outcome("passed") for c in checks}, "rerun")
    actions = {}
    for path in (rt.receipts_dir / request_id).glob("*.json"):
        body = json.loads(path.read_bytes())["receipt"] if path.name != "certificate.json" else {}
        if body.get("kind") == "action":
            actions[(body["action"]["collection"], body["action"]["operation"])] = body["action"]
    return actions


def test_a_lost_reply_to_commit_is_in_doubt_and_the_rerun_counts_what_is_gone(postgres_url: str, tmp_path: Path) -> None:
    shop.load_main(postgres_url)
    side = f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_side(side)
    before = _subject_rows(postgres_url)
    assert all(before[t] > 0 for t in COUNTED)
    with losing_commit_replies() as proxy:
        config = shop.write_config(tmp_path, {"main": _through(postgres_url, proxy.port), "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET])
        rt = Runtime.open(config, create_keys=True)
        request_id = shop.verified_request(rt)
        fulfilment.begin(rt, request_id, "erase")
        plan = make_plan(rt, request_id, discover_now(rt, request_id))
        record_targets(rt, request_id, plan)
        assert plan.systems()[-1] == "main"
        for system in plan.systems()[:-1]:
            execute_system(rt, request_id, plan, system)
        proxy.armed.set()
        with pytest.raises(CommitInDoubt) as raised:
            execute_system(rt, request_id, plan, "main")
        proxy.armed.clear()
        assert proxy.commits_lost == 1
        message = str(raised.value)
        assert "may or may not have been committed" in message and "rolled back" not in message
        assert _subject_rows(postgres_url) == dict.fromkeys(COUNTED, 0), "the server did commit"
        with rt.sessions() as session:
            main = list(session.scalars(select(ActionRow).where(ActionRow.request_id == request_id, ActionRow.system == "main")))
        assert main and all(a.state == "intent" and a.details.get("in_doubt") for a in main)

        actions = _finish(rt, request_id)
        rt.close()
    assert actions[("customers", "delete_record")]["affected"] == before["customers"]
    assert actions[("orders", "delete_record")]["affected"] == before["orders"]
    assert actions[("order_lines", "delete_record")]["affected"] == before["order_lines"]
    assert all(a["status"] != "failed" for a in actions.values())


def test_a_crash_between_the_commit_and_its_bookkeeping_still_counts_the_deleted_rows(tmp_path: Path) -> None:
    main, side = f"sqlite:///{tmp_path / 'main.db'}", f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_main(main)
    shop.load_side(side)
    before = _subject_rows(main)
    rt = Runtime.open(shop.write_config(tmp_path, {"main": main, "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET]), create_keys=True)
    request_id = shop.verified_request(rt)
    fulfilment.begin(rt, request_id, "erase")
    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    record_targets(rt, request_id, plan)
    for system in plan.systems():
        execute_system(rt, request_id, plan, system)
    with rt.sessions() as session:  # as a kill between the stores' commits and the bookkeeping leaves it
        for action in session.scalars(select(ActionRow).where(ActionRow.request_id == request_id)):
            action.state, action.affected_count = "intent", None
        session.commit()
    actions = _finish(rt, request_id)
    assert actions[("customers", "delete_record")]["affected"] == before["customers"]
    assert actions[("orders", "delete_record")]["affected"] == before["orders"]
    assert actions[("tickets", "redact_span")]["affected"] == 1  # the referral note, redacted by the lost attempt
    assert actions[("customers", "delete_record")]["resumed"] is True
