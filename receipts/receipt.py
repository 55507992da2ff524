"""A signed receipt: one JSON document, `{"receipt": body, "signature": {...}}`, stored canonical.

The body's fields are documented in docs/receipts.md. This module knows the envelope: how it is
signed, written and checked against a pinned keyring (keys with validity windows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from receipts.canonical import NonCanonicalJSON, canonical, parse_strict
from receipts.note import Keyring, key_id
from receipts.signing import RECEIPT_DOMAIN, sign, verify

SCHEMA = "hkt-dsr/receipt/1"
KINDS = ("action", "certificate")


def seal(private_key: Ed25519PrivateKey, key_name: str, body: dict[str, Any]) -> bytes:
    """The canonical bytes of a signed receipt. The key is named as in the keyring (name + key id)."""
    if body.get("schema") != SCHEMA:
        raise ValueError(f"receipt body must carry schema {SCHEMA!r}")
    envelope = {
        "receipt": body,
        "signature": {
            "alg": "Ed25519",
            "key": key_name,
            "key_id": key_id(key_name, private_key.public_key()).hex(),
            "value": sign(private_key, RECEIPT_DOMAIN, body),
        },
    }
    return canonical(envelope)


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one receipt; `problem` says what failed, in words an auditor can act on."""

    name: str
    ok: bool
    problem: str = ""
    receipt_id: str = ""
    body: dict[str, Any] | None = None


def check(name: str, data: bytes, keyring: Keyring, origin: str | None = None) -> Verdict:
    """Check one receipt's bytes: strict canonical JSON, schema, origin, a known key valid at the
    receipt's issue time, and the signature."""
    try:
        envelope = parse_strict(data)
    except NonCanonicalJSON as exc:
        return Verdict(name, False, str(exc))
    if not isinstance(envelope, dict) or set(envelope) != {"receipt", "signature"}:
        return Verdict(name, False, "not a receipt envelope (expected exactly 'receipt' and 'signature')")
    body, signature = envelope["receipt"], envelope["signature"]
    receipt_id = str(body.get("receipt_id", "")) if isinstance(body, dict) else ""
    try:
        canonical_bytes = canonical(envelope)
    except (ValueError, RecursionError):  # rfc8785 refuses e.g. integers beyond 2**53
        return Verdict(name, False, "has no RFC 8785 canonical form (number out of range or too deep)", receipt_id)
    if canonical_bytes != data.rstrip(b"\n"):
        return Verdict(name, False, "bytes are not RFC 8785 canonical JSON", receipt_id)
    if not isinstance(body, dict) or body.get("schema") != SCHEMA:
        return Verdict(name, False, f"unknown schema (expected {SCHEMA})", receipt_id)
    if body.get("kind") not in KINDS:
        return Verdict(name, False, f"unknown receipt kind {body.get('kind')!r}", receipt_id)
    if origin is not None and body.get("origin") != origin:
        return Verdict(name, False, f"receipt belongs to log origin {body.get('origin')!r}, not {origin!r}", receipt_id)
    if not isinstance(signature, dict) or signature.get("alg") != "Ed25519":
        return Verdict(name, False, "signature algorithm is not Ed25519", receipt_id)
    try:
        kid = bytes.fromhex(str(signature.get("key_id", "")))
        issued_at = dt.datetime.fromisoformat(str(body.get("issued_at")))
    except ValueError:
        return Verdict(name, False, "malformed key id or issued_at", receipt_id)
    ref = (str(signature.get("key")), kid)
    public_key = keyring.verifiers().get(ref)
    if public_key is None:
        return Verdict(name, False, f"signed by unknown key {signature.get('key')!r} ({kid.hex()})", receipt_id)
    if not verify(public_key, RECEIPT_DOMAIN, body, str(signature.get("value", ""))):
        return Verdict(name, False, "signature does not match the receipt's content", receipt_id)
    if (problem := keyring.check(ref, issued_at)) is not None:
        return Verdict(name, False, problem, receipt_id)
    return Verdict(name, True, "", receipt_id, body)
