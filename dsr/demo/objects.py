"""The demo estate's object storage: support attachments, call-centre transcripts, web access logs.

Taro Yamada appears where he would in real life: attachments of his ticket (a text summary edited
twice in a versioned bucket, a CSV with a multi-line note, a JSON case file), one call transcript,
and lines of a gzip access log (privacy policy §11). Everything else is other customers' noise,
plus one binary scan that no text scanner can read.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random

import boto3
from faker import Faker

from dsr.demo.estate import DEMO_CUSTOMER

ATTACHMENTS, TRANSCRIPTS, LOGS = "hkt-support-attachments", "hkt-call-transcripts", "hkt-web-logs"
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def build_buckets(endpoint: str, others: int = 150, seed: int = 20261129) -> dict[str, int]:
    """Create the three buckets and their objects; returns objects per bucket."""
    s3 = boto3.client("s3", endpoint_url=endpoint)
    rng = random.Random(seed)
    fake = Faker(["ja_JP", "en_US"])
    fake.seed_instance(seed)
    demo = DEMO_CUSTOMER
    for bucket in (ATTACHMENTS, TRANSCRIPTS, LOGS):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    s3.put_bucket_versioning(Bucket=ATTACHMENTS, VersioningConfiguration={"Status": "Enabled"})

    def put(bucket: str, key: str, body: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    # His ticket's attachments: the summary was edited, so the first version lives on underneath.
    put(ATTACHMENTS, "tickets/T-88001/summary.txt", f"Caller: {demo.name} <{demo.email}>\nIssue: roaming in Hong Kong.\n".encode())
    put(ATTACHMENTS, "tickets/T-88001/summary.txt", f"Caller: {demo.name.upper()} <{demo.email}>\nIssue: roaming in Hong Kong; day pass explained.\n".encode())
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["device", "imei", "note"])
    writer.writerow(["Pixel 9", "35-209900-176148-1", f"registered to {demo.name}\ncall back on 090 1234 5678"])
    writer.writerow(["Router", "n/a", "swapped at the Shibuya shop"])
    put(ATTACHMENTS, "tickets/T-88001/devices.csv", rows.getvalue().encode())
    put(ATTACHMENTS, "tickets/T-88001/case.json", json.dumps({"ticket": "T-88001", "customer": {"name": "山田 太郎", "email": demo.email.upper()}, "status": "closed"}, ensure_ascii=False).encode())
    put(ATTACHMENTS, "tickets/T-88001/scan.png", PNG_HEADER + bytes(rng.randrange(256) for _ in range(2048)))
    for i in range(others):
        put(ATTACHMENTS, f"tickets/T-{70000 + i}/summary.txt", f"Caller: {fake.name()} <{fake.email()}>\nIssue: {fake.sentence()}\n".encode())

    # Call-centre transcripts (JSON Lines, one utterance per line): one is his call.
    for i in range(others):
        lines = [{"speaker": "agent", "text": f"HKT support, this is {fake.first_name()}."}, {"speaker": "caller", "text": fake.sentence()}]
        if i == 7:
            lines += [{"speaker": "caller", "text": f"Hi, it's {demo.name}. My number is 090-1234-5678."},
                      {"speaker": "agent", "text": "Thank you, the day pass is now active."}]
        put(TRANSCRIPTS, f"calls/2025/07/call-{i:04d}.jsonl", "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode() + b"\n")

    # Web access logs, gzip, one per day (§11: kept as statistics).
    for day in range(1, 4):
        log = io.StringIO()
        for n in range(2000):
            user = demo.email if (day == 2 and n % 500 == 0) else fake.email()
            log.write(f"2025-07-0{day}T10:{n % 60:02d}:00Z 203.0.113.{rng.randrange(256)} GET /mypage user={user} 200\n")
        put(LOGS, f"access/2025-07-0{day}.log.gz", gzip.compress(log.getvalue().encode()))
    return {bucket: sum(1 for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket) for _ in page.get("Versions", [])) for bucket in (ATTACHMENTS, TRANSCRIPTS, LOGS)}
