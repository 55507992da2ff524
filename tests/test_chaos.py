"""The real `hkt-dsr run`, killed with -9 at step boundaries one after another (a system's commit,
the ledger, the certificate, a rewrite of an object), then run plainly: the stores equal an
uninterrupted run's, nothing is applied twice, there is one certificate, the receipts count what
really changed, and the ledger and the request's folder verify. benchmarks/chaos.py runs every
boundary one at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import keys_of, trial

pytestmark = pytest.mark.prefect

#: Each run of the request dies at the first of these it reaches; the next run goes on from there.
CHAIN = "|".join([
    ",".join(f"after-commit:{s}" for s in ("crm", "billing", "support", "marketing", "storage")),  # whichever system commits first
    "during-rewrite",
    "after-ledger",
    "after-certificate",
])


def test_a_request_killed_at_one_boundary_after_another_recovers_exactly(tmp_path: Path) -> None:
    baseline = trial(tmp_path, "baseline")
    assert baseline.completed and baseline.certificates == 1 and baseline.ledger_ok and baseline.folder_ok
    chained = trial(tmp_path, CHAIN, keys_of(tmp_path, "baseline"))
    assert chained.kills == 4, "every boundary of the chain was reached and killed"
    assert chained.differences(baseline) == []
    assert chained.judge(baseline) == dict.fromkeys(("completed", "stores_equal", "no_repeats", "one_certificate", "exact_receipts", "ledger_ok"), True)
