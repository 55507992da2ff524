"""Rectification (privacy policy §7, "correct"): every structured field holding the old value gets
the new one, across systems; free-text mentions are listed for review, never rewritten; receipts
carry digests of the old and new values, not the values."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dsr.requests import Correction, RequestError, Verification, create_request
from dsr.runtime import Runtime
from dsr.subject import Identifier, IdentifierKind
from tests import shop

NEW_EMAIL = "mika.sato@example.jp"




def test_an_email_is_corrected_in_two_systems_and_free_text_is_left_for_review(tmp_path, sql_url):
    side = f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_main(sql_url)
    shop.load_side(side)
    rt = Runtime.open(shop.write_config(tmp_path, {"main": sql_url, "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET]), create_keys=True)
    old = Identifier.parse(IdentifierKind.EMAIL, shop.SUBJECT["email"])
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind="rectify", identifiers=[old], channel="letter", department="Support Desk", requested_by="clerk",
                             verification=Verification("photo ID", "officer", dt.datetime.now(dt.UTC)),
                             corrections=[Correction(old, Identifier.parse(IdentifierKind.EMAIL, NEW_EMAIL))])
        session.commit()
        request_id = row.id
    checks = shop.erase_without_prefect(rt, request_id, "rectify")
    assert all(c.passed for c in checks), checks

    assert shop.rows(sql_url, "select email from customers where id = 1") == [(NEW_EMAIL,)]
    assert shop.rows(sql_url, "select count(*) from customers") == [(3,)]  # nothing deleted
    assert shop.rows(side, "select contact_email from tickets where id = 2") == [(NEW_EMAIL,)]  # was 'MIKA.TANAKA@EXAMPLE.JP'
    assert shop.rows(side, "select contact_email from tickets where id = 3") == [("mika.t@example.org",)]  # the namesake's stays
    assert shop.rows(side, "select notes from tickets where id = 4") == [(shop.REFERRAL_NOTE,)]  # free text: reviewed by a person

    receipts = [json.loads(p.read_bytes())["receipt"] for p in (rt.receipts_dir / request_id).glob("*.json") if p.name != "certificate.json"]
    actions = {r["action"]["step"]: r["action"] for r in receipts if r["kind"] == "action"}
    assert actions["side/tickets/review"]["status"] == "deferred" and actions["side/tickets/review"]["planned"] == 1
    rectified = actions["main/customers/rectify:email"]
    assert rectified["status"] == "done" and rectified["affected"] == 1
    (values,) = rectified["values"]
    assert values["kind"] == "email" and values["old"].startswith("hmac-sha256:") and values["new"] != values["old"]
    for receipt in receipts:
        assert "mika" not in json.dumps(receipt).lower()


def test_corrections_must_replace_the_subjects_own_identifier(tmp_path):
    main, side = f"sqlite:///{tmp_path / 'main.db'}", f"sqlite:///{tmp_path / 'side.db'}"
    rt = Runtime.open(shop.write_config(tmp_path, {"main": main, "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET]), create_keys=True)
    mine = Identifier.parse(IdentifierKind.EMAIL, shop.SUBJECT["email"])
    someone = Identifier.parse(IdentifierKind.EMAIL, "ken@example.com")
    with rt.sessions() as session, pytest.raises(RequestError, match="must replace one of the subject's identifiers"):
        create_request(session, rt.estate, kind="rectify", identifiers=[mine], channel="web", department="d", requested_by="c",
                       corrections=[Correction(someone, Identifier.parse(IdentifierKind.EMAIL, NEW_EMAIL))])
    with rt.sessions() as session, pytest.raises(RequestError, match="needs corrections"):
        create_request(session, rt.estate, kind="rectify", identifiers=[mine], channel="web", department="d", requested_by="c")
