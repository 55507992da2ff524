"""Where a real bug's traceback goes: a private file an engineer can read, never the user's screen.

Expected refusals (a plan the policy cannot honour, an unverified request) are one line that says
what to do. Anything else is a bug: the user sees its type and place and the path of this file;
the traceback (whose messages may quote data) stays on the machine, readable by its owner only.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import traceback
from pathlib import Path


def bug_dir() -> Path:
    return Path(os.environ.get("HKT_DSR_LOG_DIR") or Path.home() / ".hkt-dsr" / "errors")


def write_bug_report(exc: BaseException) -> Path | None:
    """The traceback of `exc` in a new file (mode 0600) under bug_dir(); None if it cannot be written."""
    directory = bug_dir()
    path = directory / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}.log"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write("".join(traceback.format_exception(exc)))
    except OSError:
        return None
    return path
