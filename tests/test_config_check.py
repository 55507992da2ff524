"""`config check`: every problem the estate would meet later (a misspelt category, a table the database
lacks, a policy planning would refuse, personal data no dataset declares) found now, with file and line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dsr.config import ConfigError, load_estate
from tests import shop


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
