"""The data map page for compliance staff: one self-contained HTML file (no scripts, no external
assets, a CSP that forbids loading anything), rendered with autoescaping like the access report.

It shows what the scan found (systems, collections, categories, identity fields, references), how
much of it the datasets declare, what is unmapped, and what changed since the previous scan. It
holds no sampled value: the map has none to give it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from dsr.config import Estate
from dsr.datamap.coverage import Coverage, Gap, declared_collection
from dsr.datamap.model import CollectionProfile, DataMap
from dsr.report import _environment  # the one Jinja2 environment for dsr/templates (autoescape, strict)

TEMPLATE = "datamap.html.j2"


@dataclass(frozen=True)
class _Row:
    collection: CollectionProfile
    declared: str | None  # the dataset collection that covers it


def render_page(data_map: DataMap, coverage: Coverage, changes: tuple[Gap, ...], estate: Estate) -> str:
    systems = []
    for system in data_map.systems:
        rows = [_Row(p, (m[0] if (m := declared_collection(p, estate.datasets.get(system))) else None)) for p in data_map.of_system(system)]
        systems.append({
            "name": system, "description": estate.systems[system].description if system in estate.systems else "",
            "error": data_map.errors.get(system), "rows": rows,
            "references": [r for p in data_map.of_system(system) for r in p.references],
        })
    return _environment().get_template(TEMPLATE).render(
        scanned_at=data_map.scanned_at.strftime("%Y-%m-%d %H:%M UTC"), sample_size=data_map.sample_size, systems=systems,
        coverage=coverage, changes=changes, gaps=[g for g in coverage.gaps if g not in coverage.unmapped], unmapped=coverage.unmapped,
        identity=[(p, c) for p in data_map.collections for c in p.identity_columns],
    )


def write_page(html: str, directory: Path, scanned_at: dt.datetime) -> Path:
    """The page as datamap-<time>.html (kept, to compare by eye) and datamap.html (the latest)."""
    directory.mkdir(parents=True, exist_ok=True)
    dated = directory / f"datamap-{scanned_at.strftime('%Y%m%dT%H%M%SZ')}.html"
    dated.write_text(html, encoding="utf-8")
    (directory / "datamap.html").write_text(html, encoding="utf-8")
    return dated
