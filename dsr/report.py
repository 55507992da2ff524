"""Access requests: the page a customer reads (privacy policy §7, "disclose").

`report.html` in the export package says in plain language what the package holds: in which of
our systems we found the customer's data, what kinds of data, how many records and the records
themselves, which data we withheld and why, what we use it for (§4) and with whom we share it (§5),
and where other people's records mention the customer.

The page is self-contained: one HTML file with its style inline, no scripts, no images, no fonts,
no links, and a Content-Security-Policy that forbids loading anything, so it opens offline and
tells nobody that it was opened. Every value goes through Jinja2 with autoescaping on.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2

from dsr.config import CollectionConfig, Estate

TEMPLATE = "access_report.html.j2"
WITHHELD_REASON = "internal assessment not disclosed under our policy"
DEFAULT_PURPOSES = "as described in our privacy policy §4"
DEFAULT_RECIPIENTS = "not disclosed to third parties except as described in §5"

Disclosures = Mapping[str, Mapping[str, Sequence[str]]]

# Words in field names that read better spelled out ('customer_no' -> 'Customer number').
_WORDS = {"id": "ID", "no": "number", "e164": "E.164", "ip": "IP", "url": "URL", "last4": "last 4 digits"}


def readable(name: str) -> str:
    """'billing_address' -> 'Billing address'; 'customer_id' -> 'Customer ID'."""
    words = [_WORDS.get(word.lower(), word) for word in name.replace("-", "_").split("_") if word]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else name


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _day(value: Any) -> str:
    """An ISO timestamp from the manifest as its date (2026-11-03); anything else as written."""
    try:
        return dt.datetime.fromisoformat(str(value)).date().isoformat()
    except ValueError:
        return str(value or "")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass
class _Field:
    name: str
    label: str
    categories: list[str]


@dataclass
class _Collection:
    key: str
    label: str
    records: int
    mentions: int
    fields: list[_Field]
    rows: list[list[str]] | None  # None: the records were not handed to the report
    withheld: list[tuple[str, list[str]]]  # (category, readable field names)
    purposes: list[str]
    recipients: list[str]
    mention_texts: list[str]


@dataclass
class _System:
    name: str
    description: str
    collections: list[_Collection] = field(default_factory=list)


@functools.cache
def _environment() -> jinja2.Environment:
    # autoescape=True, not select_autoescape(): the template's name ends in .j2, not .html.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("dsr", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def disclosures_of(estate: Estate) -> dict[str, dict[str, list[str]]]:
    """'system.collection' -> {"purposes": [...], "recipients": [...]} from the dataset YAML's
    collection-level `purposes:` and `recipients:`, for configuration models that carry them."""
    found: dict[str, dict[str, list[str]]] = {}
    for system, dataset in estate.datasets.items():
        for name, coll in dataset.collections.items():
            entry = {key: [str(v) for v in values] for key in ("purposes", "recipients") if (values := getattr(coll, key, None))}
            if entry:
                found[f"{system}.{name}"] = entry
    return found


def _categories(coll: CollectionConfig | None, name: str) -> list[str]:
    if coll is None:
        return []
    if name in coll.fields:
        return list(coll.fields[name].categories)
    return list(coll.categories)  # an object collection's object, version_id, line, text


def _collection(estate: Estate, entry: Mapping[str, Any], records: Mapping[str, Sequence[Mapping[str, Any]]], disclosures: Disclosures) -> _Collection:
    system, name = str(entry["system"]), str(entry["collection"])
    key = f"{system}.{name}"
    dataset = estate.datasets.get(system)
    coll = dataset.collections.get(name) if dataset is not None else None
    names = [str(f) for f in entry.get("fields", [])]
    rows = records.get(key)
    withheld: dict[str, list[str]] = {}
    for fname in entry.get("withheld_fields", []):
        for category in _categories(coll, str(fname)) or ["uncategorised"]:
            withheld.setdefault(category, []).append(readable(str(fname)))
    declared = disclosures.get(key) or {}
    return _Collection(
        key=key,
        label=readable(name),
        records=int(entry.get("records", 0)),
        mentions=int(entry.get("mentions", 0)),
        fields=[_Field(f, readable(f), _categories(coll, f)) for f in names],
        rows=None if rows is None else [[_cell(row.get(f)) for f in names] for row in rows],
        withheld=sorted(withheld.items()),
        purposes=[str(p) for p in declared.get("purposes") or []],
        recipients=[str(r) for r in declared.get("recipients") or []],
        mention_texts=[_cell(m.get("text")) for m in records.get(f"{key}.mentions", [])],
    )


def render_access_report(
    estate: Estate,
    manifest: dict[str, Any],
    records: dict[str, list[dict[str, Any]]],
    *,
    disclosures: dict[str, dict[str, list[str]]] | None = None,
) -> str:
    """The customer's report as one self-contained HTML page.

    `manifest`: the export's manifest (its `request`, `collections` and, if present, `generated_at`
    and `policy`; `files` is not needed). `records`: the exported rows by file stem, as in data/:
    'system.collection' for the customer's records, 'system.collection.mentions' for the records of
    other people that mention the customer (only their `text` is shown). `disclosures`:
    'system.collection' -> {"purposes": [...], "recipients": [...]}; None takes them from the
    configuration (`disclosures_of`); a collection without them gets the privacy policy's §4 and §5.
    """
    if disclosures is None:
        disclosures = disclosures_of(estate)
    request = manifest.get("request", {})
    systems: dict[str, _System] = {}
    for entry in manifest.get("collections", []):
        name = str(entry["system"])
        if name not in systems:
            conf = estate.systems.get(name)
            systems[name] = _System(name, (conf.description if conf else "") or readable(name))
        systems[name].collections.append(_collection(estate, entry, records, disclosures))

    found = [s for s in systems.values() if any(c.records or c.mentions for c in s.collections)]
    total_records = sum(c.records for s in systems.values() for c in s.collections)
    total_mentions = sum(c.mentions for s in systems.values() for c in s.collections)
    if found:
        summary = (
            f"We found your personal information in {len(found)} of our {len(estate.systems)} systems: "
            f"{_plural(total_records, 'record')} about you"
            + (f", and {_plural(total_mentions, 'mention')} of you in other people's records." if total_mentions else ".")
        )
    else:
        summary = f"We searched all {len(estate.systems)} of our systems and found no personal information about you."

    to_review = sum(int(c.get("candidates", 0)) for c in (manifest.get("review") or {}).get("collections", []))
    if to_review:
        summary += (
            f" Our staff are reviewing {_plural(to_review, 'further possible mention')} of you that our systems could "
            "not confirm automatically (candidates we could not confirm, for review)."
        )
    unreadable = (manifest.get("unreadable") or {}).get("files", [])
    if unreadable:
        summary += f" We also hold {_plural(len(unreadable), 'file')} that our systems could not read; they are listed below: ask us for a copy."
    policy = manifest.get("policy") or {}
    return _environment().get_template(TEMPLATE).render(
        unreadable=unreadable,
        request_id=str(request.get("id", "")),
        received=_day(request.get("received_at")),
        due=_day(request.get("due_at")),
        generated=_day(manifest.get("generated_at")) if manifest.get("generated_at") else "",
        policy_id=str(policy.get("id", "")),
        summary=summary,
        systems=list(systems.values()),
        withheld_reason=WITHHELD_REASON,
        default_purposes=DEFAULT_PURPOSES,
        default_recipients=DEFAULT_RECIPIENTS,
    )
