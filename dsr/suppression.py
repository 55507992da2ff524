"""The direct-mail suppression list (privacy policy §6).

After an opt-out, the subject's email addresses and phone numbers are kept here as keyed HMACs;
every import into a marketing system asks `is_suppressed` (or `hkt-dsr suppression check`) before
switching consent on, so a re-import of an old list cannot re-subscribe the customer.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dsr.control.models import SuppressionRow
from dsr.keys import Keys
from dsr.subject import Identifier, Subject


def _mac(keys: Keys, identifier: Identifier) -> str:
    return keys.mac("suppression", [identifier.kind.value, identifier.value])


def suppress(session: Session, keys: Keys, subject: Subject, request_id: str) -> int:
    """Add the subject's strong identifiers; returns how many were new. Idempotent."""
    added = 0
    for identifier in subject.identifiers:
        if identifier.kind.is_strong and session.get(SuppressionRow, _mac(keys, identifier)) is None:
            session.add(SuppressionRow(identifier_mac=_mac(keys, identifier), request_id=request_id))
            added += 1
    return added


def is_suppressed(session: Session, keys: Keys, identifier: Identifier) -> bool:
    return session.get(SuppressionRow, _mac(keys, identifier)) is not None
