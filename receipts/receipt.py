"""A signed receipt: one JSON document, `{"receipt": body, "signature": {...}}`, stored canonical.

The body's fields are documented in README.md ("How an auditor verifies receipts"). This module
only knows the envelope: how it is signed, written and checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from receipts.canonical import NonCanonicalJSON, canonical, parse_strict
from receipts.signing import RECEIPT_DOMAIN, key_id, sign, verify

SCHEMA = "hkt-dsr/receipt/1"


def seal(private_key: Ed25519PrivateKey, body: dict[str, Any]) -> bytes:
    """The canonical bytes of a signed receipt."""
    if body.get("schema") != SCHEMA:
        raise ValueError(f"receipt body must carry schema {SCHEMA!r}")
    envelope = {
        "receipt": body,
        "signature": {"alg": "Ed25519", "key_id": key_id(private_key.public_key()), "value": sign(private_key, RECEIPT_DOMAIN, body)},
    }
    return canonical(envelope)


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one receipt; `problem` says what failed, in words an auditor can act on."""

    name: str
    ok: bool
    problem: str = ""
    receipt_id: str = ""


def check(name: str, data: bytes, public_keys: dict[str, Ed25519PublicKey]) -> Verdict:
    """Check one receipt's bytes against pinned public keys (key id -> key)."""
    try:
        envelope = parse_strict(data)
    except NonCanonicalJSON as exc:
        return Verdict(name, False, str(exc))
    if not isinstance(envelope, dict) or set(envelope) != {"receipt", "signature"}:
        return Verdict(name, False, "not a receipt envelope (expected exactly 'receipt' and 'signature')")
    body, signature = envelope["receipt"], envelope["signature"]
    receipt_id = body.get("receipt_id", "") if isinstance(body, dict) else ""
    if canonical(envelope) != data.rstrip(b"\n"):
        return Verdict(name, False, "bytes are not RFC 8785 canonical JSON", receipt_id)
    if not isinstance(body, dict) or body.get("schema") != SCHEMA:
        return Verdict(name, False, f"unknown schema (expected {SCHEMA})", receipt_id)
    if not isinstance(signature, dict) or signature.get("alg") != "Ed25519":
        return Verdict(name, False, "signature algorithm is not Ed25519", receipt_id)
    key = public_keys.get(str(signature.get("key_id")))
    if key is None:
        return Verdict(name, False, f"signed by unknown key {signature.get('key_id')!r}", receipt_id)
    if not verify(key, RECEIPT_DOMAIN, body, str(signature.get("value", ""))):
        return Verdict(name, False, "signature does not match the receipt's content", receipt_id)
    return Verdict(name, True, "", receipt_id)


def check_directory(directory: Path, public_keys: dict[str, Ed25519PublicKey]) -> list[Verdict]:
    files = sorted(directory.rglob("*.json"))
    if not files:
        return [Verdict(str(directory), False, "no receipts found")]
    return [check(str(path.relative_to(directory)), path.read_bytes(), public_keys) for path in files]
