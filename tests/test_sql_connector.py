"""The SQL connector: the shared conformance tests on SQLite, PostgreSQL and MariaDB, plus what
only SQL has (normalised-column and expression matching, reflected foreign keys, dataset suggestions)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, create_engine, insert

from connectors.sql import SqlConnector
from dsr.config import DatasetConfig, SystemConfig
from dsr.subject import Identifier, IdentifierKind
from tests.conformance import ConformanceStore, ConnectorConformance


def _schema() -> MetaData:
    md = MetaData()
    Table("people", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("email", String(12000)),
          Column("phone", String(40)), Column("name", String(100)), Column("city", String(100)))
    Table("notes", md, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("person_id", Integer, ForeignKey("people.id"), index=True), Column("body", String(400)))
    return md


def _loader(url: str):  # noqa: ANN202
    def load(records: dict[str, list[dict[str, Any]]]) -> None:
        engine = create_engine(url)
        md = _schema()
        md.create_all(engine)
        with engine.begin() as conn:
            for table in md.sorted_tables:
                if records[table.name]:
                    conn.execute(insert(table), records[table.name])
        engine.dispose()

    return load


class TestSqlConformance(ConnectorConformance):
    @pytest.fixture
    def store(self, sql_url: str) -> ConformanceStore:
        down = "postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2"
        return ConformanceStore("sql", SystemConfig(kind="sql", url=sql_url), _loader(sql_url), SystemConfig(kind="sql", url=down))


def _phones_dataset(match: dict | None) -> DatasetConfig:
    phone: dict[str, Any] = {"identity": "phone"}
    if match:
        phone["match"] = match
    return DatasetConfig.model_validate({"system": "s", "collections": {"phones": {
        "primary_key": ["id"], "fields": {"id": {}, "phone": phone, "phone_e164": {}, "email": {"identity": "email", "match": {"expression": "lower"}}}}}})


@pytest.mark.parametrize("match", [{"expression": "spellings"}, {"column": "phone_e164"}, None], ids=["spellings", "column", "default-digits"])
def test_phone_matches_in_normal_form(sql_url: str, match: dict | None) -> None:
    engine = create_engine(sql_url)
    md = MetaData()
    phones = Table("phones", md, Column("id", Integer, primary_key=True, autoincrement=False), Column("phone", String(40)),
                   Column("phone_e164", String(20)), Column("email", String(100)))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(phones), [
            {"id": 1, "phone": "090-1234-5678", "phone_e164": "+819012345678", "email": "A@B.JP"},
            {"id": 2, "phone": "+81 (90) 1234 5678", "phone_e164": "+819012345678", "email": "x@y.jp"},
            {"id": 3, "phone": "090-1234-5679", "phone_e164": "+819012345679", "email": "z@y.jp"},
        ])
    engine.dispose()
    connector = SqlConnector("s", SystemConfig(kind="sql", url=sql_url), _phones_dataset(match))
    subject = [Identifier.parse(IdentifierKind.PHONE, "+81 90 1234 5678")]
    found = sorted(m.key[0] for m in connector.find_by_identity("phones", subject, []))
    # Exact spellings cannot see '+81 (90) 1234 5678' (a spelling nobody lists); the declared normal forms can.
    assert found == ([1] if match == {"expression": "spellings"} else [1, 2])
    email = [Identifier.parse(IdentifierKind.EMAIL, "a@b.jp")]
    assert sorted(m.key[0] for m in connector.find_by_identity("phones", email, [])) == [1]
    connector.close()


def test_reflected_foreign_keys(sql_url: str) -> None:
    """(Dataset suggestions moved to the core, on the data map: tests/test_suggest.py.)"""
    _loader(sql_url)({"people": [], "notes": []})
    from tests.conformance import DATASET

    connector = SqlConnector("store", SystemConfig(kind="sql", url=sql_url), DATASET)
    (fk,) = connector.foreign_keys()
    assert (fk.collection, fk.fields, fk.parent, fk.parent_fields, fk.nullable) == ("notes", ("person_id",), "people", ("id",), True)
    connector.close()


def test_index_warnings(sql_url: str) -> None:
    _loader(sql_url)({"people": [], "notes": []})
    from tests.conformance import DATASET

    connector = SqlConnector("store", SystemConfig(kind="sql", url=sql_url), DATASET)
    warnings = connector.check()
    assert any("store.people.email" in w and "lower(email)" in w for w in warnings)
    assert any("store.people.phone" in w for w in warnings)
    connector.close()
