"""Ed25519 signatures over domain-separated canonical JSON.

The domain prefix means a signature made for one kind of document (a receipt) can never be
replayed as another (a checkpoint), even if both happen to canonicalise to the same bytes.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from receipts.canonical import canonical

RECEIPT_DOMAIN = b"hkt-dsr/receipt/v1\x00"


def sign(private_key: Ed25519PrivateKey, domain: bytes, body: Any) -> str:
    return base64.b64encode(private_key.sign(domain + canonical(body))).decode()


def verify(public_key: Ed25519PublicKey, domain: bytes, body: Any, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), domain + canonical(body))
    except (InvalidSignature, ValueError):
        return False
    return True


def generate_key(path: Path) -> Ed25519PrivateKey:
    """Create a signing key file (PEM, mode 0600) and its public half beside it as <name>.pub.pem."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.chmod(0o600)
    public_path(path).write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.stem + ".pub.pem")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key
