"""The connector protocol: what every kind of store must answer, and nothing about policy.

A connector is built for one configured system (its URL and its dataset). The orchestrator asks it
for rows by identity or by reference, reads rows for an export, and hands it concrete steps to
apply in one transaction. It never decides what should happen to data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
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
    """A constraint the store enforces: `collection.fields` must name an existing row's
    `parent.parent_fields` (one column each, or several for a composite key). `nullable`: every
    column of it may be NULL, so a kept row's pointer can be cleared. `name`: the constraint's name
    in the store, where it has one (for messages). Either table may be in no dataset."""

    collection: str
    fields: tuple[str, ...]
    parent: str
    parent_fields: tuple[str, ...]
    nullable: bool
    name: str | None = None

    @property
    def composite(self) -> bool:
        return len(self.fields) > 1


@dataclass(frozen=True)
class Mention:
    """Where a text (a free-text field, an object) mentions the subject: spans, never the text itself.

    `spans` are (line, start, end) with start/end in characters of the field or bytes of the object.
    A `skipped` mention is an object that could not be read as text; `reason` says why.
    """

    key: Key
    field: str | None
    spans: tuple[tuple[int, int, int], ...] = ()
    kinds: tuple[str, ...] = ()
    confidence: float = 0.0
    skipped: str | None = None


class TextMatcher(Protocol):
    """What a connector needs of the subject matcher (scanners.matcher.SubjectMatcher)."""

    def find(self, text: str) -> list[Any]: ...

    def scan_stream(self, chunks: Iterable[bytes]) -> Iterator[Any]: ...

    def like_fragments(self) -> list[str]: ...


Operation = Literal[
    "delete_record", "null_field", "set_false", "mask", "pseudonymize", "redact", "rectify", "delete_object_all_versions", "rewrite_object",
]


@dataclass(frozen=True)
class Step:
    """A concrete change to apply to the given records: no policy, no reasons, just what to do."""

    collection: str
    operation: Operation
    keys: Sequence[Key]
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApplyContext:
    """What mutating steps need from the orchestrator. `pseudonym(collection, field, value)` maps a
    stored value to its keyed pseudonym, keyed per system, collection and field so that one value in
    two columns gives two unlinkable pseudonyms (prefixed with PSEUDONYM_PREFIX, so that a rerun
    recognises a value it already replaced);
    `redact` replaces the subject's mentions in a text and says how many it replaced; `correct` gives
    the new value for a stored value that is a spelling of a corrected identifier."""

    pseudonym: Callable[[str, str, str], str]
    redact: Callable[[str], tuple[str, int]] | None = None
    correct: Callable[[str], str | None] | None = None  # rectify: the corrected value, or None to leave it
    mask_text: str = MASK_TEXT


@dataclass(frozen=True)
class AppliedStep:
    """What one step did: how many records or objects changed, and what the store refused (with why)."""

    affected: int
    refused: tuple[str, ...] = ()


# --------------------------------------------------------------------------- data map: what a store holds


@dataclass(frozen=True)
class ColumnInfo:
    """A column as the store declares it: name, type as the store writes it, whether NULL is allowed."""

    name: str
    type: str
    nullable: bool


@dataclass(frozen=True)
class CollectionInfo:
    """A table (or a prefix of objects) the store holds, declared in a dataset or not.

    `kind`: table; inheritance_child or partition (PostgreSQL; `parent` names the table it belongs
    to); prefix (objects: `name` is "bucket/prefix"). `rows_estimate`: the store's own estimate (for
    objects: the objects counted, up to a bound), None when the store has none.
    """

    name: str
    kind: Literal["table", "inheritance_child", "partition", "prefix"] = "table"
    parent: str | None = None
    columns: tuple[ColumnInfo, ...] = ()
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    rows_estimate: int | None = None


@dataclass(frozen=True)
class StoreSchema:
    """Everything a store holds, from reflection (views left out): what the data map classifies."""

    system: str
    collections: tuple[CollectionInfo, ...]

    def collection(self, name: str) -> CollectionInfo | None:
        return next((c for c in self.collections if c.name == name), None)


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

    def scan(self, collection: str, matcher: TextMatcher) -> Iterator[Mention]:
        """Records or objects whose text mentions the subject (free-text fields, objects).

        Let the store narrow the candidates first (a LIKE over `matcher.like_fragments()`, a
        streaming pass over each object); never load a whole table or bucket into memory.
        """
        ...

    def read(self, collection: str, keys: Sequence[Key], fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The given records, only the given fields; for exports. Object stores yield one dict per
        record (line, row) of each object: object, version_id, line, text."""
        ...

    def apply(self, steps: Sequence[Step], context: ApplyContext) -> list[AppliedStep]:
        """Apply the steps in order. Transactional stores: one transaction, all or nothing (raise).
        Stores without transactions: every step attempted, refusals reported per step."""
        ...

    def foreign_keys(self) -> list[ForeignKey]:
        """Every constraint the store enforces, between any of its tables, in a dataset or not (an
        undeclared table's key into a declared one can still refuse an erasure). Views are no tables;
        a PostgreSQL inheritance child or partition is its parent (its rows are read through it)."""
        ...

    def referencing(self, collection: str, fields: Sequence[str], values: Sequence[Key]) -> Iterator[tuple[Key, Key]]:
        """(primary key, `fields` values) of every row of `collection` (any table of the store, in a
        dataset or not) whose `fields` hold one of `values`. Only asked of stores that report foreign
        keys or hold declared references, to see what else points at rows an erasure deletes."""
        ...

    def check(self) -> list[str]:
        """Live checks of the dataset against the store (missing tables, unindexed identity fields)."""
        ...

    def schema(self) -> StoreSchema:
        """Every collection the store holds, whether a dataset declares it or not (that is the point:
        finding what is unmapped), with its columns, keys, enforced foreign keys and size estimate."""
        ...

    def sample(self, collection: str, n: int) -> list[dict[str, Any]]:
        """At most `n` records of any collection `schema()` names, read without a full scan of a
        large one. For the data map only: the caller classifies them and keeps no value."""
        ...

    def close(self) -> None: ...


ConnectorFactory = Callable[[str, SystemConfig, DatasetConfig], Connector]
