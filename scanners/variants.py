"""Every way the subject's identifiers may be written in free text, for the multi-pattern prefilter.

Text is matched after ASCII lower-casing, so variants are lower-case; full-width forms
(ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ, ０９０－１２３４－５６７８) are listed explicitly because ASCII lower-casing
does not reach them. Phone numbers come national and international with every usual separator;
names in both orders, with and without a comma, in Latin and as written in the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from dsr.subject import DEFAULT_PHONE_REGION, Identifier, IdentifierKind, Subject

_FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}
_SEPARATORS = ("-", " ", ".", "", "‐", "－", "　")
_LATIN_JOINERS = (" ", ", ", ",", "\u3000")
_CJK_JOINERS = (" ", "", "\u3000", "・")


@dataclass(frozen=True)
class Variant:
    """One spelling to look for, and the identifier it stands for."""

    text: str
    identifier: Identifier


def full_width(text: str) -> str:
    return "".join(_FULL_WIDTH.get(c, "\u3000" if c == " " else c) for c in text)


def _phone_variants(identifier: Identifier) -> set[str]:
    number = phonenumbers.parse(identifier.value, DEFAULT_PHONE_REGION)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    groups = re.findall(r"\d+", national)
    country = str(number.country_code)
    variants: set[str] = set()
    for sep in _SEPARATORS:
        body = sep.join(groups)
        variants.add(body)
        if len(groups) > 1:
            variants.add(f"({groups[0]}){sep if sep.strip() else ''}{sep.join(groups[1:])}")
            variants.add(f"({groups[0]}){sep.join(groups[1:])}")  # (090)1234-5678
            variants.add(f"({groups[0]}) {sep.join(groups[1:])}")
        if groups and groups[0].startswith("0"):  # international drops the trunk prefix
            intl = sep.join([groups[0][1:], *groups[1:]]) if groups[0] != "0" else sep.join(groups[1:])
            for prefix in (f"+{country}", f"+{country} ", f"+{country}-", f"{country}-", f"+{country}(0)", f"(+{country}) "):
                variants.add(prefix + intl)
        else:
            for prefix in (f"+{country}", f"+{country} ", f"+{country}-", f"({country}) "):
                variants.add(prefix + body)
    return {v for v in variants if len(re.sub(r"\D", "", v)) >= 7}


def _name_variants(identifier: Identifier) -> set[str]:
    tokens = identifier.value.replace(",", " ").split()
    if len(tokens) < 2:
        return {identifier.value}  # a single-token name is too ambiguous to widen
    variants = set()
    joiners = _LATIN_JOINERS if identifier.value.isascii() else _CJK_JOINERS  # Japanese writes names unspaced
    for order in (tokens, list(reversed(tokens))):
        for joiner in joiners:
            variants.add(joiner.join(order))
    return {v for v in variants if len(v) >= 4}


def _email_variants(identifier: Identifier) -> set[str]:
    return {identifier.value}


def variants_of(identifier: Identifier) -> set[str]:
    if identifier.kind is IdentifierKind.PHONE:
        base = _phone_variants(identifier)
    elif identifier.kind is IdentifierKind.NAME:
        base = _name_variants(identifier)
    elif identifier.kind is IdentifierKind.EMAIL:
        base = _email_variants(identifier)
    else:
        base = {identifier.value.lower()}
    lowered = {v.lower() for v in base}
    widened = {full_width(v) for v in lowered} | {full_width(v.upper()) for v in lowered} | {full_width(v.title()) for v in lowered}
    return {v for v in lowered | widened if v.strip()}


def subject_variants(subject: Subject) -> list[Variant]:
    """All variants of all identifiers, longest first (so the longest spelling wins an overlap)."""
    found = {(text, identifier) for identifier in subject.identifiers for text in variants_of(identifier)}
    return sorted((Variant(t, i) for t, i in found), key=lambda v: (-len(v.text), v.text))


def like_fragments(subject: Subject) -> list[str]:
    """Short, selective substrings for a database's LIKE prefilter (case-insensitive, ASCII).

    A database cannot run Aho-Corasick, but `lower(notes) LIKE '%taro.yamada@example.jp%'` over a
    handful of fragments narrows a table to its candidate rows; the matcher then decides.
    """
    fragments: set[str] = set()
    for identifier in subject.identifiers:
        if identifier.kind is IdentifierKind.PHONE:
            number = phonenumbers.parse(identifier.value, DEFAULT_PHONE_REGION)
            groups = re.findall(r"\d+", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
            fragments.add(groups[-1])  # every spelling ends with the subscriber digits
        elif identifier.kind is IdentifierKind.NAME:
            fragments.add(max(identifier.value.replace(",", " ").split(), key=len))
        else:
            fragments.add(identifier.value.lower())
    return sorted(fragments | {full_width(f) for f in fragments} | {full_width(f.upper()) for f in fragments})
