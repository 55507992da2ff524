"""A run killed with -9 never blocks its request: its process is judged dead, its Prefect run is
marked crashed on the record, the request is taken over, and Prefect's temporary server dies too."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsr.cli import app
from dsr.control.db import session_factory
from dsr.control.models import RequestRow, utcnow
from dsr.liveness import STALE_AFTER, Heartbeat, Runner, judge, process_start
from dsr.plan import ErasurePlan
from tests import shop

HKT_DSR = [sys.executable, "-m", "dsr.cli"]


def _row(**stamp: object) -> RequestRow:
    return RequestRow(id="DSR-TEST", **stamp)


def test_a_live_process_on_this_host_is_alive() -> None:
    me = Runner.this_process()
    assert judge(_row(run_host=me.host, run_pid=me.pid, run_process_start=me.process_start))[0] == "alive"


def test_a_finished_process_and_a_reused_pid_are_dead() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert judge(_row(run_host=socket.gethostname(), run_pid=gone.pid, run_process_start="1"))[0] == "dead"
    me = Runner.this_process()  # a pid that now belongs to a process started at another time
    verdict, evidence = judge(_row(run_host=me.host, run_pid=me.pid, run_process_start="12345"))
    assert verdict == "dead" and "another process" in evidence


def test_another_host_is_judged_by_its_heartbeat() -> None:
    now = utcnow()
    elsewhere = {"run_host": "worker-7.internal", "run_pid": 4242, "run_process_start": "99"}
    assert judge(_row(**elsewhere, heartbeat_at=now - dt.timedelta(seconds=5)), now)[0] == "alive"
    verdict, evidence = judge(_row(**elsewhere, heartbeat_at=now - STALE_AFTER - dt.timedelta(seconds=1)), now)
    assert verdict == "dead" and "worker-7.internal" in evidence
    assert judge(_row(**elsewhere), now)[0] == "unknown"
    assert judge(_row())[0] == "unknown"


def test_the_heartbeat_beats_while_the_run_holds_the_request_and_stops_when_it_does_not(tmp_path: Path) -> None:
    config = _estate(tmp_path)
    request_id = _erase_request(config)
    sessions = session_factory(f"sqlite:///{tmp_path / 'control.db'}")
    with sessions() as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        row.flow_run_id, row.status = "run-1", "running"
        session.commit()
    beat = Heartbeat(sessions, request_id, "run-1", interval=0.05).start()
    try:
        seen = set()
        deadline = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < deadline:
            with sessions() as session:
                seen.add(session.get(RequestRow, request_id).heartbeat_at)  # type: ignore[union-attr]
            time.sleep(0.05)
        assert len(seen - {None}) >= 2, "the heartbeat advances"
        with sessions() as session:
            session.get(RequestRow, request_id).flow_run_id = "run-2"  # type: ignore[union-attr]  # taken over
            session.commit()
        beat._thread.join(timeout=5)
        assert not beat._thread.is_alive()
    finally:
        beat.stop()


# --------------------------------------------------------------------------- kill -9, for real


def _estate(tmp_path: Path) -> Path:
    main, side = f"sqlite:///{tmp_path / 'main.db'}", f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_main(main)
    shop.load_side(side)
    config = shop.write_config(tmp_path, {"main": main, "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET])
    assert CliRunner().invoke(app, ["keys", "init", "--config", str(config)]).exit_code == 0
    return config


def _erase_request(config: Path) -> str:
    result = CliRunner().invoke(app, ["request", "new", "--kind", "erase", "--channel", "web", "--department", "Support Desk",
                                      "--requested-by", "Aiko Sato", "--email", shop.SUBJECT["email"], "--verified-by", "Ken Ito",
                                      "--verification-method", "photo ID", "--config", str(config)])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "HKT_DSR_LOG_DIR": str(tmp_path / "errors"), "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)  # each command on its own temporary API over one Prefect database, as on a fresh machine
    return env


def _status(tmp_path: Path, request_id: str) -> tuple[str, dict | None]:
    with sqlite3.connect(tmp_path / "control.db") as conn:
        status, plan = conn.execute("SELECT status, plan FROM requests WHERE id = ?", (request_id,)).fetchone()
    return status, json.loads(plan) if plan else None


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


@pytest.mark.prefect
def test_a_run_killed_while_it_awaits_approval_is_taken_over_by_approve(tmp_path: Path) -> None:
    config = _estate(tmp_path)
    request_id = _erase_request(config)
    run = subprocess.Popen(HKT_DSR + ["run", request_id, "--config", str(config)], env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while _status(tmp_path, request_id)[0] != "awaiting_approval":
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the run never reached its approval"
            time.sleep(0.5)
        servers = [pid for pid in _children(run.pid) if "uvicorn" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
        assert servers, "the run started Prefect's temporary server"
        run.send_signal(signal.SIGKILL)
        run.wait()
    finally:
        if run.poll() is None:
            run.kill()
    deadline = time.monotonic() + 30
    while any(process_start(pid) is not None for pid in servers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert all(process_start(pid) is None for pid in servers), "the temporary server died with its parent"

    status, plan = _status(tmp_path, request_id)
    assert status == "awaiting_approval" and plan is not None
    digest = ErasurePlan.from_json(plan).digest
    approve = subprocess.run(HKT_DSR + ["approve", request_id, "--as", "Mari Tanaka", "--digest", digest, "--config", str(config)],
                             env=_env(tmp_path), capture_output=True, text=True, timeout=400)
    assert approve.returncode == 0, approve.stdout + approve.stderr
    assert "died while it waited" in approve.stdout and "Traceback" not in approve.stdout + approve.stderr
    assert _status(tmp_path, request_id)[0] == "completed"
    assert shop.rows(f"sqlite:///{tmp_path / 'main.db'}", "SELECT count(*) FROM customers WHERE id = 1") == [(0,)]
    with sqlite3.connect(tmp_path / "control.db") as conn:
        notes = [n for (n,) in conn.execute("SELECT note FROM request_events WHERE request_id = ?", (request_id,))]
    assert any("found dead" in n and "is gone" in n for n in notes)


@pytest.mark.prefect
def test_recover_releases_a_request_whose_run_cannot_be_judged_and_refuses_a_live_one(tmp_path: Path, prefect_harness: None) -> None:
    config = _estate(tmp_path)
    request_id = _erase_request(config)
    sessions = session_factory(f"sqlite:///{tmp_path / 'control.db'}")

    def hold(**stamp: object) -> None:
        with sessions() as session:
            row = session.get(RequestRow, request_id)
            assert row is not None
            row.flow_run_id, row.status = "00000000-0000-0000-0000-000000000001", "running"
            for name, value in stamp.items():
                setattr(row, name, value)
            session.commit()

    me = Runner.this_process()
    hold(run_host=me.host, run_pid=me.pid, run_process_start=me.process_start)  # alive: this very process
    refused = CliRunner().invoke(app, ["request", "recover", request_id, "--by", "Ken Ito", "--config", str(config)])
    assert refused.exit_code == 1 and "is alive" in " ".join(refused.output.split())
    hold(run_host="worker-7.internal", run_pid=4242, run_process_start="9", heartbeat_at=utcnow())  # another host, beating
    assert CliRunner().invoke(app, ["request", "recover", request_id, "--by", "Ken Ito", "--config", str(config)]).exit_code == 1
    hold(heartbeat_at=None)  # another host that never beat: nobody can tell, a person decides
    released = CliRunner().invoke(app, ["request", "recover", request_id, "--by", "Ken Ito", "--config", str(config)])
    assert released.exit_code == 0, released.output
    with sessions() as session:
        row = session.get(RequestRow, request_id)
        assert row is not None and row.flow_run_id is None
        assert any("released by Ken Ito" in e.note for e in row.events)
