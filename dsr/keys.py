"""The orchestrator's two secrets: the HMAC key and the receipt signing key.

The HMAC key turns identifiers and locators into values that can be published in receipts: a plain
hash of an email or a phone number is reversed by trying every candidate in minutes, a keyed HMAC
is not without the key. It also makes pseudonyms (`pseudonymize`) stable across systems.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connectors.base import PSEUDONYM_PREFIX
from dsr.subject import Subject
from receipts.canonical import canonical
from receipts.signing import generate_key, load_private_key


@dataclass(frozen=True)
class Keys:
    hmac_key: bytes
    signing_key: Ed25519PrivateKey

    @classmethod
    def load(cls, hmac_path: Path, signing_path: Path, create: bool = False) -> Keys:
        """Load both keys; with `create`, make missing ones (first run, demo). Never overwrites."""
        if create and not hmac_path.exists():
            hmac_path.parent.mkdir(parents=True, exist_ok=True)
            hmac_path.write_bytes(secrets.token_bytes(32))
            hmac_path.chmod(0o600)
        if create and not signing_path.exists():
            generate_key(signing_path)
        for path in (hmac_path, signing_path):
            if not path.exists():
                raise FileNotFoundError(f"key file {path} does not exist; run `hkt-dsr keys init` to create the keys")
        return cls(hmac_path.read_bytes(), load_private_key(signing_path))

    def mac(self, purpose: str, value: Any) -> str:
        """Keyed HMAC-SHA256 of any JSON value, separated by purpose so digests never collide across uses."""
        message = purpose.encode() + b"\x00" + canonical(value)
        return "hmac-sha256:" + hmac.new(self.hmac_key, message, hashlib.sha256).hexdigest()

    def subject_commitment(self, subject: Subject) -> str:
        return self.mac("subject", sorted([i.kind.value, i.value] for i in subject.identifiers))

    def locators(self, system: str, collection: str, keys: list[Any]) -> str:
        return self.mac("locators", [system, collection, sorted(map(list, keys), key=repr)])

    def pseudonym(self, value: str) -> str:
        return PSEUDONYM_PREFIX + hmac.new(self.hmac_key, b"pseudonym\x00" + value.encode(), hashlib.sha256).hexdigest()[:24]
