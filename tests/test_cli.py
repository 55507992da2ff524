"""The `hkt-dsr` command line, driven for real on SQLite shop databases (no flow is started here)."""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner, Result

from dsr.cli import app
from dsr.config import load_estate
from receipts.merkle import leaf_hash
from receipts.note import Keyring, KeyWindow
from receipts.receipt import seal
from receipts.signing import generate_key
from tests import shop
from tests.test_audit import Request, action_body, common

VENV_BIN = Path(sys.executable).parent
REQUEST_ID = re.compile(r"^DSR-\d{8}-[0-9A-F]{8}$")

# Everything the shop's subject could be recognised by, raw and normalised.
SUBJECT_SPELLINGS = ("Mika.Tanaka@Example.jp", "mika.tanaka@example.jp", "+81 90-1111-2222", "+819011112222", "090-1111-2222", "9011112222")

INTAKE = ["--kind", "erase", "--channel", "web", "--department", "Support Desk", "--requested-by", "Aiko Sato"]


@dataclass
class Shop:
    root: Path
    config: Path
    main_db: Path
    side_db: Path

    @property
    def control_db(self) -> Path:
        return self.root / "control.db"


def _flat(text: str) -> str:
    """Rich wraps long lines at the console width; compare words, not line breaks."""
    return " ".join(text.split())


def invoke(*args: str | Path) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"hkt-dsr {' '.join(map(str, args))} crashed: {result.exception!r}\n{result.output}") from result.exception
    return result


def _subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HKT_DSR_CONFIG", None)
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # never the user's, should anything import Prefect
    return env


def _snapshot(db: Path) -> list[str]:
    """Every table's schema and rows, in a stable order."""
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


def _row_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _status(shop_: Shop, request_id: str) -> tuple[str, int]:
    with sqlite3.connect(shop_.control_db) as conn:
        status = conn.execute("SELECT status FROM requests WHERE id = ?", (request_id,)).fetchone()[0]
        events = conn.execute("SELECT count(*) FROM request_events WHERE request_id = ?", (request_id,)).fetchone()[0]
    return status, events


@pytest.fixture
def estate(tmp_path: Path) -> Shop:
    main_db, side_db = tmp_path / "main.db", tmp_path / "side.db"
    shop.load_main(f"sqlite:///{main_db}")
    shop.load_side(f"sqlite:///{side_db}")
    config = shop.write_config(tmp_path, {"main": f"sqlite:///{main_db}", "side": f"sqlite:///{side_db}"}, [shop.MAIN_DATASET, shop.SIDE_DATASET])
    result = invoke("keys", "init", "--config", config)
    assert result.exit_code == 0, result.output
    assert "keys ready" in result.stdout
    assert (tmp_path / "keys" / "signing.pem").exists() and (tmp_path / "keys" / "hmac.key").exists()
    return Shop(tmp_path, config, main_db, side_db)


def new_request(estate: Shop, *extra: str) -> Result:
    return invoke("request", "new", *INTAKE, "--config", estate.config, *extra)


def unverified_request(estate: Shop) -> str:
    result = new_request(estate, "--email", shop.SUBJECT["email"], "--phone", shop.SUBJECT["phone"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


# --------------------------------------------------------------------------- keys


def test_keys_init_never_overwrites(estate: Shop) -> None:
    before = (estate.root / "keys" / "signing.pem").read_bytes(), (estate.root / "keys" / "hmac.key").read_bytes()
    result = invoke("keys", "init", "--config", estate.config)
    assert result.exit_code == 0
    assert ((estate.root / "keys" / "signing.pem").read_bytes(), (estate.root / "keys" / "hmac.key").read_bytes()) == before


# --------------------------------------------------------------------------- request new


def test_request_new_verified_prints_only_the_id(estate: Shop) -> None:
    result = new_request(estate, "--email", shop.SUBJECT["email"], "--phone", shop.SUBJECT["phone"],
                         "--verified-by", "Ken Ito", "--verification-method", "photo ID and call-back")
    assert result.exit_code == 0, result.output
    request_id = result.stdout.strip()
    assert REQUEST_ID.match(request_id), result.stdout
    assert "NOT verified" not in result.stderr
    assert _status(estate, request_id) == ("verified", 2)  # received, then verified


def test_request_new_unverified_prints_id_and_a_warning(estate: Shop) -> None:
    result = new_request(estate, "--email", shop.SUBJECT["email"])
    assert result.exit_code == 0, result.output
    request_id = result.stdout.strip()
    assert REQUEST_ID.match(request_id), result.stdout  # stdout stays the bare id, for scripts
    warning = _flat(result.stderr)
    assert f"request {request_id} is NOT verified" in warning
    assert "hkt-dsr request verify" in warning
    assert _status(estate, request_id) == ("received", 1)


def test_request_new_needs_both_verification_options(estate: Shop) -> None:
    result = new_request(estate, "--email", shop.SUBJECT["email"], "--verified-by", "Ken Ito")
    assert result.exit_code != 0
    assert "--verification-method" in _flat(result.stderr)
    assert _row_counts(estate.control_db).get("requests", 0) == 0  # nothing stored (the control database may not exist yet)


def test_request_new_refuses_names_alone_without_echo(estate: Shop) -> None:
    result = new_request(estate, "--name", "Mika Tanaka", "--address", "1-2-3 Shibuya")
    assert result.exit_code != 0
    assert "email, phone or customer_id" in _flat(result.stderr)
    assert "Mika" not in result.output and "Shibuya" not in result.output


def test_request_new_refuses_unknown_kind(estate: Shop) -> None:
    result = invoke("request", "new", "--kind", "sell", "--channel", "web", "--department", "d", "--requested-by", "a",
                    "--email", "a@example.jp", "--config", estate.config)
    assert result.exit_code != 0
    assert "unknown request kind" in _flat(result.stderr)


@pytest.mark.parametrize("phone", ["12", "secret-garbage"])
def test_request_new_with_invalid_phone_fails_cleanly_without_echo(estate: Shop, tmp_path: Path, phone: str) -> None:
    """Run as a real process, so a crash shows as the traceback a clerk would see."""
    proc = subprocess.run(
        [str(VENV_BIN / "hkt-dsr"), "request", "new", *INTAKE, "--phone", phone, "--config", str(estate.config)],
        capture_output=True, text=True, env=_subprocess_env(tmp_path), cwd=tmp_path, timeout=60,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert phone not in output
    assert "Traceback" not in output and "Error:" not in output.replace("error:", ""), output[-2000:]
    assert "error: phone:" in _flat(proc.stderr)
    assert proc.stdout.strip() == ""  # no id printed
    assert _row_counts(estate.control_db).get("requests", 0) == 0  # nothing stored (the control database may not exist yet)


# --------------------------------------------------------------------------- run (refusals only)


def test_run_refuses_an_unverified_request_and_touches_nothing(estate: Shop) -> None:
    request_id = unverified_request(estate)
    main_before, side_before = _snapshot(estate.main_db), _snapshot(estate.side_db)
    counts_before = _row_counts(estate.main_db)
    assert counts_before["customers"] == 3 and counts_before["orders"] == 3
    status_before = _status(estate, request_id)

    result = invoke("run", request_id, "--config", estate.config)

    assert result.exit_code != 0
    assert "not verified" in _flat(result.stderr)
    assert request_id in _flat(result.stderr)
    assert _row_counts(estate.main_db) == counts_before
    assert _snapshot(estate.main_db) == main_before
    assert _snapshot(estate.side_db) == side_before
    assert _status(estate, request_id) == status_before == ("received", 1)
    shown = _flat(invoke("request", "show", request_id, "--config", estate.config).stdout)
    assert "verified: no" in shown
    assert "running" not in shown and "failed" not in shown


def test_run_refuses_before_prefect_is_imported(estate: Shop, tmp_path: Path) -> None:
    request_id = unverified_request(estate)
    probe = (
        "import sys\n"
        "from dsr.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:], prog_name='hkt-dsr')\n"
        "finally:\n"
        "    print('PREFECT-IMPORTED' if any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules) else 'PREFECT-NOT-IMPORTED', file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, "run", request_id, "--config", str(estate.config)],
                          capture_output=True, text=True, env=_subprocess_env(tmp_path), cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    assert "not verified" in _flat(proc.stderr)
    assert "PREFECT-NOT-IMPORTED" in proc.stderr


def test_run_unknown_request(estate: Shop) -> None:
    result = invoke("run", "DSR-20000101-00000000", "--config", estate.config)
    assert result.exit_code != 0
    assert "no request 'DSR-20000101-00000000'" in _flat(result.stderr)


# --------------------------------------------------------------------------- list, show, verify


def test_request_list_never_shows_identifiers(estate: Shop) -> None:
    unverified_request(estate)
    result = invoke("request", "list", "--config", estate.config)
    assert result.exit_code == 0
    assert "DSR-" in result.stdout  # the row is there
    for spelling in SUBJECT_SPELLINGS:
        assert spelling.lower() not in result.output.lower()
    assert "mika" not in result.output.lower() and "1111" not in result.output


def test_request_list_shows_full_ids(estate: Shop) -> None:
    """At the default width of a pipe or CI log (80 columns), staff copy ids from this list."""
    first, second = unverified_request(estate), unverified_request(estate)
    result = invoke("request", "list", "--config", estate.config)
    assert result.exit_code == 0
    assert first in result.stdout, result.stdout
    assert second in result.stdout, result.stdout


def test_request_show_names_identifier_kinds_not_values(estate: Shop) -> None:
    request_id = unverified_request(estate)
    result = invoke("request", "show", request_id, "--config", estate.config)
    assert result.exit_code == 0
    shown = _flat(result.stdout)
    assert request_id in shown
    assert "identifiers: email, phone;" in shown
    assert "2 salted commitment(s)" in shown
    assert "taken by Aiko Sato" in shown
    for spelling in SUBJECT_SPELLINGS:
        assert spelling.lower() not in result.output.lower()


def test_request_show_displays_the_status(estate: Shop) -> None:
    request_id = unverified_request(estate)
    header = invoke("request", "show", request_id, "--config", estate.config).stdout.splitlines()[0]
    assert "[received]" in header, header  # the f-string prints the status in brackets


def test_request_verify_records_the_evidence(estate: Shop) -> None:
    request_id = unverified_request(estate)
    result = invoke("request", "verify", request_id, "--method", "photo ID", "--by", "Ken Ito", "--config", estate.config)
    assert result.exit_code == 0
    assert f"{request_id} verified" in result.stdout
    assert _status(estate, request_id) == ("verified", 2)
    shown = _flat(invoke("request", "show", request_id, "--config", estate.config).stdout)
    assert "verified: photo ID by Ken Ito" in shown
    assert "verified: no" not in shown


def test_request_verify_refuses_blank_evidence(estate: Shop) -> None:
    request_id = unverified_request(estate)
    result = invoke("request", "verify", request_id, "--method", " ", "--by", "Ken Ito", "--config", estate.config)
    assert result.exit_code != 0
    assert "verification needs a method" in _flat(result.stderr)
    assert _status(estate, request_id) == ("received", 1)


def test_request_show_unknown_id(estate: Shop) -> None:
    result = invoke("request", "show", "DSR-20000101-DEADBEEF", "--config", estate.config)
    assert result.exit_code != 0
    assert "no request" in _flat(result.stderr)


# --------------------------------------------------------------------------- config check


def test_config_check_on_a_good_config(estate: Shop) -> None:
    result = invoke("config", "check", "--config", estate.config)
    assert result.exit_code == 0, result.output
    assert "ok: 2 system(s), 6 collection(s), policy test-policy 1" in _flat(result.stdout)


def test_config_check_lists_file_and_line_of_a_malformed_file(estate: Shop) -> None:
    path = estate.config / "datasets" / "main.yaml"
    path.write_text(path.read_text().replace("        identity: email\n", "        identity: email\n       bad: indent\n", 1))
    bad_line = next(n for n, line in enumerate(path.read_text().splitlines(), 1) if "bad: indent" in line)
    policies = estate.config / "policies.yaml"
    policies.write_text(policies.read_text().replace("      legal_basis: tax law, 7 years\n", ""))
    result = invoke("config", "check", "--config", estate.config)
    assert result.exit_code != 0
    report = _flat(result.stderr)
    assert f"datasets/main.yaml:{bad_line}:" in report
    assert "malformed YAML" in report
    assert "policies.yaml:" in report and "legal_basis" in report
    listed = [line for line in result.stderr.splitlines() if re.match(r"^(datasets/\S+|\w+)\.yaml:\d+:", line)]
    assert len(listed) >= 2
    assert f"{len(listed)} problem(s) in {estate.config}" in report


def test_config_check_warns_about_an_unindexed_phone_lookup(estate: Shop) -> None:
    result = invoke("config", "check", "--config", estate.config)
    assert result.exit_code == 0
    report = _flat(result.stderr)
    assert "main.customers.phone: matched by digits(phone) and no index on that expression was found (sqlite)" in report
    assert "lookups scan the table" in report
    assert "main.customers.phone" in report and "side.tickets.customer_ref" not in report


def test_config_check_no_live_skips_the_databases(estate: Shop) -> None:
    estate.main_db.unlink()
    result = invoke("config", "check", "--no-live", "--config", estate.config)
    assert result.exit_code == 0
    assert "digits(phone)" not in result.output
    assert not estate.main_db.exists()


def test_config_check_sees_an_expression_index(estate: Shop) -> None:
    with sqlite3.connect(estate.main_db) as conn:
        conn.execute("CREATE INDEX ix_customers_phone_digits ON customers (replace(replace(phone, '-', ''), ' ', ''))")
    result = invoke("config", "check", "--config", estate.config)
    assert result.exit_code == 0
    assert "digits(phone)" not in result.output


def test_config_check_warns_when_lower_email_has_only_a_plain_index(estate: Shop) -> None:
    """customers.email is matched by lower(email) (the default); its index is on the bare column."""
    with sqlite3.connect(estate.main_db) as conn:
        plan = " ".join(str(r) for r in conn.execute("EXPLAIN QUERY PLAN SELECT id FROM customers WHERE lower(email) IN ('a', 'b')"))
    assert "SCAN customers" in plan  # the plain index cannot serve the lookup the connector issues
    result = invoke("config", "check", "--config", estate.config)
    assert result.exit_code == 0
    assert "main.customers.email" in _flat(result.stderr), result.stderr


# --------------------------------------------------------------------------- datasets suggest


def test_datasets_suggest_reflects_keys_and_references(estate: Shop, tmp_path: Path) -> None:
    """The shop's main system: customers are the subject (identity from their values), what points at
    them is theirs, a customer's referral of another is a link. tests/test_suggest.py has the rest."""
    result = invoke("datasets", "suggest", "main", "--config", estate.config)
    assert result.exit_code == 0, result.output
    proposal = YAML(typ="safe").load(result.stdout)
    assert proposal["system"] == "main"
    collections = proposal["collections"]
    assert sorted(collections) == ["addresses", "customers", "invoices", "order_lines", "orders"]
    assert {"field": "customer_id", "to": "customers.id", "ownership": "dependent"} in collections["orders"]["references"]
    assert collections["order_lines"]["primary_key"] == ["order_id", "line_no"]
    assert {"field": "order_id", "to": "orders.id", "ownership": "dependent"} in collections["order_lines"]["references"]
    assert {"field": "referred_by", "to": "customers.id", "ownership": "link"} in collections["customers"]["references"]
    assert collections["customers"]["fields"]["email"]["identity"] == "email"
    assert collections["customers"]["fields"]["phone"]["identity"] == "phone"

    # The proposal is a valid dataset file as it stands.
    other = tmp_path / "suggested"
    config = shop.write_config(other, {"main": f"sqlite:///{estate.main_db}"}, [proposal])
    assert sorted(load_estate(config, require_policy=False).datasets["main"].collections) == sorted(collections)


def test_datasets_suggest_unknown_system(estate: Shop) -> None:
    result = invoke("datasets", "suggest", "erp", "--config", estate.config)
    assert result.exit_code != 0
    assert "unknown system 'erp'" in _flat(result.stderr)


# --------------------------------------------------------------------------- receipts verify


@pytest.fixture
def receipts(tmp_path: Path) -> tuple[Path, Path]:
    """A request's folder: three sealed action receipts (one in a sub-directory), the certificate
    listing them, and the pinned keyring of their signer."""
    key = generate_key(tmp_path / "signer" / "signing.pem")
    pinned = tmp_path / "keyring.json"
    pinned.write_bytes(Keyring([KeyWindow("hkt-test", key.public_key(), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))]).to_json())
    directory = tmp_path / "receipts"
    (directory / "2026").mkdir(parents=True)
    request = Request("DSR-20261129-00000001", (("email", "r@example.jp"),), dt.datetime(2026, 11, 29, tzinfo=dt.UTC), ("hkt-test", key), ())
    leaves = []
    for n, where in ((1, directory), (2, directory), (3, directory / "2026")):
        document = seal(key, "hkt-test", action_body(request, n, f"crm.customers.erase{n}", "done", origin="test"))
        (where / f"r{n}.json").write_bytes(document)
        leaves.append(leaf_hash(document).hex())
    certificate = {**common(request, "certificate", f"{request.id}-cert", request.start, origin="test"), "receipts": leaves,
                   "verification": {"checks": 3, "failed": 0}, "outcome": "erased", "approval": None}
    (directory / "c.json").write_bytes(seal(key, "hkt-test", certificate))
    return directory, pinned


def test_receipts_verify_passes_good_receipts(receipts: tuple[Path, Path]) -> None:
    directory, pinned = receipts
    result = invoke("receipts", "verify", directory, "--keys", pinned)
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    assert "PASS r1.json" in out and "PASS r2.json" in out and "PASS 2026/r3.json" in out and "PASS c.json " in out
    assert "all 3 receipts it lists are present" in out and "8 passed, 0 failed" in out  # 4 receipts, 3 listed, 1 complete


def test_receipts_verify_fails_a_folder_that_lost_a_receipt(receipts: tuple[Path, Path]) -> None:
    directory, pinned = receipts
    (directory / "2026" / "r3.json").unlink()
    result = invoke("receipts", "verify", directory, "--keys", pinned)
    assert result.exit_code == 1
    assert "1 of the 3 receipts this certificate lists are missing" in _flat(result.stdout)


def test_receipts_verify_fails_after_one_byte_changes(receipts: tuple[Path, Path]) -> None:
    directory, pinned = receipts
    target = directory / "r2.json"
    data = target.read_bytes()
    assert data.count(b'"kind":"erase"') == 1
    changed = data.replace(b'"kind":"erase"', b'"kind":"erasE"')
    assert len(changed) == len(data) and sum(a != b for a, b in zip(changed, data)) == 1
    target.write_bytes(changed)
    result = invoke("receipts", "verify", directory, "--keys", pinned)
    assert result.exit_code == 1
    out = _flat(result.stdout)
    assert "FAIL r2.json" in out and "signature does not match" in out
    assert "PASS r1.json" in out and "PASS 2026/r3.json" in out
    assert "5 passed, 2 failed" in out  # and the certificate's listing is no longer complete


def test_receipts_verify_fails_on_broken_json(receipts: tuple[Path, Path]) -> None:
    directory, pinned = receipts
    target = directory / "2026" / "r3.json"
    data = bytearray(target.read_bytes())
    data[0] = ord("[")
    target.write_bytes(bytes(data))
    result = invoke("receipts", "verify", directory, "--keys", pinned)
    assert result.exit_code == 1
    assert "FAIL 2026/r3.json" in _flat(result.stdout)


def test_receipts_verify_refuses_an_unpinned_signer(receipts: tuple[Path, Path], tmp_path: Path) -> None:
    directory, _ = receipts
    other = generate_key(tmp_path / "other" / "signing.pem")
    ring = tmp_path / "other-ring.json"
    ring.write_bytes(Keyring([KeyWindow("hkt-other", other.public_key(), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))]).to_json())
    result = invoke("receipts", "verify", directory, "--keys", ring)
    assert result.exit_code == 1
    out = _flat(result.stdout)
    assert "which is not in the pinned keyring" in out and "0 passed, 4 failed" in out


def test_receipts_verify_empty_directory_fails(tmp_path: Path, receipts: tuple[Path, Path]) -> None:
    _, pinned = receipts
    (tmp_path / "empty").mkdir()
    result = invoke("receipts", "verify", tmp_path / "empty", "--keys", pinned)
    assert result.exit_code == 1
    assert "no receipts in" in _flat(result.stderr)


# --------------------------------------------------------------------------- due dates


def test_request_list_overdue_shows_open_requests_past_their_due_date(estate: Shop) -> None:
    """Each kind's due date comes from the policy; --overdue lists what is open past it, nothing else."""
    from dsr.requests import COMPLETED, close_request, create_request, get_request
    from dsr.runtime import Runtime
    from dsr.subject import Identifier, IdentifierKind

    rt = Runtime.open(estate.config)
    now = dt.datetime.now(dt.UTC)
    email = [Identifier.parse(IdentifierKind.EMAIL, shop.SUBJECT["email"])]
    ids: dict[str, str] = {}
    with rt.sessions() as session:
        for label, kind, age_days in (("late", "erase", 40), ("late-access", "access", 40), ("fresh", "erase", 1), ("done", "erase", 40)):
            row = create_request(session, rt.estate, kind=kind, identifiers=email, channel="letter", department="Support Desk",
                                 requested_by="Aiko Sato", received_at=now - dt.timedelta(days=age_days))
            ids[label] = row.id
            assert row.due_at == row.received_at + dt.timedelta(days=rt.estate.policy.due_days[kind])  # type: ignore[index]
        close_request(session, get_request(session, ids["done"]), COMPLETED, "test", "done")
        session.commit()

    overdue = invoke("request", "list", "--overdue", "--config", estate.config)
    everything = invoke("request", "list", "--config", estate.config)

    assert overdue.exit_code == 0 and everything.exit_code == 0
    listed = {label for label, request_id in ids.items() if request_id in overdue.stdout}
    assert listed == {"late", "late-access"}  # 40 days old, due after 30; not the fresh one, not the completed one
    assert all(request_id in everything.stdout for request_id in ids.values())
    assert shop.SUBJECT["email"] not in everything.stdout
