"""Who the staff are: the people who take, verify and approve requests.

The four-eyes rule compares people, and a name typed into a form is not a person: `Aiko Sato` and
`Aiko\\u200b Sato`, full-width `Ａｉｋｏ Sato` or a Cyrillic `Аiko Sato` read the same to a human
and differ to `==`. Two defences, strongest first:

- a staff directory (`staff.yaml` in the configuration directory) gives everyone an id and roles;
  `--requested-by`, `--verified-by` and `--as` then take ids, and the rule compares ids;
- without one, a name is checked (no invisible, control or bidi characters, already in NFKC form,
  letters from one writing system, or Japanese/Chinese/Korean mixed as those languages write)
  and compared by its confusable skeleton (Unicode TR39): names that look alike are one person.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache
from typing import Literal

from confusable_homoglyphs import categories, confusables
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["intake", "verify", "approve"]
NAME_LIMIT = 80  # the control database's column width for names
_ID = re.compile(r"[a-z][a-z0-9._-]{0,39}")
#: Writing systems that one name may mix, as Japanese, Chinese and Korean names are written;
#: any other mix (Latin with Cyrillic, Greek with Latin) is how look-alike names are forged.
_SCRIPT_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "HANGUL"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}))


class StaffError(ValueError):
    """A staff name or id is refused; the message says why (it names staff, never a customer)."""


class StaffMember(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    roles: list[Role] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError("a staff id is lower-case ASCII letters, digits, '.', '_' or '-' (at most 40), starting with a letter")
        return value

    @field_validator("name")
    @classmethod
    def _checked(cls, value: str) -> str:
        return checked_name(value, "name")


class StaffDirectory(BaseModel):
    """`staff.yaml`: `staff: [{id: asato, name: Aiko Sato, roles: [intake, verify]}, ...]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    staff: list[StaffMember]

    @model_validator(mode="after")
    def _unique(self) -> StaffDirectory:
        ids = [m.id for m in self.staff]
        if len(ids) != len(set(ids)):
            raise ValueError(f"staff ids must be unique: {sorted({i for i in ids if ids.count(i) > 1})} appear twice")
        return self

    def member(self, given: str, role: Role) -> StaffMember:
        """The member with id `given` who has `role`; refused otherwise."""
        found = next((m for m in self.staff if m.id == given.strip()), None)
        if found is None:
            raise StaffError("that is not a staff id in staff.yaml (with a staff directory, people are named by their ids)")  # never echoed: it may hold anything
        if role not in found.roles:
            raise StaffError(f"staff member {found.id} does not have the role {role!r} in staff.yaml")
        return found


def checked_name(raw: str, what: str = "staff name") -> str:
    """The name as typed, with runs of spaces collapsed; refused when it could pass for another name."""
    name = " ".join(raw.split())
    if not name:
        raise StaffError(f"the {what} is empty")
    if len(name) > NAME_LIMIT:
        raise StaffError(f"the {what} is longer than {NAME_LIMIT} characters: check what was pasted")
    hidden = sorted({f"U+{ord(c):04X}" for c in name if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp")})
    if hidden:
        raise StaffError(f"the {what} holds invisible, control or direction characters ({', '.join(hidden)}): type it plainly")
    if unicodedata.normalize("NFKC", name) != name:
        raise StaffError(f"the {what} holds compatibility forms (full-width or styled letters): type it plainly")
    scripts = {categories.alias(c) for c in name if c.isalpha()} - {"COMMON", "INHERITED"}
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_MIXES):
        raise StaffError(f"the {what} mixes writing systems ({', '.join(sorted(scripts))}): letters of one script only")
    return name


def skeleton(name: str) -> str:
    """TR39's skeleton, simplified: every character that can pass for a Latin one (in either case)
    becomes it, then case is folded. Two names with one skeleton are one name to a reader."""
    return "".join(_latin_lookalike(c) for c in unicodedata.normalize("NFKC", " ".join(name.split())))


def _ascii_lookalikes(char: str) -> set[str]:
    """ASCII letters and digits a reader could take `char` for, in either case (case folded)."""
    found = {char.casefold()} if char.isascii() else set()
    for form in {char, char.upper(), char.lower()}:
        for entry in confusables.is_confusable(form, greedy=True, preferred_aliases=[]) or ():
            found.update(h["c"].casefold() for h in entry.get("homoglyphs", ()) if h["c"].isascii() and h["c"].isalnum())
    return found


@lru_cache(maxsize=1)
def _ascii_classes() -> dict[str, str]:
    """Each ASCII letter or digit -> the smallest member of its look-alike class (`1`, `i`, `l`
    and `I` are one class), closed under the look-alike relation so that the order of lookups
    never matters."""
    parent = {c: c for c in string.ascii_lowercase + string.digits}

    def root(c: str) -> str:
        while parent[c] != c:
            c = parent[c]
        return c

    for c in list(parent):
        for other in _ascii_lookalikes(c) & parent.keys():
            low, high = sorted((root(c), root(other)))
            parent[high] = low
    return {c: root(c) for c in parent}


@lru_cache(maxsize=4096)
def _latin_lookalike(char: str) -> str:
    if not char.isalnum():
        return char
    classes = _ascii_classes()
    candidates = {classes[c] for c in _ascii_lookalikes(char) if c in classes}
    return min(candidates) if candidates else char.casefold()


def staff_actor(directory: StaffDirectory | None, given: str, role: Role) -> str:
    """What the control database records as the person: the directory id, or the checked name."""
    if directory is not None:
        return directory.member(given, role).id
    return checked_name(given)


def same_person(a: str, b: str) -> bool:
    """Whether two recorded actors are one person (ids compare exactly; names by skeleton)."""
    return skeleton(a) == skeleton(b)
