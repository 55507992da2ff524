"""Subject commitments: how a receipt names a person without naming them.

A plain hash of an email or a phone number is reversed by hashing every candidate (Japan has about
10^9 mobile numbers: minutes on a laptop). A receipt therefore carries, per identifier, a salted
commitment SHA-256(domain || salt || kind || 0x00 || normalised value) with a fresh 32-byte salt
per request. Without the salt the commitments reveal nothing; with the salt (the opening, kept in
HKT's control database and given to the person or to an auditor who needs it) anyone can check
whether a receipt concerns a given identifier. A keyed HMAC would also hide the identifier, but
only the key holder could ever open it, and one leaked key would open every receipt at once.
"""

from __future__ import annotations

import hashlib
import hmac

DOMAIN = b"hkt-dsr/subject-commitment/v1\x00"


def commit(salt: bytes, kind: str, normalised_value: str) -> str:
    digest = hashlib.sha256(DOMAIN + salt + kind.encode() + b"\x00" + normalised_value.encode()).hexdigest()
    return f"sha256:{digest}"


def commitments(salt: bytes, identifiers: list[tuple[str, str]]) -> list[str]:
    """Sorted commitments of (kind, normalised value) pairs: order reveals nothing."""
    return sorted(commit(salt, kind, value) for kind, value in identifiers)


def opens(commitment_list: list[str], salt: bytes, kind: str, normalised_value: str) -> bool:
    """Whether this identifier, with this opening (salt), is one of the committed identifiers."""
    mine = commit(salt, kind, normalised_value)
    return any(hmac.compare_digest(mine, c) for c in commitment_list)
