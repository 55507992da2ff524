"""The deployments, served by `hkt-dsr serve` against a real Prefect server process that this test
starts on a loopback port: a run started as staff would start it from the UI suspends for approval
(its process exits), and resumes on the input, from `hkt-dsr approve` or from the UI's form."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from ruamel.yaml import YAML

from dsr.approval import decisions
from dsr.plan import ErasurePlan
from flows.deployments import DATAMAP_CRON, DATAMAP_DEPLOYMENT, DEPLOYMENT_NAMES, FLOWS, deployment_name
from tests.demo_estate import APPROVER, DEMO_NO, Demo

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return process.stdout.read() if process.stdout else ""


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[str]:
    """`prefect server start` in a process of its own, on its own SQLite database; yields the API URL."""
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "server-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "false", "PREFECT_API_URL": ""}
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert server.poll() is None, _stop(server)[-3000:]
        time.sleep(0.5)
    else:
        raise AssertionError("the Prefect server did not start: " + _stop(server)[-3000:])
    yield url
    _stop(server)


def _state(flow_run_id: UUID):  # noqa: ANN202 - a prefect State
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state


def _wait_for(what: str, check, timeout: float = 240):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _verdicts(demo: Demo, request_id: str) -> list[tuple[str, str]]:
    with demo.rt.sessions() as session:
        return [(d.verdict, d.via) for d in decisions(session, request_id)]


def _hkt_dsr(env: dict[str, str], demo: Demo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dsr.cli", *args, "--config", str(demo.config)], env=env, capture_output=True, text=True, timeout=180)


def test_served_deployment_suspends_for_approval_and_resumes_on_the_input(demo: Demo, prefect_server: str, tmp_path: Path) -> None:
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = {**os.environ, "PREFECT_API_URL": prefect_server, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "COLUMNS": "200"}
    served = subprocess.Popen([sys.executable, "-m", "dsr.cli", "serve", "--config", str(demo.config)], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        with temporary_settings({PREFECT_API_URL: prefect_server}):
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                _wait_for("the five deployments", lambda: len(client.read_deployments()) == len(FLOWS) + 1 or served.poll() is not None)
                assert served.poll() is None, _stop(served)[-3000:]
                deployments = {d.name: d for d in client.read_deployments()}
            assert set(deployments) == {*DEPLOYMENT_NAMES.values(), DATAMAP_DEPLOYMENT}
            # The UI's form asks for the request id; the configuration directory is the served one.
            assert "request_id" in deployments["erase"].parameter_openapi_schema["required"]
            assert {name: d.parameters for name, d in deployments.items()} == {name: {"config_dir": str(demo.config.resolve())} for name in deployments}

            # 1. Started from the UI (here: the API the UI uses), rejected from another process with `hkt-dsr reject`.
            before = demo.snapshot()
            rejected_id = demo.request("erase")
            run = run_deployment(deployment_name("erase"), parameters={"request_id": rejected_id}, timeout=0)
            _wait_for("the run to suspend", lambda: (s := _state(run.id)) is not None and s.name == "Suspended")
            assert demo.request_row(rejected_id).status == "awaiting_approval"
            assert _hkt_dsr(env, demo, "reject", rejected_id, "--as", APPROVER, "--reason", "duplicate of another request").returncode == 0
            final = _wait_for("the rejected run to end", lambda: (s := _state(run.id)) is not None and s.is_final() and s)
            assert final.is_cancelled() and final.name == "Rejected", final
            assert demo.request_row(rejected_id).status == "rejected"
            assert demo.snapshot() == before

            # 2. An answer in the UI's input form with a digest that is not the plan's: refused, recorded, and the
            #    run suspends again; then approved from another process with `hkt-dsr approve`: it starts again and erases.
            request_id = demo.request("erase")
            run = run_deployment(deployment_name("erase"), parameters={"request_id": request_id}, timeout=0)
            _wait_for("the run to suspend", lambda: (s := _state(run.id)) is not None and s.name == "Suspended")
            row = demo.request_row(request_id)
            assert row.status == "awaiting_approval" and row.flow_run_id == str(run.id)
            assert demo.snapshot() == before  # suspended with nothing touched
            resume_flow_run(run.id, run_input={"approver": APPROVER, "plan_digest": "sha256:" + "0" * 64, "approve": True, "reason": ""})
            _wait_for("the refusal", lambda: _verdicts(demo, request_id) == [("refused", "prefect")])
            _wait_for("the run to suspend again", lambda: (s := _state(run.id)) is not None and s.name == "Suspended")
            assert demo.snapshot() == before
            digest = ErasurePlan.from_json(row.plan or {}).digest
            approve = _hkt_dsr(env, demo, "approve", request_id, "--as", APPROVER, "--digest", digest)
            assert approve.returncode == 0, approve.stderr
            final = _wait_for("the approved run to end", lambda: (s := _state(run.id)) is not None and s.is_final() and s)
            assert final.is_completed(), (final, _stop(served)[-3000:])
    finally:
        output = _stop(served)
    assert demo.rows("crm", "select count(*) from customers where customer_no = :no", no=DEMO_NO) == [(0,)]
    assert demo.request_row(request_id).status == "completed"
    assert _verdicts(demo, request_id) == [("refused", "prefect"), ("approved", "cli")]
    assert "Traceback" not in output, output[-3000:]


def test_prefect_yaml_declares_a_deployment_per_request_kind() -> None:
    """prefect.yaml (for `prefect deploy` and a work pool) names the same flows `hkt-dsr serve` serves."""
    from prefect.flows import load_flow_from_entrypoint

    declared = YAML(typ="safe").load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in declared["deployments"]}
    assert set(by_name) == {*DEPLOYMENT_NAMES.values(), DATAMAP_DEPLOYMENT}
    datamap = by_name[DATAMAP_DEPLOYMENT]  # the nightly data map, on the same schedule `hkt-dsr serve` gives it
    assert load_flow_from_entrypoint(f"{ROOT / datamap['entrypoint'].partition(':')[0]}:{datamap['entrypoint'].partition(':')[2]}").name == "datamap"
    assert [s["cron"] for s in datamap["schedules"]] == [DATAMAP_CRON]
    for kind, name in DEPLOYMENT_NAMES.items():
        deployment = by_name[name]
        path, _, function = deployment["entrypoint"].partition(":")
        flow = load_flow_from_entrypoint(f"{ROOT / path}:{function}")
        assert flow.name == FLOWS[kind].name, kind
        assert set(deployment["parameters"]) == {"config_dir"} and deployment["work_pool"]["name"] == "hkt-dsr"
