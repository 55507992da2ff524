"""Benchmark: the receipt ledger at 100,000 receipts: sealing, replaying, inclusion proofs.

What it measures
    1. append/sign: building 100,000 realistic receipts (requests of 3 to 8 action receipts, each
       followed by its certificate listing their leaf hashes, in the documented hkt-dsr/receipt/1
       format with salted subject commitments), sealing each (RFC 8785 canonical JSON + Ed25519),
       appending each to an RFC 6962 Merkle tree, and signing one checkpoint (C2SP signed note).
    2. log verification: `receipts.audit.verify_log` over the whole bundle, exactly what
       `hkt-dsr-verify log` does: every entry parsed strictly, re-canonicalised, its key window
       and Ed25519 signature checked; ids, certificate listings, the checkpoint and its root.
    3. proofs: 1,000 inclusion proofs for random entries against the checkpoint, generated from
       the tree and verified with `receipts.merkle.verify_inclusion`; their sizes in hashes and bytes.
    Every verification must succeed (exit status 1 otherwise).

It uses the receipts package only (standard library, `cryptography`, `rfc8785`), so it also runs
in an auditor's environment where only `hkt-dsr-receipts` is installed.

How to run (from the project root)
    .venv/bin/python benchmarks/ledger.py                              # 100,000 receipts, 1,000 proofs
    .venv/bin/python benchmarks/ledger.py --receipts 10000 --proofs 200
    .venv/bin/python benchmarks/ledger.py --write /tmp/bundle          # also write the audit bundle
    then: hkt-dsr-verify log /tmp/bundle --keys /tmp/bundle/keyring.json

The last line of output is machine-readable: `append_s=... verify_s=... proofs_s=... receipts_per_s=...`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from receipts.audit import verify_log
from receipts.bundle import Bundle, write_bundle
from receipts.commitment import commitments
from receipts.merkle import HASH_SIZE, MerkleTree, verify_inclusion
from receipts.note import Checkpoint, Keyring, KeyWindow, open_checkpoint
from receipts.receipt import SCHEMA, seal

ORIGIN = "hkt.example/dsr-ledger"
KEY_NAME = "hkt-dsr-20250101000000"
START = datetime(2025, 1, 1, tzinfo=UTC)
STEPS = [
    ("crm", "customers", "delete", "done"),
    ("crm", "addresses", "delete", "done"),
    ("billing", "invoices", "keep", "retained"),
    ("support", "tickets", "redact", "done"),
    ("marketing", "newsletter_s3", "delete", "done"),
    ("analytics", "events", "pseudonymise", "done"),
    ("shop", "orders", "anonymise", "done"),
    ("archive", "exports_s3", "delete", "skipped"),
]


def _request(number: int, rng: random.Random) -> dict:
    received = START + timedelta(minutes=7 * number)
    salt = rng.randbytes(32)
    identifiers = [("email", f"customer{number}@example.jp"), ("phone", f"+8190{number % 10**8:08d}"), ("customer_id", f"HKT-{number:07d}")]
    return {
        "id": f"DSR-{received:%Y%m%d}-{number:06d}",
        "received": received,
        "request": {
            "id": f"DSR-{received:%Y%m%d}-{number:06d}",
            "kind": "erase",
            "received_at": received.isoformat(),
            "due_at": (received + timedelta(days=30)).isoformat(),
            "verification_method": "email-otp",
        },
        "subject": {"commitments": commitments(salt, identifiers)},
    }


def _common(request: dict, kind: str, receipt_id: str, issued: datetime) -> dict:
    return {
        "schema": SCHEMA,
        "kind": kind,
        "receipt_id": receipt_id,
        "issued_at": issued.isoformat(),
        "origin": ORIGIN,
        "request": request["request"],
        "subject": request["subject"],
        "policy": {"id": "hkt-privacy-2024-04", "digest": "sha256:" + hashlib.sha256(b"policy 2024-04").hexdigest()},
        "plan_digest": "sha256:" + hashlib.sha256(request["id"].encode()).hexdigest(),
    }


def _action(request: dict, step: int, rng: random.Random) -> dict:
    system, collection, operation, status = STEPS[step]
    retained = status == "retained"
    planned = rng.randint(1, 40)
    return {
        **_common(request, "action", f"{request['id']}-{step:02d}", request["received"] + timedelta(seconds=30 * step + 1)),
        "action": {
            "step": f"{system}.{collection}.{operation}",
            "system": system,
            "collection": collection,
            "operation": operation,
            "target": "hmac-sha256:" + rng.randbytes(32).hex(),
            "planned": planned,
            "affected": 0 if retained or status == "skipped" else planned,
            "resumed": rng.random() < 0.02,
            "status": status,
            "rule": "tax-records-7y" if retained else "erase-by-default",
            "legal_basis": "Corporation Tax Act art. 126: books and records kept 7 years" if retained else None,
            "purge_by": "2032-03-31" if retained else None,
            "evidence": f"s3://hkt-dsr-evidence/{request['id']}/{system}.{collection}.json" if system in ("marketing", "archive") else None,
            "post_check": "not applicable" if retained else "passed",
            "refused": ["archive/2019/export-0007.csv.gz: unreadable (encrypted)"] if status == "skipped" else [],
        },
    }


def build(receipts: int, key: Ed25519PrivateKey, seed: int) -> tuple[list[bytes], MerkleTree]:
    rng = random.Random(seed)
    entries: list[bytes] = []
    tree = MerkleTree()
    number = 0
    while len(entries) < receipts:
        request = _request(number, rng)
        actions = min(rng.randint(3, 8), receipts - len(entries) - 1)
        leaves = []
        for step in range(actions):
            document = seal(key, KEY_NAME, _action(request, step, rng))
            entries.append(document)
            leaves.append(tree.append(document))
        body = {
            **_common(request, "certificate", f"{request['id']}-certificate", request["received"] + timedelta(minutes=5)),
            "receipts": [tree.leaf_hash_at(i).hex() for i in leaves],
            "verification": {"checks": actions, "failed": 0},
            "outcome": "erased; invoices retained under the Corporation Tax Act" if actions > 2 else "erased",
        }
        document = seal(key, KEY_NAME, body)
        entries.append(document)
        tree.append(document)
        number += 1
    return entries, tree


def _stats(values: list[int]) -> str:
    return f"min {min(values)}, mean {statistics.fmean(values):.1f}, max {max(values)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the receipt ledger: sealing, log verification, inclusion proofs.")
    parser.add_argument("--receipts", type=int, default=100_000, help="ledger entries to build (default 100,000)")
    parser.add_argument("--proofs", type=int, default=1_000, help="inclusion proofs to generate and verify (default 1,000)")
    parser.add_argument("--seed", type=int, default=6962)
    parser.add_argument("--write", type=Path, metavar="DIR", help="also write the audit bundle (entries, checkpoint, keyring) to DIR")
    args = parser.parse_args(argv)
    if args.receipts < 2 or args.proofs < 1:
        parser.error("need at least 2 receipts and 1 proof")

    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"benchmark key {args.seed}".encode()).digest())
    keyring = Keyring([KeyWindow(KEY_NAME, key.public_key(), START)])

    print(f"1. append/sign: {args.receipts:,} receipts (requests of 3-8 actions + certificate), Ed25519, RFC 6962 tree")
    t0 = time.perf_counter()
    entries, tree = build(args.receipts, key, args.seed)
    note = Checkpoint(ORIGIN, tree.size, tree.root()).sign(KEY_NAME, key)
    append_s = time.perf_counter() - t0
    sizes = [len(e) for e in entries]
    print(f"   {append_s:.2f} s ({len(entries) / append_s:,.0f} receipts/s); receipt size bytes: {_stats(sizes)}; ledger {sum(sizes) / 1e6:.1f} MB")

    bundle = Bundle(entries, {f"{tree.size}.note": note}, keyring)
    if args.write:
        write_bundle(args.write, bundle)
        print(f"   bundle written to {args.write}")

    print("2. log verification: verify_log over every entry and the checkpoint")
    t0 = time.perf_counter()
    checks = verify_log(bundle, keyring, ORIGIN)
    verify_s = time.perf_counter() - t0
    failed = [c for c in checks if not c.ok]
    print(f"   {verify_s:.2f} s ({len(entries) / verify_s:,.0f} receipts/s); {len(checks) - len(failed)} checks passed, {len(failed)} failed")
    for check in failed[:10]:
        print(f"   {check.line()}")

    print(f"3. proofs: {args.proofs:,} inclusion proofs against the checkpoint of size {tree.size:,}")
    checkpoint, _ = open_checkpoint(note, keyring)
    rng = random.Random(args.seed + 1)
    indices = [rng.randrange(tree.size) for _ in range(args.proofs)]
    t0 = time.perf_counter()
    proofs = [tree.inclusion_proof(i, checkpoint.size) for i in indices]
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    bad = sum(not verify_inclusion(entries[i], i, checkpoint.size, p, checkpoint.root) for i, p in zip(indices, proofs))
    check_s = time.perf_counter() - t0
    hashes = [len(p) for p in proofs]
    print(f"   generate {generate_s * 1e3:.1f} ms ({generate_s / args.proofs * 1e6:.0f} us each), verify {check_s * 1e3:.1f} ms ({check_s / args.proofs * 1e6:.0f} us each); {bad} failed")
    print(f"   proof size: hashes {_stats(hashes)}; bytes {_stats([h * HASH_SIZE for h in hashes])}; as JSON hex {_stats([len(json.dumps([x.hex() for x in p])) for p in proofs])}")

    proofs_s = generate_s + check_s
    print(f"append_s={append_s:.2f} verify_s={verify_s:.2f} proofs_s={proofs_s:.3f} receipts_per_s={len(entries) / append_s:.0f} verify_receipts_per_s={len(entries) / verify_s:.0f}")
    return 1 if failed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
