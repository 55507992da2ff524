"""The orchestrator's secrets: the HMAC key and the receipt signing key, with its keyring.

The HMAC key turns record locators into values that can be published in receipts and makes
pseudonyms (`pseudonymize`) stable within a column and unlinkable across columns. The signing key signs receipts and ledger
checkpoints; the keyring lists every signing key HKT has used with its validity window, so keys
can be rotated and an auditor can tell which key was allowed to sign when.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connectors.base import PSEUDONYM_PREFIX
from receipts.canonical import canonical
from receipts.note import Keyring, KeyWindow
from receipts.signing import generate_key, load_private_key


def _raw(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Keys:
    hmac_key: bytes
    signing_key: Ed25519PrivateKey
    key_name: str
    keyring: Keyring

    @classmethod
    def load(cls, hmac_path: Path, signing_path: Path, keyring_path: Path, create: bool = False) -> Keys:
        """Load the keys; with `create`, make missing ones (first run, demo). Never overwrites."""
        if create and not hmac_path.exists():
            hmac_path.parent.mkdir(parents=True, exist_ok=True)
            hmac_path.write_bytes(secrets.token_bytes(32))
            hmac_path.chmod(0o600)
        if create and not signing_path.exists():
            generate_key(signing_path)
        for path in (hmac_path, signing_path):
            if not path.exists():
                raise FileNotFoundError(f"key file {path} does not exist; run `hkt-dsr keys init` to create the keys")
        signing_key = load_private_key(signing_path)
        if create and not keyring_path.exists():
            keyring_path.write_bytes(Keyring([KeyWindow(new_key_name(), signing_key.public_key(), _now())]).to_json())
        if not keyring_path.exists():
            raise FileNotFoundError(f"keyring {keyring_path} does not exist; run `hkt-dsr keys init`")
        keyring = Keyring.from_json(keyring_path.read_bytes())
        window = _window_of(keyring, signing_key)
        if window is None:
            raise ValueError(f"the signing key {signing_path} is not in the keyring {keyring_path}")
        return cls(hmac_path.read_bytes(), signing_key, window.name, keyring)

    def mac(self, purpose: str, value: Any) -> str:
        """Keyed HMAC-SHA256 of any JSON value, separated by purpose so digests never collide across uses."""
        message = purpose.encode() + b"\x00" + canonical(value)
        return "hmac-sha256:" + hmac.new(self.hmac_key, message, hashlib.sha256).hexdigest()

    def locators(self, system: str, collection: str, keys: list[Any]) -> str:
        return self.mac("locators", [system, collection, sorted(map(list, keys), key=repr)])

    def pseudonym(self, system: str, collection: str, field: str, value: str) -> str:
        """A stable pseudonym for one value in one column: the key is derived from the system,
        collection and field names, so the same email in two columns (or two people's records joined
        on it) gives unrelated pseudonyms, while one column's rows still group by value."""
        column_key = hmac.new(self.hmac_key, b"pseudonym\x00" + canonical([system, collection, field]), hashlib.sha256).digest()
        return PSEUDONYM_PREFIX + hmac.new(column_key, value.encode(), hashlib.sha256).hexdigest()[:24]


def new_key_name() -> str:
    return f"hkt-dsr-{_now():%Y%m%d%H%M%S}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _window_of(keyring: Keyring, key: Ed25519PrivateKey) -> KeyWindow | None:
    mine = _raw(key.public_key())
    return next((w for w in keyring.windows if _raw(w.public_key) == mine), None)


def rotate(signing_path: Path, keyring_path: Path) -> str:
    """Retire the current signing key (its window closes now, the file is kept as signing-<name>.pem)
    and start a new one. Returns the new key's name."""
    old_key = load_private_key(signing_path)
    keyring = Keyring.from_json(keyring_path.read_bytes())
    old = _window_of(keyring, old_key)
    if old is None:
        raise ValueError(f"the signing key {signing_path} is not in the keyring {keyring_path}")
    # Windows are kept to whole seconds: the old one closes at the end of this second, the new one
    # opens at its start, so a receipt signed in the same second is inside its key's window.
    now = _now()
    closes = now + dt.timedelta(seconds=1)
    signing_path.rename(signing_path.with_name(f"signing-{old.name}.pem"))
    new_key = generate_key(signing_path)
    name = new_key_name()
    if name == old.name:
        name += "b"
    windows = [KeyWindow(w.name, w.public_key, w.not_before, closes if w is old else w.not_after) for w in keyring.windows]
    keyring_path.write_bytes(Keyring([*windows, KeyWindow(name, new_key.public_key(), now)]).to_json())
    return name
