"""`hkt-dsr demo` end to end, as a newcomer runs it: a fresh process, the real Prefect engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text


def test_demo_runs_end_to_end_and_says_what_happened(tmp_path: Path) -> None:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "COLUMNS": "160"}
    workdir = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "dsr.cli", "demo", "--workdir", str(workdir)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for expected in ("Where the customer was found", "What was exported", "What was done", "credit_score", "erase.records.billing_record",
                     "namesake's account still there: 1", "referred friend kept, link cleared: 1", "demo customer's accounts left: 0",
                     "other customers' tickets with his mention redacted: 1", "text attachments (versioned bucket): 0",
                     "reported as skipped): 1", "2 mention(s) redacted, 1 version left", "delete_object_all_versions", "rewrite_object",
                     "The plan awaiting approval", "Nothing has been touched yet"):
        assert expected in out
    # The four-eyes loop: the clerk who took the request is refused, a second person approves and the run resumes.
    flat = " ".join(out.split())
    assert re.search(r"approve DSR-\S+ --as 'Aiko Sato \(Support Desk\)'.*refused: .*four-eyes", flat), flat[-3000:]
    assert re.search(r"approve DSR-\S+ --as 'Mari Tanaka \(Privacy Office\)'.*approved and recorded; the waiting flow run \S+ resumes", flat)
    verified = re.search(r"(\d+) signed receipts in .*; (\d+) verify, (\d+) fail", out)
    assert verified and verified.group(1) == verified.group(2) and verified.group(3) == "0" and int(verified.group(1)) > 10
    # The audit bundle replays cleanly, and nothing the auditor receives names the customer.
    assert "Audit bundle:" in out and re.search(r"\b(\d+) passed, 0 failed", out.splitlines()[-1] if out.splitlines() else "")
    audit = workdir / "audit"
    published = [*audit.rglob("*"), *(workdir / "receipts").rglob("*")]
    assert (audit / "entries.jsonl").stat().st_size > 0 and list((audit / "checkpoints").glob("*.note"))
    identifiers = ("taro.yamada@example.jp", "yamada", "山田", "太郎", "1234-5678", "12345678", "1234 5678", "hkt-0000042")
    for path in (p for p in published if p.is_file()):
        content = path.read_bytes().decode("utf-8", "replace").lower()
        for identifier in identifiers:
            assert identifier not in content, (path.name, identifier)
    engine = create_engine(f"sqlite:///{workdir / 'marketing.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from mailing_list where lower(email) = 'taro.yamada@example.jp'")).scalar_one() == 0
        # Statistics are kept (policy §4) but no longer point at anyone; no event points at a missing subscriber.
        assert conn.execute(text("select count(*) from web_events where subscriber_id is null")).scalar_one() >= 1
        dangling = "select count(*) from web_events w left join mailing_list m on m.id = w.subscriber_id where w.subscriber_id is not null and m.id is null"
        assert conn.execute(text(dangling)).scalar_one() == 0
    engine.dispose()
