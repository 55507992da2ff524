"""Keeping data maps in the control database, one row per system and scan.

A scan may cover one system or all of them; the current map is the latest row of each system, and
drift compares it with the rows that came before.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dsr.control.models import DataMapRow
from dsr.datamap.model import CollectionProfile, DataMap


def save_map(session: Session, data_map: DataMap) -> None:
    """Store a scan's map, one row per system it covered (the caller commits)."""
    for system in data_map.systems:
        session.add(DataMapRow(
            system=system, scanned_at=data_map.scanned_at, sample_size=data_map.sample_size, error=data_map.errors.get(system),
            collections=[c.to_dict() for c in data_map.of_system(system)],
        ))
    session.flush()


def latest_map(session: Session, before: dt.datetime | None = None, systems: list[str] | None = None) -> DataMap | None:
    """The current map: each system's latest scan (strictly older than `before` when given: the map
    drift compares a new scan with). None when no system has been scanned yet. Its `scanned_at` is
    the oldest of the scans it is made of, so it never looks fresher than it is."""
    newest = select(DataMapRow.system, func.max(DataMapRow.id).label("id")).group_by(DataMapRow.system)
    if before is not None:
        newest = newest.where(DataMapRow.scanned_at < before)
    if systems is not None:
        newest = newest.where(DataMapRow.system.in_(systems))
    ids = [row.id for row in session.execute(newest)]
    rows = session.scalars(select(DataMapRow).where(DataMapRow.id.in_(ids)).order_by(DataMapRow.system)).all() if ids else []
    if not rows:
        return None
    return DataMap(
        scanned_at=min(r.scanned_at for r in rows),
        collections=tuple(CollectionProfile.from_dict(c) for r in rows for c in r.collections),
        errors={r.system: r.error for r in rows if r.error},
        sample_size=max(r.sample_size for r in rows),
    )


def record_map(session: Session, data_map: DataMap) -> DataMap | None:
    """Store a new scan and return the map it is compared with: the same systems' scans before it."""
    previous = latest_map(session, before=data_map.scanned_at, systems=data_map.systems)
    save_map(session, data_map)
    return previous
