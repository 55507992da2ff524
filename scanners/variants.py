"""How the subject's identifiers get written, as rules over the canonical form (scanners.decoding).

The text is decoded and folded first (escapes, full-width, case, kana, dashes, spaces), so a rule
here only has to say what varies after that:

- phone numbers: national or international (`+81`, `0081`, `(+81)`, `+81 (0)90`), digits grouped
  any way with dashes, dots, spaces or parentheses between them;
- emails: `@` and `.` as written or obfuscated (` at `, `[at]`, `(at)`, ` dot `, `[dot]`), spaces
  around the `@`;
- names: the given tokens in every order, joined by spaces, a comma, `+` or `・` (Japanese may
  write them unspaced);
- customer numbers and addresses: as given, spaces free.

Each identifier also has an anchor: a short canonical substring that every spelling contains
(the phone's last four digits, the longest run of letters), and companions, the other parts every
spelling holds too (a name's other tokens, an email's other words). The surface forms of both
(full-width, hiragana, half-width katakana, and URL/HTML/JSON/quoted-printable encodings of each)
are what the byte-level prefilter looks for: only the few bytes around an anchor with its
companions nearby are decoded (a common surname alone opens nothing).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers

from dsr.subject import DEFAULT_PHONE_REGION, Identifier, IdentifierKind, Subject
from scanners.decoding import canonical

_FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}
_PHONE_SEPARATORS = r"[-. ()+]{0,3}"
_AT = r"(?:[ +]?@[ +]?|[ +]?[\[({<][ +]?(?:at|@)[ +]?[\])}>][ +]?|[ +]at[ +])"
_DOT = r"(?:\.|[ +]?[\[({<][ +]?(?:dot|\.)[ +]?[\])}>][ +]?|[ +]dot[ +])"
_LATIN_JOINER = r"(?:[ +]*,[ +]*|[ +]+|・)"
_CJK_JOINER = r"(?:[ +]*,[ +]*|[ +・]*)"
_NAME_TOKEN_SPLIT = re.compile(r"[ ,・]+")
#: Bytes an encoded character may take (`%EF%BC%90` for one full-width digit is nine).
MAX_BYTES_PER_CHAR = 9


@dataclass(frozen=True)
class Spelling:
    """Every way one identifier may be written: a pattern over canonical text, and its anchor."""

    identifier: Identifier
    pattern: re.Pattern[str]
    anchor: str
    longest: int  # canonical characters of the longest spelling the pattern can match, roughly
    companions: tuple[str, ...] = ()  # other canonical parts every spelling holds too (the given name, the domain)


def full_width(text: str) -> str:
    return "".join(_FULL_WIDTH.get(c, "\u3000" if c == " " else c) for c in text)


def _digits(digits: str) -> str:
    return _PHONE_SEPARATORS.join(digits)


def _phone(identifier: Identifier) -> Spelling:
    number = phonenumbers.parse(identifier.value, DEFAULT_PHONE_REGION)
    national = re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    significant = phonenumbers.national_significant_number(number)
    country = str(number.country_code)
    trunk = national[: len(national) - len(significant)]  # '0' in Japan, '' in Hong Kong
    international = rf"(?:(?:\+|00|010) ?)?\(?\+?{country}\)?{_PHONE_SEPARATORS}" + (rf"(?:\({trunk}\)|{trunk})?{_PHONE_SEPARATORS}" if trunk else "")
    pattern = rf"(?=[\d+(])(?:{international}{_digits(significant)}|\(?{_digits(national)})"  # the lookahead: tried where a number can start
    groups = re.findall(r"\d+", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    # The subscriber's last group is the anchor; the group before it, written whole in every usual
    # grouping (090-1234-5678, 09012345678, +81 90 1234 5678), is its companion.
    companions = (groups[-2],) if len(groups) >= 3 and len(groups[-2]) >= 3 else ()
    return Spelling(identifier, re.compile(pattern), groups[-1] if len(groups[-1]) >= 4 else significant[-4:], 2 * len(national) + 12, companions)


def _email(identifier: Identifier) -> Spelling:
    local, _, domain = canonical(identifier.value).rpartition("@")
    pattern = _AT.join(_DOT.join(map(re.escape, part.split("."))) for part in (local, domain))
    runs = re.findall(r"[^\W_]+", local) or re.findall(r"[^\W_]+", domain)
    anchor = max(runs, key=len)
    companions = tuple(sorted({r for r in re.findall(r"[^\W_]+", f"{local} {domain}") if len(r) >= 3} - {anchor}))
    return Spelling(identifier, re.compile(pattern), anchor, len(identifier.value) + 7 * identifier.value.count(".") + 8, companions)


def _is_cjk(token: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in token)


def _name(identifier: Identifier) -> Spelling:
    tokens = [t for t in _NAME_TOKEN_SPLIT.split(canonical(identifier.value)) if t]
    joiner = _CJK_JOINER if all(map(_is_cjk, tokens)) else _LATIN_JOINER
    orders = itertools.permutations(tokens) if len(tokens) <= 3 else (tokens, tokens[::-1])
    pattern = "|".join(joiner.join(map(re.escape, order)) for order in sorted(set(orders), key=lambda o: [-len(t) for t in o]))
    anchor = max(tokens, key=len)
    companions = tuple(t for t in tokens if t != anchor)
    return Spelling(identifier, re.compile(pattern), anchor, sum(map(len, tokens)) + 3 * len(tokens), companions)


def _literal(identifier: Identifier) -> Spelling:
    text = canonical(identifier.value)
    pattern = " *".join(map(re.escape, text.split()))
    return Spelling(identifier, re.compile(pattern), max(text.split(), key=len), 2 * len(text))


def spelling_of(identifier: Identifier) -> Spelling:
    if identifier.kind is IdentifierKind.PHONE:
        return _phone(identifier)
    if identifier.kind is IdentifierKind.EMAIL:
        return _email(identifier)
    if identifier.kind is IdentifierKind.NAME:
        return _name(identifier)
    return _literal(identifier)


def subject_spellings(subject: Subject) -> list[Spelling]:
    return [spelling_of(i) for i in subject.identifiers]


def _kana_forms(text: str) -> set[str]:
    """Katakana (the canonical form) as hiragana and as half-width katakana too."""
    if not any("\u30a1" <= c <= "\u30f6" for c in text):
        return set()
    hiragana = "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)
    return {hiragana, "".join(_HALF_WIDTH_KANA.get(c, c) for c in text)}


def _half_width_kana() -> dict[str, str]:
    table = {}
    for code in range(0xFF66, 0xFF9E):
        table[unicodedata.normalize("NFKC", chr(code))] = chr(code)
    for c, mark, half_mark in itertools.product(list(table), ("\u3099", "\u309a"), ("\uff9e", "\uff9f")):
        composed = unicodedata.normalize("NFC", c + mark)
        if len(composed) == 1 and (mark == "\u3099") == (half_mark == "\uff9e"):
            table[composed] = table[c] + half_mark
    return table


_HALF_WIDTH_KANA = _half_width_kana()


def _encodings(form: str) -> set[str]:
    """A surface form as URL, quoted-printable, JSON and HTML escapes write it (lower-case hex: the
    prefilter lower-cases the bytes it searches)."""
    data = form.encode()
    encoded = {
        "".join(f"%{b:02x}" for b in data),
        "".join(f"&#{ord(c)};" for c in form),
        "".join(f"&#x{ord(c):x};" for c in form),
    }
    if not form.isascii():  # ASCII is printable in quoted-printable and left alone by JSON encoders
        encoded.add("".join(f"={b:02x}" for b in data))
        encoded.add("".join(f"\\u{ord(c):04x}" for c in form if ord(c) < 0x10000))
    return encoded


def anchor_forms(anchor: str) -> set[str]:
    """How a canonical anchor may stand in raw text, lower-cased (full-width upper case is folded
    by the prefilter)."""
    plain = {anchor, *(full_width(case) for case in (anchor, anchor.upper(), anchor.title())), *_kana_forms(anchor)}
    return plain | {e for form in plain for e in _encodings(form)}


def like_fragments(subject: Subject) -> list[str]:
    """Short, selective substrings for a database's LIKE prefilter (case-insensitive).

    A database cannot run Aho-Corasick, but `lower(notes) LIKE '%yamada%'` over a handful of
    fragments narrows a table to its candidate rows; the matcher then decides. Every spelling
    holds one of them.
    """
    fragments: set[str] = set()
    for spelling in subject_spellings(subject):
        fragments |= anchor_forms(spelling.anchor)
    return sorted(fragments)
