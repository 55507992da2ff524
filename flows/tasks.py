"""Tasks shared by every request flow."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal, NoReturn, ParamSpec, TypeVar
from uuid import UUID

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed

import flows  # noqa: F401  (telemetry off before Prefect loads)
from dsr import fulfilment
from dsr.discovery import Discovery
from dsr.erasure import discover_now
from dsr.liveness import Heartbeat
from dsr.runtime import runtime_for

#: Personal data must never be persisted as a task result, and every run must do its work:
#: idempotency lives in the control database, not in Prefect's caches.
TASK_OPTIONS = dict(cache_policy=NO_CACHE, persist_result=False)

P = ParamSpec("P")
R = TypeVar("R")


def reraise_withheld(exc: Exception) -> NoReturn:
    """Re-raise a failure so that Prefect (run states, logs) receives only words without personal
    data: our own errors as they are, anything else as a WithheldError naming type and place."""
    safe = fulfilment.withheld(exc)
    if safe is exc:
        raise exc
    raise safe from None


def withholding(fn: Callable[P, R]) -> Callable[P, R]:
    """For every task: an unexpected exception's text (a driver error quoting a row, say) never
    reaches Prefect, which would log its message and traceback to the API."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - re-raised, withheld
            reraise_withheld(exc)

    return run


@task(name="discover", **TASK_OPTIONS)
@withholding
def discover_subject(config_dir: str, request_id: str) -> Discovery:
    discovery = discover_now(runtime_for(config_dir), request_id)
    get_run_logger().info(
        "request %s: %d record(s) in %d collection(s), %d link(s)",
        request_id, len(discovery.owned()), len(discovery.counts()), len(discovery.links()),
    )
    return discovery


def begin_run(config_dir: str, request_id: str, kind: str) -> None:
    """Start the request in this flow run (refused while another run of it is still alive; a dead
    one is taken over) and beat its heartbeat for as long as this process holds it."""
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None, "begin_run runs inside a flow"
    rt = runtime_for(config_dir)
    fulfilment.begin(rt, request_id, kind, str(context.flow_run.id), PrefectRuns())
    Heartbeat(rt.sessions, request_id, str(context.flow_run.id)).start()


class PrefectRuns:
    """fulfilment.FlowRuns, answered by the Prefect API."""

    def state_of(self, flow_run_id: str) -> Literal["active", "suspended", "ended"]:
        with get_client(sync_client=True) as client:
            try:
                state = client.read_flow_run(UUID(flow_run_id)).state
            except ObjectNotFound:
                return "ended"
        if state is None or state.is_final():
            return "ended"
        return "suspended" if state.name == "Suspended" else "active"

    def mark_crashed(self, flow_run_id: str, message: str) -> None:
        with get_client(sync_client=True) as client:
            try:
                client.set_flow_run_state(UUID(flow_run_id), Crashed(message=message), force=True)
            except ObjectNotFound:
                pass
