"""The tamper suite: every way of falsifying the receipt ledger is caught, with a specific message.

The bundles are built here with the receipts package only (no orchestrator): deterministic Ed25519
keys, action and certificate bodies in the documented format (docs/receipts.md), sealed, appended
to an RFC 6962 tree, with a signed checkpoint after each certificate (as dsr.sealing does).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from receipts import cli
from receipts.audit import Check, find_subject, load_bundle, verify_checkpoint, verify_consistency, verify_log, verify_receipts
from receipts.bundle import Bundle, write_bundle
from receipts.canonical import canonical
from receipts.commitment import commitments
from receipts.merkle import MerkleTree, leaf_hash
from receipts.note import Checkpoint, Keyring, KeyWindow
from receipts.receipt import SCHEMA, seal

ORIGIN = "hkt.example/dsr-ledger"
OTHER_ORIGIN = "other.example/dsr-ledger"
REPO = Path(__file__).resolve().parents[1]


def _key(seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"test-audit {seed}".encode()).digest())


OLD = ("hkt-dsr-2024", _key("old"))  # rotated out at the end of 2024
NEW = ("hkt-dsr-2025", _key("new"))  # current
MALLORY = ("mallory", _key("mallory"))  # in nobody's keyring
IMPOSTOR = ("hkt-dsr-2025", _key("impostor"))  # claims the current key's name, is not that key
KEYRING = Keyring(
    [
        KeyWindow(OLD[0], OLD[1].public_key(), datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)),
        KeyWindow(NEW[0], NEW[1].public_key(), datetime(2025, 1, 1, tzinfo=UTC)),
    ]
)
Signer = tuple[str, Ed25519PrivateKey]


# -- the factory ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    id: str
    identifiers: tuple[tuple[str, str], ...]
    start: datetime
    signer: Signer
    steps: tuple[tuple[str, str], ...]  # (step, status)

    @property
    def salt(self) -> bytes:
        return hashlib.sha256(f"opening {self.id}".encode()).digest()


R1 = Request("DSR-2024-0001", (("email", "taro@example.jp"), ("phone", "+819012345678")), datetime(2024, 12, 31, 22, 0, tzinfo=UTC), OLD,
             (("crm.customers.erase", "done"), ("billing.invoices.retain", "retained"), ("support.tickets.redact", "done")))  # fmt: skip
R2 = Request("DSR-2025-0002", (("email", "hanako@example.jp"),), datetime(2025, 1, 10, 9, 0, tzinfo=UTC), NEW,
             (("crm.customers.erase", "done"), ("marketing.s3.erase", "done"), ("support.tickets.redact", "skipped")))  # fmt: skip
R3 = Request("DSR-2025-0003", (("email", "taro@example.jp"), ("customer_id", "HKT-0000042")), datetime(2025, 2, 3, 14, 0, tzinfo=UTC), NEW,
             (("crm.customers.erase", "done"), ("billing.invoices.retain", "retained"), ("analytics.events.erase", "done")))  # fmt: skip
R4 = Request("DSR-2025-0004", (("email", "jiro@example.jp"),), datetime(2025, 2, 1, 8, 0, tzinfo=UTC), NEW,
             (("crm.customers.erase", "done"), ("analytics.events.erase", "done")))  # fmt: skip
REQUESTS = (R1, R2, R3)


def common(request: Request, kind: str, receipt_id: str, when: datetime, origin: str = ORIGIN) -> dict:
    return {
        "schema": SCHEMA,
        "kind": kind,
        "receipt_id": receipt_id,
        "issued_at": when.isoformat(),
        "origin": origin,
        "request": {
            "id": request.id,
            "kind": "erase",
            "received_at": (request.start - timedelta(days=3)).isoformat(),
            "due_at": (request.start + timedelta(days=27)).isoformat(),
            "verification_method": "email-otp",
        },
        "subject": {"commitments": commitments(request.salt, list(request.identifiers))},
        "policy": {"id": "hkt-privacy-2024-04", "digest": "sha256:" + hashlib.sha256(b"policy").hexdigest()},
        "plan_digest": "sha256:" + hashlib.sha256(request.id.encode()).hexdigest(),
    }


def action_body(request: Request, number: int, step: str, status: str, origin: str = ORIGIN) -> dict:
    system, collection, operation = step.split(".")
    retained = status == "retained"
    return {
        **common(request, "action", f"{request.id}-a{number}", request.start + timedelta(minutes=number), origin),
        "action": {
            "step": step,
            "system": system,
            "collection": collection,
            "operation": "keep" if retained else ("skipped" if status == "skipped" else operation),
            "target": "hmac-sha256:" + hashlib.sha256(f"{request.id} {step}".encode()).hexdigest(),
            "planned": 2,
            "affected": 0 if retained or status == "skipped" else 2,
            "resumed": False,
            "status": status,
            "rule": "tax-records-7y" if retained else "erase-by-default",
            "legal_basis": "Corporation Tax Act art. 126 (books and records, 7 years)" if retained else None,
            "purge_by": "2031-03-31" if retained else None,
            "evidence": None,
            "post_check": "not applicable" if retained else "passed",
            "refused": [],
        },
    }


@dataclass
class Ledger:
    entries: list[bytes] = field(default_factory=list)
    checkpoints: dict[str, bytes] = field(default_factory=dict)
    certificates: dict[str, dict] = field(default_factory=dict)
    tree: MerkleTree = field(default_factory=MerkleTree)

    def append(self, document: bytes) -> int:
        self.entries.append(document)
        return self.tree.append(document)

    def bundle(self) -> Bundle:
        return Bundle(list(self.entries), dict(self.checkpoints), KEYRING, json.loads(json.dumps(self.certificates)))


def build(requests: tuple[Request, ...] = REQUESTS, *, edit: dict | None = None) -> Ledger:
    """A clean ledger: per request its action receipts, its certificate, then a signed checkpoint.
    `edit` (receipt_id -> {action field: value}) makes an alternative history (for forks)."""
    ledger = Ledger()
    for request in requests:
        name, key = request.signer
        leaves = []
        for number, (step, status) in enumerate(request.steps):
            body = action_body(request, number, step, status)
            body["action"].update((edit or {}).get(body["receipt_id"], {}))
            leaves.append(leaf_hash(document := seal(key, name, body)).hex())
            ledger.append(document)
        body = {
            **common(request, "certificate", f"{request.id}-cert", request.start + timedelta(minutes=len(request.steps))),
            "receipts": leaves,
            "verification": {"checks": len(leaves), "failed": 0},
            "outcome": "erased; some records retained by policy" if any(status == "retained" for _, status in request.steps) else "erased",
        }
        body["approval"] = {"by": "Mari Tanaka", "at": request.start.isoformat(), "plan_digest": body["plan_digest"]}
        index = ledger.append(seal(key, name, body))
        note = Checkpoint(ORIGIN, ledger.tree.size, ledger.tree.root()).sign(name, key)
        ledger.checkpoints[f"{ledger.tree.size}.note"] = note
        ledger.certificates[request.id] = {"index": index, "proof": [h.hex() for h in ledger.tree.inclusion_proof(index)], "checkpoint": note.decode()}
    return ledger


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return build()


def fails(checks: list[Check]) -> list[str]:
    return [c.line() for c in checks if not c.ok]


def has(checks: list[Check], *parts: str) -> bool:
    """Whether one failed check's line contains every part."""
    return any(all(p in line for p in parts) for line in fails(checks))


def body_of(document: bytes) -> dict:
    return json.loads(document)["receipt"]


def edited(document: bytes, **action: object) -> bytes:
    """The envelope with its body changed and the old signature kept (canonical bytes)."""
    envelope = json.loads(document)
    envelope["receipt"]["action"].update(action)
    return canonical(envelope)


def resealed(document: bytes, signer: Signer, change: dict | None = None, **top: object) -> bytes:
    body = body_of(document)
    body.update(top)
    if change:
        body["action"].update(change)
    return seal(signer[1], signer[0], body)


# -- a clean bundle -------------------------------------------------------------------------------


def test_clean_bundle_passes_every_check(ledger: Ledger) -> None:
    checks = verify_log(ledger.bundle(), KEYRING, ORIGIN)
    assert fails(checks) == []
    names = {c.name for c in checks}
    assert {"keyring", "entries", "receipt-ids", "certificates", "checkpoints", "certificate-proofs", "fork", "coverage"} <= names
    assert any("all 12 entries" in c.detail for c in checks)
    assert any("sizes 4, 8, 12" in c.detail for c in checks)
    assert fails(verify_log(ledger.bundle(), KEYRING)) == []  # origin inferred


def test_entries_after_the_last_checkpoint_are_reported_not_failed(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    bundle.entries.append(seal(NEW[1], NEW[0], action_body(R4, 0, "crm.customers.erase", "done")))
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert fails(checks) == []
    assert any(c.name == "coverage" and "entries 12..12 are individually signed but not yet covered" in c.detail for c in checks)


def test_empty_or_garbage_input_never_raises() -> None:
    assert has(verify_log(Bundle([], {}, None), KEYRING), "no signed checkpoint")
    garbage = Bundle([b"", b"[" * 100_000, b'{"receipt":{"a":NaN},"signature":{}}', b"\xff"], {"1.note": b"\x00"}, None, {"x": {"index": "a"}})
    checks = verify_log(garbage, KEYRING)
    assert has(checks, "entry[1]", "nested too deeply") or has(checks, "entry[1]", "not JSON")
    assert has(checks, "entry[2]")
    assert has(checks, "certificates/x.json", "malformed certificate proof file")
    assert has(checks, "checkpoints/1.note")
    assert verify_checkpoint(b"nonsense", KEYRING)[0] is None
    assert has(verify_consistency(b"", b"", [b"x"], KEYRING, [b"x"]), "consistency")


# -- the tamper suite -----------------------------------------------------------------------------


def test_edited_receipt(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    bundle.entries[5] = edited(bundle.entries[5], affected=0)
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "FAIL entry[5]", "entries.jsonl line 6 (receipt DSR-2025-0002-a1)", "signature does not match the receipt's content")
    assert has(checks, "checkpoints/8.note", "root mismatch", "entries 4..7 (entries 0..3 still match checkpoints/4.note)")


def test_edited_receipt_resigned_by_an_insider_key(ledger: Ledger) -> None:
    """The insider holds a key of the keyring: the signature is fine, the signed checkpoint is not."""
    bundle = ledger.bundle()
    bundle.entries[5] = resealed(bundle.entries[5], NEW, {"status": "done", "affected": 0})
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert not any(line.startswith("FAIL entry[5]") for line in fails(checks))  # the signature verifies
    assert has(checks, "FAIL checkpoints/8.note", "root mismatch", "entries 4..7 (entries 0..3 still match checkpoints/4.note)", "edited (even if re-signed)")
    assert has(checks, "FAIL checkpoints/12.note", "root mismatch")
    assert has(checks, "certificate[7]", "request DSR-2025-0002", "which is not in the log")
    assert has(checks, "certificate[7]", "does not list the action receipt(s) at entries [5]")
    assert has(checks, "certificates/DSR-2025-0002.json", "does not match the log's root")


def test_dropped_receipt(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    dropped = leaf_hash(bundle.entries.pop(5)).hex()
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "certificate[6]", f"lists action receipt {dropped[:16]} which is not in the log: it was dropped")
    assert has(checks, "checkpoints/8.note", "root mismatch", "entries 4..7")
    assert has(checks, "certificates/DSR-2025-0003.json", "points at entry 11 but the log has 11 entries")  # everything after shifted
    assert has(checks, "certificates/DSR-2025-0002.json", "entry 7 is not the certificate of request DSR-2025-0002")


def test_reordered_entries(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    bundle.entries[4], bundle.entries[5] = bundle.entries[5], bundle.entries[4]
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert not any(line.startswith("FAIL entry[") for line in fails(checks))  # each receipt is genuine
    assert has(checks, "checkpoints/8.note", "root mismatch", "reordered")
    assert has(checks, "certificate[7]", "lists its receipts out of ledger order (entries [5, 4, 6]): the log was reordered")


def test_truncated_log(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    del bundle.entries[10:]
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "FAIL checkpoints/12.note", "checkpoint of size 12 but the log has 10 entries: truncated or rolled back")
    assert has(checks, "certificates/DSR-2025-0003.json", "points at entry 11 but the log has 10 entries")


def test_rolled_back_log(ledger: Ledger) -> None:
    """The operator rolls the log back to size 8 and writes a different history from there."""
    rewritten = build((R1, R2, R4))
    assert rewritten.entries[:8] == ledger.entries[:8]
    bundle = rewritten.bundle()
    bundle.checkpoints["12.note"] = ledger.checkpoints["12.note"]  # the auditor already saw size 12
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "FAIL checkpoints/12.note", "checkpoint of size 12 but the log has 11 entries: truncated or rolled back")
    consistency = verify_consistency(ledger.checkpoints["12.note"], rewritten.checkpoints["11.note"], None, KEYRING, rewritten.entries)
    assert has(consistency, "FAIL consistency", "the new checkpoint (size 11) is smaller than the old one (size 12): the log was truncated or rolled back")


def test_forked_log(ledger: Ledger) -> None:
    """Two signed checkpoints of size 12 with different roots: two histories were shown."""
    other = build(edit={"DSR-2025-0003-a1": {"status": "done", "affected": 2}})
    bundle = ledger.bundle()
    bundle.checkpoints["12-b.note"] = other.checkpoints["12.note"]
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "FAIL fork", "signed checkpoints of one size 12 with different roots", "checkpoints/12.note", "checkpoints/12-b.note", "the log was forked")
    assert has(checks, "FAIL checkpoints/12-b.note", "root mismatch", "entries 8..11")
    consistency = verify_consistency(ledger.checkpoints["12.note"], other.checkpoints["12.note"], [], KEYRING)
    assert has(consistency, "both checkpoints are of size 12 but their roots differ: the log was forked")
    proof = other.tree.consistency_proof(8, 12)
    assert has(verify_consistency(ledger.checkpoints["8.note"], ledger.checkpoints["12.note"], proof, KEYRING), "FAIL consistency-proof", "rewritten (forked)")


def test_wrong_key(ledger: Ledger) -> None:
    """A key that calls itself by the pinned key's name, but is not it."""
    bundle = ledger.bundle()
    bundle.entries[5] = resealed(bundle.entries[5], IMPOSTOR)
    bundle.checkpoints["8.note"] = Checkpoint(ORIGIN, 8, ledger.tree.root(8)).sign(*IMPOSTOR)
    checks = verify_log(bundle, KEYRING, ORIGIN)
    pinned = KEYRING.windows[1].key_id.hex()
    assert has(checks, "FAIL entry[5]", "wrong key: signed by a key named 'hkt-dsr-2025'", f"but the pinned key of that name has key id {pinned}")
    assert has(checks, "FAIL checkpoints/8.note", "wrong key", f"the pinned key of that name has key id {pinned}")


def test_unknown_key(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    bundle.entries[5] = resealed(bundle.entries[5], MALLORY)
    bundle.checkpoints["12.note"] = Checkpoint(ORIGIN, 12, ledger.tree.root()).sign(*MALLORY)
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "FAIL entry[5]", "unknown key: signed by 'mallory'", "not in the pinned keyring")
    assert has(checks, "FAIL checkpoints/12.note", "unknown key: signed only by 'mallory'")


def test_key_used_outside_its_window(ledger: Ledger) -> None:
    """The 2024 key, rotated out on 31 December, signs a receipt and a checkpoint of 2025."""
    bundle = ledger.bundle()
    bundle.entries[5] = resealed(bundle.entries[5], OLD)
    bundle.checkpoints["8.note"] = Checkpoint(ORIGIN, 8, ledger.tree.root(8)).sign(*OLD)
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "FAIL entry[5]", "key hkt-dsr-2024 used outside its validity window (2024-01-01T00:00:00Z..2024-12-31T23:59:59Z)", "signed at 2025-01-10T09:01:00Z")
    assert has(checks, "FAIL checkpoints/8.note", "signing key not valid for what it covers (entry 7, the last it covers", "hkt-dsr-2024 used outside its validity window")
    # the same key inside its window (R1, 2024) is fine: rotation
    assert not any(line.startswith(("FAIL checkpoints/4.note", "FAIL entry[1]")) for line in fails(checks))


def test_certificate_proof_for_another_tree_size(ledger: Ledger, tmp_path: Path) -> None:
    bundle = ledger.bundle()
    bundle.certificates[R1.id]["proof"] = [h.hex() for h in ledger.tree.inclusion_proof(3, 8)]  # checkpoint is of size 4
    assert has(verify_log(bundle, KEYRING, ORIGIN), "FAIL certificates/DSR-2024-0001.json", "the inclusion proof of entry 3 is for tree size 8, not the checkpoint's size 4")
    bundle.certificates[R1.id]["proof"] = [h.hex() for h in ledger.tree.inclusion_proof(3, 5)]  # a size no checkpoint has
    assert has(verify_log(bundle, KEYRING, ORIGIN), "FAIL certificates/DSR-2024-0001.json",
               "has 3 hashes, but a proof against the checkpoint's tree size 4 has 2: it was made for a different tree size")  # fmt: skip
    # the same, for an auditor holding only the certificate receipt and its proof file
    (tmp_path / "cert.json").write_bytes(ledger.entries[3])
    (tmp_path / "certificates").mkdir()
    proof_file = tmp_path / "certificates" / f"{R1.id}.json"
    proof_file.write_text(json.dumps(bundle.certificates[R1.id]))
    assert has(verify_receipts([tmp_path / "cert.json", proof_file], KEYRING, ORIGIN), "made for a different tree size")


def test_duplicate_json_key(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    original = bundle.entries[0]
    shadow = canonical({**body_of(original), "action": {**body_of(original)["action"], "status": "failed"}})
    bundle.entries[0] = b'{"receipt":' + shadow + b"," + original[1:]  # two "receipt" keys: which one is read?
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "FAIL entry[0]", "entries.jsonl line 1", "duplicate JSON key(s): receipt")


def test_checkpoint_edited_after_signing(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    genuine, forged = Checkpoint(ORIGIN, 8, ledger.tree.root(8)).body(), Checkpoint(ORIGIN, 8, ledger.tree.root(7)).body()
    bundle.checkpoints["8.note"] = bundle.checkpoints["8.note"].replace(genuine, forged)  # the signature line is kept
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "FAIL checkpoints/8.note", "signature by hkt-dsr-2025", "does not match the note: the checkpoint was edited after it was signed")
    assert has(verify_checkpoint(bundle.checkpoints["8.note"], KEYRING)[1], "edited after it was signed")


def test_receipt_from_another_log_origin(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    bundle.entries[5] = resealed(bundle.entries[5], NEW, origin=OTHER_ORIGIN)
    checks = verify_log(bundle, KEYRING, ORIGIN)
    assert has(checks, "FAIL entry[5]", f"receipt belongs to log origin '{OTHER_ORIGIN}', not '{ORIGIN}'")
    assert has(verify_log(bundle, KEYRING), "FAIL entry[5]", f"receipt belongs to log origin '{OTHER_ORIGIN}', not '{ORIGIN}'")  # inferred origin
    bundle = ledger.bundle()
    bundle.checkpoints["8.note"] = Checkpoint(OTHER_ORIGIN, 8, ledger.tree.root(8)).sign(*NEW)
    assert has(verify_log(bundle, KEYRING, ORIGIN), "FAIL checkpoints/8.note", f"checkpoint of log origin '{OTHER_ORIGIN}', not '{ORIGIN}'")


def test_certificate_approving_another_plan(ledger: Ledger) -> None:
    """Four-eyes: the plan a second person approved must be the plan the request ran."""
    bundle = ledger.bundle()
    assert body_of(bundle.entries[7])["kind"] == "certificate"
    approval = {**body_of(bundle.entries[7])["approval"], "plan_digest": "sha256:" + "1" * 64}
    bundle.entries[7] = resealed(bundle.entries[7], NEW, approval=approval)
    assert has(verify_log(bundle, KEYRING, ORIGIN), "FAIL entry[7]", "approval was given for plan sha256:111", "but the request ran plan")
    bundle.entries[7] = resealed(bundle.entries[7], NEW, approval={"by": "Mari Tanaka"})
    assert has(verify_log(bundle, KEYRING, ORIGIN), "FAIL entry[7]", "'approval' must be null or {by, at, plan_digest}")


def test_duplicate_receipt_id(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    bundle.entries.append(bundle.entries[0])
    assert has(verify_log(bundle, KEYRING, ORIGIN), "FAIL entry[12]", "receipt_id DSR-2024-0001-a0 duplicates entry 0")


# -- single receipts, checkpoints, consistency ----------------------------------------------------


def test_verify_receipts_and_certificate_file(ledger: Ledger, tmp_path: Path) -> None:
    files = []
    for i in range(4):
        (path := tmp_path / f"{i}.json").write_bytes(ledger.entries[i])
        files.append(path)
    (proof := tmp_path / "certificate.json").write_text(json.dumps(ledger.certificates[R1.id]))
    checks = verify_receipts([*files, proof], KEYRING, ORIGIN)
    assert fails(checks) == []
    assert any("is entry 3 of the log whose signed checkpoint has size 4" in c.detail for c in checks)
    assert sum(1 for c in checks if c.name.endswith(":listed")) == 3
    (bad := tmp_path / "bad.json").write_bytes(edited(ledger.entries[1], status="done"))
    assert has(verify_receipts([bad], KEYRING), "signature does not match")
    assert has(verify_receipts([files[0]], KEYRING, OTHER_ORIGIN), f"not '{OTHER_ORIGIN}'")
    assert has(verify_receipts([tmp_path / "missing.json"], KEYRING), "cannot read the file")


def test_a_folder_missing_a_receipt_its_certificate_lists_fails_when_complete(ledger: Ledger, tmp_path: Path) -> None:
    """A run killed between the ledger's commit and the files left 1 of 20 on disk, and the folder
    passed: checked as a whole folder, every receipt its certificate lists must be there."""
    files = []
    for i in range(4):
        (path := tmp_path / f"{i}.json").write_bytes(ledger.entries[i])
        files.append(path)
    assert fails(verify_receipts(files, KEYRING, ORIGIN, complete=True)) == []
    assert has(verify_receipts([files[0], files[2], files[3]], KEYRING, ORIGIN, complete=True), "1 of the 3 receipts this certificate lists are missing")
    assert fails(verify_receipts([files[0], files[2], files[3]], KEYRING, ORIGIN)) == []  # single receipts may be checked alone


def test_verify_checkpoint(ledger: Ledger) -> None:
    checkpoint, checks = verify_checkpoint(ledger.checkpoints["8.note"], KEYRING)
    assert checkpoint == Checkpoint(ORIGIN, 8, ledger.tree.root(8)) and fails(checks) == []
    _, checks = verify_checkpoint(ledger.checkpoints["8.note"], KEYRING, signed_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert fails(checks) == []
    _, checks = verify_checkpoint(ledger.checkpoints["4.note"], KEYRING, signed_at=datetime(2025, 6, 1, tzinfo=UTC))
    assert has(checks, "used outside its validity window")


def test_verify_consistency(ledger: Ledger) -> None:
    old, new = ledger.checkpoints["4.note"], ledger.checkpoints["12.note"]
    assert fails(verify_consistency(old, new, ledger.tree.consistency_proof(4, 12), KEYRING, proof_sizes=(4, 12))) == []
    assert fails(verify_consistency(old, new, None, KEYRING, ledger.entries)) == []
    assert has(verify_consistency(old, new, ledger.tree.consistency_proof(4, 12), KEYRING, proof_sizes=(4, 11)), "the proof is for sizes 4 -> 11")
    assert has(verify_consistency(old, new, ledger.tree.consistency_proof(8, 12), KEYRING), "FAIL consistency-proof")
    assert has(verify_consistency(old, new, None, KEYRING, ledger.entries[:11]), "fewer than the new checkpoint's 12")
    other = Checkpoint(OTHER_ORIGIN, 12, ledger.tree.root()).sign(*NEW)
    assert has(verify_consistency(old, other, None, KEYRING, ledger.entries), "the checkpoints belong to different logs")


# -- finding a person -----------------------------------------------------------------------------


def test_find_subject(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    found = find_subject(bundle, KEYRING, "email", "taro@example.jp", R1.salt)
    assert [(m.index, m.request_id, m.step, m.status) for m in found] == [
        (0, R1.id, "crm.customers.erase", "done"),
        (1, R1.id, "billing.invoices.retain", "retained"),
        (2, R1.id, "support.tickets.redact", "done"),
        (3, R1.id, "certificate", body_of(ledger.entries[3])["outcome"]),
    ]
    assert all(m.verified for m in found)
    assert {m.request_id for m in find_subject(bundle, KEYRING, "phone", "+819012345678", R1.salt)} == {R1.id}
    # the same person's later request has its own opening
    assert {m.index for m in find_subject(bundle, KEYRING, "email", "taro@example.jp", R3.salt)} == {8, 9, 10, 11}
    assert find_subject(bundle, KEYRING, "email", "taro@example.jp", R2.salt) == []  # wrong salt
    assert find_subject(bundle, KEYRING, "email", "jiro@example.jp", R1.salt) == []  # another email
    assert find_subject(bundle, KEYRING, "phone", "taro@example.jp", R1.salt) == []  # another kind
    bundle.entries[1] = edited(bundle.entries[1], status="done")
    assert [m.verified for m in find_subject(bundle, KEYRING, "email", "taro@example.jp", R1.salt)] == [True, False, True, True]


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def on_disk(ledger: Ledger, tmp_path: Path) -> tuple[Path, Path]:
    directory = tmp_path / "bundle"
    write_bundle(directory, ledger.bundle())
    (keys := tmp_path / "pinned-keyring.json").write_bytes(KEYRING.to_json())
    return directory, keys


def test_cli_log_clean_and_tampered(on_disk: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    directory, keys = on_disk
    assert cli.main(["log", str(directory), "--keys", str(keys), "--origin", ORIGIN]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith(" passed, 0 failed") and all(line.startswith("PASS ") for line in out[:-1])
    lines = (directory / "entries.jsonl").read_bytes().split(b"\n")
    lines[5] = edited(lines[5], affected=0)
    (directory / "entries.jsonl").write_bytes(b"\n".join(lines))
    assert cli.main(["log", str(directory), "--keys", str(keys)]) == 1
    out = capsys.readouterr().out
    assert "FAIL entry[5] entries.jsonl line 6 (receipt DSR-2025-0002-a1): signature does not match the receipt's content" in out
    assert "FAIL checkpoints/8.note root mismatch" in out
    assert out.splitlines()[-1].endswith(" failed") and not out.splitlines()[-1].endswith(" 0 failed")


def test_cli_log_without_pinned_keys_warns(on_disk: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    directory, _ = on_disk
    assert cli.main(["log", str(directory)]) == 0
    assert "WARNING: no --keys given" in capsys.readouterr().err


def test_cli_other_verbs(ledger: Ledger, on_disk: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory, keys = on_disk
    (receipt := tmp_path / "r.json").write_bytes(ledger.entries[0])
    assert cli.main(["receipt", str(receipt), "--keys", str(keys), "--origin", ORIGIN]) == 0
    assert cli.main(["checkpoint", str(directory / "checkpoints" / "8.note"), "--keys", str(keys)]) == 0
    old, new = str(directory / "checkpoints" / "4.note"), str(directory / "checkpoints" / "12.note")
    (proof := tmp_path / "proof.json").write_text(json.dumps({"old_size": 4, "new_size": 12, "proof": [h.hex() for h in ledger.tree.consistency_proof(4, 12)]}))
    assert cli.main(["consistency", "--old", old, "--new", new, "--proof", str(proof), "--keys", str(keys)]) == 0
    assert cli.main(["consistency", "--old", old, "--new", new, "--bundle", str(directory), "--keys", str(keys)]) == 0
    assert cli.main(["consistency", "--old", new, "--new", old, "--bundle", str(directory), "--keys", str(keys)]) == 1
    assert "smaller than the old one" in capsys.readouterr().out
    # the subject verb normalises the identifier as the orchestrator does (NFKC, trimmed, lower-case)
    assert cli.main(["subject", str(directory), "--identifier", "email: ＴＡＲＯ@Example.JP ", "--opening", R1.salt.hex(), "--keys", str(keys)]) == 0
    out = capsys.readouterr().out
    assert f"PASS entry[1] action receipt {R1.id}-a1 of request {R1.id}: billing.invoices.retain retained" in out
    assert "4 receipt(s) of request(s) DSR-2024-0001 concern this email" in out
    assert cli.main(["subject", str(directory), "--identifier", "phone:+81 90-1234-5678", "--opening", R1.salt.hex(), "--keys", str(keys)]) == 0
    assert cli.main(["subject", str(directory), "--identifier", "email:taro@example.jp", "--opening", R2.salt.hex(), "--keys", str(keys)]) == 1
    assert "FAIL subject no receipt among 12 entries opens" in capsys.readouterr().out


def test_cli_usage_errors(on_disk: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory, keys = on_disk
    assert cli.main(["log", str(directory), "--keys", str(tmp_path / "nope.json")]) == 2
    assert f"cannot read keyring {tmp_path / 'nope.json'}" in capsys.readouterr().err
    assert cli.main(["receipt", str(tmp_path / "gone.json"), "--keys", str(keys)]) == 2
    assert f"cannot read receipt {tmp_path / 'gone.json'}" in capsys.readouterr().err
    assert cli.main(["log", str(tmp_path / "nothing"), "--keys", str(keys)]) == 2
    assert cli.main(["checkpoint", str(directory / "checkpoints" / "8.note")]) == 2  # --keys is required
    assert "--keys" in capsys.readouterr().err
    assert cli.main(["subject", str(directory), "--identifier", "phone:090-1234-5678", "--opening", "00", "--keys", str(keys)]) == 2
    assert "E.164" in capsys.readouterr().err
    assert cli.main([]) == 2
    assert cli.main(["--help"]) == 0


def test_damaged_bundle_files_are_reported(on_disk: tuple[Path, Path]) -> None:
    directory, _ = on_disk
    (directory / "certificates" / "broken.json").write_text('{"index": 1, "index": 2}')
    (directory / "keyring.json").write_text("not a keyring")
    bundle, problems = load_bundle(directory)
    assert has(problems, "certificates/broken.json", "duplicate JSON key(s): index")
    assert has(problems, "keyring.json", "not a valid keyring")
    assert len(bundle.entries) == 12 and len(bundle.checkpoints) == 3


def test_audit_imports_nothing_but_the_receipts_package() -> None:
    forbidden = ["dsr", "connectors", "flows", "scanners", "prefect", "sqlalchemy", "presidio_analyzer", "boto3", "typer", "rich"]
    code = (
        "import sys, receipts.cli, receipts.audit\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))"
    )  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
