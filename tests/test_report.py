"""The customer's access report: one self-contained HTML page, values escaped, nothing left out."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from dsr.config import Estate, load_estate
from dsr.report import DEFAULT_PURPOSES, DEFAULT_RECIPIENTS, WITHHELD_REASON, readable, render_access_report

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo"


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Estate:
    monkeypatch.setenv("DSR_WORKDIR", str(tmp_path))
    monkeypatch.setenv("DSR_S3_ENDPOINT", "s3-endpoint-not-used")
    return load_estate(DEMO)


def _manifest() -> dict[str, Any]:
    return {
        "request": {"id": "req-0042", "kind": "access", "received_at": "2026-11-03T09:15:00+00:00", "due_at": "2026-12-03T09:15:00+00:00"},
        "generated_at": "2026-11-04T10:00:00+00:00",
        "policy": {"id": "hkt-privacy-policy", "digest": "sha256:00"},
        "collections": [
            {"system": "crm", "collection": "customers", "records": 1, "mentions": 0,
             "fields": ["id", "customer_no", "full_name", "email", "birth_date"], "withheld_fields": ["credit_score"]},
            {"system": "billing", "collection": "invoices", "records": 2, "mentions": 0,
             "fields": ["id", "billing_name", "billing_address", "amount_yen"], "withheld_fields": []},
            {"system": "support", "collection": "tickets", "records": 1, "mentions": 2,
             "fields": ["id", "subject", "notes"], "withheld_fields": []},
        ],
        "files": {},
    }


def _records() -> dict[str, list[dict[str, Any]]]:
    return {
        "crm.customers": [{"id": 7, "customer_no": "C-7", "full_name": "山田 太郎", "email": "taro@example.jp", "birth_date": "1980-04-01"}],
        "billing.invoices": [
            {"id": 101, "billing_name": "Yamada Taro", "billing_address": "東京都千代田区1-1", "amount_yen": 5500},
            {"id": 102, "billing_name": "Yamada Taro", "billing_address": "東京都千代田区1-1", "amount_yen": 4400},
        ],
        "support.tickets": [{"id": 9, "subject": "<script>alert(1)</script>", "notes": 'He said "hi" & <b>bye</b>'}],
        "support.tickets.mentions": [
            {"field": "notes", "text": "Caller asked about Taro's plan"},
            {"field": "notes", "text": "転送: 山田様の件"},
        ],
    }


DISCLOSURES = {
    "billing.invoices": {"purposes": ["Billing you for your contract"], "recipients": ["HKT Payments K.K. (group company)", "Card processor (subcontractor)"]},
}


def _render(estate: Estate, **kwargs: Any) -> str:
    return render_access_report(estate, _manifest(), _records(), **kwargs)


def _text(page: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_page_is_self_contained(estate: Estate) -> None:
    page = _render(estate, disclosures=DISCLOSURES)
    lowered = page.lower()
    assert lowered.startswith("<!doctype html>")
    for needle in ("http://", "https://", "//cdn", "<script", "<link", "<img", "<iframe", "<object", "<embed", "src=", "href=", "url(", "@import", "@font-face"):
        assert needle not in lowered, needle
    assert '<meta charset="utf-8">' in lowered
    assert "default-src 'none'" in page  # the CSP forbids loading anything at all


def test_values_are_escaped(estate: Estate) -> None:
    page = _render(estate)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bye</b>" not in page and "&lt;b&gt;bye&lt;/b&gt;" in page and "&amp;" in page
    assert "<script>alert(1)</script>" in _text(page)  # shown to the reader as text


def test_summary_collections_and_record_counts(estate: Estate) -> None:
    page = _render(estate)
    text = _text(page)
    assert "Request req-0042" in text and "Received 2026-11-03" in text and "Answer due 2026-12-03" in text
    assert "We found your personal information in 3 of our 5 systems: 4 records about you, and 2 mentions of you in other people's records." in text
    for entry in _manifest()["collections"]:
        assert f"({entry['system']}.{entry['collection']})" in text
        assert f"{entry['records']} record{'' if entry['records'] == 1 else 's'} about you" in text
    assert "Customer master data (accounts, addresses, contact points)" in text  # systems.yaml description
    assert "Invoices and payments (kept for the statutory period)" in text
    assert text.count("Yamada Taro") == 2  # every record is a table row
    assert "<th>Billing address</th>" in page and "<td>Billing address</td><td>address</td>" in page


def test_withheld_fields_named_with_the_reason(estate: Estate) -> None:
    text = _text(_render(estate))
    assert f"Credit score (internal): {WITHHELD_REASON}." in text
    assert text.count(WITHHELD_REASON) == 1  # only crm.customers withholds anything


def test_purposes_and_recipients_from_the_mapping(estate: Estate) -> None:
    text = _text(_render(estate, disclosures=DISCLOSURES))
    assert "Billing you for your contract" in text
    assert "HKT Payments K.K. (group company)" in text and "Card processor (subcontractor)" in text
    # the two collections without an entry fall back to the privacy policy's §4 and §5
    assert text.count(DEFAULT_PURPOSES) == 2 and text.count(DEFAULT_RECIPIENTS) == 2


def test_collections_without_declared_disclosures_refer_to_the_policy(estate: Estate) -> None:
    text = _text(_render(estate))  # the demo declares purposes for crm.customers and billing.invoices only
    assert text.count(f"We use this data {DEFAULT_PURPOSES}.") == 1
    assert "billing for the services you use" in text and "HKT Payment Services (group company)" in text


def test_mentions_show_only_their_text(estate: Estate) -> None:
    page = _render(estate)
    text = _text(page)
    assert "Mentions of you in other records" in text
    assert "Caller asked about Taro's plan" in text and "転送: 山田様の件" in text
    assert text.count("Mentions of you in other records") == 1


def test_japanese_text_survives(estate: Estate) -> None:
    page = _render(estate)
    assert "山田 太郎" in page and "東京都千代田区1-1" in page and "転送: 山田様の件" in page
    assert page.encode("utf-8").decode("utf-8") == page


def test_field_names_are_readable() -> None:
    assert readable("billing_address") == "Billing address"
    assert readable("customer_no") == "Customer number"
    assert readable("id") == "ID" and readable("customer_id") == "Customer ID"


def test_demo_config_every_collection(estate: Estate) -> None:
    """Every collection of the demo estate, with the fields and withholdings the export would compute."""
    allowed = set(estate.policy.access.export)
    collections, records = [], {}
    for system, dataset in estate.datasets.items():
        for name, coll in dataset.collections.items():
            if coll.objects is not None:
                fields, withheld = ["object", "version_id", "line", "text"], []
                rows = [{"object": "calls/1.jsonl", "version_id": "v1", "line": 1, "text": f"{name}: こんにちは"}]
            else:
                fields = [f for f, conf in coll.fields.items() if allowed & set(conf.categories)]
                withheld = [f for f in coll.fields if f not in fields]
                rows = [{f: f"{system}-{name}-{f}" for f in fields}]
            collections.append({"system": system, "collection": name, "records": 1, "mentions": 0, "fields": fields, "withheld_fields": withheld})
            records[f"{system}.{name}"] = rows
    manifest = {"request": {"id": "demo-1", "received_at": "2026-11-03T00:00:00+00:00", "due_at": "2026-12-03T00:00:00+00:00"}, "collections": collections}

    page = render_access_report(estate, manifest, records)
    text = _text(page)
    assert f"in 5 of our 5 systems: {len(collections)} records about you." in text
    for conf in estate.systems.values():
        assert conf.description and conf.description in text
    for entry in collections:
        assert f"({entry['system']}.{entry['collection']})" in text
    assert f"Credit score (internal): {WITHHELD_REASON}." in text
    assert "crm-customers-birth_date" in text and "crm-customers-credit_score" not in text
    assert "こんにちは" in text
    assert "https://" not in page and "http://" not in page and "<script" not in page
