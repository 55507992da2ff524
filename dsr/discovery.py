"""Discovery: every place the subject's data lives, as findings (locators, never values).

It starts from the subject's strong identifiers (identity fields in every system) and walks the
declared references outwards, across tables and across systems, until nothing new is found. The
walk keeps a visited set, so reference cycles end.

An owned reference (the default) makes the pointing rows the subject's data. A reference marked
`owned: false` is a link from somebody else's record; those rows are reported as links, never
exported, and erasure only clears the link.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.base import Connector, Key, Match, Mention, TextMatcher
from dsr.config import Estate, resolve_reference
from dsr.subject import Subject

Relation = Literal["owned", "link", "mention", "unconfirmed", "skipped"]


@dataclass(frozen=True)
class Finding:
    """One record or object that holds the subject's data, points at it, or mentions it.

    - owned: the subject's record (found by identity or an owned reference);
    - link: somebody else's record pointing at the subject's (`field` holds the pointer);
    - mention: a text that names the subject (`field` for a free-text column, None for an object;
      `spans` are (line, start, end); `confidence` from the matcher);
    - unconfirmed: a text where the prefilter found the subject but confirming failed (`spans`):
      neither erased nor exported as the subject's, listed for a person to review;
    - skipped: an object that could not be read as text (`how` says why).

    `how` says how it was found: `identity:<kinds>`, `reference:<system.collection.field>`,
    `text:<kinds>` or `skipped:<reason>`. Findings hold locators, never values.
    """

    system: str
    collection: str
    key: Key
    relation: Relation
    how: str
    field: str | None = None
    spans: tuple[tuple[int, int, int], ...] = ()
    confidence: float | None = None

    @property
    def collection_path(self) -> str:
        return f"{self.system}.{self.collection}"


@dataclass(frozen=True)
class Edge:
    """A declared reference: rows of (system, collection) whose `field` equals a value of `target`."""

    system: str
    collection: str
    field: str
    target: tuple[str, str, str]
    owned: bool


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

    def unconfirmed(self) -> list[Finding]:
        return [f for f in self.findings if f.relation == "unconfirmed"]

    def keys(self, system: str, collection: str, relation: Relation = "owned") -> list[Key]:
        return [f.key for f in self.findings if (f.system, f.collection, f.relation) == (system, collection, relation)]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for f in self.owned():
            counts[f.collection_path] += 1
        return dict(sorted(counts.items()))


def reference_edges(estate: Estate) -> list[Edge]:
    return [
        Edge(system, cname, ref.field, resolve_reference(system, ref.to), ref.owned)
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
    # Fields whose values later lookups need: the targets of references pointing at a collection.
    needed: dict[tuple[str, str], set[str]] = defaultdict(set)
    for edge in edges:
        needed[edge.target[:2]].add(edge.target[2])

    result = Discovery()
    seen: set[tuple[str, str, Key]] = set()
    frontier: list[tuple[str, str, Match]] = []

    def record(system: str, collection: str, matches: Iterable[Match], relation: Relation, how: Callable[[Match], str], link_field: str | None = None) -> None:
        for match in matches:
            marker = (system, collection, match.key)
            if marker in seen:
                continue
            seen.add(marker)
            result.findings.append(Finding(system, collection, match.key, relation, how(match), link_field))
            if relation == "owned":
                frontier.append((system, collection, match))

    for system in sorted(wanted_systems):
        connector = connect(system)
        for cname, coll in estate.datasets[system].collections.items():
            if any(f.identity is not None and f.identity.is_strong for f in coll.fields.values()):
                matches = connector.find_by_identity(cname, subject.identifiers, sorted(needed[(system, cname)]))
                record(system, cname, matches, "owned", lambda m: "identity:" + ",".join(m.matched))

    while frontier:
        batch, frontier[:] = list(frontier), []
        values: dict[tuple[str, str, str], set[Any]] = defaultdict(set)
        for system, collection, match in batch:
            for fname, value in match.values.items():
                if value is not None:
                    values[(system, collection, fname)].add(value)
        for edge in edges:
            target_values = values.get(edge.target)
            if not target_values:
                continue
            field_names = sorted(needed[(edge.system, edge.collection)]) if edge.owned else []
            matches = connect(edge.system).find_by_values(edge.collection, edge.field, sorted(target_values, key=repr), field_names)
            how = f"reference:{edge.target[0]}.{edge.target[1]}.{edge.target[2]}"
            if edge.owned:
                record(edge.system, edge.collection, matches, "owned", lambda _m, h=how: h)
            else:
                for match in matches:
                    result.findings.append(Finding(edge.system, edge.collection, match.key, "link", how, edge.field))

    if matcher is not None:
        for system in sorted(wanted_systems):
            for cname, coll in estate.datasets[system].collections.items():
                if coll.scanned:
                    for mention in connect(system).scan(cname, matcher):
                        result.findings.extend(_mention_findings(system, cname, mention))
    return result


def _mention_findings(system: str, collection: str, mention: Mention) -> Iterator[Finding]:
    if mention.skipped:
        yield Finding(system, collection, mention.key, "skipped", f"skipped:{mention.skipped}")
        return
    how = "text:" + ",".join(mention.kinds)
    if mention.spans:
        yield Finding(system, collection, mention.key, "mention", how, mention.field, mention.spans, mention.confidence)
    if mention.unconfirmed:
        yield Finding(system, collection, mention.key, "unconfirmed", how, mention.field, mention.unconfirmed)
