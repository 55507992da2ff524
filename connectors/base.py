"""The connector protocol: what every kind of store must answer, and nothing about policy.

A connector is built for one configured system (its URL and its dataset). The orchestrator asks it
for rows by identity or by reference, reads rows for an export, and hands it concrete steps to
apply in one transaction. It never decides what should happen to data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from dsr.config import DatasetConfig, SystemConfig
from dsr.subject import Identifier

PSEUDONYM_PREFIX = "pseu:"
MASK_TEXT = "[masked]"

Key = tuple[Any, ...]
"""A record's primary key values, in the order the dataset declares them."""


class ConnectorError(RuntimeError):
    """A store failed or refused; the message names the system and what was attempted, never data."""


@dataclass(frozen=True)
class Match:
    """One record a lookup found: its key, the values of the fields the caller asked for, and why."""

    key: Key
    values: dict[str, Any]
    matched: tuple[str, ...]


@dataclass(frozen=True)
class ForeignKey:
    """A constraint the store enforces: `collection.field` must name an existing `parent.parent_field`."""

    collection: str
    field: str
    parent: str
    parent_field: str
    nullable: bool


Operation = Literal["delete_record", "null_field", "mask", "pseudonymize"]


@dataclass(frozen=True)
class Step:
    """A concrete change to apply to the given records: no policy, no reasons, just what to do."""

    collection: str
    operation: Operation
    keys: Sequence[Key]
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApplyContext:
    """What mutating steps need from the orchestrator. `pseudonym` maps a stored value to its keyed pseudonym.

    Pseudonyms start with PSEUDONYM_PREFIX so that a rerun recognises a value it already replaced.
    """

    pseudonym: Callable[[str], str]
    mask_text: str = MASK_TEXT



@runtime_checkable
class Connector(Protocol):
    """The protocol every connector implements (see tests/conformance for the shared tests)."""

    system: str

    def find_by_identity(self, collection: str, identifiers: Sequence[Identifier], fields: Sequence[str]) -> Iterator[Match]:
        """Records whose identity fields hold one of the identifiers (any spelling), with `fields` read."""
        ...

    def find_by_values(self, collection: str, field: str, values: Sequence[Any], fields: Sequence[str]) -> Iterator[Match]:
        """Records whose `field` equals one of `values` (a reference walk), with `fields` read."""
        ...

    def read(self, collection: str, keys: Sequence[Key], fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The given records, only the given fields; for exports."""
        ...

    def apply(self, steps: Sequence[Step], context: ApplyContext) -> list[int]:
        """Apply all steps in order in one transaction; return the affected count per step. All or nothing."""
        ...

    def foreign_keys(self) -> list[ForeignKey]:
        """Constraints the store enforces between the dataset's collections."""
        ...

    def check(self) -> list[str]:
        """Live checks of the dataset against the store (missing tables, unindexed identity fields)."""
        ...

    def close(self) -> None: ...


ConnectorFactory = Callable[[str, SystemConfig, DatasetConfig], Connector]
