"""A refusal is one `error:` line, never a traceback: in the CLI, in a flow run, for any input.
A real bug shows its type and place and the file that keeps its traceback."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from typer.testing import CliRunner

from dsr.cli import app
from dsr.config import ConfigError, load_estate
from tests import shop

HKT_DSR = [sys.executable, "-m", "dsr.cli"]
INTAKE = ["--kind", "erase", "--channel", "web", "--department", "Support Desk", "--requested-by", "Aiko Sato"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    main, side = f"sqlite:///{tmp_path / 'main.db'}", f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_main(main)
    shop.load_side(side)
    policy = copy.deepcopy(shop.POLICY)
    # Orders are retained, but their NOT NULL key points at the customer, whom the policy deletes:
    # planning must refuse (a PlanError), before anything changes.
    policy["erase"]["records"]["order"] = {"action": "retain", "legal_basis": "commercial code", "retention": "5y"}
    root = shop.write_config(tmp_path, {"main": main, "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET], policy)
    assert CliRunner().invoke(app, ["keys", "init", "--config", str(root)]).exit_code == 0
    return root


def _run(args: list[str | bytes], tmp_path: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "HKT_DSR_LOG_DIR": str(tmp_path / "errors"), "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)  # its own ephemeral API, as `hkt-dsr run` has on a fresh machine
    done = subprocess.run(HKT_DSR + args, env=env, capture_output=True, timeout=timeout)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


def test_an_identifier_that_is_not_utf8_is_one_error_line(config: Path, tmp_path: Path) -> None:
    done = _run(["request", "new", *INTAKE, "--email", b"taro\xff@example.jp", "--config", str(config)], tmp_path)  # type: ignore[list-item]
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().splitlines() == ["error: email: holds bytes that are not UTF-8 text; check the terminal's encoding"]


@pytest.mark.prefect
def test_a_refused_plan_fails_the_run_with_one_line_and_no_traceback(config: Path, tmp_path: Path) -> None:
    new = _run(["request", "new", *INTAKE, "--email", shop.SUBJECT["email"], "--verified-by", "Ken Ito",
                "--verification-method", "photo ID", "--config", str(config)], tmp_path)
    assert new.returncode == 0, new.stderr
    request_id = new.stdout.strip()
    before = shop.rows(f"sqlite:///{tmp_path / 'main.db'}", "SELECT count(*) FROM customers")
    done = _run(["run", request_id, "--config", str(config)], tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "PlanError" in errors[0] and "main.orders" in errors[0]
    assert shop.rows(f"sqlite:///{tmp_path / 'main.db'}", "SELECT count(*) FROM customers") == before


def test_a_bug_names_its_type_and_place_and_keeps_the_traceback_in_a_private_file(config: Path, tmp_path: Path) -> None:
    estate = YAML().load(config / "estate.yaml")
    estate["control_db"] = "nosuchdriver://somewhere/db"  # no such SQLAlchemy dialect: nothing of ours expects that
    YAML().dump(estate, config / "estate.yaml")
    done = _run(["request", "list", "--config", str(config)], tmp_path)
    assert done.returncode == 70
    assert "Traceback" not in done.stderr + done.stdout
    line = done.stderr.strip()
    assert line.startswith("error: internal error: ") and " at " in line and "traceback in " in line
    report = Path(line.rsplit("traceback in ", 1)[1])
    assert report.parent == tmp_path / "errors" and "Traceback" in report.read_text()
    assert report.stat().st_mode & 0o077 == 0


# --------------------------------------------------------------------------- fuzzing

FAST_PHASES = (Phase.explicit, Phase.reuse, Phase.generate)  # a failure is reported as found: shrinking a slow example takes minutes
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)  # surrogates and control characters included


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], phases=FAST_PHASES)
@given(option=st.sampled_from(["--email", "--phone", "--customer-id", "--name", "--address", "--channel", "--department", "--requested-by",
                               "--kind", "--verified-by"]),
       value=_ANY_TEXT)
def test_any_request_option_is_accepted_or_refused_cleanly(config: Path, option: str, value: str) -> None:
    args = ["request", "new", *INTAKE, "--email", shop.SUBJECT["email"], "--config", str(config)]
    args += [option, value] + (["--verification-method", "photo ID"] if option == "--verified-by" else [])
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


_YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _ANY_TEXT.filter(lambda s: not any("\ud800" <= c <= "\udfff" for c in s)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["system", "collections", "fields", "primary_key", "references",
                                                                                  "field", "to", "owned", "identity", "categories", "erase",
                                                                                  "records", "action", "access", "export", "kind", "url", "x"]),
                                                                inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], phases=FAST_PHASES)
@given(target=st.sampled_from(["policies.yaml", "systems.yaml", "estate.yaml", "scanners.yaml", "staff.yaml", "datasets/main.yaml"]),
       document=_YAML_VALUES, raw=st.booleans(), text=_ANY_TEXT)
def test_any_yaml_loads_or_is_a_config_error(config: Path, target: str, document: object, raw: bool, text: str) -> None:
    path = config / target
    original = path.read_bytes() if path.exists() else None
    try:
        if raw:
            path.write_bytes(text.encode("utf-8", "surrogateescape") if text else b"\xff\xfe\x00")
        else:
            with path.open("w", encoding="utf-8") as out:
                YAML().dump(document, out)
        try:
            load_estate(config)
        except ConfigError as exc:
            assert exc.problems and all(p.file for p in exc.problems)
    finally:
        if original is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(original)
