"""The `hkt-dsr` command line: what compliance staff, engineers and auditors type."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from ruamel.yaml import YAML

from dsr.config import ConfigError, load_estate
from dsr.datamap.model import DEFAULT_SAMPLE
from dsr.subject import Identifier, IdentifierError, IdentifierKind

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Find, export, correct and erase a verified customer's personal data, with receipts.")
config_app = typer.Typer(no_args_is_help=True, help="Check the estate's configuration.")
request_app = typer.Typer(no_args_is_help=True, help="Take in, verify and inspect requests.")
datasets_app = typer.Typer(no_args_is_help=True, help="Describe systems' data.")
receipts_app = typer.Typer(no_args_is_help=True, help="Check signed receipts.")
keys_app = typer.Typer(no_args_is_help=True, help="Create and rotate the HMAC and signing keys.")
ledger_app = typer.Typer(no_args_is_help=True, help="The append-only receipt ledger.")
suppression_app = typer.Typer(no_args_is_help=True, help="The direct-mail suppression list (§6).")
hold_app = typer.Typer(no_args_is_help=True, help="Legal holds: data that must be kept (court or police orders, retention duties).")
for sub, name in (
    (config_app, "config"), (request_app, "request"), (datasets_app, "datasets"), (receipts_app, "receipts"),
    (keys_app, "keys"), (ledger_app, "ledger"), (hold_app, "hold"), (suppression_app, "suppression"),
):
    app.add_typer(sub, name=name)

console = Console()
err = Console(stderr=True)

ConfigDir = Annotated[Path, typer.Option("--config", "-c", envvar="HKT_DSR_CONFIG", help="Configuration directory.")]
DEFAULT_CONFIG = Path("config/demo")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print("[bold red]error:[/] " + escape(message), highlight=False, soft_wrap=True)  # one line, whatever the message holds
    return typer.Exit(code)


def _runtime(config: Path, create_keys: bool = False):  # noqa: ANN202 - lazy import keeps `--help` fast
    from dsr.runtime import Runtime

    try:
        return Runtime.open(config, create_keys=create_keys)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None


# ------------------------------------------------------------------ config


@config_app.command("check")
def config_check(
    config: ConfigDir = DEFAULT_CONFIG,
    live: bool = typer.Option(True, help="Also check the live systems: tables, columns, indexes, a dry-run erasure plan, what is new since the data map."),
    strict: bool = typer.Option(False, help="Personal data the data map found in no dataset is an error, not a warning."),
) -> None:
    """Everything a request would trip over later, each with file, line and path: the files, connector
    kinds, the live stores, a dry-run erasure plan, and personal data no dataset declares."""
    from dsr.checks import check_config

    report = check_config(config, live=live, strict=strict)
    for problem in report.problems:
        err.print(str(problem), highlight=False, soft_wrap=True)
    warnings = f", {len(report.warnings)} warning(s)" if report.warnings else ""
    if report.errors or report.estate is None:
        raise _fail(f"{len(report.errors)} problem(s) in {config}{warnings}")
    estate = report.estate
    console.print(f"[green]ok[/]: {len(estate.systems)} system(s), {sum(len(d.collections) for d in estate.datasets.values())} collection(s), "
                  f"policy {estate.policy.id} {estate.policy.version}, {len(report.warnings)} warning(s)")


# ------------------------------------------------------------------ keys


@keys_app.command("init")
def keys_init(config: ConfigDir = DEFAULT_CONFIG) -> None:
    """Create the HMAC key, the Ed25519 signing key and the keyring where estate.yaml says (never
    overwrites), and bring the control database up to date.

    Runs before any policy exists: keys come first, policies.yaml is not read."""
    from dsr.control.db import engine_for
    from dsr.keys import Keys

    try:
        estate = load_estate(config, require_policy=False)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    settings = estate.settings
    keys = Keys.load(estate.resolve_path(settings.hmac_key_file), estate.resolve_path(settings.signing_key_file),
                     estate.resolve_path(settings.keyring_file), create=True)
    engine_for(settings.control_db)
    console.print(f"keys ready; signing key {keys.key_name}; give auditors {settings.keyring_file} to pin")


@keys_app.command("rotate")
def keys_rotate(config: ConfigDir = DEFAULT_CONFIG) -> None:
    """Retire the signing key (its validity window closes now) and start a new one; old receipts stay valid."""
    from dsr.keys import rotate

    estate = load_estate(config)
    name = rotate(estate.resolve_path(estate.settings.signing_key_file), estate.resolve_path(estate.settings.keyring_file))
    console.print(f"new signing key {name}; publish the updated keyring {estate.settings.keyring_file} to auditors")


# ------------------------------------------------------------------ requests


@request_app.command("new")
def request_new(
    kind: Annotated[str, typer.Option(help="access, erase, rectify or opt_out")],
    channel: Annotated[str, typer.Option(help="How the request arrived: web, phone, letter, counter.")],
    department: Annotated[str, typer.Option(help="The department that replied to the customer (policy §8).")],
    requested_by: Annotated[str, typer.Option("--requested-by", help="Staff member taking the request.")],
    email: Annotated[list[str] | None, typer.Option(help="Subject's email (repeatable).")] = None,
    phone: Annotated[list[str] | None, typer.Option(help="Subject's phone number (repeatable).")] = None,
    customer_id: Annotated[list[str] | None, typer.Option("--customer-id", help="HKT customer number.")] = None,
    name: Annotated[list[str] | None, typer.Option(help="Subject's name as written in each script the customer uses (repeatable: romaji, kanji, kana).")] = None,
    address: Annotated[str | None, typer.Option(help="Subject's postal address.")] = None,
    verified_by: Annotated[str | None, typer.Option("--verified-by", help="Who verified the requester's identity.")] = None,
    verification_method: Annotated[str | None, typer.Option("--verification-method", help="How identity was verified.")] = None,
    correct: Annotated[list[str] | None, typer.Option(help="rectify: KIND=NEW VALUE, replacing the subject's identifier of that kind.")] = None,
    config: ConfigDir = DEFAULT_CONFIG,
) -> None:
    """Record a request and print its id. Without verification evidence it is stored but cannot run."""
    from dsr.requests import RequestError, Verification, create_request

    raw = _raw_identifiers(email, phone, customer_id)
    raw += [(IdentifierKind.NAME, n) for n in name or []]
    raw += [(IdentifierKind.POSTAL_ADDRESS, address)] if address else []
    if bool(verified_by) != bool(verification_method):
        raise _fail("give both --verified-by and --verification-method, or neither")
    rt = _runtime(config)
    try:
        identifiers = list(dict.fromkeys(Identifier.parse(kind_, value) for kind_, value in raw))  # one of each spelling
        corrections = [_correction(item, identifiers) for item in correct or []]
        verification = Verification(verification_method, verified_by, dt.datetime.now(dt.UTC)) if verified_by and verification_method else None
        with rt.sessions() as session:
            row = create_request(session, rt.estate, kind=kind, identifiers=identifiers, channel=channel, department=department, requested_by=requested_by, verification=verification, corrections=corrections)
            session.commit()
    except (IdentifierError, RequestError) as exc:
        raise _fail(str(exc)) from None
    if verification is None:
        err.print(f"request {row.id} is NOT verified: run `hkt-dsr request verify {row.id} --method ... --by ...` before it can run")
    print(row.id)


def _raw_identifiers(email: list[str] | None, phone: list[str] | None, customer_id: list[str] | None) -> list[tuple[IdentifierKind, str]]:
    """The repeatable --email/--phone/--customer-id options, as (kind, value) pairs to parse."""
    return [(IdentifierKind.EMAIL, v) for v in email or []] + [(IdentifierKind.PHONE, v) for v in phone or []] + \
        [(IdentifierKind.CUSTOMER_ID, v) for v in customer_id or []]


def _correction(item: str, identifiers: list[Identifier]):  # noqa: ANN202 - a dsr.requests.Correction
    """'email=new@example.jp' -> a Correction of the subject's one email."""
    from dsr.requests import Correction, RequestError

    kind_name, sep, new_value = item.partition("=")
    if not sep or kind_name not in {k.value for k in IdentifierKind}:
        raise RequestError(f"--correct takes KIND=NEW VALUE with KIND one of {', '.join(k.value for k in IdentifierKind)}")
    kind = IdentifierKind(kind_name)
    olds = [i for i in identifiers if i.kind is kind]
    if len(olds) != 1:
        raise RequestError(f"--correct {kind.value}=...: give exactly one current {kind.value} of the subject to replace (got {len(olds)})")
    return Correction(olds[0], Identifier.parse(kind, new_value))


@request_app.command("verify")
def request_verify(
    request_id: str,
    method: Annotated[str, typer.Option(help="How identity was verified.")],
    by: Annotated[str, typer.Option(help="Who verified it.")],
    config: ConfigDir = DEFAULT_CONFIG,
) -> None:
    """Record verification evidence for a received request."""
    from dsr.requests import RequestError, Verification, get_request, verify

    rt = _runtime(config)
    try:
        with rt.sessions() as session:
            verify(session, get_request(session, request_id), Verification(method, by, dt.datetime.now(dt.UTC)), rt.estate.staff)
            session.commit()
    except RequestError as exc:
        raise _fail(str(exc)) from None
    console.print(f"{request_id} verified")


@request_app.command("list")
def request_list(overdue: bool = typer.Option(False, help="Only requests past their due date and not completed."), config: ConfigDir = DEFAULT_CONFIG) -> None:
    """Requests with status and due date (no personal data)."""
    from dsr.approval import expire_stale
    from dsr.requests import list_requests

    rt = _runtime(config)
    now = dt.datetime.now(dt.UTC)
    table = Table(Column("id", no_wrap=True, min_width=21), "kind", "status", "received", "due", "channel", "department")
    with rt.sessions() as session:
        expire_stale(session, now)  # plans nobody decided on in time
        for row in list_requests(session, overdue_at=now if overdue else None):
            table.add_row(row.id, row.kind, row.status, f"{row.received_at:%Y-%m-%d}", f"{row.due_at:%Y-%m-%d}", row.channel, row.department)
    console.print(table)


@request_app.command("recover")
def request_recover(
    request_id: str,
    by: Annotated[str, typer.Option("--by", help="Who releases the request's run (a staff id with a directory).")],
    config: ConfigDir = DEFAULT_CONFIG,
) -> None:
    """Release a request from a run that is gone but cannot be judged dead automatically (its
    machine was lost); recorded with who. A live run is never released."""
    from dsr.fulfilment import recover
    from dsr.requests import RequestError
    from flows.tasks import PrefectRuns

    try:
        console.print(recover(_runtime(config), request_id, by, PrefectRuns()), highlight=False)
    except RequestError as exc:
        raise _fail(str(exc)) from None


@request_app.command("expire")
def request_expire(config: ConfigDir = DEFAULT_CONFIG) -> None:
    """Close as expired every request whose plan was not decided by its deadline (for cron; `serve` does it itself)."""
    from dsr.approval import expire_stale

    rt = _runtime(config)
    with rt.sessions() as session:
        expired = expire_stale(session)
    console.print(f"{len(expired)} request(s) expired" + (f": {', '.join(expired)}" if expired else ""))


@request_app.command("show")
def request_show(request_id: str, config: ConfigDir = DEFAULT_CONFIG) -> None:
    """One request: its evidence, status history and actions. Identifiers are shown by kind only."""
    from dsr.requests import RequestError, get_request

    rt = _runtime(config)
    with rt.sessions() as session:
        try:
            row = get_request(session, request_id)
        except RequestError as exc:
            raise _fail(str(exc)) from None
        kinds = ", ".join(sorted({i["kind"] for i in row.subject})) if row.subject else "(purged after completion)"
        console.print(f"[bold]{row.id}[/] {row.kind} \\[{row.status}]  received {row.received_at:%Y-%m-%d %H:%M} due {row.due_at:%Y-%m-%d}")
        console.print(f"channel {row.channel}, department {row.department}, taken by {row.requested_by}")
        console.print(f"verified: {row.verification_method} by {row.verified_by} at {row.verified_at}" if row.verified_at else "verified: [red]no[/]")
        console.print(f"identifiers: {kinds}; {len(row.subject_commitments)} salted commitment(s) in its receipts")
        if row.outcome:
            console.print(f"outcome: {row.outcome}", highlight=False)
        history = Table("at", "from", "to", "by", "note", title="status history")
        for e in row.events:
            history.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.from_status or "", e.to_status, e.actor, e.note)
        console.print(history)
        if row.plan:
            from dsr.approval import decisions, plan_table
            from dsr.plan import ErasurePlan

            plan = ErasurePlan.from_json(row.plan)
            steps = Table("system", "collection", "records", "action", "fields", "legal basis", title=f"plan {plan.digest}")
            for step in plan_table(plan):
                steps.add_row(*(str(v) for v in step.values()))
            console.print(steps)
            if row.approval_due_at and row.status == "awaiting_approval":
                console.print(f"awaits approval until {row.approval_due_at:%Y-%m-%d %H:%M} UTC: hkt-dsr approve {row.id} --as NAME --digest {plan.digest}", highlight=False)
            ledger = Table("at", "decision", "by", "digest", "via", "reason", title="decisions")
            for d in decisions(session, row.id):
                ledger.add_row(f"{d.at:%Y-%m-%d %H:%M:%S}", d.verdict, d.actor, d.plan_digest, d.via, d.reason)
            if ledger.rows:
                console.print(ledger)
        if row.actions:
            actions = Table("step", "state", "planned", "affected", title="actions")
            for a in row.actions:
                actions.add_row(a.step, a.state, str(a.planned_count), str(a.affected_count))
            console.print(actions)


@request_app.command("opening")
def request_opening(request_id: str, config: ConfigDir = DEFAULT_CONFIG) -> None:
    """The opening (salt) of a request's subject commitments, for the person or an auditor who must
    check which receipts concern them (`hkt-dsr-verify subject`). Give it to them alone."""
    from dsr.requests import RequestError, get_request

    rt = _runtime(config)
    with rt.sessions() as session:
        try:
            print(get_request(session, request_id).subject_salt)
        except RequestError as exc:
            raise _fail(str(exc)) from None


# ------------------------------------------------------------------ suppression


@suppression_app.command("check")
def suppression_check(
    email: Annotated[str | None, typer.Option(help="An email an import wants to subscribe.")] = None,
    phone: Annotated[str | None, typer.Option(help="A phone number an import wants to subscribe.")] = None,
    config: ConfigDir = DEFAULT_CONFIG,
) -> None:
    """Exit 1 if the address or number opted out of direct mail: an import must not subscribe it."""
    from dsr.suppression import is_suppressed

    if bool(email) == bool(phone):
        raise _fail("give exactly one of --email or --phone", 2)
    try:
        identifier = Identifier.parse(IdentifierKind.EMAIL, email) if email else Identifier.parse(IdentifierKind.PHONE, phone or "")
    except IdentifierError as exc:
        raise _fail(str(exc), 2) from None
    rt = _runtime(config)
    with rt.sessions() as session:
        suppressed = is_suppressed(session, rt.keys, identifier)
    console.print("suppressed: do not subscribe" if suppressed else "not suppressed")
    raise typer.Exit(1 if suppressed else 0)


# ------------------------------------------------------------------ legal holds


@hold_app.command("add")
def hold_add(
    basis: Annotated[str, typer.Option("--basis", help="The legal basis: order, authority, reference.")],
    by: Annotated[str, typer.Option("--by", help="Who places the hold.")],
    email: Annotated[list[str] | None, typer.Option(help="Hold this subject's data (repeatable).")] = None,
    phone: Annotated[list[str] | None, typer.Option(help="Hold this subject's data (repeatable).")] = None,
    customer_id: Annotated[list[str] | None, typer.Option("--customer-id", help="Hold this subject's data.")] = None,
    system: Annotated[str | None, typer.Option(help="Hold (the subject's data in) this system.")] = None,
    collection: Annotated[str | None, typer.Option(help="Only this collection of --system.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day of the hold (YYYY-MM-DD); open-ended if omitted.")] = None,
    config: ConfigDir = DEFAULT_CONFIG,
) -> None:
    """Place a legal hold; prints its number. Erasure then retains what it covers, with this basis."""
    from dsr.holds import HoldError, add_hold

    raw = _raw_identifiers(email, phone, customer_id)
    rt = _runtime(config)
    try:
        identifiers = [Identifier.parse(kind, value) for kind, value in raw]
        last_day = dt.date.fromisoformat(until) if until else None
        with rt.sessions() as session:
            row = add_hold(session, rt.estate, rt.keys, legal_basis=basis, placed_by=by, identifiers=identifiers,
                           system=system, collection=collection, until=last_day)
            session.commit()
    except (HoldError, IdentifierError, ValueError) as exc:
        raise _fail(str(exc)) from None
    print(row.id)


@hold_app.command("list")
def hold_list(all_holds: bool = typer.Option(False, "--all", help="Include released holds."), config: ConfigDir = DEFAULT_CONFIG) -> None:
    """Holds with what they cover (a subject is shown as 'a subject', never by identifier)."""
    from dsr.control.models import LegalHoldRow

    rt = _runtime(config)
    table = Table("#", "covers", "legal basis", "until", "placed", "released")
    with rt.sessions() as session:
        for row in session.query(LegalHoldRow).order_by(LegalHoldRow.id):
            if row.released_at and not all_holds:
                continue
            where = ".".join(p for p in (row.system, row.collection) if p) or "every system"
            covers = f"a subject's data in {where}" if row.subject_macs else f"all data in {where}"
            released = f"{row.released_at:%Y-%m-%d} by {row.released_by}" if row.released_at else "-"
            table.add_row(str(row.id), covers, row.legal_basis, str(row.until or "-"), f"{row.placed_at:%Y-%m-%d} by {row.placed_by}", released)
    console.print(table)


@hold_app.command("release")
def hold_release(hold_id: int, by: Annotated[str, typer.Option("--by", help="Who releases it.")], config: ConfigDir = DEFAULT_CONFIG) -> None:
    """Release a hold (kept on record, with who and when)."""
    from dsr.holds import HoldError, release_hold

    rt = _runtime(config)
    try:
        with rt.sessions() as session:
            release_hold(session, hold_id, by)
            session.commit()
    except HoldError as exc:
        raise _fail(str(exc)) from None
    console.print(f"hold #{hold_id} released")


# ------------------------------------------------------------------ running


@app.command("run")
def run(request_id: str, config: ConfigDir = DEFAULT_CONFIG) -> None:
    """Run the flow for a request's kind in this process; an erasure or rectification plan waits for approval."""
    from dsr.requests import RequestError, runnable_request

    rt = _runtime(config)
    with rt.sessions() as session:
        try:  # refuse before Prefect starts; the flow checks again when it begins
            kind = runnable_request(session, request_id).kind
        except RequestError as exc:
            raise _fail(str(exc)) from None
    result = run_flow(kind, request_id, config)
    console.print(result)


def run_flow(kind: str, request_id: str, config: Path) -> dict:
    """Run a request's flow; a refused, failed, rejected or expired run exits non-zero with the reason."""
    from dsr.fulfilment import failure_reason
    from flows.deployments import FLOWS
    from flows.ephemeral import ephemeral_server_dies_with_us

    try:
        ephemeral_server_dies_with_us()
        state = FLOWS[kind](request_id=request_id, config_dir=str(config.resolve()), return_state=True)
    except Exception as exc:  # refused before the run began
        raise _fail(f"request {request_id} failed: {failure_reason(exc)}") from None
    if state.is_completed():
        return state.result()
    from dsr.requests import EXPIRED, REJECTED, get_request
    from dsr.runtime import runtime_for

    with runtime_for(str(config.resolve())).sessions() as session:  # the control database says how it ended
        request = get_request(session, request_id)
        if request.status in (REJECTED, EXPIRED):
            raise _fail(f"request {request_id} {request.status}: {request.outcome}", 2)
    try:
        state.result()
    except Exception as exc:  # the flow already recorded the failure on the request
        raise _fail(f"request {request_id} failed: {failure_reason(exc)}") from None
    raise _fail(f"request {request_id} ended {state.name}")


# ------------------------------------------------------------------ four-eyes approval


AsName = Annotated[str, typer.Option("--as", help="Who decides (your id in staff.yaml, or your name): not the person who took the request.")]


@app.command("approve")
def approve(
    request_id: str,
    as_: AsName,
    digest: Annotated[str, typer.Option("--digest", help="The digest of the plan you reviewed (hkt-dsr request show).")],
    config: ConfigDir = DEFAULT_CONFIG,
) -> None:
    """Approve a request's erasure or rectification plan; the waiting run then goes ahead."""
    _decide(request_id, as_, "approve", digest, "", config)


@app.command("reject")
def reject(
    request_id: str,
    as_: AsName,
    reason: Annotated[str, typer.Option("--reason", help="Why the plan must not run (kept on record: no personal data).")],
    digest: Annotated[str | None, typer.Option("--digest", help="The digest of the plan you reviewed.")] = None,
    config: ConfigDir = DEFAULT_CONFIG,
) -> None:
    """Reject a request's plan: nothing is changed, the request closes as rejected."""
    _decide(request_id, as_, "reject", digest, reason, config)


def _decide(request_id: str, actor: str, verdict: str, digest: str | None, reason: str, config: Path) -> None:
    """Record the decision in the control database (the source of truth), then wake the waiting run."""
    from dsr.approval import ApprovalError, decide
    from dsr.requests import RequestError, get_request

    rt = _runtime(config)
    with rt.sessions() as session:
        try:
            decision = decide(session, request_id, actor=actor, verdict=verdict, plan_digest=digest, via="cli", staff=rt.estate.staff, reason=reason)
        except (ApprovalError, RequestError) as exc:
            raise _fail(str(exc)) from None
        request = get_request(session, request_id)
        flow_run_id, kind = request.flow_run_id, request.kind
    console.print(f"{request_id}: plan {decision.plan_digest} {decision.verdict} by {decision.actor}; recorded", highlight=False)
    if flow_run_id is None:
        return
    from dsr.fulfilment import release_dead_run
    from flows.approval import resume_waiting_run
    from flows.ephemeral import ephemeral_server_dies_with_us
    from flows.tasks import PrefectRuns

    ephemeral_server_dies_with_us()
    if (evidence := release_dead_run(rt, request_id, PrefectRuns())) is not None:  # killed while it waited: the decision stands
        if not decision.approved:
            console.print(f"flow run {flow_run_id} had died while it waited ({evidence}); marked crashed", highlight=False)
            return
        console.print(f"flow run {flow_run_id} died while it waited ({evidence}); running the request now", highlight=False)
        console.print(run_flow(kind, request_id, config))
        return

    try:
        resumed = resume_waiting_run(flow_run_id, decision)
    except Exception as exc:  # noqa: BLE001 - the decision stands; say how to carry it to the run
        raise _fail(f"the decision is recorded, but flow run {flow_run_id} could not be resumed ({type(exc).__name__}: {exc}); "
                    f"resume it from the Prefect UI, or run `hkt-dsr run {request_id}`", 3) from None
    console.print(f"flow run {flow_run_id} resumed" if resumed else f"no run is waiting: the next run of {request_id} reads the decision")


@app.command("serve")
def serve(
    config: ConfigDir = DEFAULT_CONFIG,
    limit: int = typer.Option(4, help="Flow runs at a time in this process."),
) -> None:
    """Serve a Prefect deployment per request kind (start runs and approve plans from the Prefect UI)."""
    _runtime(config)  # a broken configuration is reported here, not in every run
    from flows.deployments import serve_requests

    serve_requests(config, limit)


# ------------------------------------------------------------------ datasets and receipts


@datasets_app.command("suggest")
def datasets_suggest(
    system: str,
    sample: int = typer.Option(DEFAULT_SAMPLE, "--sample", min=1, max=10_000, help="Records sampled per table (never a full read)."),
    config: ConfigDir = DEFAULT_CONFIG,
) -> None:
    """Propose dataset YAML for a system from its data map: only the customer's part (identity tables,
    what points at them, their own addresses), other people's tables as links, with the evidence in
    comments. Needs no policies.yaml. Review it, then `config check --strict`."""
    from dsr.datamap.scan import scan_one
    from dsr.datamap.suggest import suggest_dataset

    try:
        estate = load_estate(config, require_policy=False)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if system not in estate.systems:
        raise _fail(f"unknown system {system!r}; configured: {', '.join(sorted(estate.systems))}")
    data_map = scan_one(estate, system, sample)
    if system in data_map.errors:
        raise _fail(data_map.errors[system])
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(suggest_dataset(system, data_map.of_system(system)), sys.stdout)


@receipts_app.command("verify")
def receipts_verify(
    directory: Annotated[Path, typer.Argument(help="A directory of receipts (searched recursively), e.g. a request's folder.")],
    keys: Annotated[Path, typer.Option("--keys", help="The pinned keyring (keyring.json).")],
) -> None:
    """Check every receipt's canonical form, signature and key window against a pinned keyring, each
    certificate's inclusion proof, and that every receipt a certificate lists is in the folder."""
    from receipts.audit import verify_receipts
    from receipts.note import Keyring, NoteError

    try:
        keyring = Keyring.from_json(keys.read_bytes())
    except (OSError, NoteError) as exc:
        raise _fail(f"--keys {keys}: {exc}") from None
    files = sorted(p for p in directory.rglob("*.json") if p.name != "keyring.json")
    if not files:
        raise _fail(f"no receipts in {directory}")
    checks = verify_receipts(files, keyring, complete=True)
    for check in checks:
        name = check.name.removeprefix(f"{directory}/")
        console.print(f"{'[green]PASS[/]' if check.ok else '[red]FAIL[/]'} {escape(name)} {escape(check.detail)}", highlight=False)
    failed = sum(not c.ok for c in checks)
    console.print(f"{len(checks) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)


@receipts_app.command("publish")
def receipts_publish(request_id: str, config: ConfigDir = DEFAULT_CONFIG) -> None:
    """Write the request's receipt files from the ledger: whatever the folder lacks (idempotent)."""
    from dsr.sealing import publish

    written = publish(_runtime(config), request_id)
    console.print(f"{request_id}: {written} file(s) written from the ledger", highlight=False)


@ledger_app.command("export")
def ledger_export(directory: Path, config: ConfigDir = DEFAULT_CONFIG) -> None:
    """Write the audit bundle (every ledger entry, checkpoint, certificate proof, the keyring) for `hkt-dsr-verify log`."""
    from dsr.ledger import export_bundle

    bundle = export_bundle(_runtime(config), directory)
    console.print(f"{len(bundle.entries)} entries and {len(bundle.checkpoints)} checkpoint(s) in {directory}")


# ------------------------------------------------------------------ demo


@app.command("demo")
def demo(workdir: Path = typer.Option(Path("demo-workdir"), help="Where the demo estate, control database, exports and receipts go.")) -> None:
    """Build a fake HKT estate and fulfil a verified access and a verified erasure request, end to end."""
    from dsr.demo.run import run_demo

    os.environ["DSR_WORKDIR"] = str(workdir.resolve())
    raise typer.Exit(run_demo(workdir.resolve(), Console(width=max(console.width, 120))))


# ------------------------------------------------------------------ data map

datamap_app = typer.Typer(no_args_is_help=True, help="The data map: what personal data each system holds, from live schemas and samples.")
app.add_typer(datamap_app, name="datamap")


@datamap_app.command("scan")
def datamap_scan(
    system: Annotated[str | None, typer.Argument(help="One system (default: every configured system).")] = None,
    sample: int = typer.Option(DEFAULT_SAMPLE, "--sample", min=1, max=10_000, help="Records sampled per table or prefix (never a full read)."),
    show_all: bool = typer.Option(False, "--all", help="Also list columns where no personal data was found."),
    page: Path | None = typer.Option(None, "--page", help="Also write the HTML data map page into this directory."),
    config: ConfigDir = DEFAULT_CONFIG,
) -> None:
    """Reflect every table and prefix (declared or not), classify a bounded sample, store the map and
    report coverage, unmapped data and changes since the last scan. Needs no policies.yaml."""
    from dsr.datamap.publish import publish
    from dsr.datamap.scan import scan_estate

    try:
        estate = load_estate(config, require_policy=False)
        published = publish(estate, scan_estate(estate, [system] if system else None, sample), page)
    except (ConfigError, ValueError) as exc:
        raise _fail(str(exc)) from None
    columns = ("system", "collection", "column", "category", "identity", "confidence", "evidence")
    table = Table(*columns[:5], Column("confidence", justify="right"), "evidence (values showing / examined)", title="Data map")
    for row in published.rows(everything=show_all):
        table.add_row(*(f"{row[c]:.2f}" if c == "confidence" else str(row[c]) for c in columns))
    console.print(table)
    for line in published.findings:
        console.print(line, highlight=False)
    console.print(published.summary + (f"; page {published.page}" if published.page else ""), highlight=False)
    if published.data_map.errors:
        raise typer.Exit(1)


def main() -> None:
    """The `hkt-dsr` console script: an expected refusal is one `error:` line; a bug is its type and
    place, with the path of the file that keeps its traceback (which may quote data)."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the last word: nothing reaches the screen as a traceback
        from dsr.bugs import write_bug_report
        from dsr.fulfilment import SAFE_ERRORS, failure_reason

        if type(exc).__name__ in SAFE_ERRORS:
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            sys.exit(1)
        report = write_bug_report(exc)
        err.print(f"error: internal error: {failure_reason(exc)}" + (f"; traceback in {report}" if report else ""), markup=False, highlight=False, soft_wrap=True)
        sys.exit(70)


if __name__ == "__main__":
    main()
