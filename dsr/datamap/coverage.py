"""What the data map says about the dataset YAML: coverage, what is unmapped, and drift between scans.

Plain functions over a DataMap and the declared datasets, shared by the nightly flow, `datamap scan`
and `config check`. A gap names a system, a collection and a column, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dsr.config import CollectionConfig, DatasetConfig
from dsr.datamap.classify import DECIDES
from dsr.datamap.model import CollectionProfile, ColumnProfile, DataMap

GapKind = str
"""unmapped_collection: personal data in a collection no dataset declares;
unmapped_reference: an undeclared collection's enforced foreign key points at a declared one (its rows
  are the customer's too, and an erasure must see them);
undeclared_column: a personal column of a declared collection that the dataset does not list;
undeclared_identity: an email/phone/customer-number column the dataset lists without `identity`
  (discovery will not look the customer up by it);
undeclared_free_text: free text the dataset does not mark `free_text` (mentions are never scanned);
missing_collection / missing_column: declared, but not in the live store;
new_collection / new_column / newly_personal: drift, personal data that the previous scan did not see."""


@dataclass(frozen=True)
class Gap:
    kind: GapKind
    system: str
    collection: str
    column: str | None = None
    category: str | None = None
    detail: str = ""

    @property
    def where(self) -> str:
        return ".".join(p for p in (self.system, self.collection, self.column) if p)

    def __str__(self) -> str:
        what = f" ({self.category})" if self.category else ""
        return f"{self.kind}: {self.where}{what}{': ' + self.detail if self.detail else ''}"


@dataclass(frozen=True)
class Coverage:
    """Declared versus found personal data. `found`: personal columns the scan found (in collections
    it could scan); `declared`: how many of them the datasets list; `gaps`: everything to review."""

    found: int
    declared: int
    gaps: tuple[Gap, ...]

    @property
    def ratio(self) -> float:
        return self.declared / self.found if self.found else 1.0

    @property
    def unmapped(self) -> tuple[Gap, ...]:
        return tuple(g for g in self.gaps if g.kind in ("unmapped_collection", "unmapped_reference"))


def declared_collection(profile: CollectionProfile, dataset: DatasetConfig | None) -> tuple[str, CollectionConfig] | None:
    """The dataset collection that covers a scanned collection: a table by name (an inheritance child
    or partition by its parent's too), an S3 prefix by bucket and prefix overlap."""
    if dataset is None:
        return None
    if profile.kind in ("prefix", "bucket"):
        bucket, _, prefix = profile.name.partition("/")
        for name, coll in dataset.collections.items():
            if coll.objects and coll.objects.bucket == bucket and (prefix.startswith(coll.objects.prefix) or coll.objects.prefix.startswith(prefix)):
                return name, coll
        return None
    for name in (profile.name, profile.parent):
        if name and name in dataset.collections and dataset.collections[name].objects is None:
            return name, dataset.collections[name]
    return None


def _column_gaps(profile: CollectionProfile, coll: CollectionConfig) -> list[Gap]:
    gaps = []
    if coll.objects is not None:
        return gaps  # an object collection has no fields: declaring it covers its text
    # A normal-form column of an identity field (match: {column: phone_e164}) and a reference field
    # (followed from the customer's rows) are reached without an identity of their own.
    reached = {f.match.column for f in coll.fields.values() if f.identity and f.match and f.match.column} | {r.field for r in coll.references}
    for column in profile.personal_columns:
        field = coll.fields.get(column.name)
        if field is None:
            gaps.append(Gap("undeclared_column", profile.system, profile.name, column.name, column.category, _evidence(column)))
            continue
        if column.identity and field.identity is None and column.name not in reached:
            gaps.append(Gap("undeclared_identity", profile.system, profile.name, column.name, column.category,
                            f"looks like a {column.identity} ({_evidence(column)}); declare identity: {column.identity}"))
        if column.category == "free_text" and not field.free_text:
            gaps.append(Gap("undeclared_free_text", profile.system, profile.name, column.name, column.category, "mentions in it are never scanned; declare free_text: true"))
    scanned = {c.name for c in profile.columns}
    for name in coll.fields:
        if profile.columns and name not in scanned:
            gaps.append(Gap("missing_column", profile.system, profile.name, name, None, "declared but not in the live table"))
    return gaps


def _evidence(column: ColumnProfile) -> str:
    """Evidence counts for a reviewer ("EMAIL_ADDRESS 5/5"), or the name hint when values showed nothing."""
    counts = column.evidence_text
    if not counts and column.hint:
        return f"name suggests {column.hint}"
    return counts


def _personal_parent(declared: CollectionConfig, found: CollectionProfile | None) -> bool:
    """A declared collection that holds someone's data (so erasure deletes its rows, and rows pointing
    at them matter): declared with categories or identity fields, or found personal. A catalogue is not."""
    return bool(declared.categories or any(f.categories or f.identity for f in declared.fields.values()) or (found and found.personal))


def coverage(data_map: DataMap, datasets: Mapping[str, DatasetConfig]) -> Coverage:
    """Compare what the scan found with what the datasets declare, system by system."""
    gaps: list[Gap] = []
    found = declared = 0
    for system in data_map.systems:
        if system in data_map.errors:
            continue  # not scanned: nothing to say either way (the error itself is reported)
        dataset = datasets.get(system)
        profiles = data_map.of_system(system)
        covered: dict[str, CollectionProfile] = {}
        for profile in profiles:
            match = declared_collection(profile, dataset)
            found += len(profile.personal_columns)
            if match is None:
                if profile.personal:
                    cats = sorted({c.category for c in profile.personal_columns})
                    gaps.append(Gap("unmapped_collection", system, profile.name, None, ", ".join(cats),
                                    f"{len(profile.personal_columns)} personal column(s) in no dataset"))
                continue
            name, coll = match
            covered[profile.name] = profile
            column_gaps = _column_gaps(profile, coll)
            gaps.extend(column_gaps)
            undeclared = {g.column for g in column_gaps if g.kind == "undeclared_column"}
            declared += sum(1 for c in profile.personal_columns if c.name not in undeclared)
        for profile in profiles:
            if profile.name in covered:
                continue
            for ref in profile.references:
                if dataset and ref.parent in dataset.collections and _personal_parent(dataset.collections[ref.parent], covered.get(ref.parent)):
                    gaps.append(Gap("unmapped_reference", system, profile.name, ", ".join(ref.fields), None,
                                    f"points at declared {ref.parent}; its rows follow the customer's and erasure must see them"))
        if dataset is not None:
            present = {p.name for p in profiles} | {p.parent for p in profiles if p.parent}
            objects = {m[0] for p in profiles if p.kind == "prefix" and (m := declared_collection(p, dataset))}
            for name, coll in dataset.collections.items():
                if name not in (objects if coll.objects is not None else present):
                    gaps.append(Gap("missing_collection", system, name, None, None, "declared but not in the live store"))
    return Coverage(found, declared, tuple(gaps))


def drift(previous: DataMap | None, current: DataMap) -> tuple[Gap, ...]:
    """Personal data the current scan found that the previous one did not: new collections (tables,
    prefixes), new columns, and columns whose values now mostly show personal data (a column that
    changed use). A column at a threshold, decided one way one night and the other way the next
    from a different random sample, is not drift. Systems either scan could not read, or that the
    previous scan never covered, have no baseline and report no drift."""
    if previous is None:
        return ()
    baseline = {s for s in previous.systems if s not in previous.errors}
    changes: list[Gap] = []
    for profile in current.collections:
        if profile.system not in baseline or profile.system in current.errors or not profile.personal:
            continue
        before = previous.collection(profile.system, profile.name)
        if before is None:
            cats = sorted({c.category for c in profile.personal_columns})
            changes.append(Gap("new_collection", profile.system, profile.name, None, ", ".join(cats), f"{len(profile.personal_columns)} personal column(s)"))
            continue
        for column in profile.personal_columns:
            old = before.column(column.name)
            if old is None:
                changes.append(Gap("new_column", profile.system, profile.name, column.name, column.category, _evidence(column)))
            elif not old.personal and column.examined and max(column.evidence.values(), default=0) >= DECIDES * column.examined:
                changes.append(Gap("newly_personal", profile.system, profile.name, column.name, column.category, _evidence(column)))
    return tuple(changes)
