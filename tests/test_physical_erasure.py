"""Erased means physically gone where the store would keep it: SQLite overwrites deleted content
(secure_delete), PostgreSQL tables are vacuumed after an erasure, the receipts say so, and the
certificate states by when the last backup holding the data expires."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dsr.config import period_end
from dsr.runtime import Runtime
from tests import shop


def _erase(tmp_path: Path, main: str, estate: dict | None = None, loaded: Callable[[], None] = lambda: None) -> tuple[Runtime, str]:
    rt = shop.open_shop(tmp_path, main, estate, loaded)
    request_id = shop.verified_request(rt)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    return rt, request_id


def _receipts(rt: Runtime, request_id: str) -> list[dict]:
    return [json.loads(p.read_bytes())["receipt"] for p in (rt.receipts_dir / request_id).glob("*.json") if p.name != "certificate.json"]


def test_sqlite_erasure_leaves_no_bytes_of_the_customer_in_the_file(tmp_path: Path) -> None:
    email = shop.SUBJECT["email"].lower().encode()

    def present() -> None:
        assert email in (tmp_path / "main.db").read_bytes().lower()

    rt, request_id = _erase(tmp_path, f"sqlite:///{tmp_path / 'main.db'}", loaded=present)
    with rt.connector("main").engine.connect() as conn:  # type: ignore[attr-defined] - asked, whatever the build's default
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    rt.close()
    assert email not in (tmp_path / "main.db").read_bytes().lower()
    deletes = [r["action"] for r in _receipts(rt, request_id) if r["kind"] == "action" and r["action"]["system"] == "main" and r["action"]["operation"] == "delete_record"]
    assert deletes and all("secure_delete" in (a["physical"] or "") for a in deletes)


@pytest.mark.postgres
def test_postgresql_tables_are_vacuumed_after_an_erasure_and_the_receipt_says_so(tmp_path: Path, postgres_url: str) -> None:
    rt, request_id = _erase(tmp_path, postgres_url)
    changed = {r["action"]["collection"] for r in _receipts(rt, request_id)
               if r["kind"] == "action" and r["action"]["system"] == "main" and r["action"]["affected"]}
    assert "customers" in changed
    assert all("VACUUM" in (r["action"]["physical"] or "") for r in _receipts(rt, request_id)
               if r["kind"] == "action" and r["action"]["system"] == "main" and r["action"]["affected"])
    deadline = time.monotonic() + 10
    while True:  # statistics reach other sessions a moment later
        vacuumed = {t for (t,) in shop.rows(postgres_url, "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL AND schemaname = current_schema()")}
        if changed <= vacuumed or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert changed <= vacuumed
    rt.close()


def test_without_vacuum_nothing_is_claimed(tmp_path: Path, postgres_url: str) -> None:
    rt, request_id = _erase(tmp_path, postgres_url, {"vacuum_after_erasure": False})
    assert all(r["action"]["physical"] is None for r in _receipts(rt, request_id) if r["kind"] == "action")
    rt.close()


def test_the_certificate_states_when_the_last_backup_holding_the_data_expires(tmp_path: Path) -> None:
    rt, request_id = _erase(tmp_path, f"sqlite:///{tmp_path / 'main.db'}", {"backup_retention": {"main": "35d", "side": "6m"}})
    certificate = next(r for r in _receipts(rt, request_id) if r["kind"] == "certificate")
    today = dt.datetime.now(dt.UTC).date()
    assert certificate["backups"] == {"expire_by": period_end(today, "6m").isoformat(), "undeclared": [],
                                      "systems": {"main": period_end(today, "35d").isoformat(), "side": period_end(today, "6m").isoformat()}}


def test_systems_without_a_declared_backup_retention_are_named(tmp_path: Path) -> None:
    rt, request_id = _erase(tmp_path, f"sqlite:///{tmp_path / 'main.db'}", {"backup_retention": {"main": "35d"}})
    certificate = next(r for r in _receipts(rt, request_id) if r["kind"] == "certificate")
    assert certificate["backups"]["expire_by"] is None and certificate["backups"]["undeclared"] == ["side"]
