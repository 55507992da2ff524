"""Named points where a process may be killed on purpose, as `kill -9` would kill it there.

Recovery is only as good as the worst moment to die. The chaos tests and `benchmarks/chaos.py`
set HKT_DSR_KILL_AT to a point's name (several separated by commas); a process reaching it sends
itself SIGKILL: no cleanup, no atexit, no flushed buffers. Unset, a point costs one dictionary
lookup. The points are the boundaries where a crash leaves the most to recover:

- `before-commit:<system>`: the store's transaction holds every change, COMMIT not yet sent;
- `after-commit:<system>`: the store committed, the control database does not know yet;
- `after-ledger`: action receipts committed to the ledger, no certificate, no files;
- `after-certificate`: the certificate committed, its files not written;
- `before-completion`: sealed and published, the request not yet completed;
- `during-rewrite`: an object's redacted copy written, its older versions not yet purged.
"""

from __future__ import annotations

import os
import signal

ENV = "HKT_DSR_KILL_AT"


def reach(point: str) -> None:
    """Die here if told to."""
    wanted = os.environ.get(ENV)
    if wanted and point in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
