"""access_request: discover -> export each collection -> manifest and zip -> seal."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

import flows  # noqa: F401  (telemetry off before Prefect loads)
from dsr import fulfilment
from dsr.discovery import Discovery
from dsr.erasure import request_subject
from dsr.export import ExportedCollection, export_collection, exported_collections, package_dir, write_manifest
from dsr.requests import get_request
from dsr.runtime import runtime_for
from dsr.sealing import Outcome, seal_request
from flows.tasks import TASK_OPTIONS, begin_run, discover_subject, reraise_withheld, withholding


@task(name="export-collection", task_run_name="export-{system}.{collection}", **TASK_OPTIONS)
@withholding
def export(config_dir: str, request_id: str, discovery: Discovery, system: str, collection: str) -> ExportedCollection:
    rt = runtime_for(config_dir)
    matcher = rt.matcher(request_subject(rt, request_id))
    exported = export_collection(rt, package_dir(rt, request_id), discovery, matcher, system, collection)
    get_run_logger().info("request %s: exported %d record(s) of %s.%s", request_id, exported.records, system, collection)
    return exported


@task(name="package-and-seal", **TASK_OPTIONS)
@withholding
def package_and_seal(config_dir: str, request_id: str, exported: list[ExportedCollection]) -> str:
    rt = runtime_for(config_dir)
    with rt.sessions() as session:
        request = get_request(session, request_id)
    archive, manifest_digest = write_manifest(rt, request, package_dir(rt, request_id), exported)
    for e in exported:
        step = f"{e.system}/{e.collection}/export"
        fulfilment.record_done(rt, request_id, step, e.system, e.collection, "export", e.records + e.mentions, {"fields": list(e.fields)})
        if e.unreadable:  # receipted too: what could not be read was reported, not silently left out
            reasons = "; ".join(sorted({why for _, why in e.unreadable}))
            fulfilment.record_done(rt, request_id, f"{e.system}/{e.collection}/skipped", e.system, e.collection, "skipped", len(e.unreadable),
                                   {"rule": f"unreadable: {reasons}; listed in the export for the customer to ask for a copy"})
    outcomes = {f"{e.system}/{e.collection}/{what}": Outcome("not applicable", manifest_digest) for e in exported for what in ("export", "skipped")}
    seal_request(rt, request_id, outcomes, f"exported {sum(e.records + e.mentions for e in exported)} record(s), manifest {manifest_digest}")
    return str(archive)


@flow(name="access_request", flow_run_name="access-{request_id}")
def access_request(request_id: str, config_dir: str) -> dict:
    rt = runtime_for(config_dir)
    begin_run(config_dir, request_id, "access")
    try:
        discovery = discover_subject(config_dir, request_id)
        exported = [export(config_dir, request_id, discovery, *path.split(".", 1)) for path in exported_collections(discovery)]
        archive = package_and_seal(config_dir, request_id, exported)
    except Exception as exc:
        fulfilment.fail(rt, request_id, exc)
        reraise_withheld(exc)
    fulfilment.finish(rt, request_id, f"exported {sum(e.records for e in exported)} record(s) from {len(exported)} collection(s)", archive)
    return {"request_id": request_id, "export": archive, "collections": len(exported)}
