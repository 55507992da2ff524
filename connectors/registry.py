"""Finds connector classes by kind through the `hkt_dsr.connectors` entry point group.

Adding a kind of store is one module and one line in pyproject.toml::

    [project.entry-points."hkt_dsr.connectors"]
    mongo = "connectors.mongo:MongoConnector"
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from connectors.base import Connector, ConnectorFactory
from dsr.config import DatasetConfig, Estate

GROUP = "hkt_dsr.connectors"


class UnknownConnectorKind(LookupError):
    pass


@cache
def kinds() -> dict[str, EntryPoint]:
    """Installed connector kinds; a kind's module is imported only when a system of that kind is used."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def connector_class(kind: str) -> ConnectorFactory:
    if kind not in kinds():
        raise UnknownConnectorKind(f"no connector of kind {kind!r}; installed kinds: {', '.join(sorted(kinds()))}")
    return kinds()[kind].load()


def open_connector(estate: Estate, system: str) -> Connector:
    """A connector for one configured system; names the system and the known kinds when it cannot."""
    if system not in estate.systems:
        raise UnknownConnectorKind(f"unknown system {system!r}; configured: {', '.join(sorted(estate.systems))}")
    config = estate.systems[system]
    if config.kind not in kinds():
        raise UnknownConnectorKind(f"system {system!r} has kind {config.kind!r}; installed kinds: {', '.join(sorted(kinds()))}")
    dataset = estate.datasets.get(system) or DatasetConfig(system=system, collections={})
    return connector_class(config.kind)(system, config, dataset)
