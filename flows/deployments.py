"""The request flows as deployments: one per request kind, served by `hkt-dsr serve`.

Staff start a run from Prefect's UI with a form (the request id) and approve plans there or with
`hkt-dsr approve`. A served run that waits for approval is suspended, so it holds no process. The
same deployments are declared in prefect.yaml for a work pool of process workers.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from prefect import Flow, serve
from prefect.types.entrypoint import EntrypointType

import flows  # noqa: F401  (telemetry off before Prefect loads)
from dsr.approval import expire_stale
from dsr.runtime import runtime_for
from flows.access import access_request
from flows.datamap import datamap_scan
from flows.erasure import erasure_request, opt_out_request, rectification_request

logger = logging.getLogger("hkt_dsr.serve")

#: The flow that fulfils each request kind, and the name of its deployment.
FLOWS: dict[str, Flow] = {"access": access_request, "erase": erasure_request, "rectify": rectification_request, "opt_out": opt_out_request}
DEPLOYMENT_NAMES = {"access": "access", "erase": "erase", "rectify": "rectify", "opt_out": "opt-out"}
#: The nightly data map scan (not a request kind): its deployment's name and default schedule.
DATAMAP_DEPLOYMENT = "datamap"
DATAMAP_CRON = "0 2 * * *"


def deployment_name(kind: str) -> str:
    """`flow/deployment`, as `prefect deployment run` and run_deployment take it."""
    return f"{FLOWS[kind].name}/{DEPLOYMENT_NAMES[kind]}"


def serve_requests(config_dir: Path, limit: int, sweep_seconds: float = 60) -> None:
    """Serve a deployment per request kind, and the nightly data map, until interrupted.

    A suspended run is not there to notice its approval deadline pass, so a sweep expires such
    requests in the control database (Prefect's server fails their runs itself).
    """
    config = str(config_dir.resolve())
    stop = threading.Event()

    def sweep() -> None:
        while not stop.wait(sweep_seconds):
            try:
                with runtime_for(config).sessions() as session:
                    expire_stale(session)
            except Exception as exc:  # noqa: BLE001 - a busy or unreachable control database: try again next round
                logger.warning("approval deadline sweep failed (%s); retrying in %s s", type(exc).__name__, sweep_seconds)

    sweeper = threading.Thread(target=sweep, name="approval-deadlines", daemon=True)
    sweeper.start()
    try:
        serve(
            *(flow.to_deployment(name=DEPLOYMENT_NAMES[kind], parameters={"config_dir": config}, tags=["hkt-dsr", kind],
                                 description=f"Fulfil a verified {kind} request: give its request id.",
                                 entrypoint_type=EntrypointType.MODULE_PATH)  # runs from any working directory
              for kind, flow in FLOWS.items()),
            datamap_scan.to_deployment(name=DATAMAP_DEPLOYMENT, parameters={"config_dir": config}, tags=["hkt-dsr", "datamap"], cron=DATAMAP_CRON,
                                       description="Map every system's personal data from live schemas and samples; fails on new personal data.",
                                       entrypoint_type=EntrypointType.MODULE_PATH),
            limit=limit,
        )
    finally:
        stop.set()
