"""Erasure plans: findings x policy -> ordered, reviewable steps with a digest.

The plan says *what* happens to each collection and *why* (the policy rule, the legal basis); it
holds counts, never keys or values, so it can be shown to an approver and put in a receipt. Keys
are re-read from the stores when the plan is executed, so rows that appeared after discovery are
still caught.

Order matters when the store enforces foreign keys: dependents are deleted before their parents;
rows that are kept (retained invoices, other customers' referral links) have their pointer to a
deleted parent cleared first; a cycle of foreign keys is broken by clearing a nullable one.

What else points at the rows to delete is asked of the live stores (dsr.references), through every
foreign key of every table, declared in a dataset or not: a row the subject's rows point at (their
address) is kept as `keep_shared` while anything else points at it; a table no dataset declares
that points at rows to delete refuses the plan, before anything changes in any system.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from graphlib import CycleError, TopologicalSorter

from connectors.base import Connector, ForeignKey
from dsr.config import Estate, RuleConfig
from dsr.discovery import Discovery, reference_edges
from dsr.references import Deletion, Pointer, plan_deletion, pointers, referrers
from receipts.canonical import digest

RECORD_PRECEDENCE = ("retain", "keep", "delete_record")
FIELD_PRECEDENCE = ("null_field", "mask", "pseudonymize", "keep")


@dataclass(frozen=True)
class Hold:
    """A legal hold as planning sees it: what it covers (everything of the subject when system is
    None; a system, or one of its collections) and why. Held data is retained, untouched."""

    id: int
    legal_basis: str
    until: str | None = None
    system: str | None = None
    collection: str | None = None

    def covers(self, system: str, collection: str) -> bool:
        return self.system in (None, system) and self.collection in (None, collection)

    @property
    def rule(self) -> str:
        return f"legal hold #{self.id}"


class PlanError(ValueError):
    """The policy and the stores' constraints cannot both be honoured; the message says where."""


@dataclass(frozen=True)
class PlanStep:
    """One action on one collection. `operation` is one of:
    delete_record, null_field, mask, pseudonymize, retain, keep (records, by policy);
    keep_shared (records the policy deletes but that something else still points at, e.g. an address
    a store shares: kept untouched, `rule` names what points at them);
    unlink (clear `fields` in rows pointing at deleted `parent` rows);
    redact_span (remove the subject's mentions from free-text `fields`, keep the rest of the text);
    rectify (write the corrected value into `fields` where they hold the old one); withdraw_consent
    (set consent `fields` to false); review (free-text
    mentions a person must look at; nothing changes);
    delete_object_all_versions, rewrite_object (objects: every version goes; or a redacted copy
    replaces them all); skipped (objects that could not be read as text, reported with why)."""

    system: str
    collection: str
    operation: str
    fields: tuple[str, ...] = ()
    count: int = 0
    rule: str = ""
    legal_basis: str | None = None
    retained_until: str | None = None
    parent: tuple[str, str, str] | None = None

    @property
    def name(self) -> str:
        suffix = f":{','.join(self.fields)}" if self.fields else ""
        return f"{self.system}/{self.collection}/{self.operation}{suffix}"


@dataclass(frozen=True)
class ErasurePlan:
    request_id: str
    policy_id: str
    policy_digest: str
    steps: tuple[PlanStep, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {
            "request_id": self.request_id,
            "policy": {"id": self.policy_id, "digest": self.policy_digest},
            "steps": [{**asdict(s), "name": s.name} for s in self.steps],
        }

    @classmethod
    def from_json(cls, data: dict) -> ErasurePlan:
        steps = []
        for raw in data["steps"]:
            fields = {k: v for k, v in raw.items() if k != "name"}
            fields["fields"] = tuple(fields["fields"])
            fields["parent"] = tuple(fields["parent"]) if fields["parent"] else None
            steps.append(PlanStep(**fields))
        return cls(data["request_id"], data["policy"]["id"], data["policy"]["digest"], tuple(steps))

    @property
    def digest(self) -> str:
        return digest(self.to_json())

    def shape(self) -> frozenset[tuple]:
        """What the plan does, without its row counts: two plans of one shape need one approval."""
        return frozenset((s.system, s.collection, s.operation, s.fields, s.rule, s.legal_basis, s.parent) for s in self.steps)

    def systems(self) -> list[str]:
        """Systems in execution order (each is one transaction)."""
        return list(dict.fromkeys(s.system for s in self.steps))

    def steps_for(self, system: str) -> list[PlanStep]:
        return [s for s in self.steps if s.system == system]


def _record_rule(estate: Estate, categories: list[str]) -> tuple[str, RuleConfig]:
    rules = [(f"erase.records.{c}", estate.policy.erase.records[c]) for c in categories if c in estate.policy.erase.records]
    if not rules:
        return "erase.default", estate.policy.erase.default
    return min(rules, key=lambda r: RECORD_PRECEDENCE.index(r[1].action))


def _field_rule(estate: Estate, categories: list[str]) -> tuple[str, RuleConfig] | None:
    rules = [(f"erase.fields.{c}", estate.policy.erase.fields[c]) for c in categories if c in estate.policy.erase.fields]
    return min(rules, key=lambda r: FIELD_PRECEDENCE.index(r[1].action)) if rules else None


def plan_erasure(
    estate: Estate,
    request_id: str,
    received_at: dt.datetime,
    discovery: Discovery,
    connect: Callable[[str], Connector],
    holds: Sequence[Hold] = (),
) -> ErasurePlan:
    """Decide every step. `connect(system)` gives the live stores: their foreign keys (every table's),
    what else points at the rows to delete, the dates retention counts from. `holds` (court or police
    orders, by due legal process) retain what they cover, untouched."""
    counts = discovery.counts()
    foreign_keys = {system: connect(system).foreign_keys() for system in sorted(estate.datasets)}
    held = _held_collections(discovery, holds, foreign_keys)
    record_action: dict[tuple[str, str], str] = {}
    record_rule: dict[tuple[str, str], str] = {}
    kept_steps: list[PlanStep] = []
    for path, count in counts.items():
        system, collection = path.split(".", 1)
        coll = estate.collection(system, collection)
        if (hold := held.get((system, collection))) is not None:
            record_action[(system, collection)] = "retain"
            kept_steps.append(PlanStep(system, collection, "retain", (), count, hold.rule, hold.legal_basis, hold.until))
            continue
        rule_name, rule = _record_rule(estate, coll.categories)
        record_action[(system, collection)] = rule.action
        record_rule[(system, collection)] = rule_name
        if rule.action == "delete_record":
            continue
        until = _retained_until(estate, connect, discovery, system, collection, rule, received_at.date()) if rule.action == "retain" else None
        kept_steps.append(PlanStep(system, collection, rule.action, (), count, rule_name, rule.legal_basis, until))
        by_operation: dict[tuple[str, str], list[str]] = defaultdict(list)
        for fname, fconf in coll.fields.items():
            if fname in coll.primary_key:
                continue
            decided = _field_rule(estate, fconf.categories)
            if decided and decided[1].action != "keep":
                by_operation[(decided[1].action, decided[0])].append(fname)
        for (operation, field_rule), fields in sorted(by_operation.items()):
            kept_steps.append(PlanStep(system, collection, operation, tuple(fields), count, field_rule))

    all_pointers = pointers(estate, foreign_keys)
    deletion = plan_deletion(estate, connect, discovery, {k for k, a in record_action.items() if a == "delete_record"}, all_pointers)
    shared_steps = [PlanStep(s, c, "keep_shared", (), len(keyed), deletion.shared_rule((s, c))) for (s, c), keyed in sorted(deletion.shared.items())]
    deleted = {c for c, rows in deletion.rows.items() if rows}
    unlinks = pointer_steps(estate, connect, all_pointers, deletion, record_action)
    delete_counts = {f"{s}.{c}": len(deletion.rows[(s, c)]) for s, c in deleted}
    delete_steps, cycle_unlinks = _ordered_deletes(foreign_keys, deleted, delete_counts, record_rule)
    text_steps = _text_steps(estate, discovery, deletion, received_at.date(), held)

    steps = kept_steps + shared_steps + text_steps + unlinks + cycle_unlinks + delete_steps
    order = _system_order(estate, {s.system for s in steps})
    steps.sort(key=lambda s: order.index(s.system))  # stable: keeps the order within a system
    return ErasurePlan(request_id, estate.policy.id, estate.policy_digest, tuple(steps))


def _retained_until(estate: Estate, connect: Callable[[str], Connector], discovery: Discovery, system: str, collection: str, rule: RuleConfig, received: dt.date) -> str:
    """When the retained records must be purged: the period counts from the request's receipt, or,
    where the collection names `retention_from`, from each record's own date (a record without one
    counts from the receipt). The plan shows the latest of these dates: by then every record of the
    step is due; earlier records fall due earlier."""
    date_field = estate.collection(system, collection).retention_from
    keys = discovery.keys(system, collection)
    if date_field is None or not keys:
        return rule.retained_until(received).isoformat()
    starts = [_as_date(row[date_field]) or received for row in connect(system).read(collection, keys, [date_field])]
    return max(rule.retained_until(start) for start in starts or [received]).isoformat()


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


Collection = tuple[str, str]
OBJECT_OPERATION = {"delete_record": "delete_object_all_versions", "keep": "rewrite_object", "retain": "retain"}


def _held_collections(discovery: Discovery, holds: Sequence[Hold], foreign_keys: dict[str, list[ForeignKey]]) -> dict[Collection, Hold]:
    """Each collection holding the subject's data or mentions that a hold covers, with that hold.

    What held records point at through a foreign key the store enforces is held too: deleting the
    parent would mean clearing the pointer in the held record (changing what must stay untouched)
    or, for a NOT NULL key, could not be done at all.
    """
    found = {(f.system, f.collection) for f in discovery.findings if f.relation in ("owned", "mention")}
    held = {c: hold for c in sorted(found) for hold in holds if hold.covers(*c)}
    parents: dict[Collection, set[Collection]] = defaultdict(set)
    for system, fks in foreign_keys.items():
        for fk in fks:
            parents[(system, fk.collection)].add((system, fk.parent))
    pending = sorted(held)
    while pending:
        child = pending.pop()
        for parent in sorted(parents[child] & found - held.keys()):
            held[parent] = held[child]
            pending.append(parent)
    return held


def _text_steps(estate: Estate, discovery: Discovery, deletion: Deletion, received: dt.date, held: dict[Collection, Hold]) -> list[PlanStep]:
    """Mentions in free text and objects. A mention inside a record that is deleted anyway needs nothing;
    elsewhere (other people's tickets, kept records) only the subject's spans are redacted. Objects
    follow their collection's record rule: deleted (every version), rewritten redacted, or retained."""
    steps = []
    owned_deleted = {(system, collection, key) for (system, collection), keys in deletion.rows.items() for key in keys}
    by_collection: dict[Collection, list] = defaultdict(list)
    for f in discovery.mentions():
        by_collection[(f.system, f.collection)].append(f)
    for (system, collection), found in sorted(by_collection.items()):
        coll = estate.collection(system, collection)
        if (hold := held.get((system, collection))) is not None:
            if coll.objects is not None or (system, collection) not in {(f.system, f.collection) for f in discovery.owned()}:
                count = len({f.key for f in found})
                steps.append(PlanStep(system, collection, "retain", (), count, hold.rule, hold.legal_basis, hold.until))
            continue
        if coll.objects is None:
            rows = {f.key for f in found if (system, collection, f.key) not in owned_deleted}
            if rows:
                fields = tuple(sorted({f.field for f in found if f.field}))
                steps.append(PlanStep(system, collection, "redact_span", fields, len(rows), "mentions in free text"))
            continue
        rule_name, rule = _record_rule(estate, coll.categories)
        until = rule.retained_until(received).isoformat() if rule.action == "retain" else None
        objects = len({f.key[0] for f in found})
        steps.append(PlanStep(system, collection, OBJECT_OPERATION[rule.action], (), objects, rule_name, rule.legal_basis, until))
    skipped: dict[Collection, set[str]] = defaultdict(set)
    for f in discovery.skipped():
        skipped[(f.system, f.collection)].add(f.how.removeprefix("skipped:"))
    for (system, collection), reasons in sorted(skipped.items()):
        count = sum(1 for f in discovery.skipped() if (f.system, f.collection) == (system, collection))
        steps.append(PlanStep(system, collection, "skipped", (), count, "unreadable: " + "; ".join(sorted(reasons))))
    return steps


def pointer_steps(
    estate: Estate, connect: Callable[[str], Connector], all_pointers: list[Pointer], deletion: Deletion, record_action: dict[Collection, str]
) -> list[PlanStep]:
    """Rows that stay but point at rows this plan deletes: their pointer is cleared (an unlink, with
    how many rows it clears), or, where that cannot be done, the plan is refused, naming the table
    and the constraint, before anything changes in any system.

    - A foreign key from a table in no dataset, with rows pointing at rows to delete: refused, even
      when nullable. Those rows most likely hold the subject's data that no dataset describes;
      clearing their pointer would orphan it where no later request could find it, and letting the
      store cascade would delete data no plan or receipt shows. Declare the table, then plan again.
    - NOT NULL keys from kept rows, and composite keys (whose columns cannot be cleared one by one
      without touching other rows): refused.
    - Declared links (`ownership: link`) and nullable keys from declared collections: unlinked.
    Declared references that are not links and not enforced point from rows discovery already made
    the subject's (a dependent's rows are found through it), so they need nothing here."""
    steps: dict[tuple[str, str, tuple[str, ...]], PlanStep] = {}
    for pointer in all_pointers:
        rows = deletion.rows.get(pointer.target)
        if not rows or not (pointer.enforced or pointer.ownership == "link"):
            continue
        child = (pointer.system, pointer.collection)
        n = sum(referrers(estate, connect, pointer, rows, deletion.rows.get(child, set())).values())
        target = f"{pointer.target[0]}.{pointer.target[1]}"
        columns = ", ".join(pointer.fields)
        kept = child not in deletion.rows or record_action.get(child) != "delete_record"
        if not pointer.declared:
            if n:
                raise PlanError(f"{pointer.system}.{pointer.collection} is in no dataset, but {n} of its row(s) point at {target} rows this plan deletes, "
                                f"through the foreign key {pointer.constraint_label}: the store would refuse the delete, or change rows no plan shows. "
                                f"Declare {pointer.collection} in the {pointer.system} dataset (its rows may be the subject's data) and plan again")
            continue
        if not pointer.nullable:
            if n or (kept and child in record_action):
                whose = f"is kept ({record_action[child]})" if kept and child in record_action else f"has {n} row(s) this plan does not delete"
                raise PlanError(f"{pointer.system}.{pointer.collection} {whose}, but its NOT NULL foreign key {pointer.constraint_label} ({columns}) "
                                f"points at {target} rows the policy deletes")
            continue
        if pointer.composite and (n or (kept and child in record_action)):
            raise PlanError(f"{pointer.system}.{pointer.collection} may point at deleted {target} rows through the composite foreign key "
                            f"({columns}), which erasure does not clear; retain or delete {pointer.collection} in the policy")
        if pointer.composite or not (n or kept or pointer.ownership == "link"):
            continue
        rule = "reference ownership: link" if pointer.ownership == "link" else "foreign key"
        step = PlanStep(pointer.system, pointer.collection, "unlink", pointer.fields, n, rule, parent=(*pointer.target, pointer.target_fields[0]))
        steps.setdefault((step.system, step.collection, step.fields), step)
    return list(steps.values())


def _ordered_deletes(
    foreign_keys: dict[str, list[ForeignKey]], deleted: set[Collection], counts: dict[str, int], rules: dict[Collection, str]
) -> tuple[list[PlanStep], list[PlanStep]]:
    """Deletes with children before parents; a foreign-key cycle is broken by clearing a nullable key first."""
    edges = [(system, fk) for system, fks in foreign_keys.items() for fk in fks if (system, fk.parent) in deleted and (system, fk.collection) in deleted and fk.collection != fk.parent]
    broken: list[PlanStep] = []
    while True:
        graph: dict[tuple[str, str], set[tuple[str, str]]] = {node: set() for node in sorted(deleted)}  # sorted: the same plan in every process
        for system, fk in edges:
            graph[(system, fk.parent)].add((system, fk.collection))  # a parent waits for its children
        try:
            order = list(TopologicalSorter({node: sorted(waits) for node, waits in graph.items()}).static_order())
            break
        except CycleError as exc:
            cycle = exc.args[1]
            in_cycle = [(s, fk) for s, fk in edges if (s, fk.parent) in cycle and (s, fk.collection) in cycle and fk.nullable and not fk.composite]
            if not in_cycle:
                names = " -> ".join(f"{s}.{c}" for s, c in cycle)
                raise PlanError(f"foreign keys form a cycle with no nullable column to break it: {names}") from None
            system, fk = in_cycle[0]
            edges.remove((system, fk))
            broken.append(PlanStep(system, fk.collection, "unlink", fk.fields, counts.get(f"{system}.{fk.collection}", 0), "foreign key cycle", parent=(system, fk.parent, fk.parent_fields[0])))
    deletes = [PlanStep(s, c, "delete_record", (), counts.get(f"{s}.{c}", 0), rules[(s, c)]) for s, c in order]
    return deletes, broken


def _system_order(estate: Estate, systems: set[str]) -> list[str]:
    """Systems holding references run before the systems they point at (dependents first)."""
    graph: dict[str, set[str]] = {s: set() for s in sorted(systems)}
    for edge in reference_edges(estate):
        if edge.system in systems and edge.target[0] in systems and edge.system != edge.target[0]:
            graph[edge.target[0]].add(edge.system)
    try:
        return list(TopologicalSorter({system: sorted(waits) for system, waits in graph.items()}).static_order())  # sorted: one order in every process
    except CycleError:
        return sorted(systems)


def plan_rectification(estate: Estate, request_id: str, discovery: Discovery, kinds: set[str]) -> ErasurePlan:
    """Rectification: every structured field of the subject's records whose identity kind is corrected
    gets the new value; free-text mentions are listed for a person to review, never rewritten."""
    steps = []
    for path, count in discovery.counts().items():
        system, collection = path.split(".", 1)
        coll = estate.collection(system, collection)
        fields = tuple(name for name, conf in coll.fields.items() if conf.identity is not None and conf.identity.value in kinds)
        if fields:
            steps.append(PlanStep(system, collection, "rectify", fields, count, "rectify: correct the subject's identifiers"))
    mentions: dict[Collection, int] = defaultdict(int)
    for f in discovery.mentions():
        mentions[(f.system, f.collection)] += 1
    for (system, collection), count in sorted(mentions.items()):
        steps.append(PlanStep(system, collection, "review", (), count, "free-text mentions: listed for manual review, not rewritten"))
    return ErasurePlan(request_id, estate.policy.id, estate.policy_digest, tuple(steps))


def plan_opt_out(estate: Estate, request_id: str, discovery: Discovery) -> ErasurePlan:
    """Direct-mail opt-out: every consent field of the subject's records goes to false."""
    consent = set(estate.policy.opt_out.consent_categories)
    steps = []
    for path, count in discovery.counts().items():
        system, collection = path.split(".", 1)
        fields = tuple(name for name, conf in estate.collection(system, collection).fields.items() if consent & set(conf.categories))
        if fields:
            steps.append(PlanStep(system, collection, "withdraw_consent", fields, count, "opt_out: direct-mail consent withdrawn (§6)"))
    return ErasurePlan(request_id, estate.policy.id, estate.policy_digest, tuple(steps))
