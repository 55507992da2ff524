"""Discovery: every place the subject's data lives, as findings (locators, never values).

It starts from the subject's strong identifiers (identity fields in every system) and walks the
declared references, across tables and across systems, until nothing new is found. The walk keeps
a visited set, so reference cycles end. Each reference is walked in the one direction its
`ownership` names (dsr.config.ReferenceConfig):

- `dependent`: rows pointing at the subject's rows are the subject's (child direction);
- `owns_target`: rows the subject's rows point at are the subject's (parent direction: the
  customer's address), unless their collection names people (a staff row is the staff member's,
  whatever points at it). They may be shared, so they are marked `via_parent`; the walk goes on from
  them only in the parent direction (rows pointing at a shared address are other people's), and
  erasure deletes them only when nothing else points at them (dsr.references);
- `link`: rows pointing at the subject's rows are somebody else's; reported as links, never
  exported, and erasure only clears the pointer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.base import Connector, Key, Match, Mention, TextMatcher
from dsr.config import Estate, Ownership, resolve_reference
from dsr.subject import Subject

Relation = Literal["owned", "link", "mention", "skipped"]


@dataclass(frozen=True)
class Finding:
    """One record or object that holds the subject's data, points at it, or mentions it.

    - owned: the subject's record (found by identity or an owned reference);
    - link: somebody else's record pointing at the subject's (`field` holds the pointer);
    - mention: a text that names the subject (`field` for a free-text column, None for an object;
      `spans` are (line, start, end); `confidence` from the matcher);
    - skipped: an object that could not be read as text (`how` says why).

    `how` says how it was found: `identity:<kinds>`, `reference:<system.collection.field>` (what it
    points at), `owned-by:<system.collection.field>` (what points at it), `text:<kinds>` or
    `skipped:<reason>`. `via_parent`: an owned record found only because the subject's records point
    at it (their address), which may be shared. Findings hold locators, never values.
    """

    system: str
    collection: str
    key: Key
    relation: Relation
    how: str
    field: str | None = None
    spans: tuple[tuple[int, int, int], ...] = ()
    confidence: float | None = None
    via_parent: bool = False

    @property
    def collection_path(self) -> str:
        return f"{self.system}.{self.collection}"


@dataclass(frozen=True)
class Edge:
    """A declared reference: rows of (system, collection) whose `field` equals a value of `target`,
    walked in the direction `ownership` names."""

    system: str
    collection: str
    field: str
    target: tuple[str, str, str]
    ownership: Ownership


@dataclass
class Discovery:
    findings: list[Finding] = field(default_factory=list)

    def owned(self) -> list[Finding]:
        return [f for f in self.findings if f.relation == "owned"]

    def links(self) -> list[Finding]:
        return [f for f in self.findings if f.relation == "link"]

    def mentions(self, system: str | None = None, collection: str | None = None) -> list[Finding]:
        return [
            f for f in self.findings
            if f.relation == "mention" and system in (None, f.system) and collection in (None, f.collection)
        ]

    def skipped(self) -> list[Finding]:
        return [f for f in self.findings if f.relation == "skipped"]

    def via_parent(self, system: str, collection: str) -> list[Key]:
        """Owned records found only as what the subject's records point at (possibly shared)."""
        return [f.key for f in self.owned() if f.via_parent and (f.system, f.collection) == (system, collection)]

    def keys(self, system: str, collection: str, relation: Relation = "owned") -> list[Key]:
        return [f.key for f in self.findings if (f.system, f.collection, f.relation) == (system, collection, relation)]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for f in self.owned():
            counts[f.collection_path] += 1
        return dict(sorted(counts.items()))


def reference_edges(estate: Estate) -> list[Edge]:
    return [
        Edge(system, cname, ref.field, resolve_reference(system, ref.to), ref.ownership)
        for system, dataset in estate.datasets.items()
        for cname, coll in dataset.collections.items()
        for ref in coll.references
    ]


def discover(
    estate: Estate,
    connect: Callable[[str], Connector],
    subject: Subject,
    matcher: TextMatcher | None = None,
    systems: Iterable[str] | None = None,
) -> Discovery:
    """Find the subject everywhere. `connect(system)` returns an open connector for a system; with a
    `matcher`, free-text fields and objects are scanned for mentions too."""
    wanted_systems = set(systems) if systems is not None else set(estate.datasets)
    edges = [e for e in reference_edges(estate) if e.system in wanted_systems and e.target[0] in wanted_systems]
    # Fields whose values later lookups need: the targets of child-direction references, the
    # pointers of parent-direction ones.
    needed: dict[tuple[str, str], set[str]] = defaultdict(set)
    for edge in edges:
        if edge.ownership == "owns_target":
            needed[(edge.system, edge.collection)].add(edge.field)
        else:
            needed[edge.target[:2]].add(edge.target[2])

    result = Discovery()
    where: dict[tuple[str, str, Key], int] = {}  # each owned record's index in result.findings
    frontier: list[tuple[str, str, Match, bool]] = []

    def record(system: str, collection: str, matches: Iterable[Match], how: Callable[[Match], str], via_parent: bool = False) -> None:
        for match in matches:
            marker = (system, collection, match.key)
            if marker in where:
                if via_parent or not result.findings[where[marker]].via_parent:
                    continue
                result.findings[where[marker]] = Finding(system, collection, match.key, "owned", how(match))  # found directly after all
            else:
                where[marker] = len(result.findings)
                result.findings.append(Finding(system, collection, match.key, "owned", how(match), via_parent=via_parent))
            frontier.append((system, collection, match, via_parent))

    for system in sorted(wanted_systems):
        connector = connect(system)
        for cname, coll in estate.datasets[system].collections.items():
            if coll.names_people:
                matches = connector.find_by_identity(cname, subject.identifiers, sorted(needed[(system, cname)]))
                record(system, cname, matches, lambda m: "identity:" + ",".join(m.matched))

    while frontier:
        batch, frontier[:] = list(frontier), []
        values: dict[tuple[str, str, str], set[Any]] = defaultdict(set)  # child direction: from records found directly
        pointers: dict[tuple[str, str, str], set[Any]] = defaultdict(set)  # parent direction: from any owned record
        for system, collection, match, via_parent in batch:
            for fname, value in match.values.items():
                if value is not None:
                    pointers[(system, collection, fname)].add(value)
                    if not via_parent:  # rows pointing at a shared address are other people's
                        values[(system, collection, fname)].add(value)
        for edge in edges:
            if edge.ownership == "owns_target":
                pointed = pointers.get((edge.system, edge.collection, edge.field))
                if pointed and not estate.collection(*edge.target[:2]).names_people:  # a person's row is whose it names
                    tsystem, tcollection, tfield = edge.target
                    matches = connect(tsystem).find_by_values(tcollection, tfield, sorted(pointed, key=repr), sorted(needed[(tsystem, tcollection)]))
                    record(tsystem, tcollection, matches, lambda _m, h=f"owned-by:{edge.system}.{edge.collection}.{edge.field}": h, via_parent=True)
                continue
            target_values = values.get(edge.target)
            if not target_values:
                continue
            field_names = sorted(needed[(edge.system, edge.collection)]) if edge.ownership == "dependent" else []
            matches = connect(edge.system).find_by_values(edge.collection, edge.field, sorted(target_values, key=repr), field_names)
            how = f"reference:{edge.target[0]}.{edge.target[1]}.{edge.target[2]}"
            if edge.ownership == "dependent":
                record(edge.system, edge.collection, matches, lambda _m, h=how: h)
            else:
                for match in matches:
                    result.findings.append(Finding(edge.system, edge.collection, match.key, "link", how, edge.field))

    if matcher is not None:
        for system in sorted(wanted_systems):
            for cname, coll in estate.datasets[system].collections.items():
                if coll.scanned:
                    result.findings.extend(_mention_finding(system, cname, m) for m in connect(system).scan(cname, matcher))
    return result


def _mention_finding(system: str, collection: str, mention: Mention) -> Finding:
    if mention.skipped:
        return Finding(system, collection, mention.key, "skipped", f"skipped:{mention.skipped}")
    return Finding(system, collection, mention.key, "mention", "text:" + ",".join(mention.kinds), mention.field, mention.spans, mention.confidence)
