"""Receipt files come from the ledger, whole: lost files are written again, a folder that lacks one
fails verification, and a rerun after the certificate issues no second certificate."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from dsr.cli import app
from dsr.control.models import CheckpointRow, LedgerEntry
from dsr.runtime import Runtime
from dsr.sealing import publish, seal_request
from tests import shop


def _erased(tmp_path: Path) -> tuple[Runtime, str]:
    rt = shop.open_shop(tmp_path, f"sqlite:///{tmp_path / 'main.db'}")
    request_id = shop.verified_request(rt)
    assert all(c.passed for c in shop.erase_without_prefect(rt, request_id))
    return rt, request_id


def _verify(rt: Runtime, request_id: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["receipts", "verify", str(rt.receipts_dir / request_id), "--keys", str(rt.receipts_dir / "keyring.json")])
    return result.exit_code, " ".join(result.stdout.split())


def _count(rt: Runtime, request_id: str, kind: str) -> int:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.request_id == request_id, LedgerEntry.kind == kind)) or 0


def test_lost_receipt_files_fail_the_folder_and_are_written_again_from_the_ledger(tmp_path: Path) -> None:
    rt, request_id = _erased(tmp_path)
    folder = rt.receipts_dir / request_id
    receipts = sorted(p for p in folder.glob("*.json") if p.name != "certificate.json")
    assert len(receipts) == _count(rt, request_id, "action") + 1 and _verify(rt, request_id)[0] == 0
    certificate = next(p for p in receipts if b'"kind":"certificate"' in p.read_bytes())
    kept = [p for p in receipts if p != certificate][0]
    lost = [p for p in receipts if p not in (certificate, kept)]
    kept_bytes = kept.read_bytes()
    for path in lost:
        path.unlink()
    code, out = _verify(rt, request_id)
    assert code == 1 and f"{len(lost)} of the {len(lost) + 1} receipts this certificate lists are missing" in out
    certificate.unlink()
    (folder / "certificate.json").unlink()
    code, out = _verify(rt, request_id)
    assert code == 1 and "no certificate of request" in out
    assert publish(rt, request_id) == len(lost) + 2  # every lost file, the certificate and its proof
    assert publish(rt, request_id) == 0  # idempotent
    code, out = _verify(rt, request_id)
    assert code == 0 and "receipts it lists are present" in out, out
    assert kept.read_bytes() == kept_bytes


def test_a_rerun_after_the_certificate_issues_no_second_certificate(tmp_path: Path) -> None:
    rt, request_id = _erased(tmp_path)
    with rt.sessions() as session:
        checkpoints = session.scalar(select(func.count()).select_from(CheckpointRow))
    seal_request(rt, request_id, {}, "rerun after a kill between the certificate and completion")
    assert _count(rt, request_id, "certificate") == 1
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CheckpointRow)) == checkpoints
    assert _verify(rt, request_id)[0] == 0


def test_the_cli_publishes_what_the_folder_lacks(tmp_path: Path) -> None:
    rt, request_id = _erased(tmp_path)
    for path in (rt.receipts_dir / request_id).glob("*.json"):
        path.unlink()
    result = CliRunner().invoke(app, ["receipts", "publish", request_id, "--config", str(rt.estate.root)])
    assert result.exit_code == 0 and f"{_count(rt, request_id, 'action') + 2} file(s) written" in result.stdout
    assert _verify(rt, request_id)[0] == 0

