"""Access requests: the export package a customer receives (privacy policy §7, "disclose").

A directory and a .zip of it: one JSON and one CSV file per collection, holding only the subject's
records and only the fields whose data categories the policy exports, and manifest.json with the
request, the counts and the SHA-256 of every file, and report.html, a self-contained page the
customer can read. This is the one place raw personal data leaves.
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
from dsr.report import render_access_report
from dsr.runtime import Runtime
from dsr.subject import IdentifierKind
from scanners.matcher import SubjectMatcher
from scanners.others import looks_like_header, mask_csv_row, mask_json_text, mask_other_people

REVIEW_TITLE = "candidates we could not confirm, for review"
UNREADABLE_TITLE = "we hold these files but could not read them; ask us for a copy"


@dataclass(frozen=True)
class ExportedCollection:
    system: str
    collection: str
    records: int
    fields: tuple[str, ...]
    withheld_fields: tuple[str, ...]
    mentions: int = 0  # other people's records that mention the subject (in <collection>.mentions.*)
    unconfirmed: int = 0  # candidates we could not confirm (not exported): listed for review in the manifest
    # objects we hold but could not read as text (binary, broken gzip, not UTF-8): (reference, why)
    unreadable: tuple[tuple[str, str], ...] = ()


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


def _write(package: Path, stem: str, rows: list[dict[str, Any]], fields: list[str]) -> None:
    data = package / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / f"{stem}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    with (data / f"{stem}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def export_collection(rt: Runtime, package: Path, discovery: Discovery, matcher: SubjectMatcher, system: str, collection: str) -> ExportedCollection:
    """The subject's records of one collection (only exported categories), and the records of other
    people that mention the subject (only the mentioning text); other people in free text masked."""
    coll = rt.estate.collection(system, collection)
    if coll.objects is not None:
        return _export_objects(rt, package, discovery, matcher, system, collection)
    fields, withheld = exported_fields(rt, system, collection)
    free_text = set(coll.free_text_fields)
    keys = discovery.keys(system, collection)
    rows = []
    for row in rt.connector(system).read(collection, keys, fields) if fields and keys else []:
        rows.append({f: mask_other_people(v, matcher) if f in free_text and isinstance(v, str) else _plain(v) for f, v in row.items()})
    if rows or not discovery.mentions(system, collection):
        _write(package, f"{system}.{collection}", rows, fields)
    owned = set(keys)
    mentioning = [f for f in discovery.mentions(system, collection) if f.key not in owned]
    mentions = []
    for finding in mentioning:
        for row in rt.connector(system).read(collection, [finding.key], [finding.field]):  # type: ignore[list-item]
            mentions.append({"field": finding.field, "text": mask_other_people(str(row[finding.field]), matcher)})
    if mentions:
        _write(package, f"{system}.{collection}.mentions", mentions, ["field", "text"])
    return ExportedCollection(system, collection, len(rows), tuple(fields), tuple(withheld), len(mentions), _unconfirmed(discovery, system, collection))


def _unconfirmed(discovery: Discovery, system: str, collection: str) -> int:
    return sum(len(f.spans) for f in discovery.unconfirmed() if (f.system, f.collection) == (system, collection))


def _export_objects(rt: Runtime, package: Path, discovery: Discovery, matcher: SubjectMatcher, system: str, collection: str) -> ExportedCollection:
    coll = rt.estate.collection(system, collection)
    objects = coll.objects
    assert objects is not None
    keys = sorted({f.key for f in discovery.mentions(system, collection)}, key=repr)
    declared = _declared_keys(rt, system, collection)
    records, header, current = [], None, None
    for r in rt.connector(system).read(collection, keys, ["text"]):
        fmt = objects.format_of(r["object"])
        if (r["object"], r["version_id"]) != current:  # a new object: a CSV one may open with its header
            current = (r["object"], r["version_id"])
            header = looks_like_header(r["text"]) if fmt == "csv" else None
        if objects.export == "objects" or any(not h.unconfirmed for h in matcher.find(r["text"])):  # unconfirmed: listed for review instead
            # A header is masked like any row: a first row that only looked like one may be data.
            text = _mask_record_text(r["text"], fmt, matcher, header, declared)
            records.append({"object": r["object"], "version_id": r["version_id"], "line": r["line"], "text": text})
    fields = ["object", "version_id", "line", "text"]
    _write(package, f"{system}.{collection}", records, fields)
    return ExportedCollection(system, collection, len(records), tuple(fields), (), unconfirmed=_unconfirmed(discovery, system, collection),
                              unreadable=_unreadable(rt, discovery, system, collection))


def _unreadable(rt: Runtime, discovery: Discovery, system: str, collection: str) -> tuple[tuple[str, str], ...]:
    """The objects of a collection that could not be read as text: they may hold the subject's data,
    so the subject is told they exist and may ask for a copy, never silently left out. They are named
    by a reference (a keyed digest of the object's locator that our staff can match), not by their
    names: nobody can tell whose an unreadable file is, and its name may be somebody else's."""
    return tuple(sorted((rt.keys.locators(system, collection, [f.key]).removeprefix("hmac-sha256:")[:16], f.how.removeprefix("skipped:"))
                        for f in discovery.skipped() if (f.system, f.collection) == (system, collection)))


def _declared_keys(rt: Runtime, system: str, collection: str) -> set[str]:
    """Fields the dataset declares as keys: primary key, customer numbers, references."""
    coll = rt.estate.collection(system, collection)
    identity = {name for name, conf in coll.fields.items() if conf.identity is IdentifierKind.CUSTOMER_ID}
    return set(coll.primary_key) | identity | {ref.field for ref in coll.references}


def _mask_record_text(text: str, fmt: str, matcher: SubjectMatcher, header: list[str] | None, declared: set[str]) -> str:
    """One record of an object with other people masked: a CSV row cell by cell, a JSON record value
    by value (key and id fields untouched), a line of text as a whole."""
    if fmt == "csv":
        return mask_csv_row(text, matcher, header, declared)
    if fmt in ("json", "jsonl"):
        return mask_json_text(text, matcher, declared)
    return mask_other_people(text, matcher)


def exported_collections(discovery: Discovery) -> list[str]:
    """'system.collection' of every collection holding the subject's records or mentions."""
    return sorted(set(discovery.counts()) | {f.collection_path for f in discovery.mentions() + discovery.unconfirmed() + discovery.skipped()})


def package_dir(rt: Runtime, request_id: str) -> Path:
    return rt.export_dir / request_id


def write_manifest(rt: Runtime, request: RequestRow, package: Path, exported: list[ExportedCollection]) -> tuple[Path, str]:
    """Write manifest.json, zip the package; returns (zip path, manifest digest)."""
    manifest: dict[str, Any] = {
        "request": {
            "id": request.id,
            "kind": request.kind,
            "received_at": request.received_at.isoformat(),
            "due_at": request.due_at.isoformat(),
        },
        "generated_at": utcnow().isoformat(),
        "policy": {"id": rt.estate.policy.id, "digest": rt.estate.policy_digest},
        "collections": [
            {"system": e.system, "collection": e.collection, "records": e.records, "mentions": e.mentions, "fields": list(e.fields), "withheld_fields": list(e.withheld_fields)}
            for e in exported
        ],
        "review": {
            "title": REVIEW_TITLE,
            "collections": [{"system": e.system, "collection": e.collection, "candidates": e.unconfirmed} for e in exported if e.unconfirmed],
        },
        "unreadable": {
            "title": UNREADABLE_TITLE,
            "files": [{"system": e.system, "collection": e.collection, "reference": ref, "reason": why} for e in exported for ref, why in e.unreadable],
        },
    }
    package.mkdir(parents=True, exist_ok=True)  # nothing exported: no data/ yet
    records = {path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8")) for path in sorted((package / "data").glob("*.json"))}
    (package / "report.html").write_text(render_access_report(rt.estate, manifest, records), encoding="utf-8")
    manifest["files"] = {
        str(path.relative_to(package)): "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(package.rglob("*"))
        if path.is_file() and path.name != "manifest.json"
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
    (package / "manifest.json").write_bytes(body)
    archive = Path(shutil.make_archive(str(package), "zip", root_dir=package))
    return archive, "sha256:" + hashlib.sha256(body).hexdigest()
