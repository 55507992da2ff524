"""`config check`: everything a request would trip over later, found now, each with file and line.

Loading the configuration finds what the files alone show. This adds what only the estate shows:
connector kinds that are not installed; tables and columns the live stores lack; identity lookups no
index serves; a policy that planning would refuse for some customer (a dry-run plan of a synthetic
customer who has a record in every declared collection); personal data the data map found that no
dataset declares; what the last scan found that the one before did not, and tables that appeared
since the map was made; pseudonyms of fields with so few values that a pseudonym hides nothing.
Problems found in a store or by planning are placed at the line of the collection or field they
concern, like any other configuration problem.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from connectors.base import Connector, ConnectorError, ForeignKey, Key, StoreSchema
from connectors.registry import UnknownConnectorKind, connector_class, kinds
from dsr.config import ConfigError, ConfigProblem, DatasetConfig, Estate, load_estate, open_document
from dsr.datamap.coverage import Gap, coverage, drift
from dsr.datamap.model import DataMap
from dsr.discovery import Discovery, Finding
from dsr.plan import FIELD_PRECEDENCE, PlanError, plan_erasure

#: A pseudonym of a field with at most this many distinct values in the sample (a country, a gender)
#: tells its holders apart no better than the value did.
FEW_VALUES = 12
#: Gaps of the data map that are personal data no dataset declares (errors under --strict).
UNMAPPED = ("unmapped_collection", "undeclared_column")
_CHECK_LINE = re.compile(r"^(?P<system>\w+)\.(?P<collection>\w+)(?:\.(?P<field>\w+))?: (?P<message>.*)$", re.DOTALL)

def _connect(estate: Estate, system: str, dataset: DatasetConfig) -> Connector:
    config = estate.systems[system]
    return connector_class(config.kind)(system, config, dataset)


@dataclass
class CheckReport:
    """What `config check` found: every problem, errors and warnings, in the order they were found."""

    estate: Estate | None
    problems: list[ConfigProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[ConfigProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[ConfigProblem]:
        return [p for p in self.problems if p.severity == "warning"]


class _Places:
    """Lines of the configuration's files for problems found after loading."""

    def __init__(self, estate: Estate):
        self.estate = estate
        self._docs: dict[str, Any] = {}

    def at(self, file: str, loc: tuple[Any, ...], message: str, severity: str = "error") -> ConfigProblem:
        if file not in self._docs:
            self._docs[file] = open_document(self.estate.root, file)
        doc = self._docs[file]
        if doc is None:
            return ConfigProblem(file, None, ".".join(map(str, loc)), message, severity)  # type: ignore[arg-type]
        return doc.problem(loc, message, severity)

    def system(self, system: str, message: str, key: str | None = None, severity: str = "error") -> ConfigProblem:
        return self.at("systems.yaml", ("systems", system) + ((key,) if key else ()), message, severity)

    def collection(self, system: str, collection: str | None, message: str, severity: str = "error", field_name: str | None = None) -> ConfigProblem:
        file = self.estate.dataset_files.get(system)
        if file is None:
            return self.system(system, message, severity=severity)
        loc: tuple[Any, ...] = ("collections",)
        dataset = self.estate.datasets[system]
        if collection in dataset.collections:
            loc += (collection,)
            if field_name and field_name in dataset.collections[collection].fields:
                loc += ("fields", field_name)
        return self.at(file, loc, message, severity)


def check_config(root: Path | str, live: bool = True, strict: bool = False,
                 maps: Callable[[Estate], tuple[DataMap | None, DataMap | None]] | None = None) -> CheckReport:
    """Load and check a configuration directory. `live`: also ask every system (tables, columns,
    indexes, foreign keys for the dry-run plan). `strict`: personal data that no dataset declares is
    an error, not a warning. `maps` returns the estate's current data map and the one before it
    (default: from the control database)."""
    try:
        estate = load_estate(root)
    except ConfigError as exc:
        return CheckReport(None, list(exc.problems))
    report = CheckReport(estate, list(estate.warnings))
    places = _Places(estate)
    report.problems += _connector_kinds(estate, places)
    schemas: dict[str, StoreSchema] = {}
    if live:
        foreign_keys: dict[str, list[ForeignKey]] = {}
        for system in sorted(estate.datasets):
            if estate.systems.get(system) is None or estate.systems[system].kind not in kinds():
                continue  # reported above
            problems, schema, fks = _live_system(estate, system, places)
            report.problems += problems
            if schema is not None:
                schemas[system] = schema
            if fks is not None:
                foreign_keys[system] = fks
        if {s for s, d in estate.datasets.items() if _has_tables(d)} <= set(foreign_keys):  # a plan needs every store's constraints
            report.problems += dry_run_plan(estate, foreign_keys, places)
    try:
        current, previous = (maps or _stored_maps)(estate)
    except Exception as exc:  # the control database's driver may quote its URL: the error's type only
        report.problems.append(places.at("estate.yaml", ("control_db",), f"the data map could not be read from the control database: {type(exc).__name__}"))
    else:
        report.problems += data_map_problems(estate, current, previous, schemas, places, strict)
    return report


def _has_tables(dataset: DatasetConfig) -> bool:
    return any(c.objects is None for c in dataset.collections.values())


# --------------------------------------------------------------------------- connector kinds


def _connector_kinds(estate: Estate, places: _Places) -> list[ConfigProblem]:
    """Every system's kind must be an installed connector (entry point group hkt_dsr.connectors)."""
    installed = sorted(kinds())
    problems = []
    for name, system in estate.systems.items():
        if system.kind not in installed:
            close = difflib.get_close_matches(system.kind, installed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"installed kinds: {', '.join(installed)}"
            problems.append(places.system(name, f"no connector of kind {system.kind!r} is installed; {hint}", "kind"))
    return problems


# --------------------------------------------------------------------------- live stores


def _live_system(estate: Estate, system: str, places: _Places) -> tuple[list[ConfigProblem], StoreSchema | None, list[ForeignKey] | None]:
    """One system against its dataset: what the store lacks, then the connector's own checks and its
    foreign keys, asked of the collections the store has (so one missing table hides nothing else)."""
    dataset = estate.datasets[system]
    problems: list[ConfigProblem] = []
    try:
        connector = _connect(estate, system, DatasetConfig(system=system, collections={}))
    except (ConnectorError, UnknownConnectorKind) as exc:
        return [places.system(system, f"cannot open: {exc}")], None, None
    except Exception as exc:  # a driver's own error may quote the URL, password included: its type only
        return [places.system(system, f"cannot open: {type(exc).__name__}", "url")], None, None
    try:
        schema = connector.schema()
    except ConnectorError as exc:
        return [places.system(system, str(exc))], None, None
    finally:
        connector.close()

    healthy = {}
    tables = [name for name, coll in dataset.collections.items() if coll.objects is None]
    for name, coll in dataset.collections.items():
        if coll.objects is not None:  # an empty bucket has no prefix in the schema: ask about the collection alone
            problems += _probe(estate, system, name, places)
            continue
        info = schema.collection(name)
        if info is None:
            problems.append(places.collection(system, name, f"table {name!r} does not exist in system {system!r}"))
            continue
        columns = {c.name for c in info.columns}
        missing = [f for f in coll.fields if f not in columns]
        problems += [places.collection(system, name, f"column {f!r} does not exist in table {system}.{name}", field_name=f) for f in missing]
        if not missing:
            healthy[name] = coll
    fks: list[ForeignKey] | None = None
    try:
        connector = _connect(estate, system, DatasetConfig(system=system, collections=healthy))
    except Exception as exc:  # opened once already: only a driver's surprise gets here
        return problems + [places.system(system, f"cannot open: {type(exc).__name__}", "url")], schema, None
    try:
        problems += [_placed(places, system, w) for w in connector.check()]
        if len(healthy) == len(tables):  # a plan needs every table's constraints
            fks = connector.foreign_keys()
    except ConnectorError as exc:
        problems.append(places.system(system, str(exc)))
    finally:
        connector.close()
    return problems, schema, fks


def _probe(estate: Estate, system: str, collection: str, places: _Places) -> list[ConfigProblem]:
    """The connector's own checks of one collection, so that a failure names that collection's line."""
    try:
        connector = _connect(estate, system, DatasetConfig(system=system, collections={collection: estate.collection(system, collection)}))
    except Exception as exc:  # opened once already: only a driver's surprise gets here
        return [places.system(system, f"cannot open: {type(exc).__name__}", "url")]
    try:
        return [_placed(places, system, w) for w in connector.check()]
    except ConnectorError as exc:
        return [places.collection(system, collection, str(exc))]
    finally:
        connector.close()


def _placed(places: _Places, system: str, message: str) -> ConfigProblem:
    """A connector's check message ("system.collection[.field]: what") at the line it concerns."""
    match = _CHECK_LINE.match(message)
    if match is None or match["system"] != system:
        return places.system(system, message, severity="warning")
    return places.collection(system, match["collection"], message, "warning", field_name=match["field"])


# --------------------------------------------------------------------------- dry-run plan


def dry_run_plan(estate: Estate, foreign_keys: dict[str, list[ForeignKey]], places: _Places) -> list[ConfigProblem]:
    """Plan the erasure of a synthetic customer who has one record in every declared table: every
    refusal planning would give some real customer (a retained child whose NOT NULL key points at a
    deleted parent, a cycle nothing breaks) shows up now, at the collection it concerns. After each
    refusal, that collection leaves the synthetic customer and planning goes on, so all are listed."""
    findings = [
        Finding(system, name, ("synthetic",), "owned", "config-check")
        for system, dataset in sorted(estate.datasets.items())
        for name, coll in dataset.collections.items() if coll.objects is None
    ]
    problems = []
    while findings:
        try:
            plan_erasure(estate, "config-check", dt.datetime.now(dt.UTC), Discovery(list(findings)), lambda system: cast(Connector, _Constraints(foreign_keys.get(system, []))))
            break
        except PlanError as exc:
            concerned = _concerned(str(exc), findings)
            problems.append(places.collection(concerned[0], concerned[1], f"planning an erasure would refuse: {exc}") if concerned
                            else places.at("policies.yaml", ("erase",), f"planning an erasure would refuse: {exc}"))
            if concerned is None:
                break
            findings = [f for f in findings if (f.system, f.collection) != concerned]
    return problems


class _Constraints:
    """A store as a dry-run plan sees it: its enforced foreign keys, and no rows (nothing else points
    at the synthetic customer's records, none has a date), so every refusal comes from the policy and
    the constraints alone, never from whatever a real customer happens to have."""

    def __init__(self, foreign_keys: list[ForeignKey]):
        self._foreign_keys = foreign_keys

    def foreign_keys(self) -> list[ForeignKey]:
        return self._foreign_keys

    def referencing(self, collection: str, fields: Sequence[str], values: Sequence[Key]) -> Iterator[tuple[Key, Key]]:
        return iter(())

    def read(self, collection: str, keys: Sequence[Key], fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        return iter(())


def _concerned(message: str, findings: list[Finding]) -> tuple[str, str] | None:
    """The collection a planning refusal names first ("system.collection is kept but ...")."""
    positions = []
    for system, collection in {(f.system, f.collection) for f in findings}:
        hit = re.search(rf"(?<![\w.]){re.escape(system)}\.{re.escape(collection)}(?![\w])", message)
        if hit:
            positions.append((hit.start(), system, collection))
    return min(positions)[1:] if positions else None


# --------------------------------------------------------------------------- the data map


def _stored_maps(estate: Estate) -> tuple[DataMap | None, DataMap | None]:
    """The estate's current data map from the control database and the one it replaced (None before
    the first scan, and before the second)."""
    from dsr.control.db import session_factory
    from dsr.datamap.store import latest_map

    with session_factory(estate.settings.control_db)() as session:
        current = latest_map(session)
        return current, latest_map(session, before=current.scanned_at) if current else None


def data_map_problems(estate: Estate, data_map: DataMap | None, previous: DataMap | None, schemas: dict[str, StoreSchema], places: _Places,
                      strict: bool) -> list[ConfigProblem]:
    """Personal data the map found that no dataset declares (errors under `strict`), personal data
    the last scan found that the one before it did not, what is new in the live stores since the
    map was made, and pseudonyms that would hide nothing."""
    if data_map is None:
        return [places.at("systems.yaml", ("systems",), "no data map yet: personal data outside the datasets cannot be seen; run `hkt-dsr datamap scan`",
                          "error" if strict else "warning")]
    problems = []
    when = data_map.scanned_at.strftime("%Y-%m-%d %H:%M UTC")
    for gap in coverage(data_map, estate.datasets).gaps:
        if gap.kind in ("missing_collection", "missing_column") and gap.system in schemas:
            continue  # the live check said it already, about the store as it is now
        severity = "error" if strict and gap.kind in UNMAPPED else "warning"
        problems.append(_gap_problem(places, gap, f"data map of {when}", severity))
    if previous is not None:
        since = f"new since the data map of {previous.scanned_at.strftime('%Y-%m-%d %H:%M UTC')}, found by the scan of {when}"
        problems += [_gap_problem(places, change, since, "warning") for change in drift(previous, data_map)]
    for system, schema in sorted(schemas.items()):
        if system in data_map.errors or not data_map.of_system(system):
            continue
        for info in schema.collections:
            known = data_map.collection(system, info.name)
            if known is None:
                problems.append(places.collection(system, info.parent if info.parent in estate.datasets[system].collections else None,
                                                  f"{system}.{info.name} appeared since the data map of {when}; run `hkt-dsr datamap scan` to see what it holds", "warning"))
                continue
            new = sorted({c.name for c in info.columns} - {c.name for c in known.columns})
            if new:
                problems.append(places.collection(system, info.name, f"{system}.{info.name} has column(s) {', '.join(new)} since the data map of {when}; "
                                                                     "run `hkt-dsr datamap scan` to see what they hold", "warning"))
    return problems + _weak_pseudonyms(estate, data_map, places)


def _gap_problem(places: _Places, gap: Gap, source: str, severity: str) -> ConfigProblem:
    what = {
        "unmapped_collection": "personal data in no dataset",
        "unmapped_reference": "an undeclared table points at a declared one",
        "undeclared_column": "a personal column the dataset does not list",
        "undeclared_identity": "looks like an identity field",
        "undeclared_free_text": "holds free text",
        "missing_collection": "declared but not in the store",
        "missing_column": "declared but not in the table",
        "new_collection": "personal data in a new table or prefix",
        "new_column": "personal data in a new column",
        "newly_personal": "personal data where there was none",
    }.get(gap.kind, gap.kind)
    category = f" ({gap.category})" if gap.category else ""
    detail = f": {gap.detail}" if gap.detail else ""
    return places.collection(gap.system, gap.collection, f"{gap.where}{category}: {what} ({source}){detail}", severity, field_name=gap.column)


def _weak_pseudonyms(estate: Estate, data_map: DataMap, places: _Places) -> list[ConfigProblem]:
    """A keyed pseudonym of a value most rows share (a country, a gender) still groups its holders and
    is guessed back by anyone who knows the few values: warn where the map saw few distinct values."""
    rules = estate.policy.erase.fields
    problems = []
    for system, dataset in sorted(estate.datasets.items()):
        for cname, coll in dataset.collections.items():
            profile = data_map.collection(system, cname)
            if profile is None:
                continue
            for fname, fconf in coll.fields.items():
                ruled = sorted((c for c in fconf.categories if c in rules), key=lambda c: FIELD_PRECEDENCE.index(rules[c].action))
                column = profile.column(fname)
                if not ruled or rules[ruled[0]].action != "pseudonymize" or column is None or column.sampled == 0:
                    continue
                distinct = round(column.distinct_ratio * column.sampled)
                if column.sampled >= 2 * FEW_VALUES and distinct <= FEW_VALUES:  # a small sample shows few values of anything
                    problems.append(places.collection(system, cname, f"pseudonymize (erase.fields.{ruled[0]}) on a field with {distinct} distinct value(s) in "
                                                                    f"{column.sampled} sampled: its pseudonyms are as few and are told apart and guessed back; "
                                                                    "mask or null it instead", "warning", field_name=fname))
    return problems
