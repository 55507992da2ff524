"""Tables of the control database. Schema changes go through Alembic (dsr/control/migrations)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, LargeBinary, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are UTC and always come back timezone-aware, on every backend.

    SQLite drops the offset of a stored datetime; receipts and manifests must never show a time
    whose zone an auditor has to guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the control database stores UTC-aware times only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class RequestRow(Base):
    """A data subject request. `subject` holds normalised identifiers until the request is closed."""

    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), index=True)
    subject: Mapped[list | None] = mapped_column(JSON, nullable=True)
    subject_commitments: Mapped[list] = mapped_column(JSON)
    subject_salt: Mapped[str] = mapped_column(String(64))  # the commitments' opening; see receipts.commitment
    corrections: Mapped[list | None] = mapped_column(JSON, nullable=True)  # rectify: [{kind, old, new}], dropped when closed
    channel: Mapped[str] = mapped_column(String(40))
    department: Mapped[str] = mapped_column(String(80))
    verification_method: Mapped[str | None] = mapped_column(String(80), nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str] = mapped_column(String(80))
    policy_id: Mapped[str] = mapped_column(String(80))
    policy_digest: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    export_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    plan: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the Prefect run that waits for approval
    approval_due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    events: Mapped[list[StatusEvent]] = relationship(order_by="StatusEvent.id", cascade="all, delete-orphan")
    actions: Mapped[list[ActionRow]] = relationship(order_by="ActionRow.id", cascade="all, delete-orphan")


class StatusEvent(Base):
    """Every status change of a request: who, when, from what to what."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")


class ApprovalRow(Base):
    """A decision on a request's plan (four-eyes): approved, rejected, or an attempt that was refused
    and why. Only ever inserted (see migration 0005): the record of who allowed what to be destroyed."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(16))  # approved | rejected | refused
    actor: Mapped[str] = mapped_column(String(80))
    plan_digest: Mapped[str] = mapped_column(String(80))  # the digest the actor gave ("-": none; a rejection without one: the plan's)
    via: Mapped[str] = mapped_column(String(40))  # cli | prefect (the UI's input form) | demo
    prompt: Mapped[str | None] = mapped_column(String(80), nullable=True)  # the Prefect pause that carried it
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ActionRow(Base):
    """One step of a request's plan, written as intent before it runs and completed after.

    A rerun of a crashed request reads these rows: `done` steps are not repeated, `intent` steps
    are finished (and recognised as already applied when the store shows it), nothing is skipped.
    """

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("request_id", "step", name="uq_actions_request_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    step: Mapped[str] = mapped_column(String(200))
    system: Mapped[str] = mapped_column(String(80))
    collection: Mapped[str] = mapped_column(String(120))
    operation: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16))  # intent | done | failed
    planned_count: Mapped[int] = mapped_column(Integer, default=0)
    affected_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    target_digest: Mapped[str | None] = mapped_column(String(80), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class LedgerEntry(Base):
    """One signed receipt in the append-only ledger (an RFC 6962 Merkle tree leaf).

    The application only ever inserts; the database refuses UPDATE and DELETE (see migration 0002).
    """

    __tablename__ = "ledger_entries"

    index: Mapped[int] = mapped_column("idx", Integer, primary_key=True, autoincrement=False)
    receipt_id: Mapped[str] = mapped_column(String(40), unique=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # action | certificate
    step: Mapped[str] = mapped_column(String(200))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    appended_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class CheckpointRow(Base):
    """A signed checkpoint (C2SP signed note) of the ledger at some size. Only ever inserted."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(Integer, index=True)
    root: Mapped[str] = mapped_column(String(64))
    note: Mapped[bytes] = mapped_column(LargeBinary)
    signed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LegalHoldRow(Base):
    """A legal hold (court or police order by due legal process, a retention duty): what it covers,
    why, who placed and released it. A subject hold names the person only by keyed HMACs."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    legal_basis: Mapped[str] = mapped_column(Text)
    subject_macs: Mapped[list | None] = mapped_column(JSON, nullable=True)  # None: covers everyone's data there
    system: Mapped[str | None] = mapped_column(String(80), nullable=True)
    collection: Mapped[str | None] = mapped_column(String(120), nullable=True)
    until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    placed_by: Mapped[str] = mapped_column(String(80))
    placed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    released_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    released_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class SuppressionRow(Base):
    """A withdrawn direct-mail consent (§6) that a later import must not undo. Only a keyed HMAC
    of each identifier is kept, so the list itself discloses nobody."""

    __tablename__ = "suppressions"

    identifier_mac: Mapped[str] = mapped_column(String(80), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DataMapRow(Base):
    """One system's part of a data map scan: its collections, columns, categories, identity fields
    and evidence counts (never a sampled value), or why it could not be scanned. Every scan adds
    rows; the latest per system is the current map, the one before it is what drift compares with."""

    __tablename__ = "data_maps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system: Mapped[str] = mapped_column(String(80), index=True)
    scanned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    sample_size: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    collections: Mapped[list] = mapped_column(JSON)
