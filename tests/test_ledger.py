"""The ledger as the orchestrator writes it: replayed by the auditor's verifier across a key rotation."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from dsr import ledger
from dsr.control.models import LedgerEntry
from dsr.keys import rotate
from dsr.ledger import export_bundle
from dsr.requests import Verification, create_request, get_request
from dsr.runtime import Runtime
from dsr.subject import Identifier, IdentifierKind
from receipts.audit import find_subject, load_bundle, verify_log
from receipts.note import Keyring
from tests import shop


def _erase(rt: Runtime, email: str) -> str:
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind="erase", identifiers=[Identifier.parse(IdentifierKind.EMAIL, email)], channel="web",
                             department="Support Desk", requested_by="clerk", verification=Verification("photo ID", "officer", dt.datetime.now(dt.UTC)))
        session.commit()
        request_id = row.id
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    return request_id


def test_two_requests_across_a_key_rotation_replay_cleanly(tmp_path):
    main, side = f"sqlite:///{tmp_path / 'main.db'}", f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_main(main)
    shop.load_side(side)
    config = shop.write_config(tmp_path, {"main": main, "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET])
    rt = Runtime.open(config, create_keys=True)
    first = _erase(rt, shop.SUBJECT["email"])
    old_key = rt.keys.key_name

    new_key = rotate(tmp_path / "keys" / "signing.pem", tmp_path / "keys" / "keyring.json")
    rt = Runtime.open(config)  # staff restart with the new key
    assert rt.keys.key_name == new_key != old_key
    second = _erase(rt, "mika.t@example.org")  # the namesake asks too

    audit = tmp_path / "audit"
    export_bundle(rt, audit)
    keyring = Keyring.from_json((tmp_path / "keys" / "keyring.json").read_bytes())
    bundle, problems = load_bundle(audit)
    assert problems == [] or all(c.ok for c in problems)
    checks = verify_log(bundle, keyring, rt.estate.settings.ledger_origin)
    assert checks and all(c.ok for c in checks), [c.line() for c in checks if not c.ok]

    # The first request's person, and only them, is found with their opening.
    with rt.sessions() as session:
        salt = bytes.fromhex(get_request(session, first).subject_salt)
    found = find_subject(bundle, keyring, "email", shop.SUBJECT["email"].lower(), salt)
    assert found and {m.request_id for m in found} == {first}
    assert find_subject(bundle, keyring, "email", "mika.t@example.org", salt) == []
    signers = {line.split('"key":"')[1].split('"')[0] for line in (e.decode() for e in bundle.entries)}
    assert signers == {old_key, new_key} and second


@pytest.mark.postgres
def test_requests_sealed_at_once_keep_the_ledger_dense(tmp_path, postgres_url):
    """Two requests sealed at the same moment both want the next index: the database refuses one,
    whose transaction runs again; every receipt lands, once, at indexes 0..n-1."""
    main = f"sqlite:///{tmp_path / 'main.db'}"
    shop.load_main(main)
    config = shop.write_config(tmp_path, {"main": main}, [shop.MAIN_DATASET])
    estate = config / "estate.yaml"
    estate.write_text(estate.read_text().replace(f"sqlite:///{tmp_path / 'control.db'}", postgres_url))
    rt = Runtime.open(config, create_keys=True)
    with rt.sessions() as session:
        request_id = create_request(session, rt.estate, kind="erase", identifiers=[Identifier.parse(IdentifierKind.EMAIL, shop.SUBJECT["email"])],
                                    channel="web", department="Support Desk", requested_by="clerk").id
        session.commit()
    start, failures, per_writer = threading.Barrier(2), [], 30

    def writer(tag: str) -> None:
        start.wait()
        try:
            for n in range(per_writer):
                ledger.write(rt, lambda session, n=n: ledger.append(session, request_id, f"{tag}-{n}", "action", f"{tag}/{n}", f"{tag}{n}".encode()))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    with rt.sessions() as session:
        rows = session.execute(select(LedgerEntry.index, LedgerEntry.receipt_id).order_by(LedgerEntry.index)).all()
    assert [index for index, _ in rows] == list(range(2 * per_writer))
    assert sorted(receipt for _, receipt in rows) == sorted(f"{tag}-{n}" for tag in "ab" for n in range(per_writer))


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_the_control_database_refuses_to_rewrite_receipts_and_decisions(request, server, tmp_path):
    """On every supported server, not only SQLite: ledger entries, checkpoints and approval decisions
    are only ever inserted; the database itself refuses UPDATE and DELETE."""
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DatabaseError

    from dsr.control.db import session_factory
    from dsr.control.models import ApprovalRow, CheckpointRow, RequestRow, utcnow

    sessions = session_factory(request.getfixturevalue(server))
    now = utcnow()
    with sessions() as session:
        session.add(RequestRow(id="DSR-1", kind="erase", status="awaiting_approval", subject_commitments=[], subject_salt="00", channel="web",
                               department="Support Desk", received_at=now, due_at=now, requested_by="clerk", policy_id="p", policy_digest="d"))
        session.flush()
        session.add_all([
            LedgerEntry(index=0, receipt_id="r-0", request_id="DSR-1", kind="action", step="a/b/delete_record", document=b"{}", leaf_hash="00" * 32),
            CheckpointRow(size=1, root="00" * 32, note=b"note"),
            ApprovalRow(request_id="DSR-1", verdict="approved", actor="Mari Tanaka", plan_digest="sha256:00", via="cli", reason="", at=now),
        ])
        session.commit()
    for table in (LedgerEntry, CheckpointRow, ApprovalRow):
        for statement in (update(table).values({next(iter(table.__table__.primary_key.columns)).name: 99}), delete(table)):
            with sessions() as session:
                with pytest.raises(DatabaseError, match="append-only"):
                    session.execute(statement)
                    session.commit()
