"""Classification of sampled values: what category of personal data a column holds, and whether it
can seed discovery. The values decide; a column's name is a hint that may lower a threshold or name
an identifier kind values cannot show (a customer number), never a category on its own.

Costs are bounded per column: Presidio's pattern recognizers run only on values that could hold
their entity (an '@', enough digits), spaCy's named-entity step only on short, varied, mostly
alphabetic text (names, cities) and on a few pieces of long text; both stop early once the first
values agree. Nothing here keeps a value: the result is counts, a category and a confidence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import CollectionInfo, ColumnInfo
from dsr.datamap.model import CollectionProfile, ColumnProfile
from scanners.settings import ScannerConfig

# Budgets per column: values a recognizer looks at (first FIRST, up to MOST when the first disagree).
PATTERN_FIRST, PATTERN_MOST = 5, 20  # a phone number costs Presidio ~5 ms: most columns are settled by their first few values
NER_FIRST, NER_MOST = 6, 12  # spaCy costs ~1.5 ms a value
TEXT_VALUES = 5  # pieces of long text given to the recognizers and NER
MAX_VALUE_CHARS = 400  # a value is looked at only this far
MAX_TEXT_CHARS = 160  # a piece of long text, only this far

IDENTITY_DISTINCT = 0.9  # an identity field is close to unique per row
DECIDES = 0.5  # share of the examined values that must be an entity for it to decide a column
WHOLE = 0.7  # an entity "is" the value when it covers this much of it (otherwise it is inside text)

EMAIL = {"EMAIL_ADDRESS"}
PHONES = {"PHONE_NUMBER", "JP_PHONE_NUMBER", "HK_PHONE_NUMBER", "UK_PHONE_NUMBER"}
NATIONAL_IDS = {"JP_MY_NUMBER", "HK_HKID", "US_SSN", "UK_NHS", "UK_NINO", "IN_AADHAAR", "SG_NRIC_FIN", "AU_TFN", "ES_NIF", "IT_FISCAL_CODE"}
FINANCIAL = {"CREDIT_CARD", "IBAN_CODE", "US_BANK_NUMBER", "CRYPTO"}
NETWORK = {"IP_ADDRESS", "MAC_ADDRESS"}
POSTCODES = {"JP_POSTCODE"}
PERSON, LOCATION = "PERSON", "LOCATION"
SPACY_LOCATIONS = {"GPE", "LOC", "FAC"}
PERSONAL_IN_TEXT = EMAIL | PHONES | NATIONAL_IDS | FINANCIAL | {PERSON}
GROUPS = (EMAIL, PHONES, NATIONAL_IDS, FINANCIAL, NETWORK, POSTCODES)

_DIGITS = re.compile(r"\d")
_LATIN = re.compile(r"[A-Za-z]")
_EXTENSION = re.compile(r"(?i)\b(?:ext|tel|x)\.?\s*(?=\d)|x(?=\d)")
_LETTER = re.compile(r"[^\W\d_]")
_NAME_SHAPE = re.compile(  # capitalised words, or a name in kanji/kana/hangul (one or two parts)
    r"[A-Z][A-Za-z'\u2019.-]*(?:,?\s+[A-Z][A-Za-z'\u2019.-]*){0,3}|[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]{1,6}(?:[\s\u3000][\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]{1,6})?")
# A phone, card or ID number is a run of digits and separators that does not continue into a word (hex hashes are full of digit runs).
_NUMBER_RUN = re.compile(r"(?<![A-Za-z0-9])[+(\d][\d \-().\u3000]{5,}\d(?![A-Za-z0-9])")
_IP_SHAPE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,}")
_POSTCODE_SHAPE = re.compile(r"〒?\s*\d{3}-?\d{4}|\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|\d{4,6}|[A-Z]\d[A-Z]\s?\d[A-Z]\d", re.IGNORECASE)
_STREET_SHAPE = re.compile(r"^\s*\d+[\w/-]*,?\s+\S+(\s+\S+)+")
_CODE_SHAPE = re.compile(r"^(?=.*\d)[A-Za-z0-9]+(?:[-_/.][A-Za-z0-9]+)*$")
_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

# Column-name hints (tokens of the name): they never decide alone, see _decide.
_ADDRESS_HINTS = {"address", "addr", "street", "city", "town", "state", "prefecture", "province", "region", "zip", "zipcode", "postcode",
                  "postal", "country", "line1", "line2", "district", "ward", "county", "suburb", "building"}
_PERSON_HINTS = {"first", "last", "given", "family", "surname", "forename", "fullname", "middle", "firstname", "lastname", "kana"}
_PERSONISH = {"customer", "contact", "user", "member", "employee", "staff", "client", "patient", "owner", "holder", "cardholder", "recipient",
              "sender", "person", "people", "subscriber", "applicant", "guest", "passenger", "student", "agent", "buyer", "payer", "shipping",
              "billing", "emergency", "spouse", "parent", "guardian", "beneficiary", "account"}
_DOB_HINTS = {"birth", "dob", "born", "birthday", "birthdate"}
_CUSTOMER_HINTS = {"customer", "cust", "member", "client", "subscriber", "loyalty", "account", "contract", "membership"}
_NUMBER_HINTS = {"no", "num", "number", "code", "id", "ref", "key", "nbr"}
_FINANCIAL_HINTS = {"card", "pan", "cc", "iban", "credit", "cardnumber"}
_CONTACT_HINTS = {"email", "mail", "phone", "tel", "mobile", "fax", "cell", "telephone"}


def name_tokens(name: str) -> list[str]:
    """customerNo, CUSTOMER_NO, customer-no -> ['customer', 'no']."""
    return [t.lower() for t in _TOKEN.findall(name)]


def _singular(token: str) -> str:
    return token[:-1] if token.endswith("s") and len(token) > 3 else token


def names_a_person(column: str) -> bool:
    """first_name, surname, customer_name: a name that says whose (not a bare `name`, which a genre has too)."""
    tokens = set(name_tokens(column))
    return bool(tokens & _PERSON_HINTS or ("name" in tokens and tokens & _PERSONISH))


def name_hint(table: str, column: str) -> str | None:
    """The category a column's name (and its table's) suggests, or None. A hint only: see classify_column."""
    tokens = set(name_tokens(column))
    table_tokens = {_singular(t) for t in name_tokens(table)}
    if tokens & _DOB_HINTS:
        return "date_of_birth"
    if tokens & _CONTACT_HINTS:
        return "contact"
    if names_a_person(column) or (tokens and tokens <= {"name", "full", "display"} and table_tokens & _PERSONISH):
        return "name"
    if tokens & _ADDRESS_HINTS:
        return "address"
    if tokens & _FINANCIAL_HINTS:
        return "financial"
    if tokens & _CUSTOMER_HINTS and tokens & _NUMBER_HINTS:
        return "identifier"
    return None


@dataclass
class _Evidence:
    """Per entity: how many of the values looked at showed it, and how many were it (whole)."""

    looked: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    whole: Counter[str] = field(default_factory=Counter)
    kinds: Counter[int] = field(default_factory=Counter)  # per group of GROUPS (by index): values showing any of its entities

    def share(self, entities: set[str] | str, whole: bool = True) -> float:
        counts = self.whole if whole else self.seen
        names = {entities} if isinstance(entities, str) else entities
        return max((counts[e] for e in names), default=0) / self.looked if self.looked else 0.0



@dataclass
class _NerJob:
    """A column's values for NER: `first` of them, then up to `most` unless the first settled it.
    `enough`: an entity whose one sighting settles the column (a person in a column named for people)."""

    values: Sequence[str]
    first: int
    most: int
    full_names: bool = False
    enough: str | None = None
    evidence: _Evidence = field(default_factory=_Evidence)

    def values_for(self, round_: int) -> Sequence[str]:
        return self.values[: self.first] if round_ == 0 else self.values[self.first: self.most]

    def clear(self) -> bool:
        """Clearly names (places) or clearly not: more values would not change the verdict."""
        looked = self.evidence.looked
        if self.first >= self.most:
            return True
        if self.enough:
            return bool(self.evidence.seen[self.enough])
        return all(n <= 0.34 * looked or n >= 0.75 * looked for n in self.evidence.whole.values())


@dataclass
class _Work:
    """A column whose patterns are known, waiting for NER (if it needs any) to be decided."""

    base: dict[str, Any]
    texts: list[str]
    evidence: _Evidence
    ner: _NerJob | None
    hint: str | None
    distinct: float
    long_text: bool
    whose: bool

    def finish(self) -> ColumnProfile:
        people = self.ner.evidence if self.ner else _Evidence()
        category, identity, confidence = _decide(self.evidence, people, self.texts, self.hint, self.distinct, self.long_text, self.whose)
        counts = Counter(self.evidence.seen) + Counter(people.seen)
        return ColumnProfile(**self.base, category=category, identity=identity, confidence=round(confidence, 3), evidence=dict(counts),
                             examined=max(self.evidence.looked, people.looked))


class Classifier:
    """Classifies sampled columns with the estate's Presidio configuration (built on first use)."""

    def __init__(self, config: ScannerConfig):
        self.config = config
        self._analyzer: Any = None
        self._pattern_entities: set[str] | None = None

    # ------------------------------------------------------------------ engines

    @property
    def analyzer(self) -> Any:
        if self._analyzer is None:
            from scanners.engine import build_analyzer  # loads spaCy: only when something is classified

            self._analyzer = build_analyzer(self.config)
            self._pattern_entities = {
                e for r in self._analyzer.engine.registry.recognizers if "Spacy" not in type(r).__name__ for e in r.supported_entities
            }
        return self._analyzer

    def _candidate_entities(self, value: str) -> list[str]:
        """Entities a value could hold at all: the slow recognizers (phone numbers) only see digits."""
        wanted: set[str] = set()
        if "@" in value:
            wanted |= EMAIL
        digits = len(_DIGITS.findall(value))
        runs = [len(_DIGITS.findall(run.group())) for run in _NUMBER_RUN.finditer(value) if not _IP_SHAPE.fullmatch(run.group().strip())]
        code = not any(ch.isspace() for ch in value.strip()) and bool(_LETTER.search(_EXTENSION.sub("", value)))
        if any(7 <= n <= 15 for n in runs) and not code:  # E.164 has at most 15 digits; a code with letters is no phone number
            wanted |= PHONES
        if any(n >= 12 for n in runs):
            wanted |= FINANCIAL
        if digits >= 7:
            wanted |= NATIONAL_IDS  # HKID (a letter, seven digits), My Number (twelve)
        if digits >= 4 and _IP_SHAPE.search(value):
            wanted |= NETWORK
        if digits >= 7 or "〒" in value:
            wanted |= POSTCODES
        assert self._pattern_entities is not None
        return sorted(wanted & self._pattern_entities)

    def _patterns(self, column: str, values: Sequence[str], evidence: _Evidence, most: int = PATTERN_MOST) -> None:
        """Presidio's pattern recognizers and ours, value by value; the column's name is given as the
        context a reader would have ("phone: 9123 4567"), the recognizers decide."""
        self.analyzer  # noqa: B018 - builds the analyzer and the entity list
        context = " ".join(name_tokens(column)) + ": "
        for i, value in enumerate(values[:most]):
            if i == PATTERN_FIRST and _settled(evidence, PATTERN_FIRST):
                break
            evidence.looked += 1
            entities = self._candidate_entities(value)
            if not entities:
                continue
            results = self.analyzer.analyze_patterns(context + value, entities)
            size = max(len(value.strip()), 1)
            found = {r.entity_type for r in results}
            evidence.kinds.update(g for g, group in enumerate(GROUPS) if found & group)
            lettered = bool(_LETTER.search(_EXTENSION.sub("", value)))  # "C-03000001" holds a phone-like number but is no phone number
            for entity in found:
                evidence.seen[entity] += 1
                if entity in PHONES and lettered:
                    continue
                if any(r.entity_type == entity and (r.end - r.start) >= WHOLE * size for r in results):
                    evidence.whole[entity] += 1

    def _entities(self, jobs: Sequence[_NerJob]) -> None:
        """spaCy's named-entity step alone (the rest of the pipeline is not needed): people and places,
        for the columns of a collection together (spaCy costs a third per value in one large batch
        of what it costs in small ones). The model reads Latin script: spans without a Latin letter
        are not evidence. In running text (`full_names`), a person counts only as two or more
        capitalised words: a capitalised word alone, or lorem ipsum, is too often tagged."""
        nlp = self.analyzer.engine.nlp_engine.nlp[self.config.nlp.language]
        off = [name for name in nlp.pipe_names if name not in ("tok2vec", "ner")]
        for round_ in (0, 1):
            batch = [(job, value) for job in jobs if round_ == 0 or not job.clear() for value in job.values_for(round_)]
            for (job, value), doc in zip(batch, nlp.pipe([v for _, v in batch], disable=off, batch_size=256)):
                evidence = job.evidence
                evidence.looked += 1
                size = max(len(value.strip()), 1)
                for label, entity in ((("PERSON", "PER"), PERSON), (tuple(SPACY_LOCATIONS), LOCATION)):
                    spans = [e for e in doc.ents if e.label_ in label and _LATIN.search(e.text) and (not job.full_names or entity != PERSON or _full_name(e))]
                    if spans:
                        evidence.seen[entity] += 1
                        if sum(len(e.text) for e in spans) >= WHOLE * size:
                            evidence.whole[entity] += 1

    # ------------------------------------------------------------------ columns

    def classify_column(self, table: str, column: ColumnInfo, values: Sequence[Any]) -> ColumnProfile:
        """One column from its sampled values (NULLs and empty strings are not evidence)."""
        (profile,) = self._classify(table, [(column, values)])
        return profile

    def _classify(self, table: str, columns: Sequence[tuple[ColumnInfo, Sequence[Any]]]) -> list[ColumnProfile]:
        """Patterns column by column, then NER for the columns that need it, in one batch."""
        works = [self._patterns_of(table, column, values) for column, values in columns]
        self._entities([w.ner for w in works if isinstance(w, _Work) and w.ner is not None])
        return [w.finish() if isinstance(w, _Work) else w for w in works]

    def _patterns_of(self, table: str, column: ColumnInfo, values: Sequence[Any]) -> _Work | ColumnProfile:
        present = [v for v in values if v is not None and v != ""]
        hint = name_hint(table, column.name)
        base = {"name": column.name, "sql_type": column.type, "nullable": column.nullable, "hint": hint, "sampled": len(present)}
        if not present:
            return ColumnProfile(**base)
        distinct = len({repr(v) for v in present}) / len(present)
        base["distinct_ratio"] = distinct
        texts = [v[:MAX_VALUE_CHARS] for v in present if isinstance(v, str)]
        if len(texts) < len(present) / 2:  # numbers, dates, binary: only what their type and the hint can show
            return ColumnProfile(**base, **_typed(present, hint, distinct))

        mean_length = sum(len(t) for t in texts) / len(texts)
        mean_words = sum(len(t.split()) for t in texts) / len(texts)
        long_text = mean_length >= 40 and mean_words >= 5
        if long_text:  # a few pieces, cut short: recognizers and NER cost by the character
            texts = [t[:MAX_TEXT_CHARS] for t in texts]
        evidence = _Evidence()
        self._patterns(column.name, texts, evidence, TEXT_VALUES if long_text else PATTERN_MOST)
        varied = distinct >= 0.5 or hint in ("name", "address")  # a repeating enum (status, genre id) names nobody, unless named for people or places
        capitalised = sum(1 for t in texts if t[:1].isupper() or (t[:1].isalpha() and not t[:1].isascii()))  # names are written with capitals (or in a script without them)
        name_like = (not long_text and mean_words <= 5 and mean_length >= 3 and varied and capitalised >= 0.7 * len(texts)
                     and sum(1 for t in texts if not _DIGITS.search(t)) >= 0.7 * len(texts))
        whose = names_a_person(column.name)
        ner = None
        if long_text and evidence.share(PERSONAL_IN_TEXT - {PERSON}, whole=False) < 0.3:  # no emails or numbers inside: are there names?
            ner = _NerJob(texts, TEXT_VALUES, TEXT_VALUES, full_names=True)
        elif name_like and not _decided_by_patterns(evidence):  # named for people or places: one sighting is enough, none needs the whole budget
            ner = _NerJob(texts, NER_FIRST, NER_MOST, enough=PERSON if hint == "name" and whose else LOCATION if hint == "address" else None)
        return _Work(base, texts, evidence, ner, hint, distinct, long_text, whose)

    def classify(self, system: str, info: CollectionInfo, rows: Sequence[dict[str, Any]]) -> CollectionProfile:
        """A collection from its schema entry and its sample; columns only the sample shows (object
        records) are added as text."""
        columns = list(info.columns) or [ColumnInfo(name, "text", True) for name in dict.fromkeys(k for row in rows for k in row)]
        profiles = tuple(self._classify(info.name, [(c, [row.get(c.name) for row in rows]) for c in columns]))
        return CollectionProfile(
            system=system, name=info.name, kind=info.kind, parent=info.parent, primary_key=info.primary_key, rows_estimate=info.rows_estimate,
            sampled_rows=len(rows), columns=profiles, references=info.foreign_keys,
        )


def _full_name(span: Any) -> bool:
    words = [t.text for t in span if t.is_alpha]
    return len(words) >= 2 and all(w[:1].isupper() for w in words)


def _settled(evidence: _Evidence, looked: int) -> bool:
    """The first values agree: one kind of entity (a phone number in whichever recognizer's
    spelling) is nearly every value, or every kind is in none or nearly all of them."""
    if any(evidence.share(group) >= 0.9 for group in GROUPS):
        return True
    return all(n == 0 or n >= 0.9 * looked for n in evidence.kinds.values())


def _decided_by_patterns(evidence: _Evidence) -> bool:
    return any(evidence.share(group) >= DECIDES for group in GROUPS)


def _share(texts: Sequence[str], pattern: re.Pattern[str], full: bool = True) -> float:
    hits = sum(1 for t in texts if (pattern.fullmatch(t.strip()) if full else pattern.match(t)))
    return hits / len(texts) if texts else 0.0


def _decide(evidence: _Evidence, people: _Evidence, texts: Sequence[str], hint: str | None, distinct: float, long_text: bool,
            whose: bool) -> tuple[str, str | None, float]:
    """(category, identity kind, confidence): the deciding evidence's share of the sampled values;
    a decision the name hint helped make is capped at 0.8. `whose`: the column's name says it
    names a person (first_name, surname), so single words that NER rarely tags need less of it."""
    unique = distinct >= IDENTITY_DISTINCT
    if long_text:  # emails and numbers are precise at 0.3 of the pieces; people named in text need half of them
        share = evidence.share(PERSONAL_IN_TEXT - {PERSON}, whole=False)
        named = people.share(PERSON, whole=False)
        if share >= 0.3 or named >= 0.5:
            return "free_text", None, max(share, named)
        return "none", None, 1 - max(share, named)
    for group, category in ((NATIONAL_IDS, "national_id"), (FINANCIAL, "financial"), (EMAIL, "contact"), (PHONES, "contact"), (NETWORK, "network")):
        share = evidence.share(group)
        if share >= DECIDES:
            identity = ("email" if group is EMAIL else "phone" if group is PHONES else None) if unique else None
            return category, identity, share
    if evidence.share(POSTCODES) >= DECIDES:
        return "address", None, evidence.share(POSTCODES)
    embedded = evidence.share(PERSONAL_IN_TEXT - {PERSON}, whole=False)
    worded = sum(len(t.split()) for t in texts) >= 2 * len(texts)
    if embedded >= 0.3 and worded:  # short text with emails or numbers inside (a CSV line, a terse note), not a code
        return "free_text", None, embedded
    person, place = people.share(PERSON), people.share(LOCATION)
    if person >= 0.6 and person >= place:
        return "name", None, person
    shaped = _share(texts, _NAME_SHAPE)
    if hint == "name" and whose and people.seen[PERSON] and shaped >= 0.8:
        return "name", None, min(0.8, 0.4 + person)
    if hint == "name" and person >= 0.3 and shaped >= 0.8:
        return "name", None, min(0.8, 0.4 + person)
    if place >= 0.6:
        return "address", None, place
    street = _share(texts, _STREET_SHAPE, full=False)
    if street >= 0.6:
        return "address", None, street
    if hint == "financial" and evidence.share(FINANCIAL) >= 0.3:  # Presidio knows only some card schemes' prefixes
        return "financial", None, min(0.8, 0.4 + evidence.share(FINANCIAL))
    if hint == "address":  # a place named at least once among place-name-shaped values, a street, postcodes
        postcode = _share(texts, _POSTCODE_SHAPE)
        named_place = people.share(LOCATION, whole=False) if shaped >= 0.8 else 0.0
        support = max(named_place, street if street >= 0.3 else 0.0, postcode if postcode >= 0.8 else 0.0)
        if support:
            return "address", None, min(0.8, 0.4 + support)
    if hint == "identifier":
        code = _share(texts, _CODE_SHAPE)
        if code >= 0.9:
            return "identifier", "customer_id" if unique else None, min(0.8, 0.4 + code)
    if hint == "date_of_birth":
        dates = _birth_dates([_parse_date(t) for t in texts])
        if dates >= 0.8:
            return "date_of_birth", None, min(0.8, 0.4 + dates)
    found = max([evidence.share(g, whole=False) for g in (EMAIL, PHONES, NATIONAL_IDS, FINANCIAL, NETWORK)] + [person, place])
    return "none", None, 1 - found


def _typed(values: Sequence[Any], hint: str | None, distinct: float) -> dict[str, Any]:
    """Non-text columns: dates of birth (a hint and plausible ages) and customer numbers stored as
    numbers (a hint, unique, not a running 1, 2, 3 key). Everything else is not personal by itself."""
    if hint == "date_of_birth":
        share = _birth_dates(values)
        if share >= 0.8:
            return {"category": "date_of_birth", "confidence": min(0.8, 0.4 + share)}
    if hint == "identifier" and distinct >= IDENTITY_DISTINCT and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        if min(values) >= 10_000:  # customer numbers are issued from a range, surrogate keys count from 1
            return {"category": "identifier", "identity": "customer_id", "confidence": 0.6}
    return {"category": "none", "confidence": 1.0 if hint is None else 0.6}


def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _birth_dates(values: Sequence[Any]) -> float:
    """Share of values that are dates a living adult or child could be born on (10 to 110 years ago)."""
    today = dt.date.today()
    dates = [v.date() if isinstance(v, dt.datetime) else v for v in values]
    plausible = sum(1 for d in dates if isinstance(d, dt.date) and today.year - 110 <= d.year <= today.year - 10)
    return plausible / len(values) if values else 0.0
