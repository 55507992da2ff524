"""Kill the real `hkt-dsr run` at every step boundary of an erasure on the demo estate, rerun it,
and check what recovery left against an uninterrupted run (tests/chaos.py has the harness).

    python benchmarks/chaos.py [--points after-commit:crm,after-ledger,...]

One line per kill point (completed, repeats, receipts exact, ledger ok), and as the last line
`kill_points=N recovered=R exact_receipts=E`; the target is R = E = N. Takes a few minutes per point.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos import keys_of, kill_points, trial  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", help="comma-separated kill points (default: every one)")
    args = parser.parse_args()
    points = args.points.split(",") if args.points else kill_points()
    with tempfile.TemporaryDirectory(prefix="hkt-dsr-chaos-") as root:
        started = time.monotonic()
        baseline = trial(Path(root), "baseline")
        print(f"baseline: completed={baseline.completed} steps={len(baseline.affected)} rows_changed={sum(baseline.affected.values())} "
              f"({time.monotonic() - started:.0f} s)", flush=True)
        recovered = exact = 0
        for point in points:
            started = time.monotonic()
            result = trial(Path(root), point, keys_of(Path(root), "baseline"))
            verdict = result.judge(baseline)
            ok = all(verdict.values())
            recovered += ok
            exact += verdict["exact_receipts"]
            print(f"{point:<28} " + " ".join(f"{k}={'yes' if v else 'NO'}" for k, v in verdict.items()) + f" ({time.monotonic() - started:.0f} s)", flush=True)
            for difference in result.differences(baseline)[:10]:
                print(f"    differs: {difference}", flush=True)
    print(f"kill_points={len(points)} recovered={recovered} exact_receipts={exact}")
    return 0 if recovered == exact == len(points) else 1


if __name__ == "__main__":
    sys.exit(main())
