"""The estate's configuration: systems, datasets and policy, read from YAML in one directory.

Layout of a configuration directory::

    estate.yaml        control database, key files, where exports go
    systems.yaml       every store: name, kind (connector), connection URL with ${ENV} references
    datasets/*.yaml    one file per system: collections, fields, categories, identity fields, references
    policies.yaml      per request kind and data category: what to export, what erasure does

Every problem is reported with its file, its path inside the file and its line, all at once,
because a compliance engineer fixing a config wants the whole list, not one error per run.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from sqlalchemy.engine import make_url

from dsr.staff import StaffDirectory
from dsr.subject import IdentifierKind
from scanners.settings import ScannerConfig

REQUEST_KINDS = ("access", "erase", "rectify", "opt_out")


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int | None
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        inside = f" {self.path}" if self.path else ""
        return f"{where}:{inside}: {self.severity}: {self.message}"


class ConfigError(Exception):
    """One or more configuration errors; `problems` lists them all with file, line and path."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EstateSettings(_Model):
    """Where the orchestrator keeps its own state and secrets (paths, never the secrets themselves)."""

    control_db: str = "sqlite:///.dsr/control.db"
    signing_key_file: str = ".dsr/keys/signing.pem"
    keyring_file: str = ".dsr/keys/keyring.json"  # public keys and validity windows; auditors pin a copy
    hmac_key_file: str = ".dsr/keys/hmac.key"
    ledger_origin: str = "hkt.example/dsr-ledger"
    export_dir: str = ".dsr/exports"
    receipts_dir: str = ".dsr/receipts"
    # Four-eyes approval of erasure and rectification plans: how long a plan waits for a second
    # person before the request expires untouched, and how often a waiting run looks for the answer.
    approval_timeout_hours: float = Field(72.0, gt=0)
    approval_poll_seconds: int = Field(10, ge=1, le=300)
    # Physical erasure: PostgreSQL keeps deleted rows as dead tuples until VACUUM, so an erasure
    # vacuums the tables it changed (a plain VACUUM: no lock that blocks readers or writers).
    vacuum_after_erasure: bool = True
    # How long each system's backups keep what was erased ({crm: 35d}); a certificate states by
    # when the last backup that still holds the customer's data expires.
    backup_retention: dict[str, str] = Field(default_factory=dict)

    @field_validator("backup_retention")
    @classmethod
    def _periods(cls, value: dict[str, str]) -> dict[str, str]:
        for system, period in value.items():
            if not _PERIOD.match(period):
                raise ValueError(f"backup_retention of {system}: a period looks like 35d, 6m or 1y")
        return value


class SystemConfig(_Model):
    """A store. `url`: a SQLAlchemy URL, or for S3 the endpoint (`https://s3.ap-northeast-1.amazonaws.com`,
    a MinIO or Ceph address). `options`: connector settings such as an S3 `region`; credentials come
    from the environment (AWS_ACCESS_KEY_ID, ...) or from `${VAR}` references."""

    kind: str
    url: str
    description: str = ""
    options: dict[str, str] = Field(default_factory=dict)


class FieldMatch(_Model):
    """How a lookup compares an identity field with the subject's identifier.

    `column`: another column of the same row holds the normal form (e.g. phone_e164): exact and
    index-friendly. `expression`: compare an expression of the column: `lower` (emails), `digits`
    (phone numbers with every separator removed, national or international), or `spellings` (the
    column as stored, against the usual ways of writing the identifier: index-friendly, but blind to
    unusual spellings). Without `match`, emails compare by `lower` and phone numbers by `digits`,
    which finds every spelling; give the store an index on that expression, or declare a column.
    """

    column: str | None = None
    expression: Literal["lower", "digits", "spellings"] | None = None


DEFAULT_MATCH = {IdentifierKind.EMAIL: FieldMatch(expression="lower"), IdentifierKind.PHONE: FieldMatch(expression="digits")}


class FieldConfig(_Model):
    categories: list[str] = Field(default_factory=list)
    identity: IdentifierKind | None = None
    match: FieldMatch | None = None
    free_text: bool = False

    @property
    def effective_match(self) -> FieldMatch:
        if self.match is not None:
            return self.match
        return DEFAULT_MATCH.get(self.identity, FieldMatch(expression="spellings")) if self.identity else FieldMatch()


Ownership = Literal["dependent", "owns_target", "link"]


class ReferenceConfig(_Model):
    """`field` of this collection points at `to` ('collection.field' or 'system.collection.field').

    A reference is walked in one direction only, which `ownership` names, because walking it both
    ways pulls in other people (a family sharing an address, customers pointing at a staff member):

    - `dependent` (the default): the pointing rows belong to whoever owns the row pointed at. On
      `invoices`, `{field: customer_id, to: customers.id}`: the subject's customer row makes the
      invoices pointing at it the subject's.
    - `owns_target`: the row pointed at belongs to whoever owns the pointing row. On `customers`,
      `{field: address_id, to: addresses.id, ownership: owns_target}`: the subject's customer row
      makes its address the subject's. Such a row may be shared (a store at the same address), so
      it is exported, but erased only when nothing else, declared or not, still points at it. Rows
      of a collection that names people (strong identity fields: a staff table) are never taken
      this way: such a row belongs to whom it names, and the subject's own is found by identity.
    - `link`: the pointing rows are somebody else's that merely point at the subject (a customer the
      subject referred; customers pointing at a staff member who is the subject): never the
      subject's data, never exported; erasure clears the pointer only.

    `owned: true` / `owned: false` are the older spellings of `dependent` / `link`.
    """

    field: str
    to: str
    ownership: Ownership = "dependent"

    @model_validator(mode="before")
    @classmethod
    def _owned_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "owned" in data:
            if "ownership" in data:
                raise ValueError("give either ownership or its older spelling owned, not both")
            owned = data["owned"]
            if not isinstance(owned, bool):
                raise ValueError("owned must be true (ownership: dependent) or false (ownership: link)")
            data = {k: v for k, v in data.items() if k != "owned"} | {"ownership": "dependent" if owned else "link"}
        return data


class ObjectsConfig(_Model):
    """A collection of objects in a bucket: which ones, how to read them, what an access export carries.

    `format` applies to plain and gzip objects alike (gzip is recognised by its magic bytes);
    `auto` decides per object by its name (.csv, .json, .jsonl/.ndjson, anything else text).
    `export: records` exports only the records (lines, rows) that mention the subject;
    `export: objects` the whole objects.
    """

    bucket: str
    prefix: str = ""
    format: Literal["auto", "text", "csv", "json", "jsonl"] = "auto"
    export: Literal["records", "objects"] = "records"

    def format_of(self, key: str) -> Literal["text", "csv", "json", "jsonl"]:
        if self.format != "auto":
            return self.format
        name = key.lower().removesuffix(".gz")
        for suffix, fmt in ((".csv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json")):
            if name.endswith(suffix):
                return fmt  # type: ignore[return-value]
        return "text"


class CollectionConfig(_Model):
    """A table (primary_key, fields) or a set of objects (`objects`)."""

    primary_key: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    fields: dict[str, FieldConfig] = Field(default_factory=dict)
    references: list[ReferenceConfig] = Field(default_factory=list)
    objects: ObjectsConfig | None = None
    # Retained records' period starts at this field's date (an invoice's issue date), not at the request's receipt.
    retention_from: str | None = None
    purposes: list[str] = Field(default_factory=list)  # §4: shown to the customer in the access report
    recipients: list[str] = Field(default_factory=list)  # §5: group companies, partners, subcontractors

    @property
    def free_text_fields(self) -> list[str]:
        return [name for name, conf in self.fields.items() if conf.free_text]

    @property
    def scanned(self) -> bool:
        """Whether the subject is looked for inside this collection's text (objects, free-text fields)."""
        return self.objects is not None or bool(self.free_text_fields)

    @property
    def names_people(self) -> bool:
        """Whether its rows carry strong identifiers (email, phone, customer number): they seed
        discovery, and a row of it belongs to whom it names."""
        return any(f.identity is not None and f.identity.is_strong for f in self.fields.values())


class DatasetConfig(_Model):
    system: str
    collections: dict[str, CollectionConfig]


ActionName = Literal["delete_record", "retain", "keep", "null_field", "mask", "pseudonymize"]
RECORD_ACTIONS = ("delete_record", "retain", "keep")
FIELD_ACTIONS = ("null_field", "mask", "pseudonymize", "keep")

_PERIOD = re.compile(r"^(\d+)([dmy])$")


class RuleConfig(_Model):
    action: ActionName
    legal_basis: str | None = None
    # e.g. "7y", "18m", "90d", counted from the request's receipt, or from the record's own date where
    # its collection names one (`retention_from`)
    retention: str | None = None

    @field_validator("retention")
    @classmethod
    def _period(cls, value: str | None) -> str | None:
        if value is not None and not _PERIOD.match(value):
            raise ValueError("retention must look like 90d, 18m or 7y")
        return value

    @model_validator(mode="after")
    def _retain_has_basis(self) -> RuleConfig:
        if self.action == "retain" and not (self.legal_basis and self.retention):
            raise ValueError("retain needs legal_basis and retention")
        return self

    def retained_until(self, start: dt.date) -> dt.date:
        return period_end(start, self.retention or "0d")


def period_end(start: dt.date, period: str) -> dt.date:
    """The end of a period ("90d", "18m", "7y") that starts on `start`: months and years keep the day
    of the month, or take the month's last day when it has no such day (Feb 29 -> Feb 28)."""
    amount, unit = _PERIOD.match(period).groups()  # type: ignore[union-attr]
    n = int(amount)
    if unit == "d":
        return start + dt.timedelta(days=n)
    months = start.month - 1 + n * (12 if unit == "y" else 1)
    year, month = start.year + months // 12, months % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


class AccessPolicy(_Model):
    export: list[str]


class ErasurePolicy(_Model):
    records: dict[str, RuleConfig] = Field(default_factory=dict)
    fields: dict[str, RuleConfig] = Field(default_factory=dict)
    default: RuleConfig = RuleConfig(action="delete_record")


class OptOutPolicy(_Model):
    """Privacy policy §6: direct mail needs consent. Withdrawing it sets every field of these
    categories (consent flags, list memberships) to false, in every system."""

    consent_categories: list[str] = Field(default_factory=list)


class PolicyConfig(_Model):
    id: str
    version: str
    due_days: dict[Literal["access", "erase", "rectify", "opt_out"], int]
    access: AccessPolicy
    erase: ErasurePolicy
    opt_out: OptOutPolicy = OptOutPolicy()
    # Categories that need no rule of their own (e.g. `internal`): with the ones the rules name,
    # the vocabulary every dataset must keep to, so a misspelt category is an error, not a leak.
    categories: list[str] = Field(default_factory=list)

    def vocabulary(self) -> set[str]:
        """Every category the policy knows: declared ones and those its rules name."""
        return {*self.categories, *self.access.export, *self.erase.records, *self.erase.fields, *self.opt_out.consent_categories}


# --------------------------------------------------------------------------- the loaded estate


@dataclass(frozen=True)
class Estate:
    """A validated configuration directory. `policy` is None only when loaded with
    require_policy=False (mapping data and creating keys come before anyone writes a policy)."""

    root: Path
    settings: EstateSettings
    systems: dict[str, SystemConfig]
    datasets: dict[str, DatasetConfig]
    policy: PolicyConfig  # None only when loaded with require_policy=False (see load_estate)
    policy_digest: str
    scanners: ScannerConfig = ScannerConfig()
    staff: StaffDirectory | None = None  # staff.yaml: who may take, verify and approve requests, by id
    warnings: list[ConfigProblem] = field(default_factory=list)
    dataset_files: dict[str, str] = field(default_factory=dict)  # system -> its dataset file, for problems found later

    def resolve_path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else (Path.cwd() / path)

    def collection(self, system: str, name: str) -> CollectionConfig:
        return self.datasets[system].collections[name]


# --------------------------------------------------------------------------- loading


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Document:
    """One YAML file with its node positions, so problems can name a line."""

    def __init__(self, path: Path, root: Path):
        self.path = path
        self.name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        self.data: Any = None

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        node, line = self.data, None
        for key in loc:
            if isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        if line is None and isinstance(self.data, CommentedMap):
            line = self.data.lc.line + 1
        return line

    def problem(self, loc: tuple[Any, ...], message: str, severity: str = "error") -> ConfigProblem:
        return ConfigProblem(self.name, self.line_of(loc), ".".join(str(k) for k in loc), message, severity)  # type: ignore[arg-type]


def _expand_env(doc: _Document, node: Any, loc: tuple[Any, ...], problems: list[ConfigProblem]) -> Any:
    """Replace ${VAR} in every string; an unset variable is a problem at its line."""
    if isinstance(node, dict):
        return {k: _expand_env(doc, v, loc + (k,), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_env(doc, v, loc + (i,), problems) for i, v in enumerate(node)]
    if isinstance(node, str):
        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                problems.append(doc.problem(loc, f"environment variable {name} is not set"))
                return ""
            return os.environ[name]

        return _ENV.sub(sub, node)
    return node


def _literal_password(url: Any) -> bool:
    """A password written into the file itself (a ${VAR} in its place is the right way)."""
    if not isinstance(url, str) or "://" not in url:
        return False
    try:
        password = make_url(url).password
    except Exception:  # not a SQLAlchemy URL (e.g. s3://): no password slot to check
        return False
    return bool(password) and "${" not in str(password)


def _read(doc: _Document, problems: list[ConfigProblem]) -> bool:
    try:
        doc.data = YAML(typ="rt").load(doc.path.read_text(encoding="utf-8"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problems.append(ConfigProblem(doc.name, line, "", f"malformed YAML: {exc.problem or exc.context}"))
        return False
    except ReaderError as exc:  # a character YAML does not allow (a control character, say); never echoed
        problems.append(ConfigProblem(doc.name, None, "", f"not YAML text: character U+{exc.character:04X} at position {exc.position} is not allowed"))
        return False
    except YAMLError as exc:
        problems.append(ConfigProblem(doc.name, None, "", f"malformed YAML ({type(exc).__name__})"))
        return False
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(doc.name, None, "", f"cannot read: {exc.__class__.__name__}"))
        return False
    if not isinstance(doc.data, CommentedMap):
        problems.append(ConfigProblem(doc.name, 1, "", "expected a mapping at the top of the file"))
        return False
    return True


def _validate(model: type[_Model], doc: _Document, data: Any, loc: tuple[Any, ...], problems: list[ConfigProblem]):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = loc + tuple(err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            problems.append(doc.problem(where, message))
        return None


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def load_estate(root: Path | str, require_policy: bool = True) -> Estate:
    """Read and validate a configuration directory; raises ConfigError listing every problem.

    require_policy=False: policies.yaml is not read at all and the estate's policy is None, for the
    work that comes before a policy exists (`datamap scan`, `datasets suggest`, `keys init`).
    Anything that handles a request must load with the policy."""
    root = Path(root).resolve()
    problems: list[ConfigProblem] = []
    if not root.is_dir():
        raise ConfigError([ConfigProblem(str(root), None, "", "configuration directory does not exist")])

    def document(name: str, required: bool = True) -> _Document | None:
        path = root / name
        if not path.exists():
            if required:
                problems.append(ConfigProblem(name, None, "", "file is missing"))
            return None
        doc = _Document(path, root)
        return doc if _read(doc, problems) else None

    settings = EstateSettings()
    if estate_doc := document("estate.yaml", required=False):
        settings = _validate(EstateSettings, estate_doc, _expand_env(estate_doc, _plain(estate_doc.data), (), problems), (), problems) or settings

    systems: dict[str, SystemConfig] = {}
    systems_doc = document("systems.yaml")
    if systems_doc:
        raw = _plain(systems_doc.data).get("systems")
        if not isinstance(raw, dict) or not raw:
            problems.append(systems_doc.problem(("systems",), "expected a mapping of system name to settings"))
        else:
            for name, body in raw.items():
                loc = ("systems", name)
                if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                    problems.append(systems_doc.problem(loc, "system names are lower-case letters, digits and _"))
                if isinstance(body, dict) and _literal_password(body.get("url")):
                    problems.append(systems_doc.problem(loc + ("url",), "holds a password; put it in an environment variable and write ${VAR}"))
                body = _expand_env(systems_doc, body, loc, problems)
                if (system := _validate(SystemConfig, systems_doc, body, loc, problems)) is not None:
                    systems[name] = system

    datasets: dict[str, DatasetConfig] = {}
    dataset_docs: dict[str, _Document] = {}
    for path in sorted((root / "datasets").glob("*.yaml")) if (root / "datasets").is_dir() else []:
        doc = _Document(path, root)
        if not _read(doc, problems):
            continue
        dataset = _validate(DatasetConfig, doc, _plain(doc.data), (), problems)
        if dataset is None:
            continue
        if dataset.system in datasets:
            problems.append(doc.problem(("system",), f"a dataset for system {dataset.system!r} is already in {dataset_docs[dataset.system].name}"))
            continue
        if systems and dataset.system not in systems:
            problems.append(doc.problem(("system",), f"unknown system {dataset.system!r}; systems.yaml declares {sorted(systems)}"))
        datasets[dataset.system] = dataset
        dataset_docs[dataset.system] = doc

    scanners = ScannerConfig()
    if doc := document("scanners.yaml", required=False):
        scanners = _validate(ScannerConfig, doc, _plain(doc.data), (), problems) or scanners

    staff = None
    if doc := document("staff.yaml", required=False):
        staff = _validate(StaffDirectory, doc, _plain(doc.data), (), problems)

    policy = None
    policy_doc = document("policies.yaml") if require_policy else None
    if policy_doc:
        policy = _validate(PolicyConfig, policy_doc, _plain(policy_doc.data), (), problems)

    for system in sorted(settings.backup_retention.keys() - systems.keys()) if systems and estate_doc else ():
        problems.append(estate_doc.problem(("backup_retention", system), f"unknown system {system!r}; systems.yaml declares {sorted(systems)}"))  # type: ignore[union-attr]
    for system, dataset in datasets.items():
        problems.extend(_check_dataset(dataset_docs[system], dataset, datasets))
        problems.extend(_ambiguous_ownership(dataset_docs[system], dataset))
    if policy is not None and policy_doc is not None:
        problems.extend(_check_policy(policy_doc, policy, datasets))
        problems.extend(check_categories(policy, datasets, dataset_docs))

    errors = [p for p in problems if p.severity == "error"]
    if errors or (policy is None and require_policy):
        raise ConfigError(errors or [ConfigProblem("policies.yaml", None, "", "no policy")])
    from receipts.canonical import digest  # the policy digest goes into every receipt

    return Estate(
        root=root,
        settings=settings,
        systems=systems,
        datasets=datasets,
        policy=policy,
        policy_digest=digest(policy.model_dump(mode="json")) if policy is not None else "",
        scanners=scanners,
        staff=staff,
        warnings=[p for p in problems if p.severity == "warning"],
        dataset_files={system: doc.name for system, doc in dataset_docs.items()},
    )


def open_document(root: Path, name: str) -> _Document | None:
    """A configuration file with its node positions, so that problems found after loading (in a live
    store, by planning) can name the line they concern; None when it cannot be read."""
    doc = _Document(root / name, root)
    return doc if _read(doc, []) else None


def _check_dataset(doc: _Document, dataset: DatasetConfig, datasets: dict[str, DatasetConfig]) -> list[ConfigProblem]:
    """Cross-field rules that a single model cannot see: keys exist, references resolve."""
    problems = []
    for cname, coll in dataset.collections.items():
        loc = ("collections", cname)
        if coll.objects is None and not coll.primary_key:
            problems.append(doc.problem(loc, "a table needs primary_key (or declare objects: for a bucket)"))
        if coll.objects is not None and (coll.primary_key or coll.fields or coll.references):
            problems.append(doc.problem(loc + ("objects",), "an object collection has no primary_key, fields or references"))
        for key in coll.primary_key:
            if key not in coll.fields:
                problems.append(doc.problem(loc + ("primary_key",), f"primary key field {key!r} is not declared under fields"))
        for fname, fconf in coll.fields.items():
            if fconf.match and fconf.match.column and fconf.match.column not in coll.fields:
                problems.append(doc.problem(loc + ("fields", fname, "match", "column"), f"normalised column {fconf.match.column!r} is not declared under fields"))
            if fconf.match and not fconf.identity:
                problems.append(doc.problem(loc + ("fields", fname, "match"), "match only applies to identity fields"))
        if coll.retention_from is not None and coll.retention_from not in coll.fields:
            problems.append(doc.problem(loc + ("retention_from",), f"field {coll.retention_from!r} is not declared under fields"))
        for i, ref in enumerate(coll.references):
            rloc = loc + ("references", i)
            if ref.field not in coll.fields:
                problems.append(doc.problem(rloc + ("field",), f"field {ref.field!r} is not declared under fields"))
            try:
                target = resolve_reference(dataset.system, ref.to)
            except ValueError as exc:
                problems.append(doc.problem(rloc + ("to",), str(exc)))
                continue
            tsys, tcoll, tfield = target
            target_ds = datasets.get(tsys)
            if target_ds is None:
                problems.append(doc.problem(rloc + ("to",), f"no dataset for system {tsys!r}"))
            elif tcoll not in target_ds.collections:
                problems.append(doc.problem(rloc + ("to",), f"system {tsys!r} has no collection {tcoll!r}"))
            elif tfield not in target_ds.collections[tcoll].fields:
                problems.append(doc.problem(rloc + ("to",), f"collection {tsys}.{tcoll} has no field {tfield!r}"))
    return problems


def _ambiguous_ownership(doc: _Document, dataset: DatasetConfig) -> list[ConfigProblem]:
    """`owned: true` on a collection of people (one with strong identity fields) is read as
    `dependent`, but is easily meant the other way (`{field: address_id, to: addresses.id, owned:
    true}` on customers: "the customer owns its address"). Said as `dependent` it pulls in every
    other customer at the subject's address; a warning asks for the direction by name."""
    problems = []
    raw = doc.data.get("collections") if isinstance(doc.data, dict) else None
    for cname, coll in dataset.collections.items():
        if not coll.names_people:
            continue
        raw_refs = (raw.get(cname) or {}).get("references") if isinstance(raw, dict) and isinstance(raw.get(cname), dict) else None
        for i, ref in enumerate(raw_refs or []):
            if isinstance(ref, dict) and ref.get("owned") is True:
                problems.append(doc.problem(("collections", cname, "references", i, "owned"),
                                            f"owned: true means {cname} rows belong to whoever owns the {ref.get('to')} row they point at (ownership: dependent); "
                                            f"if each {cname} row owns what it points at (its address), write ownership: owns_target; say which", "warning"))
    return problems


def _check_policy(doc: _Document, policy: PolicyConfig, datasets: dict[str, DatasetConfig]) -> list[ConfigProblem]:
    problems = []
    for category, rule in policy.erase.records.items():
        if rule.action not in RECORD_ACTIONS:
            problems.append(doc.problem(("erase", "records", category, "action"), f"{rule.action} is a field action; records take {', '.join(RECORD_ACTIONS)}"))
    for category, rule in policy.erase.fields.items():
        if rule.action not in FIELD_ACTIONS:
            problems.append(doc.problem(("erase", "fields", category, "action"), f"{rule.action} is a record action; fields take {', '.join(FIELD_ACTIONS)}"))
    if policy.erase.default.action not in RECORD_ACTIONS:
        problems.append(doc.problem(("erase", "default", "action"), f"the default applies to records: {', '.join(RECORD_ACTIONS)}"))
    used = {c for ds in datasets.values() for coll in ds.collections.values() for c in coll.categories}
    used |= {c for ds in datasets.values() for coll in ds.collections.values() for f in coll.fields.values() for c in f.categories}
    for section, names in (("access.export", policy.access.export), ("erase.records", policy.erase.records), ("erase.fields", policy.erase.fields)):
        for name in names:
            if datasets and name not in used:
                problems.append(doc.problem(tuple(section.split(".")) + (name,), f"category {name!r} is used by no dataset", "warning"))
    return problems


def check_categories(policy: PolicyConfig, datasets: dict[str, DatasetConfig], docs: dict[str, _Document]) -> list[ConfigProblem]:
    """Every category a dataset uses must be one the policy knows; a field category the policy has no
    field rule for, on a collection the policy keeps or retains, is left in clear text in those rows."""
    known = policy.vocabulary()
    problems = []

    def unknown(doc: _Document, loc: tuple[Any, ...], name: str) -> ConfigProblem:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "; a category that needs no rule goes in the policy's `categories:` list"
        return doc.problem(loc, f"category {name!r} is unknown to the policy{hint}")

    for system, dataset in datasets.items():
        doc = docs[system]
        for cname, coll in dataset.collections.items():
            loc = ("collections", cname)
            problems += [unknown(doc, loc + ("categories", i), c) for i, c in enumerate(coll.categories) if c not in known]
            actions = {policy.erase.records[c].action for c in coll.categories if c in policy.erase.records} or {policy.erase.default.action}
            kept = sorted(actions & {"retain", "keep"})
            keys = {*coll.primary_key, *(ref.field for ref in coll.references)}  # planning unlinks or keeps keys
            for fname, fconf in coll.fields.items():
                floc = loc + ("fields", fname, "categories")
                problems += [unknown(doc, floc + (i,), c) for i, c in enumerate(fconf.categories) if c not in known]
                ruled = [c for c in fconf.categories if c in policy.erase.fields]
                if kept and fconf.categories and not ruled and fname not in keys and all(c in known for c in fconf.categories):
                    problems.append(doc.problem(floc, f"no erase.fields rule for {', '.join(fconf.categories)}: the policy keeps {cname} "
                                                      f"records ({kept[0]}) and this field stays in clear text in them", "warning"))
    return problems


def resolve_reference(system: str, to: str) -> tuple[str, str, str]:
    """'collection.field' (same system) or 'system.collection.field' -> (system, collection, field)."""
    parts = to.split(".")
    if len(parts) == 2:
        return system, parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise ValueError("reference must be 'collection.field' or 'system.collection.field'")
