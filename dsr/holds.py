"""Legal holds (privacy policy §11: courts and the police, by due legal process; retention duties).

A hold covers a subject (everything of theirs, anywhere), a dataset (a system, or one collection),
or a subject within a dataset. While it is active, erasure retains what it covers, untouched, and
the receipts say so with the hold's legal basis; everything else proceeds.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.config import Estate
from dsr.control.models import LegalHoldRow, utcnow
from dsr.keys import Keys
from dsr.plan import Hold
from dsr.subject import Identifier, Subject


class HoldError(ValueError):
    pass


def identifier_mac(keys: Keys, identifier: Identifier) -> str:
    return keys.mac("hold-identifier", [identifier.kind.value, identifier.value])


def add_hold(
    session: Session, estate: Estate, keys: Keys, *, legal_basis: str, placed_by: str,
    identifiers: list[Identifier] | None = None, system: str | None = None, collection: str | None = None, until: dt.date | None = None,
) -> LegalHoldRow:
    if not legal_basis.strip():
        raise HoldError("a hold needs its legal basis (the order, its authority and reference)")
    if not identifiers and system is None:
        raise HoldError("a hold covers a subject (identifiers), a system or a collection: give at least one")
    if system is not None and system not in estate.datasets:
        raise HoldError(f"unknown system {system!r}; configured: {', '.join(sorted(estate.datasets))}")
    if collection is not None and (system is None or collection not in estate.datasets[system].collections):
        raise HoldError(f"unknown collection {collection!r} (give --system and one of its collections)")
    row = LegalHoldRow(
        legal_basis=legal_basis, placed_by=placed_by, system=system, collection=collection, until=until,
        subject_macs=sorted(identifier_mac(keys, i) for i in identifiers) if identifiers else None,
    )
    session.add(row)
    session.flush()
    return row


def release_hold(session: Session, hold_id: int, released_by: str) -> LegalHoldRow:
    row = session.get(LegalHoldRow, hold_id)
    if row is None or row.released_at is not None:
        raise HoldError(f"no active hold #{hold_id}")
    row.released_by, row.released_at = released_by, utcnow()
    return row


def active_holds(session: Session, keys: Keys, subject: Subject, today: dt.date | None = None) -> list[Hold]:
    """The holds that apply to this subject's request now."""
    today = today or utcnow().date()
    macs = {identifier_mac(keys, i) for i in subject.identifiers}
    rows = session.scalars(select(LegalHoldRow).where(LegalHoldRow.released_at.is_(None)).order_by(LegalHoldRow.id))
    return [
        Hold(row.id, row.legal_basis, row.until.isoformat() if row.until else None, row.system, row.collection)
        for row in rows
        if (row.until is None or row.until >= today) and (row.subject_macs is None or macs & set(row.subject_macs))
    ]
