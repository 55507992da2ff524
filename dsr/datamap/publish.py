"""After a scan: store the map, compare it with the datasets and with the previous scan, write the
page. One function for the nightly flow and for `hkt-dsr datamap scan`, so both say the same."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsr.config import Estate
from dsr.control.db import session_factory
from dsr.datamap.coverage import Coverage, Gap, coverage, drift
from dsr.datamap.model import DataMap
from dsr.datamap.page import render_page, write_page
from dsr.datamap.store import record_map


@dataclass(frozen=True)
class Published:
    data_map: DataMap
    coverage: Coverage
    changes: tuple[Gap, ...]  # personal data the previous scan of the same systems did not see
    page: Path | None

    def rows(self, everything: bool = False) -> list[dict[str, Any]]:
        """The personal columns (or every column) as table rows: categories and counts, never values."""
        return [
            {"system": p.system, "collection": p.name, "column": c.name, "category": c.category, "identity": c.identity or "",
             "confidence": c.confidence, "evidence": c.evidence_text}
            for p in self.data_map.collections for c in (p.columns if everything else p.personal_columns)
        ]

    @property
    def summary(self) -> str:
        return (f"{len(self.data_map.collections)} collection(s) in {len(self.data_map.systems)} system(s); datasets declare "
                f"{self.coverage.declared} of {self.coverage.found} personal column(s); {len(self.coverage.unmapped)} unmapped; "
                f"{len(self.changes)} change(s) since the last scan")

    @property
    def findings(self) -> list[str]:
        return [*(f"changed since the last scan: {g}" for g in self.changes), *(str(g) for g in self.coverage.gaps),
                *(f"not scanned: {system}: {reason}" for system, reason in sorted(self.data_map.errors.items()))]


def publish(estate: Estate, data_map: DataMap, page_dir: Path | None = None) -> Published:
    """Store the scan in the control database (the previous one of the same systems is what drift
    compares with), work out coverage and drift, and write the HTML page when `page_dir` is given."""
    with session_factory(estate.settings.control_db)() as session:
        previous = record_map(session, data_map)
        session.commit()
    found = coverage(data_map, estate.datasets)
    changes = drift(previous, data_map)
    page = write_page(render_page(data_map, found, changes, estate), page_dir, data_map.scanned_at) if page_dir is not None else None
    return Published(data_map, found, changes, page)
