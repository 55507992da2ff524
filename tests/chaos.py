"""Kill the real `hkt-dsr run` process at a step boundary, rerun it, and judge what is left.

One trial: a fresh demo estate (four SQLite systems, S3 on moto's server), a verified erasure of the
demo customer, `hkt-dsr run` in a process of its own with HKT_DSR_KILL_AT naming the points where
it must die (dsr/failpoints.py) and a second person approving from yet another process, then
plain reruns until the request completes. Judged against an uninterrupted trial: the stores must
be equal, no step applied twice, exactly one certificate, receipts that count the rows that really
changed, and a ledger an auditor's verifier replays. Used by benchmarks/chaos.py (the suite keeps
to tests/test_recovery.py's kill while awaiting approval: each trial here costs minutes).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from dsr.demo.estate import DEMO_CUSTOMER, build_estate
from dsr.demo.objects import build_buckets
from dsr.demo.s3server import DEMO_CREDENTIALS, moto_s3_server
from dsr.failpoints import ENV as KILL_AT
from dsr.plan import ErasurePlan

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "demo"
SQL_SYSTEMS = ("crm", "billing", "support", "marketing")
HKT_DSR = [sys.executable, "-m", "dsr.cli"]
VERIFY = [sys.executable, "-m", "receipts.cli"]
APPROVER = "Mari Tanaka"
AWAITING = "awaiting-approval"  # not a failpoint: the harness kills the run while it waits


@dataclass
class Result:
    """What one trial left behind."""

    point: str
    completed: bool
    kills: int
    stores: dict[str, object] = field(default_factory=dict)
    affected: dict[str, int] = field(default_factory=dict)  # step -> rows changed, over all its receipts
    done_receipts: Counter[str] = field(default_factory=Counter)  # step -> receipts that say it was applied
    certificates: int = 0
    ledger_ok: bool = False
    folder_ok: bool = False

    def differences(self, baseline: Result) -> list[str]:
        """Where this trial's stores and receipts differ from the baseline's (names and counts only)."""
        found = []
        for store in sorted(set(self.stores) | set(baseline.stores)):
            mine, theirs = self.stores.get(store) or {}, baseline.stores.get(store) or {}
            found += [f"{store}.{part}" for part in sorted(set(mine) | set(theirs)) if mine.get(part) != theirs.get(part)]  # type: ignore[union-attr]
        for step in sorted(set(self.affected) | set(baseline.affected)):
            if self.affected.get(step) != baseline.affected.get(step):
                found.append(f"receipts of {step}: affected {self.affected.get(step)} (uninterrupted: {baseline.affected.get(step)})")
        return found

    def judge(self, baseline: Result) -> dict[str, bool]:
        return {
            "completed": self.completed,
            "stores_equal": self.stores == baseline.stores,
            "no_repeats": all(n == 1 for n in self.done_receipts.values()),
            "one_certificate": self.certificates == 1,
            "exact_receipts": self.affected == baseline.affected,
            "ledger_ok": self.ledger_ok and self.folder_ok,
        }


class Trial:
    def __init__(self, root: Path, point: str, s3_endpoint: str):
        self.workdir, self.point, self.endpoint = root / point.replace(":", "-"), point, s3_endpoint
        self.workdir.mkdir(parents=True)
        self.env = {**os.environ, **DEMO_CREDENTIALS, "DSR_WORKDIR": str(self.workdir), "DSR_S3_ENDPOINT": s3_endpoint,
                    "PREFECT_HOME": str(self.workdir / "prefect"), "HKT_DSR_LOG_DIR": str(self.workdir / "errors"), "COLUMNS": "200"}
        for name in ("PREFECT_API_URL", KILL_AT):
            self.env.pop(name, None)

    def cli(self, *args: str, kill_at: str | None = None) -> subprocess.Popen[bytes]:
        env = {**self.env, **({KILL_AT: kill_at} if kill_at else {})}
        return subprocess.Popen([*HKT_DSR, *args, "--config", str(DEMO_CONFIG)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def status(self, request_id: str) -> tuple[str, dict | None]:
        with sqlite3.connect(self.workdir / "control.db") as conn:
            status, plan = conn.execute("SELECT status, plan FROM requests WHERE id = ?", (request_id,)).fetchone()
        return status, json.loads(plan) if plan else None

    def request(self) -> str:
        """The demo customer's verified erasure, taken by one person."""
        done = subprocess.run([*HKT_DSR, "request", "new", "--kind", "erase", "--channel", "web", "--department", "Support Desk",
                               "--requested-by", "Aiko Sato", "--verified-by", "Ken Ito", "--verification-method", "photo ID",
                               "--email", DEMO_CUSTOMER.email, "--phone", DEMO_CUSTOMER.phone, "--config", str(DEMO_CONFIG)],
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip().splitlines()[-1]

    def run_once(self, request_id: str, kill_at: str | None) -> int:
        """One `hkt-dsr run`, approved from another process when it waits; its exit code (-9: killed)."""
        run = self.cli("run", request_id, kill_at=kill_at)
        approved = False
        while run.poll() is None:
            status, plan = self.status(request_id)
            if status == "awaiting_approval" and plan is not None and not approved:
                if kill_at == AWAITING:
                    time.sleep(1)  # let it pause, then kill it where it waits
                    run.send_signal(signal.SIGKILL)
                    break
                threading.Thread(target=self._approve, args=(request_id, ErasurePlan.from_json(plan).digest), daemon=True).start()
                approved = True
            time.sleep(0.5)
        run.wait()
        run.stdout.close()  # type: ignore[union-attr]
        return run.returncode

    def _approve(self, request_id: str, digest: str) -> None:
        subprocess.run([*HKT_DSR, "approve", request_id, "--as", APPROVER, "--digest", digest, "--config", str(DEMO_CONFIG)],
                       env=self.env, capture_output=True, timeout=600)

    def go(self, keys: Path | None = None) -> Result:
        """`keys`: the key directory of the trial to compare with (pseudonyms are keyed: equal stores need equal keys)."""
        build_estate(self.workdir)
        if keys is not None:
            shutil.copytree(keys, self.workdir / "keys")
        os.environ.update({k: v for k, v in self.env.items() if k in DEMO_CREDENTIALS})
        build_buckets(self.endpoint)
        subprocess.run([*HKT_DSR, "keys", "init", "--config", str(DEMO_CONFIG)], env=self.env, capture_output=True, check=True, timeout=120)
        request_id = self.request()
        kills = 0
        stages = [] if self.point == "baseline" else self.point.split("|")  # "a|b": the first run dies at a, the rerun at b
        for attempt in range(len(stages) + 2):
            kill_at = stages[attempt] if attempt < len(stages) else None
            kills += self.run_once(request_id, kill_at) == -signal.SIGKILL
            if kill_at == AWAITING:
                digest = ErasurePlan.from_json(self.status(request_id)[1] or {}).digest
                self._approve(request_id, digest)  # the waiting run is dead: approve takes it over and runs it
            if self.status(request_id)[0] == "completed":
                break
        return self._result(request_id, kills)

    def _result(self, request_id: str, kills: int) -> Result:
        result = Result(self.point, self.status(request_id)[0] == "completed", kills)
        result.stores = self._stores()
        receipts = self.workdir / "receipts" / request_id
        for path in receipts.glob("*.json"):
            if path.name == "certificate.json":
                continue
            body = json.loads(path.read_bytes())["receipt"]
            if body["kind"] == "certificate":
                result.certificates += 1
                continue
            action = body["action"]
            result.affected[action["step"]] = result.affected.get(action["step"], 0) + (action["affected"] or 0)
            if action["status"] == "done":
                result.done_receipts[action["step"]] += 1
        with sqlite3.connect(self.workdir / "control.db") as conn:
            ledger_certificates = conn.execute("SELECT count(*) FROM ledger_entries WHERE request_id = ? AND kind = 'certificate'", (request_id,)).fetchone()[0]
        result.certificates = max(result.certificates, ledger_certificates)
        audit = self.workdir / "audit"
        exported = subprocess.run([*HKT_DSR, "ledger", "export", str(audit), "--config", str(DEMO_CONFIG)], env=self.env, capture_output=True, timeout=300)
        keyring = str(self.workdir / "keys" / "keyring.json")
        replay = subprocess.run([*VERIFY, "log", str(audit), "--keys", keyring], env=self.env, capture_output=True, timeout=600)
        result.ledger_ok = exported.returncode == 0 and replay.returncode == 0
        folder = subprocess.run([*HKT_DSR, "receipts", "verify", str(receipts), "--keys", keyring], env=self.env, capture_output=True, timeout=300)
        result.folder_ok = folder.returncode == 0
        return result

    def _stores(self) -> dict[str, object]:
        """Every SQL row and every S3 object version's content (version ids differ between runs)."""
        stores: dict[str, object] = {}
        for system in SQL_SYSTEMS:
            with sqlite3.connect(self.workdir / f"{system}.db") as conn:
                tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
                stores[system] = {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name=DEMO_CREDENTIALS["AWS_DEFAULT_REGION"])
        for bucket in sorted(b["Name"] for b in s3.list_buckets()["Buckets"]):
            versions: dict[str, list[str]] = {}
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for v in page.get("Versions", []):
                    body = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
                    if body[:2] == b"\x1f\x8b":
                        body = gzip.decompress(body)  # the gzip header holds the time it was written
                    versions.setdefault(v["Key"], []).append(hashlib.sha256(body).hexdigest())
                for m in page.get("DeleteMarkers", []):
                    versions.setdefault(m["Key"], []).append("delete-marker")
            stores[f"s3:{bucket}"] = {k: sorted(v) for k, v in sorted(versions.items())}
        return stores


def trial(root: Path, point: str, keys: Path | None = None) -> Result:
    """One trial on a moto server of its own (bucket names are fixed, so trials never share one);
    `keys` from an earlier trial's `keys_of(...)`, so that both pseudonymise alike."""
    with moto_s3_server() as endpoint:
        return Trial(root, point, endpoint).go(keys)


def keys_of(root: Path, point: str) -> Path:
    return root / point.replace(":", "-") / "keys"


def kill_points() -> list[str]:
    """Every boundary dsr/failpoints.py names, for the demo estate's systems."""
    return ([f"before-commit:{s}" for s in SQL_SYSTEMS] + [f"after-commit:{s}" for s in (*SQL_SYSTEMS, "storage")]
            + ["during-rewrite", "after-ledger", "after-certificate", "before-completion", AWAITING])
