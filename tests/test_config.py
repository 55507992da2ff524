"""Loading the estate's configuration: every problem reported at once, with file, line and path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dsr.config import ConfigError, ConfigProblem, Estate, load_estate
from tests import shop

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo"


# --------------------------------------------------------------------------- helpers


def _config(tmp_path: Path, *, systems: dict[str, str] | None = None, main: dict[str, Any] | None = None,
            side: dict[str, Any] | None = None, policy: dict[str, Any] | None = None) -> Path:
    """The shop estate's configuration (no database is opened by loading it)."""
    systems = systems if systems is not None else {"main": f"sqlite:///{tmp_path / 'main.db'}", "side": f"sqlite:///{tmp_path / 'side.db'}"}
    datasets = [main or copy.deepcopy(shop.MAIN_DATASET), side or copy.deepcopy(shop.SIDE_DATASET)]
    return shop.write_config(tmp_path, systems, datasets, policy)


def _problems(config: Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_estate(config)
    assert info.value.problems, "a ConfigError must list its problems"
    return info.value.problems


def _line(file: Path, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `needle` (so tests do not hard-code dumper layout)."""
    hits = [n for n, line in enumerate(file.read_text().splitlines(), 1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} not found {occurrence} time(s) in {file}"
    return hits[occurrence - 1]


def _one(problems: list[ConfigProblem], file: str, path: str) -> ConfigProblem:
    found = [p for p in problems if p.file == file and p.path == path]
    assert len(found) == 1, f"expected one problem at {file} {path}; got {problems}"
    return found[0]


# --------------------------------------------------------------------------- good configurations


def test_demo_configuration_loads_with_five_systems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSR_WORKDIR", str(tmp_path))
    monkeypatch.setenv("DSR_S3_ENDPOINT", "http://127.0.0.1:9000")
    estate = load_estate(DEMO)
    assert isinstance(estate, Estate)
    assert sorted(estate.systems) == ["billing", "crm", "marketing", "storage", "support"]
    assert sorted(estate.datasets) == ["billing", "crm", "marketing", "storage", "support"]
    assert all(s.url == f"sqlite:///{tmp_path}/{name}.db" for name, s in estate.systems.items() if s.kind == "sql")
    assert estate.systems["storage"].url == "http://127.0.0.1:9000" and estate.systems["storage"].options == {"region": "ap-northeast-1"}
    assert estate.collection("storage", "web_access_logs").objects.format_of("access/2025-07-01.log.gz") == "text"
    assert estate.collection("storage", "support_attachments").objects.format_of("t/devices.csv") == "csv"
    assert estate.scanners.entity_thresholds["DATE_TIME"] == 0.95 and "UsLicenseRecognizer" in estate.scanners.disabled
    assert estate.settings.control_db == f"sqlite:///{tmp_path}/control.db"
    assert estate.settings.signing_key_file == f"{tmp_path}/keys/signing.pem"
    assert estate.policy.id == "hkt-privacy-policy"
    assert estate.policy.erase.records["billing_record"].action == "retain"
    assert estate.policy_digest
    assert estate.warnings == []


def test_demo_configuration_without_its_workdir_names_every_unset_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSR_WORKDIR", raising=False)
    problems = _problems(DEMO)
    files = {p.file for p in problems}
    assert {"estate.yaml", "systems.yaml"} <= files
    url = _one(problems, "systems.yaml", "systems.crm.url")
    assert url.line == _line(DEMO / "systems.yaml", "url: sqlite:///${DSR_WORKDIR}/crm.db")
    assert "DSR_WORKDIR" in url.message and "not set" in url.message
    control = _one(problems, "estate.yaml", "control_db")
    assert control.line == _line(DEMO / "estate.yaml", "control_db:")


def test_shop_configuration_loads(tmp_path: Path) -> None:
    estate = load_estate(_config(tmp_path))
    assert sorted(estate.systems) == ["main", "side"]
    assert estate.collection("main", "order_lines").primary_key == ["order_id", "line_no"]
    assert estate.settings.control_db == f"sqlite:///{tmp_path / 'control.db'}"


def test_policy_digest_changes_with_the_policy(tmp_path: Path) -> None:
    first = load_estate(_config(tmp_path / "a"))
    policy = copy.deepcopy(shop.POLICY)
    policy["due_days"]["erase"] = 14
    second = load_estate(_config(tmp_path / "b", policy=policy))
    assert first.policy_digest != second.policy_digest
    assert load_estate(_config(tmp_path / "c")).policy_digest == first.policy_digest


def test_unused_policy_category_is_a_warning_not_an_error(tmp_path: Path) -> None:
    policy = copy.deepcopy(shop.POLICY)
    policy["access"]["export"].append("telemetry")
    config = _config(tmp_path, policy=policy)
    estate = load_estate(config)  # does not raise
    warning = _one(estate.warnings, "policies.yaml", "access.export.telemetry")
    assert warning.severity == "warning"
    assert "'telemetry'" in warning.message and "no dataset" in warning.message
    export_line = _line(config / "policies.yaml", "export:")
    assert export_line <= warning.line <= _line(config / "policies.yaml", "- telemetry")
    assert "warning" in str(warning) and "policies.yaml:" in str(warning)
    assert all(w.severity == "warning" for w in estate.warnings)


def test_password_from_environment_variable_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSR_TEST_DB_PASSWORD", "s3cret-pw")
    config = _config(tmp_path, systems={"main": "postgresql+psycopg://dsr:${DSR_TEST_DB_PASSWORD}@db.internal/shop",
                                        "side": f"sqlite:///{tmp_path / 'side.db'}"})
    estate = load_estate(config)
    assert estate.systems["main"].url == "postgresql+psycopg://dsr:s3cret-pw@db.internal/shop"


# --------------------------------------------------------------------------- malformed files


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    config = _config(tmp_path)
    path = config / "datasets" / "main.yaml"
    text = path.read_text()
    assert "        identity: email\n" in text
    path.write_text(text.replace("        identity: email\n", "        identity: email\n       bad: indent\n", 1))
    problems = _problems(config)
    problem = _one(problems, "datasets/main.yaml", "")
    assert problem.line == _line(path, "bad: indent")
    assert "malformed YAML" in problem.message
    assert str(problem).startswith(f"datasets/main.yaml:{problem.line}:")


def test_malformed_yaml_in_several_files_is_reported_for_each(tmp_path: Path) -> None:
    config = _config(tmp_path)
    (config / "policies.yaml").write_text("id: p\nversion: '1'\naccess: {export: [name\n")
    side = config / "datasets" / "side.yaml"
    side.write_text(side.read_text() + "  - [unclosed\n")
    problems = _problems(config)
    assert {"policies.yaml", "datasets/side.yaml"} <= {p.file for p in problems}
    assert all("malformed YAML" in p.message for p in problems if p.file in ("policies.yaml", "datasets/side.yaml"))
    assert all(p.line for p in problems if p.file in ("policies.yaml", "datasets/side.yaml"))


def test_top_level_that_is_not_a_mapping(tmp_path: Path) -> None:
    config = _config(tmp_path)
    (config / "datasets" / "side.yaml").write_text("- system: side\n")
    problem = _one(_problems(config), "datasets/side.yaml", "")
    assert problem.line == 1
    assert "mapping" in problem.message


def test_missing_required_file(tmp_path: Path) -> None:
    config = _config(tmp_path)
    (config / "systems.yaml").unlink()
    problem = _one(_problems(config), "systems.yaml", "")
    assert "missing" in problem.message


def test_missing_directory(tmp_path: Path) -> None:
    problems = _problems(tmp_path / "nowhere")
    assert len(problems) == 1 and "does not exist" in problems[0].message


# --------------------------------------------------------------------------- datasets


def test_dataset_for_unknown_system(tmp_path: Path) -> None:
    side = copy.deepcopy(shop.SIDE_DATASET)
    side["system"] = "ghost"
    config = _config(tmp_path, side=side)
    problem = _one(_problems(config), "datasets/ghost.yaml", "system")
    assert problem.line == _line(config / "datasets" / "ghost.yaml", "system: ghost")
    assert "unknown system 'ghost'" in problem.message
    assert "main" in problem.message and "side" in problem.message  # names what is declared


def test_reference_to_missing_collection_names_the_line_of_to(tmp_path: Path) -> None:
    main = copy.deepcopy(shop.MAIN_DATASET)
    main["collections"]["orders"]["references"][0]["to"] = "nowhere.id"
    config = _config(tmp_path, main=main)
    problem = _one(_problems(config), "datasets/main.yaml", "collections.orders.references.0.to")
    assert problem.line == _line(config / "datasets" / "main.yaml", "to: nowhere.id")
    assert "no collection 'nowhere'" in problem.message


def test_reference_to_missing_field_and_missing_system(tmp_path: Path) -> None:
    side = copy.deepcopy(shop.SIDE_DATASET)
    side["collections"]["tickets"]["references"] = [
        {"field": "customer_ref", "to": "main.customers.uuid"},
        {"field": "customer_ref", "to": "erp.customers.id"},
        {"field": "customer_ref", "to": "customers"},
    ]
    config = _config(tmp_path, side=side)
    problems = _problems(config)
    file = config / "datasets" / "side.yaml"
    missing_field = _one(problems, "datasets/side.yaml", "collections.tickets.references.0.to")
    assert "no field 'uuid'" in missing_field.message
    assert missing_field.line == _line(file, "to: main.customers.uuid")
    missing_system = _one(problems, "datasets/side.yaml", "collections.tickets.references.1.to")
    assert "no dataset for system 'erp'" in missing_system.message
    assert missing_system.line == _line(file, "to: erp.customers.id")
    bad_form = _one(problems, "datasets/side.yaml", "collections.tickets.references.2.to")
    assert "collection.field" in bad_form.message
    assert bad_form.line == _line(file, "to: customers")


def test_reference_from_undeclared_field(tmp_path: Path) -> None:
    main = copy.deepcopy(shop.MAIN_DATASET)
    main["collections"]["orders"]["references"][0]["field"] = "client_id"
    config = _config(tmp_path, main=main)
    problem = _one(_problems(config), "datasets/main.yaml", "collections.orders.references.0.field")
    assert problem.line == _line(config / "datasets" / "main.yaml", "field: client_id")
    assert "'client_id'" in problem.message


def test_primary_key_not_declared_under_fields(tmp_path: Path) -> None:
    main = copy.deepcopy(shop.MAIN_DATASET)
    main["collections"]["order_lines"]["primary_key"] = ["order_id", "line_number"]
    config = _config(tmp_path, main=main)
    problem = _one(_problems(config), "datasets/main.yaml", "collections.order_lines.primary_key")
    file = config / "datasets" / "main.yaml"
    order_lines = _line(file, "  order_lines:")
    assert problem.line == order_lines + 1 == _line(file, "primary_key:", 4)
    assert "'line_number'" in problem.message and "not declared under fields" in problem.message


def test_unknown_field_key_is_reported_at_its_line(tmp_path: Path) -> None:
    main = copy.deepcopy(shop.MAIN_DATASET)
    main["collections"]["customers"]["fields"]["email"] = {"categories": ["contact"], "identiy": "email"}
    config = _config(tmp_path, main=main)
    problem = _one(_problems(config), "datasets/main.yaml", "collections.customers.fields.email.identiy")
    assert problem.line == _line(config / "datasets" / "main.yaml", "identiy: email")
    assert "not permitted" in problem.message


def test_unknown_identity_kind_lists_the_known_ones(tmp_path: Path) -> None:
    main = copy.deepcopy(shop.MAIN_DATASET)
    main["collections"]["customers"]["fields"]["name"]["identity"] = "passport"
    config = _config(tmp_path, main=main)
    problem = _one(_problems(config), "datasets/main.yaml", "collections.customers.fields.name.identity")
    assert problem.line == _line(config / "datasets" / "main.yaml", "identity: passport")
    for kind in ("email", "phone", "customer_id"):
        assert kind in problem.message


def test_match_column_must_be_declared_and_match_needs_identity(tmp_path: Path) -> None:
    main = copy.deepcopy(shop.MAIN_DATASET)
    fields = main["collections"]["customers"]["fields"]
    fields["phone"]["match"] = {"column": "phone_e164"}
    fields["risk"]["match"] = {"expression": "lower"}
    config = _config(tmp_path, main=main)
    problems = _problems(config)
    column = _one(problems, "datasets/main.yaml", "collections.customers.fields.phone.match.column")
    assert column.line == _line(config / "datasets" / "main.yaml", "column: phone_e164")
    assert "'phone_e164'" in column.message
    stray = _one(problems, "datasets/main.yaml", "collections.customers.fields.risk.match")
    assert "identity" in stray.message


def test_duplicate_dataset_for_one_system(tmp_path: Path) -> None:
    config = _config(tmp_path)
    (config / "datasets" / "zz_main_again.yaml").write_text((config / "datasets" / "main.yaml").read_text())
    problem = _one(_problems(config), "datasets/zz_main_again.yaml", "system")
    assert "datasets/main.yaml" in problem.message


# --------------------------------------------------------------------------- systems


def test_literal_password_in_url_is_refused_without_repeating_it(tmp_path: Path) -> None:
    config = _config(tmp_path, systems={"main": "postgresql+psycopg://dsr:hunter2-literal@db.internal/shop",
                                        "side": f"sqlite:///{tmp_path / 'side.db'}"})
    with pytest.raises(ConfigError) as info:
        load_estate(config)
    problem = _one(info.value.problems, "systems.yaml", "systems.main.url")
    assert problem.line == _line(config / "systems.yaml", "url: postgresql+psycopg://")
    assert "password" in problem.message and "${VAR}" in problem.message
    assert "hunter2-literal" not in str(info.value)


def test_unset_environment_variable_in_systems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSR_TEST_UNSET_HOST", raising=False)
    config = _config(tmp_path, systems={"main": "postgresql+psycopg://dsr@${DSR_TEST_UNSET_HOST}/shop",
                                        "side": f"sqlite:///{tmp_path / 'side.db'}"})
    problem = _one(_problems(config), "systems.yaml", "systems.main.url")
    assert problem.line == _line(config / "systems.yaml", "${DSR_TEST_UNSET_HOST}")
    assert "DSR_TEST_UNSET_HOST" in problem.message and "not set" in problem.message


def test_bad_system_name(tmp_path: Path) -> None:
    config = _config(tmp_path, systems={"Main-DB": f"sqlite:///{tmp_path / 'm.db'}", "main": f"sqlite:///{tmp_path / 'main.db'}",
                                        "side": f"sqlite:///{tmp_path / 'side.db'}"})
    problem = _one(_problems(config), "systems.yaml", "systems.Main-DB")
    assert problem.line == _line(config / "systems.yaml", "Main-DB:")


# --------------------------------------------------------------------------- policy


def test_retain_without_legal_basis(tmp_path: Path) -> None:
    policy = copy.deepcopy(shop.POLICY)
    del policy["erase"]["records"]["billing_record"]["legal_basis"]
    config = _config(tmp_path, policy=policy)
    problem = _one(_problems(config), "policies.yaml", "erase.records.billing_record")
    assert problem.line == _line(config / "policies.yaml", "billing_record:")
    assert "legal_basis" in problem.message


def test_bad_retention_period(tmp_path: Path) -> None:
    policy = copy.deepcopy(shop.POLICY)
    policy["erase"]["records"]["billing_record"]["retention"] = "seven years"
    config = _config(tmp_path, policy=policy)
    problem = _one(_problems(config), "policies.yaml", "erase.records.billing_record.retention")
    assert problem.line == _line(config / "policies.yaml", "retention: seven years")
    assert "7y" in problem.message


def test_record_and_field_actions_are_not_interchangeable(tmp_path: Path) -> None:
    policy = copy.deepcopy(shop.POLICY)
    policy["erase"]["records"]["order"] = {"action": "mask"}
    policy["erase"]["fields"]["contact"] = {"action": "delete_record"}
    config = _config(tmp_path, policy=policy)
    problems = _problems(config)
    record = _one(problems, "policies.yaml", "erase.records.order.action")
    assert "field action" in record.message
    assert record.line == _line(config / "policies.yaml", "action: mask")
    field = _one(problems, "policies.yaml", "erase.fields.contact.action")
    assert "record action" in field.message


# --------------------------------------------------------------------------- all at once


def test_every_problem_in_a_directory_is_reported_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSR_TEST_UNSET_HOST", raising=False)
    main = copy.deepcopy(shop.MAIN_DATASET)
    main["collections"]["orders"]["references"][0]["to"] = "nowhere.id"
    main["collections"]["order_lines"]["primary_key"] = ["order_id", "line_number"]
    side = copy.deepcopy(shop.SIDE_DATASET)
    side["collections"]["tickets"]["fields"]["contact_email"]["identity"] = "passport"
    policy = copy.deepcopy(shop.POLICY)
    del policy["erase"]["records"]["billing_record"]["legal_basis"]
    config = _config(
        tmp_path,
        systems={"main": "postgresql+psycopg://dsr:hunter2-literal@db/shop", "side": "postgresql+psycopg://dsr@${DSR_TEST_UNSET_HOST}/support"},
        main=main,
        side=side,
        policy=policy,
    )
    with pytest.raises(ConfigError) as info:
        load_estate(config)
    problems = info.value.problems
    where = {(p.file, p.path) for p in problems}
    assert {
        ("datasets/main.yaml", "collections.orders.references.0.to"),
        ("datasets/main.yaml", "collections.order_lines.primary_key"),
        ("datasets/side.yaml", "collections.tickets.fields.contact_email.identity"),
        ("systems.yaml", "systems.main.url"),
        ("systems.yaml", "systems.side.url"),
        ("policies.yaml", "erase.records.billing_record"),
    } <= where
    assert all(p.severity == "error" and p.line for p in problems)
    report = str(info.value)
    for p in problems:
        assert f"{p.file}:{p.line}:" in report
    assert "hunter2-literal" not in report
