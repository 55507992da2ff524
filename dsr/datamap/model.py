"""The data map's shape: per system, per collection, per column, what kind of data a sample showed.

A map never holds a sampled value: only categories, identity kinds, confidences and evidence counts
(entity -> how many sampled values showed it). It is policy-independent: the categories are a fixed
vocabulary, mapped to the policy's own category names only when a dataset is written from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.base import ForeignKey

Category = Literal["contact", "name", "address", "identifier", "national_id", "financial", "network", "date_of_birth", "free_text", "none"]
CATEGORIES: tuple[str, ...] = ("contact", "name", "address", "identifier", "national_id", "financial", "network", "date_of_birth", "free_text", "none")

IdentityKind = Literal["email", "phone", "customer_id"]
"""The identity fields that may seed discovery (names and addresses never do); values of dsr.subject.IdentifierKind."""

CollectionKind = Literal["table", "inheritance_child", "partition", "prefix", "bucket"]


DEFAULT_SAMPLE = 200  # records sampled per table or prefix: enough to tell a catalogue from people, never a full read

@dataclass(frozen=True)
class ColumnProfile:
    """One column (or, for objects, the record text) as its sample showed it.

    `evidence`: entity (Presidio's or ours, e.g. EMAIL_ADDRESS, PHONE_NUMBER, PERSON, JP_POSTCODE)
    -> number of values in which it was found, of the `examined` values the recognizers looked at
    (they stop early once the first values agree); `sampled`: non-empty values in the sample.
    `distinct_ratio`: distinct / sampled (an identity field is close to 1). `hint`: the category
    the column's name alone suggests, kept for review (it never decides on its own).
    """

    name: str
    sql_type: str
    nullable: bool
    category: str = "none"
    identity: str | None = None
    confidence: float = 0.0
    evidence: dict[str, int] = field(default_factory=dict)
    sampled: int = 0
    distinct_ratio: float = 0.0
    hint: str | None = None
    examined: int = 0

    @property
    def personal(self) -> bool:
        return self.category != "none"

    @property
    def evidence_text(self) -> str:
        """For people: "EMAIL_ADDRESS 5/5" (values showing it / values examined), most frequent first."""
        return ", ".join(f"{entity} {n}/{self.examined}" for entity, n in sorted(self.evidence.items(), key=lambda kv: (-kv[1], kv[0])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "sql_type": self.sql_type, "nullable": self.nullable, "category": self.category,
            "identity": self.identity, "confidence": round(self.confidence, 3), "evidence": dict(sorted(self.evidence.items())),
            "sampled": self.sampled, "distinct_ratio": round(self.distinct_ratio, 3), "hint": self.hint, "examined": self.examined,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        return cls(
            name=data["name"], sql_type=data.get("sql_type", ""), nullable=bool(data.get("nullable", True)),
            category=data.get("category", "none"), identity=data.get("identity"), confidence=float(data.get("confidence", 0.0)),
            evidence={str(k): int(v) for k, v in (data.get("evidence") or {}).items()}, sampled=int(data.get("sampled", 0)),
            distinct_ratio=float(data.get("distinct_ratio", 0.0)), hint=data.get("hint"), examined=int(data.get("examined", 0)),
        )


@dataclass(frozen=True)
class CollectionProfile:
    """A table (or an S3 prefix) of one system: its structure from reflection, its columns from a sample.

    `kind`: table; inheritance_child or partition (PostgreSQL, `parent` names the parent table);
    prefix (S3: `name` is "bucket/prefix", `rows_estimate` the object count). `sampled_rows`: how
    many rows (records) the sample held; never more than the sample size asked for.
    """

    system: str
    name: str
    kind: str = "table"
    parent: str | None = None
    primary_key: tuple[str, ...] = ()
    rows_estimate: int | None = None
    sampled_rows: int = 0
    columns: tuple[ColumnProfile, ...] = ()
    references: tuple[ForeignKey, ...] = ()

    @property
    def personal_columns(self) -> tuple[ColumnProfile, ...]:
        return tuple(c for c in self.columns if c.personal)

    @property
    def identity_columns(self) -> tuple[ColumnProfile, ...]:
        return tuple(c for c in self.columns if c.identity)

    @property
    def personal(self) -> bool:
        return bool(self.personal_columns)

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system, "name": self.name, "kind": self.kind, "parent": self.parent, "primary_key": list(self.primary_key),
            "rows_estimate": self.rows_estimate, "sampled_rows": self.sampled_rows, "columns": [c.to_dict() for c in self.columns],
            "references": [
                {"collection": r.collection, "fields": list(r.fields), "parent": r.parent, "parent_fields": list(r.parent_fields), "nullable": r.nullable}
                for r in self.references
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectionProfile:
        return cls(
            system=data["system"], name=data["name"], kind=data.get("kind", "table"), parent=data.get("parent"),
            primary_key=tuple(data.get("primary_key") or ()), rows_estimate=data.get("rows_estimate"), sampled_rows=int(data.get("sampled_rows", 0)),
            columns=tuple(ColumnProfile.from_dict(c) for c in data.get("columns") or ()),
            references=tuple(
                ForeignKey(r["collection"], tuple(r["fields"]), r["parent"], tuple(r["parent_fields"]), bool(r["nullable"])) for r in data.get("references") or ()
            ),
        )


@dataclass(frozen=True)
class DataMap:
    """Everything one scan found, across the estate's systems, at one time.

    `errors`: systems that could not be scanned, with why (never data); a map with errors is
    incomplete and says so rather than pretending the system holds nothing.
    """

    scanned_at: dt.datetime
    collections: tuple[CollectionProfile, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)
    sample_size: int = 0

    @property
    def systems(self) -> list[str]:
        return sorted({c.system for c in self.collections} | set(self.errors))

    def collection(self, system: str, name: str) -> CollectionProfile | None:
        return next((c for c in self.collections if c.system == system and c.name == name), None)

    def of_system(self, system: str) -> tuple[CollectionProfile, ...]:
        return tuple(c for c in self.collections if c.system == system)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanned_at": self.scanned_at.isoformat(), "sample_size": self.sample_size, "errors": dict(sorted(self.errors.items())),
            "collections": [c.to_dict() for c in self.collections],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataMap:
        return cls(
            scanned_at=dt.datetime.fromisoformat(data["scanned_at"]), sample_size=int(data.get("sample_size", 0)),
            errors={str(k): str(v) for k, v in (data.get("errors") or {}).items()},
            collections=tuple(CollectionProfile.from_dict(c) for c in data.get("collections") or ()),
        )
