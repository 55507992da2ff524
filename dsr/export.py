"""Access requests: the export package a customer receives (privacy policy §7, "disclose").

A directory and a .zip of it: one JSON and one CSV file per collection, holding only the subject's
records and only the fields whose data categories the policy exports, and manifest.json with the
request, the counts and the SHA-256 of every file. This is the one place raw personal data leaves.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsr.control.models import RequestRow, utcnow
from dsr.discovery import Discovery
from dsr.runtime import Runtime


@dataclass(frozen=True)
class ExportedCollection:
    system: str
    collection: str
    records: int
    fields: tuple[str, ...]
    withheld_fields: tuple[str, ...]


def exported_fields(rt: Runtime, system: str, collection: str) -> tuple[list[str], list[str]]:
    """(fields the policy exports, fields it withholds) for one collection."""
    allowed = set(rt.estate.policy.access.export)
    fields = rt.estate.collection(system, collection).fields
    exported = [name for name, conf in fields.items() if allowed & set(conf.categories)]
    return exported, [name for name in fields if name not in exported]


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


def export_collection(rt: Runtime, package: Path, discovery: Discovery, system: str, collection: str) -> ExportedCollection:
    fields, withheld = exported_fields(rt, system, collection)
    keys = discovery.keys(system, collection)
    rows = [{f: _plain(v) for f, v in row.items()} for row in rt.connector(system).read(collection, keys, fields)] if fields else []
    data = package / "data"
    data.mkdir(parents=True, exist_ok=True)
    stem = f"{system}.{collection}"
    (data / f"{stem}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    with (data / f"{stem}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return ExportedCollection(system, collection, len(rows), tuple(fields), tuple(withheld))


def package_dir(rt: Runtime, request_id: str) -> Path:
    return rt.export_dir / request_id


def write_manifest(rt: Runtime, request: RequestRow, package: Path, exported: list[ExportedCollection]) -> tuple[Path, str]:
    """Write manifest.json, zip the package; returns (zip path, manifest digest)."""
    files = {
        str(path.relative_to(package)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(package.rglob("*"))
        if path.is_file() and path.name != "manifest.json"
    }
    manifest = {
        "request": {
            "id": request.id,
            "kind": request.kind,
            "received_at": request.received_at.isoformat(),
            "due_at": request.due_at.isoformat(),
        },
        "generated_at": utcnow().isoformat(),
        "policy": {"id": rt.estate.policy.id, "digest": rt.estate.policy_digest},
        "collections": [
            {"system": e.system, "collection": e.collection, "records": e.records, "fields": list(e.fields), "withheld_fields": list(e.withheld_fields)}
            for e in exported
        ],
        "files": {name: f"sha256:{h}" for name, h in files.items()},
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
    (package / "manifest.json").write_bytes(body)
    archive = Path(shutil.make_archive(str(package), "zip", root_dir=package))
    return archive, "sha256:" + hashlib.sha256(body).hexdigest()
