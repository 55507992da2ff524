"""What else points at the rows an erasure deletes, asked of the stores themselves.

Every way one row can point at another counts: each foreign key a store enforces, between any of
its tables, whether a dataset declares them or not (connectors report them all), and each declared
reference, also across systems. Planning asks, and execution asks again with a fresh discovery,
so that no system commits while another is certain to refuse.

- Rows the subject's rows point at (`via_parent`: their address) are the subject's, but are deleted
  only when no row outside this erasure still points at them; otherwise they are kept as shared,
  and the plan names what points at them (`Deletion.shared_rule`).
- What points at rows that are deleted is dealt with by dsr.plan: the pointer cleared, or the plan
  refused before anything changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from connectors.base import Connector, ForeignKey, Key
from dsr.config import Estate, Ownership
from dsr.discovery import Discovery, reference_edges

Collection = tuple[str, str]


@dataclass(frozen=True)
class Pointer:
    """Rows of `system.collection` whose `fields` name rows of `target` by `target_fields`.

    `enforced`: a foreign key of the store (`constraint` is its name, where it has one); `declared`:
    the pointing collection is in a dataset; `ownership`: the declared reference's direction, when a
    dataset declares this pointer (None for a foreign key no dataset mentions)."""

    system: str
    collection: str
    fields: tuple[str, ...]
    target: Collection
    target_fields: tuple[str, ...]
    enforced: bool
    nullable: bool
    declared: bool
    constraint: str | None = None
    ownership: Ownership | None = None

    @property
    def composite(self) -> bool:
        return len(self.fields) > 1

    @property
    def label(self) -> str:
        return f"{self.system}.{self.collection}.{','.join(self.fields)}"

    @property
    def constraint_label(self) -> str:
        what = f"{self.collection} ({', '.join(self.fields)}) -> {self.target[1]} ({', '.join(self.target_fields)})"
        return f"{self.constraint} [{what}]" if self.constraint else what


def pointers(estate: Estate, foreign_keys: dict[str, list[ForeignKey]]) -> list[Pointer]:
    """Every enforced foreign key and every declared reference; one pointer where both say the same."""
    found: dict[tuple, Pointer] = {}
    for system, fks in sorted(foreign_keys.items()):
        declared = estate.datasets[system].collections
        for fk in fks:
            key = (system, fk.collection, fk.fields, (system, fk.parent), fk.parent_fields)
            found[key] = Pointer(system, fk.collection, fk.fields, (system, fk.parent), fk.parent_fields, True, fk.nullable, fk.collection in declared, fk.name)
    for edge in reference_edges(estate):
        key = (edge.system, edge.collection, (edge.field,), edge.target[:2], (edge.target[2],))
        if key in found:
            found[key] = replace(found[key], ownership=edge.ownership)
        else:
            found[key] = Pointer(edge.system, edge.collection, (edge.field,), edge.target[:2], (edge.target[2],), False, True, True, None, edge.ownership)
    return [found[k] for k in sorted(found, key=repr)]  # sorted: the same plan in every process


def referrers(estate: Estate, connect: Callable[[str], Connector], pointer: Pointer, targets: Iterable[Key], exclude: set[Key]) -> dict[Key, int]:
    """For each target row (by primary key): how many rows point at it through `pointer`, leaving
    out the pointing rows whose keys are in `exclude` (those this erasure deletes)."""
    tsystem, tcollection = pointer.target
    primary_key = estate.collection(tsystem, tcollection).primary_key
    keys = sorted(set(targets), key=repr)
    if not keys:
        return {}
    by_value: dict[Key, list[Key]] = defaultdict(list)
    if list(pointer.target_fields) == primary_key:
        for key in keys:
            by_value[key].append(key)
    else:
        for row in connect(tsystem).read(tcollection, keys, [*primary_key, *pointer.target_fields]):
            value = tuple(row[f] for f in pointer.target_fields)
            if None not in value:
                by_value[value].append(tuple(row[k] for k in primary_key))
    counts: dict[Key, int] = defaultdict(int)
    for key, value in connect(pointer.system).referencing(pointer.collection, pointer.fields, sorted(by_value, key=repr)):
        if key not in exclude:
            for target in by_value.get(value, ()):
                counts[target] += 1
    return dict(counts)


@dataclass
class Deletion:
    """Of the subject's records in the collections the policy deletes: which go (`rows`), and which
    are kept because something outside this erasure still points at them (`shared`: key -> pointer
    -> how many rows)."""

    rows: dict[Collection, set[Key]]
    shared: dict[Collection, dict[Key, dict[Pointer, int]]] = field(default_factory=dict)

    def shared_rule(self, collection: Collection) -> str:
        """Why shared rows are kept, naming tables and columns only (never a key or a value)."""
        labels = sorted({p.label for by_pointer in self.shared[collection].values() for p in by_pointer})
        return "shared: also referenced by " + ", ".join(labels)

    def shared_counts(self, collection: Collection) -> dict[str, int]:
        """Pointing rows per pointer, over the kept rows of one collection (for reports and tests)."""
        counts: dict[str, int] = defaultdict(int)
        for by_pointer in self.shared.get(collection, {}).values():
            for pointer, n in by_pointer.items():
                counts[pointer.label] += n
        return dict(counts)


def plan_deletion(estate: Estate, connect: Callable[[str], Connector], discovery: Discovery, collections: set[Collection], all_pointers: list[Pointer]) -> Deletion:
    """Which of the subject's records in `collections` (those the policy deletes) really go.

    A record found only as what the subject's records point at is kept when anything else points at
    it. Keeping one can make another shared (a kept address still points at its building), so this
    repeats until nothing changes; records only ever move from deleted to kept, so it ends."""
    rows = {c: set(discovery.keys(*c)) for c in collections}
    candidates = {c: set(discovery.via_parent(*c)) for c in sorted(collections)}
    deletion = Deletion(rows)
    while True:
        shared: dict[Collection, dict[Key, dict[Pointer, int]]] = defaultdict(lambda: defaultdict(dict))
        for collection, keys in candidates.items():
            for pointer in all_pointers:
                if pointer.target == collection and keys:
                    exclude = rows.get((pointer.system, pointer.collection), set())
                    for key, n in referrers(estate, connect, pointer, keys, exclude).items():
                        shared[collection][key][pointer] = n
        if {c: set(k) for c, k in shared.items()} == {c: set(k) for c, k in deletion.shared.items()}:
            return deletion
        deletion.shared = {c: dict(k) for c, k in shared.items()}
        for collection, keyed in shared.items():
            rows[collection] -= set(keyed)
