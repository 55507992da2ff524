"""Direct-mail opt-out (privacy policy §6): consent switched off in every marketing system, and a
suppression entry (keyed HMACs only) keeps a later import from re-subscribing the customer."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, create_engine, insert, text
from typer.testing import CliRunner

from dsr.cli import app
from dsr.control.models import SuppressionRow
from dsr.requests import Verification, create_request
from dsr.runtime import Runtime
from dsr.subject import Identifier, IdentifierKind
from dsr.suppression import is_suppressed
from tests import shop

POLICY = {**shop.POLICY, "opt_out": {"consent_categories": ["dm_consent"]}}


def _store(url: str, table: str, rows: list[dict]) -> None:
    engine = create_engine(url)
    md = MetaData()
    t = Table(table, md, Column("id", Integer, primary_key=True, autoincrement=False), Column("email", String(100), index=True),
              Column("name", String(100)), Column("dm_opt_in", Boolean, nullable=False))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(t), rows)
    engine.dispose()


def _dataset(system: str, table: str) -> dict:
    return {"system": system, "collections": {table: {"primary_key": ["id"], "categories": ["marketing"], "fields": {
        "id": {}, "email": {"categories": ["contact"], "identity": "email"}, "name": {"categories": ["name"]},
        "dm_opt_in": {"categories": ["marketing", "dm_consent"]}}}}}


def test_opt_out_switches_consent_off_everywhere_and_suppresses_reimport(tmp_path, sql_url):
    shop_url = f"sqlite:///{tmp_path / 'shopfront.db'}"
    _store(sql_url, "subscribers", [{"id": 1, "email": "Mika.Tanaka@example.jp", "name": "Mika", "dm_opt_in": True},
                                    {"id": 2, "email": "ken@example.com", "name": "Ken", "dm_opt_in": True}])
    _store(shop_url, "members", [{"id": 7, "email": "MIKA.TANAKA@EXAMPLE.JP", "name": "Mika", "dm_opt_in": True}])
    config = shop.write_config(tmp_path, {"newsletter": sql_url, "shopfront": shop_url},
                               [_dataset("newsletter", "subscribers"), _dataset("shopfront", "members")], POLICY)
    rt = Runtime.open(config, create_keys=True)
    email = Identifier.parse(IdentifierKind.EMAIL, "mika.tanaka@example.jp")
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind="opt_out", identifiers=[email], channel="web", department="Marketing",
                             requested_by="clerk", verification=Verification("email link", "web form", dt.datetime.now(dt.UTC)))
        session.commit()
        request_id = row.id
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id, "opt_out"))

    def flags(url: str, table: str) -> list[tuple]:
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(text(f"select id, dm_opt_in from {table} order by id"))]
        engine.dispose()
        return [(i, bool(v)) for i, v in rows]

    assert flags(sql_url, "subscribers") == [(1, False), (2, True)]  # only hers, and nothing deleted
    assert flags(shop_url, "members") == [(7, False)]

    # A later import of the same address, in any spelling, is refused; other addresses are not.
    with rt.sessions() as session:
        assert is_suppressed(session, rt.keys, Identifier.parse(IdentifierKind.EMAIL, "MIKA.tanaka@Example.JP"))
        assert not is_suppressed(session, rt.keys, Identifier.parse(IdentifierKind.EMAIL, "ken@example.com"))
        stored = [r.identifier_mac for r in session.query(SuppressionRow)]
        assert stored and all(m.startswith("hmac-sha256:") and "mika" not in m for m in stored)
    runner = CliRunner()
    assert runner.invoke(app, ["suppression", "check", "--email", "Mika.Tanaka@example.jp", "--config", str(config)]).exit_code == 1
    assert runner.invoke(app, ["suppression", "check", "--email", "ken@example.com", "--config", str(config)]).exit_code == 0

    receipts = [json.loads(p.read_bytes())["receipt"] for p in (rt.receipts_dir / request_id).glob("*.json") if p.name != "certificate.json"]
    steps = {r["action"]["step"]: r["action"]["status"] for r in receipts if r["kind"] == "action"}
    assert steps == {"newsletter/subscribers/withdraw_consent:dm_opt_in": "done", "shopfront/members/withdraw_consent:dm_opt_in": "done",
                     "control/suppressions/suppress": "done"}
