"""The shared conformance tests every connector must pass.

To prove a new connector: write tests/test_<kind>_connector.py with a subclass of
`ConnectorConformance` and a `store` fixture returning a `ConformanceStore` for your kind: a system
config pointing at a real, empty store, and a `load` that writes the given records into it (and,
for stores with an unreachable form, `unreachable`). The tests below then run against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.base import PSEUDONYM_PREFIX, ApplyContext, ConnectorError, ForeignKey, Step
from connectors.registry import connector_class, kinds
from dsr.config import DatasetConfig, SystemConfig
from dsr.subject import Identifier, IdentifierKind, Subject
from scanners.matcher import SubjectMatcher

DATASET = DatasetConfig.model_validate({
    "system": "store",
    "collections": {
        "people": {
            "primary_key": ["id"],
            "fields": {
                "id": {},
                "email": {"categories": ["contact"], "identity": "email"},
                "phone": {"categories": ["contact"], "identity": "phone"},
                "name": {"categories": ["name"]},
                "city": {"categories": ["address"]},
            },
        },
        "notes": {
            "primary_key": ["id"],
            "fields": {"id": {}, "person_id": {}, "body": {"categories": ["support"], "free_text": True}},
            "references": [{"field": "person_id", "to": "people.id"}],
        },
    },
})

RECORDS: dict[str, list[dict[str, Any]]] = {
    "people": [
        {"id": 1, "email": "Aoi.Kato@example.jp", "phone": "090-1234-5678", "name": "Aoi Kato", "city": "Sapporo"},
        {"id": 2, "email": "aoi.kato@example.com", "phone": "080-1234-5678", "name": "Aoi Kato", "city": "Osaka"},
        {"id": 3, "email": "o'brien@example.ie", "phone": "+353 1 234 5678", "name": "Seán O'Brien", "city": "Dublin"},
    ],
    "notes": [
        {"id": 10, "person_id": 1, "body": "called about roaming"},
        {"id": 11, "person_id": 1, "body": "asked for a new SIM"},
        {"id": 12, "person_id": 2, "body": "billing question; cc AOI.KATO@example.jp, who pays"},
        {"id": 13, "person_id": 2, "body": "wrote from aoi.kato@example.jp.evil.com and 100% sure_"},
    ],
}

HOSTILE = [
    "x' OR '1'='1",
    "'; DROP TABLE people; --",
    'a"b\\c',
    "山田太郎@例え.jp",
    "\u202eevil\u200b",
    "y" * 10_240,
]


@dataclass
class ConformanceStore:
    kind: str
    config: SystemConfig
    load: Callable[[dict[str, list[dict[str, Any]]]], None]
    unreachable: SystemConfig | None = None


def _ids(matches) -> list[Any]:  # noqa: ANN001
    return sorted(m.key[0] for m in matches)


def _matcher() -> SubjectMatcher:
    return SubjectMatcher(Subject((Identifier.parse(IdentifierKind.EMAIL, "aoi.kato@example.jp"),)))


def _pseudonym(collection: str, field: str, value: str) -> str:
    return PSEUDONYM_PREFIX + str(abs(hash((collection, field, value))) % 10**8)


class ConnectorConformance:
    """Inherit this and provide a `store` fixture."""

    @pytest.fixture
    def connector(self, store: ConformanceStore):
        store.load(RECORDS)
        connector = connector_class(store.kind)("store", store.config, DATASET)
        yield connector
        connector.close()

    def test_registered_under_its_kind(self, store: ConformanceStore) -> None:
        assert store.kind in kinds()

    def test_finds_identity_in_any_spelling(self, connector) -> None:  # noqa: ANN001
        email = Identifier.parse(IdentifierKind.EMAIL, "AOI.KATO@EXAMPLE.JP")
        phone = Identifier.parse(IdentifierKind.PHONE, "+81 90 1234 5678")
        assert _ids(connector.find_by_identity("people", [email], [])) == [1]
        assert _ids(connector.find_by_identity("people", [phone], [])) == [1]
        (match,) = connector.find_by_identity("people", [email, phone], ["id"])
        assert set(match.matched) == {"email", "phone"}

    def test_does_not_find_lookalikes(self, connector) -> None:  # noqa: ANN001
        other = Identifier.parse(IdentifierKind.PHONE, "+81 90 1234 5679")
        assert _ids(connector.find_by_identity("people", [other], [])) == []

    def test_quotes_in_identifiers_are_data(self, connector) -> None:  # noqa: ANN001
        email = Identifier.parse(IdentifierKind.EMAIL, "O'Brien@Example.ie")
        assert _ids(connector.find_by_identity("people", [email], [])) == [3]

    @pytest.mark.parametrize("value", HOSTILE, ids=["or-true", "drop-table", "quotes-backslash", "unicode", "bidi", "10kb"])
    def test_hostile_values_find_nothing_and_harm_nothing(self, connector, value: str) -> None:  # noqa: ANN001
        identifier = Identifier(IdentifierKind.EMAIL, value)  # as if it had passed normalisation
        assert _ids(connector.find_by_identity("people", [identifier], [])) == []
        assert _ids(connector.find_by_values("people", "name", [value], [])) == []
        assert _ids(connector.find_by_values("people", "id", [1, 2, 3], [])) == [1, 2, 3]

    def test_reference_lookup_and_read_return_only_asked_fields(self, connector) -> None:  # noqa: ANN001
        matches = list(connector.find_by_values("notes", "person_id", [1], ["person_id"]))
        assert _ids(matches) == [10, 11] and all(m.values == {"person_id": 1} for m in matches)
        rows = list(connector.read("people", [(1,)], ["name", "city"]))
        assert rows == [{"name": "Aoi Kato", "city": "Sapporo"}]

    def test_apply_changes_only_the_given_records(self, connector) -> None:  # noqa: ANN001
        context = ApplyContext(pseudonym=_pseudonym)
        counts = connector.apply([
            Step("notes", "delete_record", [(10,), (11,)]),
            Step("people", "mask", [(1,)], ("city",)),
            Step("people", "pseudonymize", [(1,)], ("name",)),
            Step("people", "null_field", [(1,)], ("email", "phone")),
        ], context)
        assert [c.affected for c in counts] == [2, 1, 1, 1]
        assert _ids(connector.find_by_values("notes", "person_id", [1, 2], [])) == [12, 13]
        (row,) = connector.read("people", [(1,)], ["email", "phone", "name", "city"])
        assert row["email"] is None and row["phone"] is None
        assert row["city"] == "[masked]" and row["name"].startswith(PSEUDONYM_PREFIX)
        (other,) = connector.read("people", [(2,)], ["name", "city"])
        assert other == {"name": "Aoi Kato", "city": "Osaka"}

    def test_apply_is_idempotent(self, connector) -> None:  # noqa: ANN001
        context = ApplyContext(pseudonym=_pseudonym)
        steps = [Step("notes", "delete_record", [(10,)]), Step("people", "pseudonymize", [(1,)], ("name",))]
        assert [c.affected for c in connector.apply(steps, context)] == [1, 1]
        (first,) = connector.read("people", [(1,)], ["name"])
        assert [c.affected for c in connector.apply(steps, context)] == [0, 0]
        assert list(connector.read("people", [(1,)], ["name"])) == [first]

    def test_apply_is_all_or_nothing(self, connector) -> None:  # noqa: ANN001
        context = ApplyContext(pseudonym=_pseudonym)
        with pytest.raises(ConnectorError):
            connector.apply([Step("notes", "delete_record", [(10,)]), Step("people", "null_field", [(1,)], ("no_such_field",))], context)
        assert _ids(connector.find_by_values("notes", "person_id", [1], [])) == [10, 11]

    def test_scan_finds_mentions_in_free_text_only_where_they_are(self, connector) -> None:  # noqa: ANN001
        mentions = list(connector.scan("notes", _matcher()))
        assert [(m.key, m.field, m.kinds) for m in mentions] == [((12,), "body", ("email",))]
        assert list(connector.scan("people", _matcher())) == []  # no free-text fields there

    def test_redact_removes_only_the_subjects_spans(self, connector) -> None:  # noqa: ANN001
        matcher = _matcher()
        context = ApplyContext(pseudonym=_pseudonym, redact=matcher.redact)
        (result,) = connector.apply([Step("notes", "redact", [(12,), (13,)], ("body",))], context)
        assert result.affected == 1
        bodies = sorted(row["body"] for row in connector.read("notes", [(12,), (13,)], ["body"]))
        assert bodies == ["billing question; cc [redacted], who pays", RECORDS["notes"][3]["body"]]

    def test_unreachable_store_is_a_clear_error(self, store: ConformanceStore) -> None:
        if store.unreachable is None:
            pytest.fail("a conformance store must say how to reach nothing (ConformanceStore.unreachable)")
        connector = connector_class(store.kind)("store", store.unreachable, DATASET)
        with pytest.raises(ConnectorError, match="'store'"):
            list(connector.find_by_values("notes", "person_id", [1], []))
        connector.close()

    # ------------------------------------------------------------------ data map: schema() and sample()

    @pytest.fixture
    def notes_only(self, store: ConformanceStore):
        """A connector whose dataset declares only `notes`: `people` exists in the store, undeclared."""
        store.load(RECORDS)
        dataset = DatasetConfig(system="store", collections={"notes": DATASET.collections["notes"]})
        connector = connector_class(store.kind)("store", store.config, dataset)
        yield connector
        connector.close()

    def test_schema_names_every_collection_declared_or_not(self, notes_only) -> None:  # noqa: ANN001
        schema = notes_only.schema()
        people, notes = schema.collection("people"), schema.collection("notes")
        assert people is not None and notes is not None, [c.name for c in schema.collections]
        assert [c.name for c in people.columns] == ["id", "email", "phone", "name", "city"] and people.primary_key == ("id",)
        assert {c.name: c.nullable for c in notes.columns}["person_id"] is True and all(c.type for c in notes.columns)
        assert ForeignKey("notes", ("person_id",), "people", ("id",), True) in notes.foreign_keys
        assert people.rows_estimate is None or people.rows_estimate >= 1

    def test_sample_is_bounded_and_reads_undeclared_collections(self, notes_only) -> None:  # noqa: ANN001
        two = notes_only.sample("people", 2)
        assert len(two) == 2 and all(row in RECORDS["people"] for row in two)  # whole records, as stored
        assert sorted(r["id"] for r in notes_only.sample("notes", 100)) == [10, 11, 12, 13]
        with pytest.raises(ConnectorError, match="'store'"):
            notes_only.sample("no_such_collection", 5)
        with pytest.raises(ConnectorError, match="at least one"):
            notes_only.sample("people", 0)
