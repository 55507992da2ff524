"""The receipt ledger in the control database: an append-only RFC 6962 Merkle log.

Every signed receipt is a leaf; a signed checkpoint (C2SP signed note: origin, size, root) commits
to the log after each request is sealed; the bundle export gives an auditor all of it to replay
offline with `hkt-dsr-verify`. Rows are only ever inserted (the database refuses the rest).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dsr.control.models import CheckpointRow, LedgerEntry
from dsr.runtime import Runtime
from receipts.bundle import Bundle, write_bundle
from receipts.merkle import MerkleTree, leaf_hash
from receipts.note import Checkpoint

T = TypeVar("T")


def write(rt: Runtime, append_all: Callable[[Session], T], attempts: int = 8) -> T:
    """Run `append_all` in a transaction of its own and commit it.

    Two requests sealed at once may both take the same next index; the database refuses the second
    (the index is the primary key). That writer's whole transaction is rolled back and run again
    on the grown log, so indexes stay dense, checkpoints cover what they say, and nothing is
    half-written. `append_all` must have no effect outside the session.
    """
    attempt = 0
    while True:
        attempt += 1
        with rt.sessions() as session:
            try:
                result = append_all(session)
                session.commit()
                return result
            except IntegrityError:
                session.rollback()
                if attempt >= attempts:
                    raise
        time.sleep(random.uniform(0.01, 0.05) * attempt)  # jitter, so the two writers part


def append(session: Session, request_id: str, receipt_id: str, kind: str, step: str, document: bytes) -> int:
    """Add one signed receipt as the next leaf; returns its index. The caller commits."""
    index = session.scalar(select(func.coalesce(func.max(LedgerEntry.index) + 1, 0)))
    session.add(LedgerEntry(index=index, receipt_id=receipt_id, request_id=request_id, kind=kind, step=step,
                            document=document, leaf_hash=leaf_hash(document).hex()))
    session.flush()  # a concurrent writer taking the same index fails here, not silently
    return int(index)  # type: ignore[arg-type]


def tree(session: Session) -> MerkleTree:
    hashes = session.scalars(select(LedgerEntry.leaf_hash).order_by(LedgerEntry.index))
    return MerkleTree.from_leaf_hashes(bytes.fromhex(h) for h in hashes)


def sign_checkpoint(rt: Runtime, session: Session) -> tuple[Checkpoint, bytes]:
    """Sign and store a checkpoint of the whole log as it is now."""
    merkle = tree(session)
    checkpoint = Checkpoint(rt.estate.settings.ledger_origin, merkle.size, merkle.root())
    note = checkpoint.sign(rt.keys.key_name, rt.keys.signing_key)
    session.add(CheckpointRow(size=checkpoint.size, root=checkpoint.root.hex(), note=note))
    return checkpoint, note


def inclusion(session: Session, index: int, size: int) -> list[str]:
    return [h.hex() for h in tree(session).inclusion_proof(index, size)]


def certificate_proof(session: Session, request_id: str) -> dict[str, Any] | None:
    """The request's latest certificate as an auditor checks it: its index in the log, the signed
    checkpoint made right after it, and the inclusion proof against that checkpoint; None before
    the request is certified. Derived from the ledger alone: nothing to lose on the way to a file."""
    index = session.scalar(select(func.max(LedgerEntry.index)).where(LedgerEntry.request_id == request_id, LedgerEntry.kind == "certificate"))
    if index is None:
        return None
    checkpoint = session.scalars(select(CheckpointRow).where(CheckpointRow.size > index).order_by(CheckpointRow.id).limit(1)).first()
    if checkpoint is None:  # pragma: no cover - a certificate is committed together with its checkpoint
        return None
    return {"index": int(index), "proof": inclusion(session, int(index), checkpoint.size), "checkpoint": checkpoint.note.decode()}


def export_bundle(rt: Runtime, directory: Path) -> Bundle:
    """Everything an auditor replays: entries, every checkpoint, certificates' proofs, the keyring."""
    with rt.sessions() as session:
        entries = list(session.scalars(select(LedgerEntry.document).order_by(LedgerEntry.index)))
        # One file per signed checkpoint, never overwritten: two of one size would be evidence of a fork.
        checkpoints = {f"{row.size}-{row.id}.note": row.note for row in session.scalars(select(CheckpointRow).order_by(CheckpointRow.id))}
        requests = session.scalars(select(LedgerEntry.request_id).where(LedgerEntry.kind == "certificate").distinct())
        certificates = {request_id: proof for request_id in sorted(requests) if (proof := certificate_proof(session, request_id)) is not None}
    bundle = Bundle(entries, checkpoints, rt.keys.keyring, certificates)
    write_bundle(directory, bundle)
    return bundle
