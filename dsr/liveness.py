"""Is the run that holds a request still alive?

Prefect cannot tell: a run killed with -9 stays Running (or Paused, or Cancelling) in its database
forever, and a rerun that trusts it is refused for good. So the process that claims a request
writes down who it is (host, pid and the kernel's start time of that pid, which a reused pid does
not share) and beats a heartbeat into the control database while it works or waits. A judge on
the same host asks the kernel; on another host, a heartbeat older than STALE_AFTER means dead.
When neither can be told, the answer is "unknown" and a person decides (`hkt-dsr request recover`).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from dsr.control.models import RequestRow, utcnow
from dsr.requests import APPROVED, AWAITING_APPROVAL, RUNNING

HEARTBEAT_SECONDS = 10
STALE_AFTER = dt.timedelta(seconds=6 * HEARTBEAT_SECONDS)  # a busy machine may miss a few beats
Verdict = Literal["alive", "dead", "unknown"]


@dataclass(frozen=True)
class Runner:
    """A process, as another process can recognise it later: host, pid, and the pid's start time."""

    host: str
    pid: int
    process_start: str | None

    @classmethod
    def this_process(cls) -> Runner:
        return cls(socket.gethostname(), os.getpid(), process_start(os.getpid()))

    def stamp(self, row: RequestRow) -> None:
        row.run_host, row.run_pid, row.run_process_start, row.heartbeat_at = self.host, self.pid, self.process_start, utcnow()


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux /proc, in clock ticks since boot); None when the
    process does not exist or the system has no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the command name before ")" may hold spaces


def judge(row: RequestRow, now: dt.datetime | None = None) -> tuple[Verdict, str]:
    """Whether the process recorded on the request is alive, and the evidence, in words for the
    request's history (a host name and a pid, never data)."""
    if row.run_pid is None or row.run_host is None:
        return "unknown", "no process was recorded for it"
    if row.run_host == socket.gethostname() and Path("/proc/self/stat").exists():
        started = process_start(row.run_pid)
        if started is None:
            return "dead", f"its process {row.run_pid} on {row.run_host} is gone"
        if row.run_process_start is not None and started != row.run_process_start:
            return "dead", f"its process {row.run_pid} on {row.run_host} is gone (the pid now belongs to another process)"
        return "alive", f"its process {row.run_pid} on {row.run_host} is running"
    if row.heartbeat_at is None:
        return "unknown", f"it runs on {row.run_host}, which never sent a heartbeat"
    silent = (now or utcnow()) - row.heartbeat_at
    if silent > STALE_AFTER:
        return "dead", f"its process on {row.run_host} sent no heartbeat for {int(silent.total_seconds())} s"
    return "alive", f"its process on {row.run_host} sent a heartbeat {int(silent.total_seconds())} s ago"


class Heartbeat:
    """Beats into the control database while this process holds the request's run; stops by
    itself when the request ends or another run takes it over (the row no longer names this run),
    and dies with the process, which is the point."""

    def __init__(self, sessions: sessionmaker[Session], request_id: str, flow_run_id: str, interval: float = HEARTBEAT_SECONDS):
        self._sessions, self._request_id, self._flow_run_id, self._interval = sessions, request_id, flow_run_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{request_id}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._sessions() as session:
                    mine = (RequestRow.id == self._request_id, RequestRow.flow_run_id == self._flow_run_id,
                            RequestRow.status.in_((RUNNING, AWAITING_APPROVAL, APPROVED)))
                    beat = session.execute(update(RequestRow).where(*mine).values(heartbeat_at=utcnow()))
                    session.commit()
            except Exception:  # noqa: BLE001 - the database being briefly away is no reason to stop beating
                continue
            if beat.rowcount == 0:  # type: ignore[attr-defined] - ended, taken over or released: not ours to beat for
                return
