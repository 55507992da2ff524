"""The ledger as the orchestrator writes it: replayed by the auditor's verifier across a key rotation."""

from __future__ import annotations

import datetime as dt

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
