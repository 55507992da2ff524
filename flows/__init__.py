"""Prefect flows: orchestration only. The business steps live in dsr/ as plain functions.

Importing this package switches Prefect's telemetry off and lets the in-process (ephemeral) API
start slowly on a busy machine; runtime code never reaches the network.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_UI_ENABLED", "false")


def _quiet_refusals() -> None:
    """Prefect logs every failed task and flow with its traceback. For our own errors (a plan the
    policy cannot honour, an unverified request, a withheld bug) the one-line reason is the whole
    story: the traceback only buries it, on the console and in the API's logs alike. Done in the
    log-record factory, because Prefect may replace its handlers when its settings change."""
    import logging

    from dsr.fulfilment import SAFE_ERRORS

    previous = logging.getLogRecordFactory()
    if getattr(previous, "quiet_refusals", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and record.name.startswith("prefect") and type(exc).__name__ in SAFE_ERRORS:
            record.exc_info = None
        return record

    factory.quiet_refusals = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_quiet_refusals()
