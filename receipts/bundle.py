"""The audit bundle: everything an auditor needs to replay HKT's receipt ledger offline.

    BUNDLE/
      entries.jsonl              every ledger entry in index order, one per line: the signed receipt
                                 exactly as it was hashed (RFC 8785 canonical JSON); leaf i is line i
      checkpoints/<size>-<n>.note  every signed checkpoint (C2SP signed note: origin, size, root)
      certificates/<request>.json  per request: the certificate's ledger index, its inclusion proof
                                 (hex hashes) and the checkpoint note the proof is against
      keyring.json               the public keys and their validity windows (pin your own copy!)

Reading and checking a bundle is the verifier's job: receipts.audit.load_bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from receipts.note import Keyring

ENTRIES = "entries.jsonl"
CHECKPOINTS = "checkpoints"
CERTIFICATES = "certificates"
KEYRING = "keyring.json"


@dataclass
class Bundle:
    entries: list[bytes]
    checkpoints: dict[str, bytes]  # file name -> note
    keyring: Keyring | None
    certificates: dict[str, dict[str, Any]] = field(default_factory=dict)


def write_bundle(directory: Path, bundle: Bundle) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ENTRIES).write_bytes(b"".join(entry + b"\n" for entry in bundle.entries))
    (directory / CHECKPOINTS).mkdir(exist_ok=True)
    for name, note in bundle.checkpoints.items():
        (directory / CHECKPOINTS / name).write_bytes(note)
    (directory / CERTIFICATES).mkdir(exist_ok=True)
    for request_id, certificate in bundle.certificates.items():
        (directory / CERTIFICATES / f"{request_id}.json").write_text(json.dumps(certificate, indent=2) + "\n")
    if bundle.keyring is not None:
        (directory / KEYRING).write_bytes(bundle.keyring.to_json())
