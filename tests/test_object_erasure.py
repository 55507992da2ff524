"""Erasure in object storage, through the whole plan: versions, rewrites, refusals and receipts.

The S3 server is moto's standalone server over HTTP (the `s3_endpoint` fixture).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import boto3
import pytest
from ruamel.yaml import YAML

from dsr.control.models import ActionRow
from dsr.erasure import discover_now
from dsr.requests import Verification, create_request
from dsr.runtime import Runtime
from dsr.subject import Identifier, IdentifierKind
from tests import shop

SUBJECT_EMAIL = "mika.tanaka@example.jp"


def _estate(tmp_path: Path, endpoint: str, sqlite_url: str, attachments_rule: dict | None = None) -> Runtime:
    shop.load_main(sqlite_url)
    shop.load_side(f"sqlite:///{tmp_path / 'side.db'}")
    storage = {
        "system": "storage",
        "collections": {
            "attachments": {"categories": ["support_case"], "objects": {"bucket": "attachments", "format": "auto", "export": "objects"}},
            "logs": {"categories": ["access_log"], "objects": {"bucket": "logs", "format": "text"}},
        },
    }
    policy = {**shop.POLICY, "erase": {**shop.POLICY["erase"], "records": {**shop.POLICY["erase"]["records"], "access_log": {"action": "keep"}}}}
    policy["access"] = {"export": [*shop.POLICY["access"]["export"], "support_case", "access_log"]}
    if attachments_rule is not None:
        policy["erase"]["records"]["support_case"] = attachments_rule
    config = shop.write_config(tmp_path, {"main": sqlite_url, "side": f"sqlite:///{tmp_path / 'side.db'}"}, [shop.MAIN_DATASET, shop.SIDE_DATASET, storage], policy)
    systems = YAML().load((config / "systems.yaml").read_text())
    systems["systems"]["storage"] = {"kind": "s3", "url": endpoint, "options": {"region": "us-east-1"}}
    with (config / "systems.yaml").open("w") as f:
        YAML().dump(systems, f)
    (config / "scanners.yaml").write_text("presidio: false\n")  # pattern matching alone: these tests are about storage
    return Runtime.open(config, create_keys=True)


def _request(rt: Runtime) -> str:
    identifiers = [Identifier.parse(IdentifierKind.EMAIL, SUBJECT_EMAIL), Identifier.parse(IdentifierKind.PHONE, shop.SUBJECT["phone"])]
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind="erase", identifiers=identifiers, channel="web", department="Support Desk",
                             requested_by="clerk", verification=Verification("photo ID", "officer", dt.datetime.now(dt.UTC)))
        session.commit()
        return row.id




def _fill(s3, locked: bool = False) -> None:  # noqa: ANN001
    s3.create_bucket(Bucket="attachments", ObjectLockEnabledForBucket=locked)
    if locked:
        s3.put_object_lock_configuration(Bucket="attachments", ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    else:
        s3.put_bucket_versioning(Bucket="attachments", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="attachments", Key="t/1/note.txt", Body=f"From {SUBJECT_EMAIL}: my router is broken".encode())
    s3.put_object(Bucket="attachments", Key="t/1/note.txt", Body=b"edited: router replaced")  # the mention lives on in v1
    s3.put_object(Bucket="attachments", Key="t/2/note.txt", Body=b"From ken@example.com: billing")
    s3.create_bucket(Bucket="logs")
    lines = [f"2025-07-01T10:00:0{i}Z GET /mypage user={'MIKA.TANAKA@EXAMPLE.JP' if i == 3 else f'u{i}@example.com'} 200" for i in range(6)]
    s3.put_object(Bucket="logs", Key="2025-07-01.log", Body=gzip.compress(("\n".join(lines) + "\n").encode()))


def test_objects_are_erased_in_every_version_and_logs_rewritten(tmp_path, s3_endpoint, sqlite_url):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    _fill(s3)
    rt = _estate(tmp_path, s3_endpoint, sqlite_url)
    request_id = _request(rt)
    found = discover_now(rt, request_id)
    assert {(f.collection, f.key[0]) for f in found.mentions("storage")} == {("attachments", "t/1/note.txt"), ("logs", "2025-07-01.log")}
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))

    versions = s3.list_object_versions(Bucket="attachments", Prefix="t/1/")
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []  # not hidden: gone
    assert len(s3.list_object_versions(Bucket="attachments", Prefix="t/2/")["Versions"]) == 1
    log = s3.get_object(Bucket="logs", Key="2025-07-01.log")["Body"].read()
    assert log[:2] == b"\x1f\x8b"  # still gzip
    text = gzip.decompress(log).decode()
    assert "mika" not in text.lower() and "user=[redacted] 200" in text and "user=u4@example.com" in text
    assert len(s3.list_object_versions(Bucket="logs")["Versions"]) == 1


def test_object_lock_refusal_is_a_failed_item_never_a_success(tmp_path, s3_endpoint, sqlite_url):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    _fill(s3, locked=True)
    rt = _estate(tmp_path, s3_endpoint, sqlite_url)
    request_id = _request(rt)
    checks = shop.erase_without_prefect(rt, request_id)
    failed = [c for c in checks if not c.passed]
    assert [c.step for c in failed] == ["storage/attachments/delete_object_all_versions"]
    assert "Object Lock" in failed[0].detail and SUBJECT_EMAIL not in failed[0].detail
    with rt.sessions() as session:
        action = session.query(ActionRow).filter_by(request_id=request_id, step="storage/attachments/delete_object_all_versions").one()
        assert action.state == "failed" and action.affected_count == 0 and action.details["refused"]
    receipts = [json.loads(p.read_bytes())["receipt"] for p in (rt.receipts_dir / request_id).glob("*.json") if p.name != "certificate.json"]
    (receipt,) = [r for r in receipts if r["kind"] == "action" and r["action"]["step"] == "storage/attachments/delete_object_all_versions"]
    assert receipt["action"]["status"] == "failed" and receipt["action"]["post_check"].startswith("failed")
    assert len(s3.list_object_versions(Bucket="attachments", Prefix="t/1/")["Versions"]) == 2  # nothing pretended
    # Everything the store allowed still happened.
    assert [c.passed for c in checks if c.step.startswith("storage/logs")] == [True]


@pytest.mark.parametrize("rule", [{"action": "keep"}, {"action": "retain", "legal_basis": "litigation hold", "retention": "1y"}], ids=["keep", "retain"])
def test_kept_objects_are_rewritten_and_retained_objects_left(tmp_path, s3_endpoint, sqlite_url, rule):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    _fill(s3)
    rt = _estate(tmp_path, s3_endpoint, sqlite_url, attachments_rule=rule)
    request_id = _request(rt)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    remaining = s3.list_object_versions(Bucket="attachments", Prefix="t/1/")["Versions"]
    bodies = [s3.get_object(Bucket="attachments", Key="t/1/note.txt", VersionId=v["VersionId"])["Body"].read() for v in remaining]
    if rule["action"] == "keep":  # rewritten: one clean version, the old one holding the mention purged
        assert len(remaining) == 1 and all(b"mika" not in b.lower() for b in bodies)
    else:  # retained under its legal basis: untouched, and the receipt says so
        assert len(remaining) == 2 and any(b"mika" in b.lower() for b in bodies)
        receipts = [json.loads(p.read_bytes())["receipt"] for p in (rt.receipts_dir / request_id).glob("*.json") if p.name != "certificate.json"]
        (receipt,) = [r for r in receipts if r["kind"] == "action" and r["action"]["step"] == "storage/attachments/retain"]
        assert receipt["action"]["status"] == "retained" and receipt["action"]["legal_basis"] == "litigation hold"
