"""Prefect flows: orchestration only. The business steps live in dsr/ as plain functions.

Importing this package switches Prefect's telemetry off and lets the in-process (ephemeral) API
start slowly on a busy machine; runtime code never reaches the network.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_UI_ENABLED", "false")
