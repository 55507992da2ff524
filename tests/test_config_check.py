"""`config check`: every problem the estate would meet later (a misspelt category, a table the database
lacks, a policy planning would refuse, personal data no dataset declares) found now, with file and line."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert

from dsr.checks import check_config
from dsr.config import ConfigError, load_estate
from tests import shop
from tests.test_cli import invoke


def _line(file: Path, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `needle` (tests do not hard-code the dumper's layout)."""
    hits = [n for n, line in enumerate(file.read_text().splitlines(), 1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} not found {occurrence} time(s) in {file}"
    return hits[occurrence - 1]


def _shop_config(root: Path, main_url: str, side_url: str, main: dict[str, Any] | None = None, policy: dict[str, Any] | None = None) -> Path:
    return shop.write_config(root, {"main": main_url, "side": side_url}, [main or shop.MAIN_DATASET, shop.SIDE_DATASET], policy)


# --------------------------------------------------------------------------- the policy's vocabulary


def test_a_misspelt_category_is_an_error_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    main = copy.deepcopy(shop.MAIN_DATASET)
    main["collections"]["invoices"]["fields"]["billing_address"]["categories"] = ["adress"]
    config = _shop_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", f"sqlite:///{tmp_path / 's.db'}", main)
    with pytest.raises(ConfigError) as info:
        load_estate(config)
    [problem] = info.value.problems
    assert problem.file == "datasets/main.yaml"
    assert problem.path == "collections.invoices.fields.billing_address.categories.0"
    assert problem.line == _line(config / "datasets" / "main.yaml", "- adress")
    assert "'adress'" in problem.message and "did you mean 'address'?" in problem.message


def test_a_category_only_the_policy_vocabulary_names_is_accepted(tmp_path: Path) -> None:
    """`internal` needs no rule; listed under `categories:` it is known, without it an error."""
    policy = copy.deepcopy(shop.POLICY)
    policy["categories"] = [c for c in policy["categories"] if c != "internal"]
    config = _shop_config(tmp_path / "without", "sqlite:///m.db", "sqlite:///s.db", policy=policy)
    with pytest.raises(ConfigError) as info:
        load_estate(config)
    assert [(p.path, "'internal'" in p.message) for p in info.value.problems] == [("collections.customers.fields.risk.categories.0", True)]
    assert load_estate(_shop_config(tmp_path / "with", "sqlite:///m.db", "sqlite:///s.db")).policy.categories


def test_a_field_without_an_erasure_rule_in_retained_records_is_a_warning(tmp_path: Path) -> None:
    """Invoices are retained (tax law): their `billing` amount has no field rule, so it stays as it is;
    the name and address have rules, keys are handled by planning; no other warning."""
    config = _shop_config(tmp_path, "sqlite:///m.db", "sqlite:///s.db")
    warnings = [w for w in load_estate(config).warnings if "erase.fields" in w.message]
    assert [(w.path, w.severity) for w in warnings] == [("collections.invoices.fields.amount.categories", "warning")]
    assert warnings[0].line == _line(config / "datasets" / "main.yaml", "amount:") + 1
    assert "stays in clear text" in warnings[0].message and "retain" in warnings[0].message
    policy = copy.deepcopy(shop.POLICY)
    policy["erase"]["fields"]["billing"] = {"action": "keep"}  # said outright: no warning
    assert not [w for w in load_estate(_shop_config(tmp_path / "kept", "sqlite:///m.db", "sqlite:///s.db", policy=policy)).warnings
                if "erase.fields" in w.message]


# --------------------------------------------------------------------------- the live estate


@pytest.fixture
def live_shop(tmp_path: Path, sql_url: str) -> tuple[Path, str]:
    """The shop's main system in the database under test, its side system in SQLite."""
    shop.load_main(sql_url)
    side = f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_side(side)
    return tmp_path, sql_url


def _retaining_orders() -> dict[str, Any]:
    policy = copy.deepcopy(shop.POLICY)
    policy["erase"]["records"]["order"] = {"action": "retain", "legal_basis": "consumer warranty law", "retention": "2y"}
    policy["erase"]["fields"]["order"] = {"action": "keep"}
    return policy


def test_a_retained_child_whose_not_null_key_points_at_a_deleted_parent_is_found_before_any_request(live_shop: tuple[Path, str]) -> None:
    """Orders are retained, customers deleted, orders.customer_id is NOT NULL: planning would refuse
    every erasure. config check says so at the orders collection, before a request meets it."""
    root, url = live_shop
    config = _shop_config(root, url, f"sqlite:///{root / 'side.db'}", policy=_retaining_orders())
    load_estate(config)  # the files alone are fine
    report = check_config(config, maps=lambda _estate: (None, None))
    [error] = report.errors
    assert (error.file, error.path) == ("datasets/main.yaml", "collections.orders")
    assert error.line == _line(config / "datasets" / "main.yaml", "  orders:")
    assert "main.orders is kept (retain)" in error.message and "NOT NULL" in error.message and "main.customers" in error.message

    result = invoke("config", "check", "--config", config)
    assert result.exit_code == 1
    assert f"datasets/main.yaml:{error.line}: collections.orders: error: planning an erasure would refuse" in result.stderr
    assert "Traceback" not in result.output


def test_a_table_or_column_the_live_database_lacks_is_reported_at_its_line(live_shop: tuple[Path, str]) -> None:
    root, url = live_shop
    main = copy.deepcopy(shop.MAIN_DATASET)
    main["collections"]["loyalty_cards"] = {"primary_key": ["id"], "categories": ["account"], "fields": {"id": {"categories": ["identifier"]}}}
    main["collections"]["orders"]["fields"]["channel"] = {"categories": ["order"]}
    config = _shop_config(root, url, f"sqlite:///{root / 'side.db'}", main)
    report = check_config(config, maps=lambda _estate: (None, None))
    dataset = config / "datasets" / "main.yaml"
    assert sorted((p.path, p.line) for p in report.errors) == [
        ("collections.loyalty_cards", _line(dataset, "loyalty_cards:")),
        ("collections.orders.fields.channel", _line(dataset, "channel:")),
    ]
    assert all("does not exist" in p.message for p in report.errors)
    # the other tables are still checked: the unindexed phone lookup is reported as before
    assert any(p.path == "collections.customers.fields.phone" and "digits(phone)" in p.message for p in report.warnings)


@pytest.mark.parametrize("live", [False, True])
def test_an_unknown_connector_kind_is_one_clean_line(tmp_path: Path, live: bool) -> None:
    shop.load_main(f"sqlite:///{tmp_path / 'main.db'}")
    shop.load_side(f"sqlite:///{tmp_path / 'side.db'}")
    config = _shop_config(tmp_path, f"sqlite:///{tmp_path / 'main.db'}", f"sqlite:///{tmp_path / 'side.db'}")
    systems = config / "systems.yaml"
    systems.write_text(systems.read_text().replace("kind: sql", "kind: sqll", 1))
    result = invoke("config", "check", "--config", config, *([] if live else ["--no-live"]))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "sqll" in line]
    assert lines == [f"systems.yaml:{_line(systems, 'kind: sqll')}: systems.main.kind: error: no connector of kind 'sqll' is installed; did you mean 'sql'?"]
    assert "Traceback" not in result.output and "1 problem(s)" in result.stderr


def test_an_unreachable_system_is_one_line_at_its_systems_entry(tmp_path: Path) -> None:
    config = _shop_config(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none", f"sqlite:///{tmp_path / 'side.db'}")
    shop.load_side(f"sqlite:///{tmp_path / 'side.db'}")
    report = check_config(config, maps=lambda _estate: (None, None))
    [error] = report.errors
    assert (error.file, error.path) == ("systems.yaml", "systems.main")
    assert "'main'" in error.message and "unreachable" in error.message and "nobody" not in error.message


# --------------------------------------------------------------------------- the data map


GIVEN = ("Haruto", "Yui", "Sota", "Hina", "Minato", "Aoi", "Riku", "Mei", "Daiki", "Sakura")
FAMILY = ("Sato", "Suzuki", "Takahashi", "Watanabe", "Ito", "Nakamura", "Kobayashi", "Kato", "Yoshida", "Yamamoto")
COUNTRIES = ("Japan", "Hong Kong", "Singapore", "Taiwan")


def _people(n: int, offset: int = 0) -> list[dict[str, Any]]:
    """Distinct people from the rules names are made by: given x family name, mail at a provider."""
    people = []
    for i in range(offset, offset + n):
        given, family = GIVEN[i % len(GIVEN)], FAMILY[(i // len(GIVEN)) % len(FAMILY)]
        people.append({"id": i + 1, "email": f"{given.lower()}.{family.lower()}{i}@mail{i % 3}.example.jp", "full_name": f"{given} {family}",
                       "country": COUNTRIES[i % len(COUNTRIES)]})
    return people


def _scan(config: Path) -> None:
    """A data map scan stored in the control database, as `hkt-dsr datamap scan` does it."""
    from dsr.control.db import session_factory
    from dsr.datamap.scan import scan_estate
    from dsr.datamap.store import record_map

    estate = load_estate(config)
    with session_factory(estate.settings.control_db)() as session:
        record_map(session, scan_estate(estate, sample_size=50))
        session.commit()


def test_personal_data_in_no_dataset_is_a_warning_and_an_error_under_strict(live_shop: tuple[Path, str]) -> None:
    """A table of newsletter sign-ups appears between two scans: unmapped (an error under --strict) and
    new since the scan before; a table that appears after the last scan makes the map out of date."""
    root, url = live_shop
    config = _shop_config(root, url, f"sqlite:///{root / 'side.db'}")
    _scan(config)
    signups = Table("newsletter_signups", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("email", String(120)),
                    Column("full_name", String(80)), Column("country", String(40)))
    engine = create_engine(url)
    signups.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(signups), _people(40))
    _scan(config)

    dataset = config / "datasets" / "main.yaml"
    report = check_config(config)
    unmapped = [p for p in report.problems if "newsletter_signups" in p.message and "in no dataset" in p.message]
    assert [(p.severity, p.file, p.line) for p in unmapped] == [("warning", "datasets/main.yaml", _line(dataset, "collections:"))]
    [new] = [p for p in report.problems if "newsletter_signups" in p.message and "new since the data map" in p.message]
    assert new.severity == "warning" and "personal data in a new table" in new.message
    assert "personal data in no dataset" in unmapped[0].message and "contact" in unmapped[0].message
    assert re.search(r"\b[2-3] personal column\(s\) in no dataset", unmapped[0].message)  # email, country (and the name, if NER saw it)
    assert not report.errors

    strict = check_config(config, strict=True)
    assert [p.message for p in strict.errors] == [unmapped[0].message]
    result = invoke("config", "check", "--strict", "--config", config)
    assert result.exit_code == 1 and "newsletter_signups" in result.stderr and "1 problem(s)" in result.stderr

    # A table that appears after the scan is not in the map: config check says the map is out of date.
    Table("referrals", MetaData(), Column("id", Integer, primary_key=True)).create(engine)
    engine.dispose()
    later = check_config(config)
    assert any("main.referrals appeared since the data map" in p.message and p.severity == "warning" for p in later.problems)


def test_pseudonymizing_a_field_with_few_values_is_a_warning(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'members.db'}"
    members = Table("members", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("email", String(120)),
                    Column("full_name", String(80)), Column("country", String(40)))
    engine = create_engine(url)
    members.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(members), _people(60))
    engine.dispose()
    dataset = {"system": "club", "collections": {"members": {"primary_key": ["id"], "categories": ["account"], "fields": {
        "id": {"categories": ["identifier"]}, "email": {"categories": ["contact"], "identity": "email"},
        "full_name": {"categories": ["name"]}, "country": {"categories": ["region"]}}}}}
    policy = copy.deepcopy(shop.POLICY)
    policy["erase"]["records"]["account"] = {"action": "keep"}
    policy["erase"]["fields"].update({"region": {"action": "pseudonymize"}, "identifier": {"action": "keep"}})
    config = shop.write_config(tmp_path, {"club": url}, [dataset], policy)
    _scan(config)
    warnings = [p for p in check_config(config).warnings if "pseudonymize" in p.message]
    assert [(p.path, p.line) for p in warnings] == [("collections.members.fields.country", _line(config / "datasets" / "club.yaml", "country:"))]
    assert "4 distinct value(s) in 50 sampled" in warnings[0].message  # full_name (pseudonymized too) has 50 of 50: no warning


def test_a_bucket_the_store_lacks_is_reported_at_its_collection(tmp_path: Path, s3_endpoint: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="hkt-calls")
    dataset = {"system": "calls", "collections": {
        "transcripts": {"categories": ["support_case"], "objects": {"bucket": "hkt-calls", "prefix": "transcripts/"}},
        "recordings": {"categories": ["support_case"], "objects": {"bucket": "hkt-recordings", "prefix": ""}},
    }}
    config = shop.write_config(tmp_path, {}, [dataset])
    (config / "systems.yaml").write_text(f"systems:\n  calls:\n    kind: s3\n    url: {s3_endpoint}\n    options: {{region: us-east-1}}\n")
    report = check_config(config, maps=lambda _estate: (None, None))
    assert [(p.path, p.line) for p in report.errors] == [("collections.recordings", _line(config / "datasets" / "calls.yaml", "recordings:"))]
    assert "hkt-recordings" in report.errors[0].message and "'calls'" in report.errors[0].message


def test_without_a_data_map_strict_refuses_to_vouch_for_coverage(tmp_path: Path) -> None:
    shop.load_main(f"sqlite:///{tmp_path / 'main.db'}")
    shop.load_side(f"sqlite:///{tmp_path / 'side.db'}")
    config = _shop_config(tmp_path, f"sqlite:///{tmp_path / 'main.db'}", f"sqlite:///{tmp_path / 'side.db'}")
    assert not check_config(config).errors  # the control database holds no map yet: a warning
    [error] = check_config(config, strict=True).errors
    assert error.file == "systems.yaml" and "no data map yet" in error.message and "hkt-dsr datamap scan" in error.message
