"""Other people in a customer's export: privacy policy §5 forbids disclosing them to this customer.

A support note, a call transcript or a CSV row exported to the subject may name the agent, a
relative, another customer, with their phone, address, national id or bank account. Presidio and
our recognizers find them; everything found that is not the subject's own mention is masked.

Only text is masked, never structure: in a record (a CSV row, a JSON document) each text value is
masked on its own, and key and id fields are left as they are (an order id is not a phone number,
and the customer needs it to recognise the record). The values of one record are analysed together,
each after its field name, so that a name or a number keeps its context ("passport: TK1234567").
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dsr.subject import IdentifierKind
from scanners.matcher import SubjectMatcher
from scanners.settings import NlpSettings

#: What counts as someone's personal data in exported text. DATE_TIME, ORGANIZATION, NRP and
#: US_DRIVER_LICENSE are left out on purpose: they misfire on ordinary words and identify nobody.
OTHER_PEOPLE_ENTITIES = [
    "PERSON", "LOCATION", "STREET_ADDRESS", "JP_POSTCODE",
    "EMAIL_ADDRESS", "PHONE_NUMBER", "JP_PHONE_NUMBER", "HK_PHONE_NUMBER",
    "JP_MY_NUMBER", "HK_HKID", "US_SSN", "UK_NINO", "PASSPORT",
    "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
]
MASK = "[other person]"

#: Field names that are keys or ids (id, order_id, customerId, invoice_no, uuid, ref, pk) ...
_KEY_NAME = re.compile(
    r"^(?i:id|uuid|guid|pk|key|ref|row|index)$"
    r"|[_\-\s.](?i:id|uuid|guid|pk|key|ref|no|num|number)$"
    r"|[a-z0-9](?:Id|ID|Uuid|UUID|Key|Ref|No|Num|Number)$"
)
#: ... unless the name says the id is a person's (national_id, passport_no, hkid_no, card_no).
_PERSONAL_NAME = re.compile(r"national|passport|hkid|ssn|nino|my_?number|tax|licen[cs]e|card|iban|account|phone|mobile|tel|fax|mail|person|citizen|postal|zip|address", re.IGNORECASE)


def is_key_field(name: str, declared: Iterable[str] = ()) -> bool:
    """Whether a field is structure to export as it is: declared a key, or named like an id."""
    return name in set(declared) or bool(_KEY_NAME.search(name)) and not _PERSONAL_NAME.search(name)


def other_people_spans(text: str, matcher: SubjectMatcher) -> list[tuple[int, int]]:
    """[start, end) of every personal entity in the text that is not the subject's own mention,
    merged where they overlap."""
    return _masked_spans(text, matcher, [(0, len(text))])


def mask_other_people(text: str, matcher: SubjectMatcher) -> str:
    """The text with every personal entity masked except the subject's own mentions."""
    return mask_texts([text], matcher)[0]


def mask_texts(values: list[str], matcher: SubjectMatcher, labels: list[str] | None = None) -> list[str]:
    """Each value with other people masked; the values of one record are analysed in one pass,
    each on its own line after its label (the field name), and no mask reaches outside a value."""
    if matcher.analyzer is None or not any(values):
        return list(values)
    values = [_valid(v) for v in values]
    parts, places, offset = [], [], 0
    for i, value in enumerate(values):
        label = f"{labels[i]}: " if labels else ""
        parts.append(label + value)
        places.append((offset + len(label), offset + len(label) + len(value)))
        offset += len(label) + len(value) + 1
    spans = _masked_spans("\n".join(parts), matcher, places)
    masked = []
    for value, (lo, hi) in zip(values, places, strict=True):
        inside = [(max(s, lo) - lo, min(e, hi) - lo) for s, e in spans if s < hi and e > lo]
        for start, end in reversed(inside):
            value = value[:start] + MASK + value[end:]
        masked.append(value)
    return masked


def _valid(text: str) -> str:
    """Lone surrogates (from undecodable bytes) would stop spaCy; '?' keeps every offset."""
    return text.encode("utf-8", "replace").decode("utf-8")


#: Entities found by patterns alone, looked for a second time with Japanese script blanked out:
#: in "IBAN GB82...は" or "test@example.jpから" a \\b in Presidio's patterns never sees the end.
PATTERN_ENTITIES = ["EMAIL_ADDRESS", "US_SSN", "UK_NINO", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS"]
_JAPANESE = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60]")
#: Role words spaCy takes into a name ("Installer Peter Ross", "Agent Kenji Mori"): not the person.
ROLE_WORDS = frozenset(
    "agent caller customer client installer technician engineer staff visitor relative tenant partner ex-partner "
    "manager operator driver courier colleague neighbour neighbor friend order ticket invoice case dear hi hello "
    "thanks from to cc attn subject re fw fwd date".split()
)


def _masked_spans(text: str, matcher: SubjectMatcher, places: list[tuple[int, int]]) -> list[tuple[int, int]]:
    analyzer: Any = matcher.analyzer
    if analyzer is None or not text.strip():
        return []
    own = _own_mentions(text, matcher)
    language = getattr(getattr(analyzer, "config", None), "nlp", NlpSettings()).language  # the configured model's language
    analyses = [analyzer.analyze(text=text, language=language, entities=OTHER_PEOPLE_ENTITIES)]
    found = [_trimmed(text, r) for r in analyses[0]]
    found = [r for r in found if _plausible(text[r.start : r.end], r)]
    if _JAPANESE.search(text):
        latin = _JAPANESE.sub(" ", text)
        own += _own_mentions(latin, matcher)  # an email glued to Japanese text is still the subject's
        # spaCy's English model reads Japanese as long runs of names and places: our own recognizers
        # (JpNameRecognizer, the Japanese addresses) cover Japanese script instead.
        found = [r for r in found if not (_from_spacy(r) and _JAPANESE.search(text[r.start : r.end]))]
        # Presidio drops a name contained in a longer one of spaCy's, dropped just above: ask again.
        analyses += [analyzer.analyze_patterns(latin, PATTERN_ENTITIES), analyzer.analyze_patterns(text, ["PERSON"])]
        found += analyses[1] + analyses[2]
    if not all(getattr(analysis, "complete", True) for analysis in analyses):
        # A recognizer failed on this text, so what it would have found is unknown: fail closed,
        # show the subject's own mentions and nothing else of it.
        found = [_Span(0, len(text))]
    pieces = [piece for r in found for piece in _outside(text, r.start, r.end, own)]
    spans: list[tuple[int, int]] = []
    for start, end in sorted(pieces):
        if not any(start < hi and end > lo for lo, hi in places):
            continue  # only in a label
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _outside(text: str, start: int, end: int, own: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) outside the subject's own mentions (they stay: they are what the
    export is for) that still hold a letter or a digit: when spaCy reads "Hanako Sato, Taro Yamada"
    as one name, the subject Taro Yamada stays and Hanako Sato is still masked."""
    pieces = [(start, end)]
    for own_start, own_end in own:
        pieces = [p for s, e in pieces for p in ((s, min(e, own_start)), (max(s, own_end), e)) if p[0] < p[1]]
    return [(s, e) for s, e in pieces if any(c.isalnum() for c in text[s:e])]


@dataclass
class _Span:
    start: int
    end: int


def _own_mentions(text: str, matcher: SubjectMatcher) -> list[tuple[int, int]]:
    """Every spelling of the subject's identifiers in the text, confirmed by Presidio or not: what
    equals the customer's own name, email or phone tells the customer nothing about anyone else,
    and an unconfirmed candidate (spaCy misreads names in Japanese) is still theirs to see."""
    return [(h.start, h.end) for h in _unconfirmed(matcher).find(text)]


@lru_cache(maxsize=16)
def _unconfirmed(matcher: SubjectMatcher) -> SubjectMatcher:
    return SubjectMatcher(matcher.subject, None, {kind: 0.0 for kind in IdentifierKind})


def _plausible(span: str, result: Any) -> bool:
    """Whether a finding can be someone's: not a country code (UK, HK), not an order number that
    spaCy took for a name, not a 6-digit reference that some region's numbering plan accepts."""
    if result.entity_type == "LOCATION" and len(span) <= 3:
        return False
    if _from_spacy(result) and any(c.isdigit() for c in span):
        return False
    return not (result.entity_type == "PHONE_NUMBER" and sum(c.isdigit() for c in span) < 7)


def _from_spacy(result: Any) -> bool:
    return "Spacy" in str((result.recognition_metadata or {}).get("recognizer_name", ""))


def _trimmed(text: str, result: Any) -> Any:
    """A span without what was swallowed at its start: the role word before a name from spaCy,
    'the' before a place, an opening bracket before a phone number."""
    if _from_spacy(result) and result.entity_type in ("PERSON", "LOCATION"):
        if text[result.start : result.end].lower() in ROLE_WORDS:
            result.start = result.end  # nothing left: dropped
        while (word := re.match(r"[\w'-]+\s+", text[result.start : result.end])) and word.group().strip().lower() in ROLE_WORDS | {"the"}:
            result.start += word.end()
    closing = {"(": ")", "（": "）"}.get(text[result.start : result.start + 1])
    if closing and closing not in text[result.start : result.end]:
        result.start += 1
    return result


# --------------------------------------------------------------------------- records


def mask_record(value: Any, matcher: SubjectMatcher, keys: Iterable[str] = ()) -> Any:
    """A JSON value (object, array, string) with other people masked in its text values.

    Fields that are keys (declared in `keys`, or named like ids) keep their values, as do numbers,
    booleans and null: structure, not text.
    """
    declared = frozenset(keys)
    slots: list[tuple[Any, Any, str]] = []  # (container, index or key, field name for context)

    def collect(item: Any, name: str) -> None:
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(child, str) and not is_key_field(str(key), declared):
                    slots.append((item, key, str(key)))
                elif isinstance(child, dict | list) and not is_key_field(str(key), declared):
                    collect(child, str(key))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                if isinstance(child, str):
                    slots.append((item, index, name))
                elif isinstance(child, dict | list):
                    collect(child, name)

    if isinstance(value, str):
        return mask_other_people(value, matcher)
    result = json.loads(json.dumps(value))  # a copy to mask in place
    collect(result, "")
    masked = mask_texts([c[k] for c, k, _ in slots], matcher, [n for _, _, n in slots])
    for (container, key, _), text in zip(slots, masked, strict=True):
        container[key] = text
    return result


def mask_csv_row(row: str, matcher: SubjectMatcher, header: list[str] | None, keys: Iterable[str] = ()) -> str:
    """One CSV row (as the object reader gives it) with other people masked cell by cell; cells
    under a key column of the header keep their values."""
    cells = _cells(row)
    names = header if header is not None and len(header) == len(cells) else [""] * len(cells)
    declared = frozenset(keys)
    free = [i for i, name in enumerate(names) if not (name and is_key_field(name, declared))]
    masked = mask_texts([cells[i] for i in free], matcher, [names[i] or "value" for i in free])
    if all(cells[i] == m for i, m in zip(free, masked, strict=True)):
        return row
    for i, text in zip(free, masked, strict=True):
        cells[i] = text
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)  # \r\n so that cells holding a line break are quoted
    return buffer.getvalue()[:-2]


def _cells(row: str) -> list[str]:
    return next(csv.reader(io.StringIO(row, newline="")), [])


def looks_like_header(row: str) -> list[str] | None:
    """The column names, when a CSV object's first row is a header (short names, no digits-only cell)."""
    cells = _cells(row)
    if cells and all(cell and len(cell) <= 64 and not cell.strip().replace(".", "").isdigit() and "@" not in cell for cell in cells):
        return cells
    return None


def mask_json_text(text: str, matcher: SubjectMatcher, keys: Iterable[str] = ()) -> str:
    """A JSON document or JSON Lines line with other people masked in its text values; text that
    is not JSON is masked as text."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return mask_other_people(text, matcher)
    masked = mask_record(value, matcher, keys)
    if masked == value:
        return text
    return _valid(json.dumps(masked, ensure_ascii=False, indent=2 if "\n" in text.strip() else None))
