"""Prefect's temporary API server dies with the `hkt-dsr` process that started it.

With no PREFECT_API_URL, Prefect starts a server process of its own and stops it at exit; a
process killed with -9 never reaches its exit, and the server lived on for minutes, holding its
database. A tiny watchdog process notices when its parent is gone and stops the server.
"""

from __future__ import annotations

import os
import subprocess
import sys

import flows  # noqa: F401  (telemetry off before Prefect loads)

_WATCHED: set[int] = set()  # server processes that already have a watchdog
_WATCHDOG = """
import os, signal, sys, time
parent, server, started = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def same_server():
    try:
        with open(f"/proc/{server}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19] == started
    except OSError:
        return False
while os.getppid() == parent and same_server():
    time.sleep(0.5)
for sig in (signal.SIGTERM, signal.SIGKILL):
    if not same_server():
        break
    os.kill(server, sig)
    time.sleep(5)
"""


def ephemeral_server_dies_with_us() -> None:
    """Start Prefect's temporary server now (it would start at the first flow run anyway), and a
    watchdog that stops it when this process dies; nothing to do against a configured server."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    from prefect.server.api.server import SubprocessASGIServer

    from dsr.liveness import process_start

    server = SubprocessASGIServer()
    if server.running and server.server_process is not None and server.server_process.pid in _WATCHED:
        return
    server.start()
    assert server.server_process is not None
    _WATCHED.add(server.server_process.pid)
    started = process_start(server.server_process.pid)
    if started is None:  # no /proc: nothing to tell a reused pid by, so no watchdog
        return
    subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(server.server_process.pid), started],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
