"""The subject matcher: where in a text or a byte stream the subject is mentioned, exactly.

Two stages, because Presidio is ~10 KB/s and Aho-Corasick is hundreds of MB/s:

1. a multi-pattern prefilter (Aho-Corasick over the subject's normalised variants) with boundary
   checks, so `taro@example.jp` does not fire inside `otaro@example.jpn` nor `090-1234-5678`
   inside `090-1234-56789`;
2. Presidio on a small window around each candidate only, to confirm that the entity really is
   an email / phone number / person there and to score it.

A hit that Presidio does not confirm keeps the prefilter's base confidence; the scanner config
decides the minimum confidence per identifier kind (names need confirmation, emails do not).
"""

from __future__ import annotations

import itertools
import logging
import re
import traceback
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import ahocorasick_rs

from dsr.subject import Identifier, IdentifierKind, Subject
from scanners.variants import like_fragments, subject_variants

log = logging.getLogger(__name__)
REDACTION = "[redacted]"
LOOKAHEAD_BYTES = 8  # bytes after a match that the boundary check decodes
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_FULL_WIDTH_UPPER = re.compile(rb"\xef\xbc([\xa1-\xba])")
NAME_CONFIRMED = 0.85  # spaCy tags the whole candidate as a person
WINDOW = 60  # characters of context spaCy sees on each side of a name candidate

#: Presidio entities that confirm a candidate of each identifier kind, cheapest recognizers first:
#: the next group runs only when the previous one did not confirm (Presidio's generic phone
#: recognizer tries eight regions and costs ten times our JP/HK ones).
CONFIRMING_ENTITIES: dict[IdentifierKind, tuple[tuple[str, ...], ...]] = {
    IdentifierKind.EMAIL: (("EMAIL_ADDRESS",),),
    IdentifierKind.PHONE: (("JP_PHONE_NUMBER", "HK_PHONE_NUMBER"), ("PHONE_NUMBER",)),
    IdentifierKind.NAME: (("PERSON",),),
    IdentifierKind.POSTAL_ADDRESS: (("LOCATION", "JP_POSTCODE"),),
    IdentifierKind.CUSTOMER_ID: (),
}
PATTERN_WINDOW = 40  # characters around a candidate that pattern recognizers need
BASE_CONFIDENCE = {
    IdentifierKind.EMAIL: 0.95,
    IdentifierKind.PHONE: 0.85,
    IdentifierKind.CUSTOMER_ID: 0.95,
    IdentifierKind.NAME: 0.5,
    IdentifierKind.POSTAL_ADDRESS: 0.5,
}
DEFAULT_MIN_CONFIDENCE = {
    IdentifierKind.EMAIL: 0.5,
    IdentifierKind.PHONE: 0.5,
    IdentifierKind.CUSTOMER_ID: 0.5,
    IdentifierKind.NAME: 0.5,
    IdentifierKind.POSTAL_ADDRESS: 0.5,
}


@dataclass(frozen=True)
class TextHit:
    """One mention: [start, end) in the text (characters) or the stream (bytes)."""

    start: int
    end: int
    identifier: Identifier
    confidence: float
    confirmed: bool
    line: int = 0
    failure: str | None = None  # why confirming it failed (exception type and place, never text)

    @property
    def kind(self) -> str:
        return self.identifier.kind.value

    @property
    def unconfirmed(self) -> bool:
        """Found by the prefilter, but confirming it failed: neither kept as the subject's nor dropped;
        it goes to a person for review."""
        return self.failure is not None


def failure_of(exc: BaseException) -> str:
    """'KeyError in scanners/recognizers/jp_phone.py:42 analyze': the type and the innermost place.

    Never the message: an exception raised on a text may quote the text.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    frame = frames[-1]
    parts = frame.filename.replace("\\", "/").split("/")
    return f"{type(exc).__name__} in {'/'.join(parts[-3:])}:{frame.lineno} {frame.name}"


def _letters_outside(window: str, ps: int, pe: int, s: int, e: int) -> bool:
    """Whether a person span [ps, pe) has Latin letters outside the candidate [s, e) (another
    person's given name or surname); Japanese around a name is its sentence, not another name."""
    return any(c.isascii() and c.isalpha() for c in window[ps:s] + window[e:pe])


def _fold_full_width_upper(data: bytes) -> bytes:
    """Ｔ -> ｔ in UTF-8 bytes (same length), so mixed-case full-width text meets lower-case variants."""
    if b"\xef\xbc" not in data:
        return data
    return _FULL_WIDTH_UPPER.sub(lambda m: b"\xef\xbd" + bytes([m.group(1)[0] - 0x20]), data)


def _email_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "._%+-'") or unicodedata.category(c).startswith("L") or c in "．＿－"


def _is_digit(c: str) -> bool:
    return c.isdigit()


def _bounded(kind: IdentifierKind, before: str, after: str, after2: str) -> bool:
    """Whether a candidate stands alone, judged by the characters around it."""
    if kind is IdentifierKind.EMAIL:
        if before and _email_char(before):
            return False
        if after and (after.isalnum() or after in "-_－＿"):
            return False
        return not (after in ".．" and after2 and after2.isalnum())
    if kind is IdentifierKind.PHONE:
        return not (before and (_is_digit(before) or before in "+＋")) and not (after and _is_digit(after))
    if kind is IdentifierKind.NAME:
        if before and before.isascii() and before.isalpha() or after and after.isascii() and after.isalpha():
            return False
        return not (before and unicodedata.category(before) in ("Ll", "Lu") and not before.isascii() and unicodedata.east_asian_width(before) != "F")
    return not (before and before.isalnum()) and not (after and after.isalnum())


class SubjectMatcher:
    """Finds one subject's mentions. Build it once per request; it holds only the subject's variants."""

    def __init__(self, subject: Subject, analyzer: object | None = None, min_confidence: dict[IdentifierKind, float] | None = None):
        self.subject = subject
        self.variants = subject_variants(subject)
        self.analyzer = analyzer
        self.min_confidence = {**DEFAULT_MIN_CONFIDENCE, **(min_confidence or {})}
        self.failures = 0  # candidates whose confirmation failed (kept, unconfirmed)
        texts = [v.text for v in self.variants]
        longest, dfa = ahocorasick_rs.MatchKind.LeftmostLongest, ahocorasick_rs.Implementation.DFA
        self._text_automaton = ahocorasick_rs.AhoCorasick(texts, matchkind=longest, implementation=dfa)
        encoded = [t.encode() for t in texts]
        self._bytes_automaton = ahocorasick_rs.BytesAhoCorasick(encoded, matchkind=longest, implementation=dfa)
        self.max_pattern_bytes = max(len(e) for e in encoded)
        # Every variant contains one of a few selective anchors (the phone's last digits, the longest
        # name token, the email): a pass for those alone runs at memory speed, and the full automaton
        # only looks at the windows around them.
        anchors = sorted({f.encode() for f in like_fragments(subject)})
        # Leftmost-first lets the automaton use its SIMD prefilter (~13 GB/s against ~0.5 for overlapping).
        self._anchor_automaton = ahocorasick_rs.BytesAhoCorasick(anchors, matchkind=ahocorasick_rs.MatchKind.LeftmostFirst, implementation=dfa)

    def like_fragments(self) -> list[str]:
        return like_fragments(self.subject)

    # ---------------------------------------------------------------- text

    def find(self, text: str) -> list[TextHit]:
        """Confirmed mentions in a text, as character offsets."""
        text = _LONE_SURROGATE.sub("\ufffd", text)  # same length; the automaton and spaCy need valid text
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters lower-case to two; keep offsets aligned
            lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        hits = []
        for index, start, end in self._text_automaton.find_matches_as_indexes(lowered):
            identifier = self.variants[index].identifier
            before = lowered[start - 1] if start else ""
            after, after2 = lowered[end : end + 1], lowered[end + 1 : end + 2]
            if not _bounded(identifier.kind, before, after, after2):
                continue
            hit = self._confirm(text, start, end, identifier)
            if hit is not None:
                hits.append(hit)
        return hits

    def mentions(self, text: str | None) -> bool:
        return bool(text) and bool(self.find(text))  # type: ignore[arg-type]

    def redact(self, text: str) -> tuple[str, int]:
        """The text with every mention replaced; and how many were replaced. A candidate whose
        confirmation failed stays: it may be someone else's, and a person reviews it."""
        hits = [h for h in self.find(text) if not h.unconfirmed]
        for hit in sorted(hits, key=lambda h: h.start, reverse=True):
            text = text[: hit.start] + REDACTION + text[hit.end :]
        return text, len(hits)

    def _confirm(self, text: str, start: int, end: int, identifier: Identifier, line: int = 0) -> TextHit | None:
        """Presidio on a small window: patterns for emails and numbers, spaCy's NER for names.

        A name is rejected when spaCy sees people around it but none that contains it: in
        "Jiro Yamada, Taro Tanaka" the words "Yamada, Taro" belong to two other people.
        """
        confidence, confirmed = BASE_CONFIDENCE[identifier.kind], False
        entities = CONFIRMING_ENTITIES[identifier.kind]
        if self.analyzer is not None and entities:
            try:
                verdict = self._ask_analyzer(text, start, end, identifier, entities)
            except Exception as exc:  # noqa: BLE001 - one candidate's failure must not end the request
                failure = failure_of(exc)
                self.failures += 1
                log.warning("confirming a %s candidate failed (%s): kept for review", identifier.kind.value, failure)
                return TextHit(start, end, identifier, confidence, False, line, failure)
            if verdict is None:  # someone else's name
                return None
            confidence, confirmed = max(confidence, verdict[0]), verdict[1]
        if confidence < self.min_confidence[identifier.kind]:
            return None
        return TextHit(start, end, identifier, round(confidence, 3), confirmed, line)

    def _ask_analyzer(self, text: str, start: int, end: int, identifier: Identifier, entities: tuple[tuple[str, ...], ...]) -> tuple[float, bool] | None:
        """(confidence, confirmed) from Presidio; None when it says the candidate is someone else."""
        confidence, confirmed = BASE_CONFIDENCE[identifier.kind], False
        lo = max(0, start - WINDOW)
        window = text[lo : end + WINDOW]
        s, e = start - lo, end - lo
        if identifier.kind is IdentifierKind.NAME:
            people = self.analyzer.persons(window)  # type: ignore[attr-defined]
            if any(ps <= s and pe >= e for ps, pe in people):
                confidence, confirmed = max(confidence, NAME_CONFIRMED), True
            elif any(ps < e and pe > s and _letters_outside(window, ps, pe, s, e) for ps, pe in people):
                return None
        else:
            near = max(0, s - PATTERN_WINDOW)
            small, s2, e2 = window[near : e + PATTERN_WINDOW], s - near, e - near
            for group in entities:
                results = self.analyzer.analyze_patterns(small, list(group))  # type: ignore[attr-defined]
                overlapping = [r for r in results if r.start < e2 and r.end > s2]
                if overlapping:
                    confidence, confirmed = max(confidence, max(r.score for r in overlapping)), True
                    break
        return confidence, confirmed

    # ---------------------------------------------------------------- streams

    def scan_stream(self, chunks: Iterable[bytes]) -> Iterator[TextHit]:
        """Confirmed mentions in a byte stream (UTF-8), as byte offsets with 1-based line numbers.

        Memory stays bounded by the chunk size: the tail of each chunk that could hold the start of
        a mention cut in two is carried into the next one.
        """
        context = 4 * WINDOW
        carry, carry_offset, carry_line, fresh_from = b"", 0, 1, 0
        for chunk in itertools.chain(chunks, [None]):
            final = chunk is None
            data = carry + (chunk or b"")
            # Later starts may be cut off, and the boundary check reads a few bytes past a match.
            limit = len(data) if final else len(data) - self.max_pattern_bytes - LOOKAHEAD_BYTES
            line, counted = carry_line, 0
            for index, start, end in self._candidates(_fold_full_width_upper(data.lower())):
                if start < fresh_from or start >= limit:
                    continue
                line += data.count(b"\n", counted, start)
                counted = start
                hit = self._confirm_bytes(data, start, end, self.variants[index].identifier, line)
                if hit is not None:
                    yield TextHit(hit.start + carry_offset, hit.end + carry_offset, hit.identifier, hit.confidence, hit.confirmed, line, hit.failure)
            cut = max(0, limit - context)  # keep context before the unsearched tail for confirmation
            carry_line += data.count(b"\n", 0, cut)
            carry, carry_offset, fresh_from = data[cut:], carry_offset + cut, max(0, limit - cut)

    def _candidates(self, lowered: bytes) -> list[tuple[int, int, int]]:
        """Full-automaton matches, looked for only in windows around anchor hits; sorted, unique."""
        reach = self.max_pattern_bytes
        windows: list[list[int]] = []
        for _, start, end in self._anchor_automaton.find_matches_as_indexes(lowered):
            # Generous on both sides: a reported anchor may overlap the one a variant actually holds.
            lo, hi = max(0, start - reach), min(len(lowered), end + reach)
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], hi)
            else:
                windows.append([lo, hi])
        found = {(start + lo, index, end + lo) for lo, hi in windows for index, start, end in self._bytes_automaton.find_matches_as_indexes(lowered[lo:hi])}
        return [(index, start, end) for start, index, end in sorted(found)]

    def _confirm_bytes(self, data: bytes, start: int, end: int, identifier: Identifier, line: int) -> TextHit | None:
        before = data[max(0, start - 4) : start].decode("utf-8", "ignore")[-1:].lower()
        after_text = data[end : end + LOOKAHEAD_BYTES].decode("utf-8", "ignore").lower()
        if not _bounded(identifier.kind, before, after_text[:1], after_text[1:2]):
            return None
        lo = max(0, start - 4 * WINDOW)
        prefix = data[lo:start].decode("utf-8", "ignore")
        body = data[start:end].decode("utf-8", "replace")
        suffix = data[end : end + 4 * WINDOW].decode("utf-8", "ignore")
        hit = self._confirm(prefix + body + suffix, len(prefix), len(prefix) + len(body), identifier, line)
        return None if hit is None else TextHit(start, end, identifier, hit.confidence, hit.confirmed, line, hit.failure)
