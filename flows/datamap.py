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
from dsr.datamap.model import DEFAULT_SAMPLE, DataMap
from dsr.datamap.publish import publish
from dsr.datamap.scan import merge, scan_one
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
    # One system after another: spaCy and Presidio are shared per process and not made for threads.
    data_map = merge([scan_system(config_dir, system, sample) for system in names])
    published = publish(estate, data_map, estate.resolve_path(page_dir))
    page = published.page
    create_table_artifact(
        key="datamap", table=published.rows(),
        description=f"Personal data found {data_map.scanned_at:%Y-%m-%d %H:%M} UTC (categories and counts, never values); page: {page}",
    )
    create_markdown_artifact(key="datamap-coverage", markdown=published.summary + ".\n\n" + "\n".join(f"- {line}" for line in published.findings))
    if published.changes:
        raise DataMapDrift(f"{len(published.changes)} change(s) since the previous data map: " + "; ".join(map(str, published.changes)) + f" (see {page})")
    if data_map.errors:
        raise RuntimeError(f"system(s) not scanned: {', '.join(sorted(data_map.errors))} (see {page})")
    coverage = published.coverage
    return {"page": str(page), "collections": len(data_map.collections), "found": coverage.found, "declared": coverage.declared, "unmapped": len(coverage.unmapped)}
