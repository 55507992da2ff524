"""datamap_scan: every system's schema and samples -> the data map, stored and published.

Nightly (a deployment with a cron schedule): each system is a task of its own, the map goes into
the control database, a Prefect table artifact lists the personal columns found, and an HTML page
shows coverage, what is unmapped and what changed. Personal data that appeared since the previous
scan fails the run, so that someone looks before a request misses it.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

import flows  # noqa: F401  (telemetry off before Prefect loads)
from dsr.config import load_estate
from dsr.control.db import session_factory
from dsr.datamap.coverage import coverage, drift
from dsr.datamap.model import DataMap
from dsr.datamap.page import render_page, write_page
from dsr.datamap.scan import DEFAULT_SAMPLE, merge, scan_one
from dsr.datamap.store import record_map
from flows.tasks import TASK_OPTIONS

DEFAULT_PAGE_DIR = ".dsr/datamap"


class DataMapDrift(RuntimeError):
    """Personal data appeared where the previous scan saw none; the message names where, never what."""


@task(name="scan-system", task_run_name="datamap-{system}", **TASK_OPTIONS)
def scan_system(config_dir: str, system: str, sample: int) -> DataMap:
    data_map = scan_one(load_estate(config_dir, require_policy=False), system, sample)
    log = get_run_logger()
    if system in data_map.errors:
        log.error("system %s not scanned: %s", system, data_map.errors[system])
    else:
        log.info("system %s: %d collection(s), %d personal column(s)", system, len(data_map.collections),
                 sum(len(c.personal_columns) for c in data_map.collections))
    return data_map


@flow(name="datamap", flow_run_name="datamap")
def datamap_scan(config_dir: str, sample: int = DEFAULT_SAMPLE, systems: list[str] | None = None, page_dir: str = DEFAULT_PAGE_DIR) -> dict:
    estate = load_estate(config_dir, require_policy=False)
    names = systems or sorted(estate.systems)
    futures = [scan_system.submit(config_dir, system, sample) for system in names]
    data_map = merge([f.result() for f in futures])
    with session_factory(estate.settings.control_db)() as session:
        previous = record_map(session, data_map)
        session.commit()
    found = coverage(data_map, estate.datasets)
    changes = drift(previous, data_map)
    page = write_page(render_page(data_map, found, changes, estate), estate.resolve_path(page_dir), data_map.scanned_at)
    create_table_artifact(
        key="datamap", description=f"Personal data found {data_map.scanned_at:%Y-%m-%d %H:%M} UTC (counts only, never values); page: {page}",
        table=[{"system": p.system, "collection": p.name, "column": c.name, "category": c.category, "identity": c.identity or "",
                "confidence": c.confidence, "evidence": c.evidence_text}
               for p in data_map.collections for c in p.personal_columns],
    )
    findings = [*(f"- changed: {g}" for g in changes), *(f"- {g}" for g in found.gaps), *(f"- not scanned: {s}: {e}" for s, e in data_map.errors.items())]
    create_markdown_artifact(
        key="datamap-coverage",
        markdown=f"Datasets declare {found.declared} of {found.found} personal column(s); {len(found.unmapped)} unmapped; "
                 f"{len(changes)} change(s) since the previous scan.\n\n" + "\n".join(findings),
    )
    if changes:
        raise DataMapDrift(f"{len(changes)} change(s) since the previous data map: " + "; ".join(str(g) for g in changes) + f" (see {page})")
    if data_map.errors:
        raise RuntimeError(f"system(s) not scanned: {', '.join(sorted(data_map.errors))} (see {page})")
    return {"page": str(page), "collections": len(data_map.collections), "found": found.found, "declared": found.declared, "unmapped": len(found.unmapped)}
