"""SQL databases through SQLAlchemy: PostgreSQL, MariaDB/MySQL and SQLite are proven in tests.

Every lookup is a parameterised WHERE on the store's side (identity fields, reference fields,
primary keys), chunked and streamed; no table is ever read whole into Python.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, ColumnElement, Engine, MetaData, String, Table, create_engine, delete, event, func, inspect, or_, select, text, tuple_, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from connectors import base
from connectors.base import PSEUDONYM_PREFIX, AppliedStep, ApplyContext, CommitInDoubt, ConnectorError, ForeignKey, Key, Match, Mention, Step, TextMatcher
from dsr import failpoints
from dsr.config import DatasetConfig, FieldConfig, SystemConfig
from dsr.subject import Identifier, digits_forms, spellings

CHUNK = 500
COUNT_CAP = 1_000  # a table the store estimates smaller than this is counted, never beyond it
SAMPLE_OVERSHOOT = 3  # TABLESAMPLE asks for about this many times the rows wanted, so a sample rarely falls short


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def enable_sqlite_foreign_keys(engine: Engine) -> None:
    """SQLite enforces foreign keys only when each connection asks; waits instead of failing when busy."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages: erasure is physical
        cursor.close()


@contextmanager
def _quiet_reflection() -> Iterator[None]:
    """Expression indexes (lower(email)) serve lookups but SQLAlchemy cannot reflect them: not news."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
        yield


def _reason(exc: BaseException) -> str:
    """A failure's class, never its text: driver messages quote row values (personal data)."""
    orig = getattr(exc, "orig", None) or exc
    return f"{type(exc).__name__}/{type(orig).__name__}"


class SqlConnector:
    """A connector for one SQL database; collections are tables, fields are columns."""

    def __init__(self, system: str, config: SystemConfig, dataset: DatasetConfig):
        self.system = system
        self.dataset = dataset
        url = make_url(config.url)
        self._where = f"{url.get_backend_name()} database {url.database or ''}".strip()
        self.engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)  # errors never quote values
        enable_sqlite_foreign_keys(self.engine)
        self._tables: dict[str, Table] = {}
        self._undeclared: dict[str, Table] = {}  # tables in no dataset, reflected only to count what points at erased rows

    # ----------------------------------------------------------------- plumbing

    def _connect(self, what: str) -> Connection:
        try:
            return self.engine.connect()
        except SQLAlchemyError as exc:
            raise ConnectorError(f"system {self.system!r} ({self._where}) is unreachable while {what}: {_reason(exc)}") from None

    def _table(self, name: str) -> Table:
        if name not in self._tables:
            if name not in self.dataset.collections:
                raise ConnectorError(f"system {self.system!r}: collection {name!r} is not in its dataset")
            with self._connect(f"reflecting {name}") as conn, _quiet_reflection():
                try:
                    table = Table(name, MetaData(), autoload_with=conn)
                except NoSuchTableError:
                    raise ConnectorError(f"system {self.system!r}: table {name!r} does not exist") from None
            missing = [f for f in self.dataset.collections[name].fields if f not in table.c]
            if missing:
                raise ConnectorError(f"system {self.system!r}: table {name!r} has no column(s) {', '.join(missing)}")
            self._tables[name] = table
        return self._tables[name]

    def _key_columns(self, collection: str) -> list[Column[Any]]:
        table = self._table(collection)
        return [table.c[k] for k in self.dataset.collections[collection].primary_key]

    def _key_filter(self, collection: str, keys: Sequence[Key]) -> ColumnElement[bool]:
        columns = self._key_columns(collection)
        if len(columns) == 1:
            return columns[0].in_([k[0] for k in keys])
        return tuple_(*columns).in_([tuple(k) for k in keys])

    def _digits(self, column: Column[Any]) -> ColumnElement[Any]:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return func.regexp_replace(column, "[^0-9]", "", "g")
        if dialect in ("mysql", "mariadb"):
            return func.regexp_replace(column, "[^0-9]", "")
        expression: ColumnElement[Any] = column  # SQLite has no regexp_replace: strip the usual separators
        for separator in (" ", "-", "(", ")", "+", ".", "\u3000"):
            expression = func.replace(expression, separator, "")
        return expression

    def _identity_condition(self, table: Table, name: str, conf: FieldConfig, identifiers: Sequence[Identifier]) -> ColumnElement[bool]:
        """Compare the column (or its declared normal form) with values computed in Python."""
        match = conf.effective_match
        if match.column:
            return table.c[match.column].in_([i.value for i in identifiers])
        if match.expression == "lower":
            return func.lower(table.c[name]).in_(sorted({i.value.lower() for i in identifiers}))
        if match.expression == "digits":
            return self._digits(table.c[name]).in_(sorted({d for i in identifiers for d in digits_forms(i.kind, i.value)}))
        return table.c[name].in_(sorted({s for i in identifiers for s in spellings(i.kind, i.value)}))

    def _stream(self, collection: str, condition: ColumnElement[bool], columns: Sequence[str]) -> Iterator[dict[str, Any]]:
        table = self._table(collection)
        wanted = list(dict.fromkeys([*self.dataset.collections[collection].primary_key, *columns]))
        query = select(*(table.c[c] for c in wanted)).where(condition)
        with self._connect(f"reading {collection}") as conn:
            try:
                for row in conn.execution_options(stream_results=True, yield_per=CHUNK).execute(query):
                    yield dict(row._mapping)
            except SQLAlchemyError as exc:
                raise ConnectorError(f"system {self.system!r}: reading {collection} failed: {_reason(exc)}") from None

    def _key_of(self, collection: str, row: dict[str, Any]) -> Key:
        return tuple(row[k] for k in self.dataset.collections[collection].primary_key)

    # ----------------------------------------------------------------- lookups

    def find_by_identity(self, collection: str, identifiers: Sequence[Identifier], fields: Sequence[str]) -> Iterator[Match]:
        coll = self.dataset.collections[collection]
        table = self._table(collection)
        by_field = {
            name: [i for i in identifiers if i.kind is conf.identity]
            for name, conf in coll.fields.items()
            if conf.identity is not None and conf.identity.is_strong
        }
        by_field = {name: ids for name, ids in by_field.items() if ids}
        if not by_field:
            return
        condition = or_(*(self._identity_condition(table, name, coll.fields[name], ids) for name, ids in by_field.items()))
        read = [*fields, *by_field, *(coll.fields[n].effective_match.column for n in by_field if coll.fields[n].effective_match.column)]
        for row in self._stream(collection, condition, read):
            matched = tuple(
                sorted({i.kind.value for name, ids in by_field.items() for i in ids if _confirms(i, row, name, coll.fields[name])})
            )
            if matched:  # a spelling hit that does not normalise to the identifier is someone else
                yield Match(self._key_of(collection, row), {f: row[f] for f in fields}, matched)

    def find_by_values(self, collection: str, field: str, values: Sequence[Any], fields: Sequence[str]) -> Iterator[Match]:
        column = self._table(collection).c[field]
        for chunk in _chunks(sorted(set(values), key=repr)):
            for row in self._stream(collection, column.in_(chunk), fields):
                yield Match(self._key_of(collection, row), {f: row[f] for f in fields}, (f"{collection}.{field}",))

    def scan(self, collection: str, matcher: TextMatcher) -> Iterator[Mention]:
        """Free-text fields: the database picks candidate rows with LIKE, the matcher decides."""
        fields = self.dataset.collections[collection].free_text_fields
        if not fields:
            return
        table = self._table(collection)
        fragments = matcher.like_fragments()
        condition = or_(*(func.lower(table.c[f]).like(f"%{_escape_like(frag.lower())}%", escape="!") for f in fields for frag in fragments))
        for row in self._stream(collection, condition, fields):
            for f in fields:
                hits = matcher.find(row[f]) if isinstance(row[f], str) else []
                if hits:
                    yield Mention.of_hits(self._key_of(collection, row), f, hits)

    def read(self, collection: str, keys: Sequence[Key], fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        for chunk in _chunks(keys):
            for row in self._stream(collection, self._key_filter(collection, chunk), fields):
                yield {f: row[f] for f in fields}

    # ----------------------------------------------------------------- changes

    def apply(self, steps: Sequence[Step], context: ApplyContext) -> list[AppliedStep]:
        affected: list[AppliedStep] = []
        with self._connect("applying changes") as conn:
            transaction = conn.begin()
            try:
                for step in steps:
                    affected.append(AppliedStep(sum(self._apply_chunk(conn, step, chunk, context) for chunk in _chunks(step.keys))))
            except SQLAlchemyError as exc:
                with suppress(SQLAlchemyError):  # a lost connection rolls back on the server by itself
                    transaction.rollback()
                current = steps[len(affected)] if len(affected) < len(steps) else steps[-1]
                raise ConnectorError(
                    f"system {self.system!r}: {current.operation} on {current.collection} failed and every change "
                    f"to this system was rolled back: {_reason(exc)}"
                ) from None
            failpoints.reach(f"before-commit:{self.system}")
            try:
                transaction.commit()
            except SQLAlchemyError as exc:
                raise CommitInDoubt(
                    f"system {self.system!r}: no reply to COMMIT ({_reason(exc)}); the changes may or may not have been committed. "
                    "A rerun reads the recorded targets again and settles it"
                ) from None
        return affected

    def _apply_chunk(self, conn: Connection, step: Step, keys: list[Key], context: ApplyContext) -> int:
        table = self._table(step.collection)
        where = self._key_filter(step.collection, keys)
        if step.operation == "delete_record":
            return conn.execute(delete(table).where(where)).rowcount
        if step.operation == "null_field":
            return conn.execute(update(table).where(where).values({f: None for f in step.fields})).rowcount
        if step.operation == "set_false":
            return conn.execute(update(table).where(where).values({f: False for f in step.fields})).rowcount
        if step.operation == "mask":
            values = {f: _masked(table.c[f], context.mask_text) for f in step.fields}
            return conn.execute(update(table).where(where).values(values)).rowcount
        if step.operation in ("pseudonymize", "redact", "rectify"):
            return self._rewrite_values(conn, table, step, keys, context)
        raise ConnectorError(f"system {self.system!r}: unknown operation {step.operation!r}")

    def _rewrite_values(self, conn: Connection, table: Table, step: Step, keys: list[Key], context: ApplyContext) -> int:
        """Read-modify-write of text values, inside the transaction: pseudonyms, redactions, corrections."""
        key_columns = self._key_columns(step.collection)
        query = select(*key_columns, *(table.c[f] for f in step.fields)).where(self._key_filter(step.collection, keys))
        if self.engine.dialect.name != "sqlite":
            query = query.with_for_update()  # nobody edits the note between our read and our write
        changed = 0
        for row in conn.execute(query).all():
            values = {}
            for f in step.fields:
                value = row._mapping[f]
                if value is None:
                    continue
                if step.operation == "pseudonymize" and not str(value).startswith(PSEUDONYM_PREFIX):
                    values[f] = context.pseudonym(step.collection, f, str(value))
                elif step.operation == "redact" and context.redact is not None:
                    redacted, count = context.redact(str(value))
                    if count:
                        values[f] = redacted
                elif step.operation == "rectify" and context.correct is not None:
                    corrected = context.correct(str(value))
                    if corrected is not None and corrected != value:
                        values[f] = corrected
            if values:
                key = tuple(row._mapping[c.name] for c in key_columns)
                conn.execute(update(table).where(self._key_filter(step.collection, [key])).values(values))
                changed += 1
        return changed

    # ----------------------------------------------------------------- structure

    def foreign_keys(self) -> list[ForeignKey]:
        """Every foreign key of every table of the database (views have none; inheritance children
        and partitions are folded into their parent, see `_inheritance_roots`)."""
        with self._connect("reflecting foreign keys") as conn, _quiet_reflection():
            inspector = inspect(conn)
            roots = _inheritance_roots(conn)
            found: dict[tuple[Any, ...], ForeignKey] = {}
            for table in sorted(inspector.get_table_names()):
                nullable = {c["name"]: c["nullable"] for c in inspector.get_columns(table)}
                for fk in inspector.get_foreign_keys(table):
                    if fk.get("referred_schema") is not None or not fk["constrained_columns"]:
                        continue  # another schema's table is another store's business
                    collection, parent = roots.get(table, table), roots.get(fk["referred_table"], fk["referred_table"])
                    fields, parent_fields = tuple(fk["constrained_columns"]), tuple(fk["referred_columns"])
                    key = (collection, fields, parent, parent_fields)
                    if key not in found:  # a partition repeats its parent's key: one constraint
                        found[key] = ForeignKey(collection, fields, parent, parent_fields, all(nullable.get(f, True) for f in fields), fk.get("name"))
            return [found[k] for k in sorted(found, key=repr)]

    def referencing(self, collection: str, fields: Sequence[str], values: Sequence[Key]) -> Iterator[tuple[Key, Key]]:
        table = self._any_table(collection)
        declared = self.dataset.collections.get(collection)
        key_names = declared.primary_key if declared is not None else [c.name for c in table.primary_key.columns]  # () without one: only counted
        columns = [table.c[f] for f in fields]
        with self._connect(f"reading {collection}") as conn:
            for chunk in _chunks(sorted(set(values), key=repr)):
                condition = columns[0].in_([v[0] for v in chunk]) if len(columns) == 1 else tuple_(*columns).in_([tuple(v) for v in chunk])
                query = select(*(table.c[k] for k in key_names), *columns).where(condition)
                try:
                    for row in conn.execution_options(stream_results=True, yield_per=CHUNK).execute(query):
                        mapping = row._mapping
                        yield tuple(mapping[k] for k in key_names), tuple(mapping[c] for c in columns)
                except SQLAlchemyError as exc:
                    raise ConnectorError(f"system {self.system!r}: reading {collection} failed: {_reason(exc)}") from None

    def _any_table(self, name: str) -> Table:
        """A table of the database, declared or not: for counting rows that point at erased ones.
        Kept apart from `_table`, which only ever hands out the dataset's collections."""
        if name in self.dataset.collections:
            return self._table(name)
        if name not in self._undeclared:
            with self._connect(f"reflecting {name}") as conn, _quiet_reflection():
                try:
                    self._undeclared[name] = Table(name, MetaData(), autoload_with=conn)
                except NoSuchTableError:
                    raise ConnectorError(f"system {self.system!r}: table {name!r} does not exist") from None
        return self._undeclared[name]

    def check(self) -> list[str]:
        """Warnings about the live database: identity lookups that no index serves."""
        warnings = []
        with self._connect("checking indexes") as conn, _quiet_reflection():
            inspector = inspect(conn)
            for name, coll in self.dataset.collections.items():
                self._table(name)
                indexed = _indexed_columns(inspector, name)
                for fname, conf in coll.fields.items():
                    if conf.identity is None or not conf.identity.is_strong:
                        continue  # names and addresses never drive a lookup
                    match = conf.effective_match
                    if match.column or match.expression == "spellings" or not match.expression:
                        target = match.column or fname
                        if target not in indexed:
                            warnings.append(f"{self.system}.{name}.{target}: identity field has no index; lookups scan the table")
                    elif not self._has_expression_index(conn, inspector, name, fname):
                        warnings.append(
                            f"{self.system}.{name}.{fname}: matched by {match.expression}({fname}) and no index on that expression "
                            f"was found ({self.engine.dialect.name}); lookups scan the table unless one exists"
                        )
        return warnings

    def _has_expression_index(self, conn: Connection, inspector: Any, table: str, column: str) -> bool:
        """Expression indexes: reflected on PostgreSQL, read from sqlite_master on SQLite, invisible on MySQL."""
        call = re.compile(rf"\w+\s*\([^)]*\b{re.escape(column)}\b", re.IGNORECASE)  # a function applied to the column
        if self.engine.dialect.name == "sqlite":
            rows = conn.execute(select(text("sql")).select_from(text("sqlite_master")).where(text("type = 'index' AND tbl_name = :t")), {"t": table})
            return any(sql and call.search(sql.split("(", 1)[-1]) for (sql,) in rows)
        return any(call.search(str(e)) for index in inspector.get_indexes(table) for e in index.get("expressions") or [])

    def schema(self) -> base.StoreSchema:
        """Every table of the database (views left out), in one pass of bulk reflection."""
        with self._connect("reflecting the schema") as conn, _quiet_reflection():
            try:
                inspector = inspect(conn)
                columns = {name: cols for (_, name), cols in inspector.get_multi_columns().items()}
                keys = {name: pk for (_, name), pk in inspector.get_multi_pk_constraint().items()}
                constraints = {name: fks for (_, name), fks in inspector.get_multi_foreign_keys().items()}
                parents = self._inheritance(conn)
                estimates = {name: self._row_estimate(conn, name) for name in columns}
            except SQLAlchemyError as exc:
                raise ConnectorError(f"system {self.system!r}: reflecting the schema failed: {_reason(exc)}") from None
        collections = []
        for name in sorted(columns):
            nullable = {c["name"]: bool(c["nullable"]) for c in columns[name]}
            fks = tuple(
                ForeignKey(name, tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]),
                           all(nullable.get(c, True) for c in fk["constrained_columns"]))
                for fk in constraints.get(name, []) if fk.get("referred_table") and fk.get("constrained_columns")
            )
            kind, parent = parents.get(name, ("table", None))
            collections.append(base.CollectionInfo(
                name=name, kind=kind, parent=parent,  # type: ignore[arg-type]
                columns=tuple(base.ColumnInfo(c["name"], self._type_text(c["type"]), bool(c["nullable"])) for c in columns[name]),
                primary_key=tuple((keys.get(name) or {}).get("constrained_columns") or ()), foreign_keys=fks, rows_estimate=estimates[name],
            ))
        return base.StoreSchema(self.system, tuple(collections))

    def sample(self, collection: str, n: int) -> list[dict[str, Any]]:
        """At most n rows: on PostgreSQL a TABLESAMPLE SYSTEM of a few random pages when the table is
        larger than the sample, elsewhere (and as a fallback) the first n rows the database returns.
        Either way the database stops reading after n rows: no table is ever read whole."""
        if n < 1:
            raise ConnectorError(f"system {self.system!r}: a sample needs at least one row (asked for {n})")
        with self._connect(f"sampling {collection}") as conn, _quiet_reflection():
            try:
                names = [c["name"] for c in inspect(conn).get_columns(collection)]
            except NoSuchTableError:
                raise ConnectorError(f"system {self.system!r}: table {collection!r} does not exist") from None
            except SQLAlchemyError as exc:
                raise ConnectorError(f"system {self.system!r}: reflecting {collection} failed: {_reason(exc)}") from None
            target = sa.table(collection, *(sa.column(c) for c in names))  # identifiers quoted by the dialect, never formatted in
            try:
                rows: list[dict[str, Any]] = []
                if self.engine.dialect.name == "postgresql":
                    estimate = self._row_estimate(conn, collection) or 0
                    percent = 100.0 * SAMPLE_OVERSHOOT * n / estimate if estimate else 100.0
                    while percent < 100.0 and len(rows) < n:  # a few random pages; more when they fell short
                        sampled = sa.tablesample(target, func.system(sa.literal_column(repr(round(percent, 6)))))
                        rows = [dict(r._mapping) for r in conn.execute(select(*sampled.c).limit(n))]
                        percent *= 4
                if len(rows) < n:
                    rows = [dict(r._mapping) for r in conn.execute(select(*target.c).limit(n))]
            except SQLAlchemyError as exc:
                raise ConnectorError(f"system {self.system!r}: sampling {collection} failed: {_reason(exc)}") from None
        return rows

    def _inheritance(self, conn: Connection) -> dict[str, tuple[str, str]]:
        """PostgreSQL tables that belong to another: child name -> (partition or inheritance_child, parent)."""
        if self.engine.dialect.name != "postgresql":
            return {}
        rows = conn.execute(text(
            "SELECT c.relname, p.relname, c.relispartition FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
        ))
        return {child: ("partition" if is_partition else "inheritance_child", parent) for child, parent, is_partition in rows}

    def _row_estimate(self, conn: Connection, name: str) -> int:
        """Rows of a table: the store's estimate for a large one (PostgreSQL's planner, which scales
        its statistics to the table's current size, analysed or not; MariaDB's statistics); a small
        one, or one the store has no estimate of, is counted, but never beyond COUNT_CAP."""
        dialect = self.engine.dialect.name
        estimate = None
        if dialect == "postgresql":
            quoted = self.engine.dialect.identifier_preparer.quote(name)
            estimate = conn.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {quoted}")).scalar_one()[0]["Plan"]["Plan Rows"]
        elif dialect in ("mysql", "mariadb"):
            estimate = conn.execute(text(
                "SELECT table_rows FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = :t"
            ), {"t": name}).scalar()
        if estimate is not None and estimate >= COUNT_CAP:
            return int(estimate)
        bounded = select(sa.literal_column("1")).select_from(sa.table(name)).limit(COUNT_CAP).subquery()
        return int(conn.execute(select(func.count()).select_from(bounded)).scalar_one())

    def _type_text(self, type_: Any) -> str:
        try:
            return str(type_.compile(dialect=self.engine.dialect))
        except Exception:  # a type the dialect cannot spell back (NullType): its class says enough
            return type(type_).__name__

    def purge_deleted(self, collections: Sequence[str]) -> str | None:
        """PostgreSQL keeps deleted and overwritten rows as dead tuples until VACUUM; a plain VACUUM
        of the changed tables removes them (without locking out readers or writers). SQLite
        overwrites deleted content itself (secure_delete, set on every connection); InnoDB's purge
        threads remove old row versions on their own."""
        if self.engine.dialect.name == "sqlite":
            return "secure_delete: deleted content overwritten in the file"
        if self.engine.dialect.name != "postgresql":
            return None
        tables = [self._table(name) for name in sorted(set(collections))]
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                preparer = self.engine.dialect.identifier_preparer
                for table in tables:
                    conn.exec_driver_sql(f"VACUUM {preparer.format_table(table)}")  # quoted by the dialect: a name is never SQL
        except SQLAlchemyError as exc:
            raise ConnectorError(f"system {self.system!r}: VACUUM after the erasure failed: {_reason(exc)}") from None
        return f"VACUUM of {len(tables)} table(s): dead row versions pruned, their space reused by later writes"

    def close(self) -> None:
        self.engine.dispose()


def _escape_like(text: str) -> str:
    """LIKE wildcards in a fragment are data ('!' escapes: the same on every dialect)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _confirms(identifier: Identifier, row: dict[str, Any], name: str, conf: FieldConfig) -> bool:
    column = conf.effective_match.column
    if column and row.get(column) == identifier.value:
        return True
    return identifier.matches(row.get(name))


def _masked(column: Column[Any], mask_text: str) -> Any:
    """The mask for a column: fixed text for strings (cut to the column's length), NULL otherwise."""
    if isinstance(column.type, String):
        return mask_text[: column.type.length] if column.type.length else mask_text
    if not column.nullable:
        raise ConnectorError(f"column {column.table.name}.{column.name} is neither text nor nullable; mask it with null_field or pseudonymize instead")
    return None


def _inheritance_roots(conn: Connection) -> dict[str, str]:
    """PostgreSQL: every inheritance child or partition of the current schema -> its top parent.

    A child's rows are read, and deleted, through the parent (SELECT and DELETE on the parent cover
    its children), so its foreign keys are the parent's. Other databases have no inheritance."""
    if conn.dialect.name != "postgresql":
        return {}
    rows = conn.execute(text(
        "SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
    ))
    parent_of = {child: parent for child, parent in rows}
    roots = {}
    for child in parent_of:
        root = child
        while root in parent_of:
            root = parent_of[root]
        roots[child] = root
    return roots


def _indexed_columns(inspector: Any, table: str) -> set[str]:
    """Columns that lead an index, a unique constraint or the primary key."""
    leading = {i["column_names"][0] for i in inspector.get_indexes(table) if i.get("column_names") and i["column_names"][0]}
    leading |= {u["column_names"][0] for u in inspector.get_unique_constraints(table) if u.get("column_names")}
    pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
    return leading | set(pk[:1])
