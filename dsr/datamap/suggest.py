"""A dataset proposal for one system, from its data map: only the customer's part, safe as written.

A suggestion is reviewed by a person, but it must be safe even unreviewed: used as it stands, no
request may export or erase another person's records. So it proposes less rather than more:

- **The subject's records** (`account`): tables of people (identity fields and names, from the
  sampled values), the largest first (customers outnumber staff); without any, identity tables (a
  ticket queue keyed by email). Identity fields are proposed there only, so requests seed nowhere
  else; a table of people that the customer's rows point at is not a subject but other people.
- **Dependents** (`activity`): tables reachable from a subject through foreign keys pointing at it
  (invoices, their lines, rentals, payments): `ownership: dependent`. Another subject's records are
  only ever linked to.
- **Attributes** (`account`): a table with personal data that a subject's record points at, one
  record per row or nearly (a customer's address): `ownership: owns_target`, which erases it only
  when nothing else points at it.
- **Other people** (`other_party`): a table with personal data that many rows of a table of people
  point at (a support rep), or a table of people the customer's records point at (staff serving a
  rental), or the subject table's own pointer at another subject (a referral): declared only as the
  target of `ownership: link` references, without identity fields, so it is never the customer's.
- **Left out**: catalogue and lookup tables (no personal data: tracks, genres, films, stores), and
  whatever the customer's tables do not reach (a city table behind the address); the file's
  header names each with why.

Every proposal carries its evidence as a YAML comment (rows, fan-in, what the sampled values showed).
Categories are the data map's vocabulary; the policy must know them (see `config check`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from connectors.base import ForeignKey
from dsr.datamap.model import CollectionProfile, ColumnProfile

#: A table is somebody else's when at least this many rows of one person's table point at each of its rows.
MANY = 2.0
RECORD_CATEGORY = {"subject": "account", "attribute": "account", "dependent": "activity", "other": "other_party"}


@dataclass
class _Graph:
    """The system's tables and foreign keys, with what the map says of each table's data."""

    tables: dict[str, CollectionProfile]
    fks: list[ForeignKey] = field(default_factory=list)

    def rows(self, name: str) -> int:
        table = self.tables[name]
        return max(table.rows_estimate or 0, table.sampled_rows, 1)

    def identity(self, name: str) -> bool:
        return bool(self.tables[name].identity_columns)

    def person(self, name: str) -> bool:
        """An identity table with a person's name: a table of people, not of their orders."""
        return self.identity(name) and any(c.category == "name" for c in self.tables[name].columns)

    def pointing_at(self, name: str) -> list[ForeignKey]:
        return [fk for fk in self.fks if fk.parent == name and fk.collection != name and not fk.composite]

    def fan_in(self, fk: ForeignKey) -> float:
        return self.rows(fk.collection) / self.rows(fk.parent)


@dataclass
class Proposal:
    """Roles of the system's tables, and the references between the proposed ones."""

    roles: dict[str, str] = field(default_factory=dict)  # table -> subject, attribute, dependent, other
    why: dict[str, str] = field(default_factory=dict)
    references: dict[str, list[tuple[ForeignKey, str]]] = field(default_factory=dict)  # table -> (fk, ownership)
    left_out: dict[str, str] = field(default_factory=dict)


def propose(profiles: Sequence[CollectionProfile]) -> Proposal:
    """Decide which tables are the customer's, which are other people's, and which stay out."""
    tables = {p.name: p for p in profiles if p.kind == "table"}  # partitions are read through their parent
    graph = _Graph(tables, [fk for p in tables.values() for fk in p.references if fk.parent in tables])
    result = Proposal()

    # Personal tables that many rows of a table of people point at are other people's (support reps);
    # those it points at a row or so each are its attributes (addresses). What an attribute points
    # at in turn (the address's city) is nobody's in particular.
    attributes: dict[str, ForeignKey] = {}
    for fk in graph.fks:
        if fk.collection == fk.parent or fk.composite or not graph.person(fk.collection) or not tables[fk.parent].personal:
            continue
        if graph.fan_in(fk) >= MANY:
            result.roles[fk.parent] = "other"
            result.why[fk.parent] = f"other people: {graph.rows(fk.collection)} {fk.collection} rows point at its {graph.rows(fk.parent)} ({graph.fan_in(fk):.1f} per row)"
        elif not graph.person(fk.parent):
            attributes.setdefault(fk.parent, fk)

    # Subjects are tables of people (identity and names) when the system has any, the largest first
    # (customers outnumber staff); otherwise any identity table (a ticket queue keyed by email).
    owned: set[str] = set()
    root_of: dict[str, str] = {}
    people = [t for t in tables if graph.person(t)] or [t for t in tables if graph.identity(t)]
    for root in sorted(people, key=lambda t: (-graph.rows(t), t)):
        if root in owned or root in result.roles or root in attributes:
            continue
        pointers = [fk.collection for fk in graph.pointing_at(root) if fk.collection in owned]
        if pointers:
            result.roles[root] = "other"
            result.why[root] = f"other people: the customer's {', '.join(sorted(set(pointers)))} rows point at it"
            continue
        result.roles[root] = "subject"
        kinds = sorted({c.identity for c in tables[root].identity_columns if c.identity})
        result.why[root] = f"the subject's own records: {graph.rows(root)} rows, identity {', '.join(kinds)} from sampled values"
        owned.add(root)
        root_of[root] = root
        pending = [root]
        while pending:
            parent = pending.pop(0)
            for fk in graph.pointing_at(parent):
                child = fk.collection
                if child in owned or child in result.roles or child in attributes or graph.person(child):
                    continue
                result.roles[child] = "dependent"
                result.why[child] = f"the customer's: its {', '.join(fk.fields)} points at {parent}"
                owned.add(child)
                root_of[child] = root
                pending.append(child)

    for name in sorted(owned):
        refs = result.references.setdefault(name, [])
        for fk in (f for f in graph.fks if f.collection == name):
            target = fk.parent
            if fk.composite:  # a reference names one field: a composite key is the reviewer's to declare
                result.why[name] += f"; review its composite key ({', '.join(fk.fields)}) -> {target}"
                continue
            subject = result.roles.get(name) == "subject"
            if target == name:
                refs.append((fk, "link" if graph.person(name) else "dependent"))  # one person pointing at another is a link
            elif target in owned and root_of[target] != root_of[name]:
                refs.append((fk, "link"))  # another subject's records: never this one's
            elif target in owned:
                # A subject's record pointing at one of the customer's rows owns it; never "dependent", which
                # would make every other person pointing at the same row (a shared address) the subject's too.
                refs.append((fk, "owns_target" if subject else "dependent"))
            elif result.roles.get(target) == "other" or graph.person(target):
                result.roles.setdefault(target, "other")
                result.why.setdefault(target, f"other people: the customer's {name} rows point at it")
                refs.append((fk, "link"))
            elif target in attributes and subject:
                result.roles[target] = "attribute"
                result.why[target] = (f"the subject's own: {name}.{fk.fields[0]} points at it, "
                                      f"{graph.fan_in(fk):.1f} {name} rows per row; erased only when nothing else points at it")
                refs.append((fk, "owns_target"))
            elif tables[target].personal and graph.fan_in(fk) >= MANY:
                result.roles.setdefault(target, "other")
                result.why.setdefault(target, f"somebody else's personal data: {graph.rows(name)} {name} rows point at its {graph.rows(target)}")
                refs.append((fk, "link"))

    linked = {fk.parent for refs in result.references.values() for fk, _ in refs}
    for name in [t for t, role in result.roles.items() if role == "other" and t not in linked]:
        del result.roles[name]  # other people nothing of the customer's points at need no declaration
    for name in sorted(tables):
        if name in result.roles:
            continue
        inbound = graph.pointing_at(name)
        if not tables[name].personal:
            result.left_out[name] = (f"catalogue or lookup: no personal data in the sample, {len(inbound)} table(s) point at it" if inbound
                                     else "no personal data in the sample")
        else:
            cats = ", ".join(sorted({c.category for c in tables[name].personal_columns}))
            result.left_out[name] = f"holds {cats} but the customer's tables do not reach it: review (declare it if its rows are the customer's)"
    for profile in profiles:
        if profile.kind in ("prefix", "bucket") and profile.personal:
            cats = ", ".join(sorted({c.category for c in profile.personal_columns}))
            result.left_out[profile.name] = (f"objects holding {cats}: declare as objects: {{bucket, prefix}} after review; objects name several "
                                             "people, so give them a category the policy keeps (rewritten with the customer redacted), not deletes")
        elif profile.kind in ("inheritance_child", "partition"):
            result.left_out[profile.name] = f"a {profile.kind.replace('_', ' ')} of {profile.parent}: its rows are read and erased through {profile.parent}"
    return result


def suggest_dataset(system: str, profiles: Sequence[CollectionProfile]) -> CommentedMap:
    """The proposal as a dataset document with its evidence in comments, ready to write as YAML."""
    proposal = propose(profiles)
    tables = {p.name: p for p in profiles}
    collections = CommentedMap()
    for name in sorted(proposal.roles, key=lambda t: (list(RECORD_CATEGORY).index(proposal.roles[t]), t)):
        role, table = proposal.roles[name], tables[name]
        entry = CommentedMap()
        entry["primary_key"] = CommentedSeq(table.primary_key or [c.name for c in table.columns])
        entry["primary_key"].fa.set_flow_style()
        entry["categories"] = CommentedSeq([RECORD_CATEGORY[role]])
        entry["categories"].fa.set_flow_style()
        fields = CommentedMap()
        for column in table.columns:
            fields[column.name] = _field(column, identity=role == "subject")
            evidence = _evidence(column)
            if evidence:
                fields.yaml_add_eol_comment(evidence, column.name)
        entry["fields"] = fields
        refs = CommentedSeq()
        for fk, ownership in proposal.references.get(name, []):
            ref = CommentedMap([("field", fk.fields[0]), ("to", f"{fk.parent}.{fk.parent_fields[0]}"), ("ownership", ownership)])
            ref.fa.set_flow_style()
            refs.append(ref)
        if refs:
            entry["references"] = refs
        collections[name] = entry
        collections.yaml_set_comment_before_after_key(name, before=f"{name}: {proposal.why[name]}", indent=2)
    document = CommentedMap([("system", system), ("collections", collections)])
    header = [f"Suggested from the data map of system {system!r}: review before use.",
              "Categories are the data map's; the policy must name each (config check says which it does not)."]
    header += [f"left out: {name}: {reason}" for name, reason in sorted(proposal.left_out.items())]
    document.yaml_set_start_comment("\n".join(header))
    return document


def _field(column: ColumnProfile, identity: bool) -> CommentedMap:
    entry = CommentedMap()
    entry["categories"] = CommentedSeq([column.category] if column.personal else [])
    entry["categories"].fa.set_flow_style()
    if identity and column.identity:
        entry["identity"] = column.identity
    if column.category == "free_text":
        entry["free_text"] = True
    entry.fa.set_flow_style()
    return entry


def _evidence(column: ColumnProfile) -> str:
    """What the sampled values showed (entity counts, never a value), for a reviewer."""
    if not column.personal and not column.evidence:
        return ""
    counts = ", ".join(f"{entity} {n}/{column.sampled}" for entity, n in sorted(column.evidence.items(), key=lambda kv: (-kv[1], kv[0])))
    unique = f", {column.distinct_ratio:.0%} distinct" if column.identity else ""
    hint = f", name suggests {column.hint}" if column.hint and column.hint != column.category else ""
    return f"{column.category} ({column.confidence:.2f}): {counts or 'by name and shape'}{unique}{hint}"
