"""A data map scan: each system's schema from its connector, a bounded sample of every collection,
each column classified. A system that cannot be read is recorded as such, never as empty."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from connectors.base import Connector, ConnectorError
from connectors.registry import UnknownConnectorKind, open_connector
from dsr.config import Estate
from dsr.datamap.classify import Classifier
from dsr.datamap.model import DEFAULT_SAMPLE, CollectionProfile, DataMap


def scan_system(connector: Connector, classifier: Classifier, sample_size: int = DEFAULT_SAMPLE) -> tuple[CollectionProfile, ...]:
    """Every collection of one system, declared in a dataset or not, sampled and classified."""
    schema = connector.schema()
    return tuple(classifier.classify(connector.system, info, connector.sample(info.name, sample_size)) for info in schema.collections)


def scan_one(estate: Estate, system: str, sample_size: int = DEFAULT_SAMPLE, classifier: Classifier | None = None,
             connect: Callable[[Estate, str], Connector] = open_connector) -> DataMap:
    """One system's part of the map (a Prefect task's unit of work); a failure is its error, not an exception."""
    scanned_at = dt.datetime.now(dt.UTC)
    try:
        connector = connect(estate, system)
    except UnknownConnectorKind as exc:
        return DataMap(scanned_at, errors={system: str(exc)}, sample_size=sample_size)
    try:
        profiles = scan_system(connector, classifier or Classifier(estate.scanners), sample_size)
    except ConnectorError as exc:
        return DataMap(scanned_at, errors={system: str(exc)}, sample_size=sample_size)
    finally:
        connector.close()
    return DataMap(scanned_at, profiles, sample_size=sample_size)


def merge(maps: Sequence[DataMap]) -> DataMap:
    """Per-system maps of one scan as one map, dated when the scan started."""
    return DataMap(
        scanned_at=min(m.scanned_at for m in maps), collections=tuple(c for m in maps for c in m.collections),
        errors={s: e for m in maps for s, e in m.errors.items()}, sample_size=max(m.sample_size for m in maps),
    )


def scan_estate(estate: Estate, systems: Sequence[str] | None = None, sample_size: int = DEFAULT_SAMPLE) -> DataMap:
    """The map of the given systems (default: every configured one), one after another."""
    names = list(systems) if systems else sorted(estate.systems)
    unknown = [s for s in names if s not in estate.systems]
    if unknown:
        raise ValueError(f"unknown system(s) {', '.join(unknown)}; configured: {', '.join(sorted(estate.systems))}")
    classifier = Classifier(estate.scanners)
    return merge([scan_one(estate, system, sample_size, classifier) for system in names])
