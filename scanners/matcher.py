"""The subject matcher: where in a text or a byte stream the subject is mentioned, exactly.

Three stages, each only where the one before found something:

1. anchors: Aho-Corasick over the raw bytes for a few short strings every spelling of the subject
   contains, in every surface form (scanners.variants.anchor_forms): hundreds of MB/s;
2. around each anchor, the bytes are decoded into canonical form (scanners.decoding: URL, HTML,
   JSON and quoted-printable escapes, full-width, case, kana, dashes) and the rules of how each
   identifier gets written (scanners.variants) are matched there, with boundary checks, so
   `taro@example.jp` does not fire inside `otaro@example.jpn` nor `090-1234-5678` inside
   `090-1234-56789`; spans map back to the original bytes;
3. names only, and only where the neighbouring words leave it open whose name it is (a
   capitalised word next to it that is no title or role): spaCy's NER on a small window, cached
   per window. NER may reject a name only when it makes it part of a different person's name.

Emails, phone numbers and customer numbers are confirmed by their pattern and boundaries alone.
A candidate whose confirmation fails (the analyzer raised) is kept as unconfirmed, for review.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
import traceback
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import ahocorasick_rs

from dsr.subject import Identifier, IdentifierKind, Subject
from scanners.decoding import Decoded, canonical, decode, readable
from scanners.engine import Analysis
from scanners.variants import MAX_BYTES_PER_CHAR, Spelling, anchor_forms, like_fragments, subject_spellings

log = logging.getLogger(__name__)

REDACTION = "[redacted]"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_FULL_WIDTH_UPPER = re.compile(rb"\xef\xbc([\xa1-\xba])")
_ESCAPE_BYTES = re.compile(rb"[%&\\=]")  # what starts an escape that takes more bytes than its character
WINDOW = 60  # characters of context spaCy sees on each side of a name candidate
EDGE = 16  # bytes a match must keep from a window's edge that is not the data's (its neighbours are unknown there)
NER_CACHE = 4096  # distinct windows whose NER result is kept

BASE_CONFIDENCE = {
    IdentifierKind.EMAIL: 0.95,
    IdentifierKind.PHONE: 0.85,
    IdentifierKind.CUSTOMER_ID: 0.95,
    IdentifierKind.NAME: 0.5,
    IdentifierKind.POSTAL_ADDRESS: 0.5,
}
NAME_CONFIRMED = 0.85  # NER tags it as a person, or it is written as a proper name with nothing around it
NAME_WITH_TITLE = 0.9  # a title, honorific or role word stands next to it
DEFAULT_MIN_CONFIDENCE = dict.fromkeys(IdentifierKind, 0.5)

#: Words that say a person is meant without being part of the name (canonical form).
ROLE_WORDS = frozenset(
    "mr mrs ms miss mx dr prof sir madam customer client caller callee patient member subscriber user contact "
    "account holder applicant requester sender recipient".split()
) | frozenset(canonical(w) for w in ("顧客", "お客様", "客", "会員", "契約者", "申込者", "依頼者", "担当"))
HONORIFICS = frozenset("san sama kun chan sensei shi dono".split()) | frozenset(canonical(w) for w in ("様", "さま", "さん", "殿", "氏", "君", "くん", "ちゃん", "先生"))
_JOINERS_BEFORE = " ,+・:.\t"
_JOINERS_AFTER = " ,+・-\t"


@dataclass(frozen=True)
class TextHit:
    """One mention: [start, end) in the text (characters) or the stream (bytes).

    `confirmed`: the matcher is sure it is the subject's identifier (its pattern, for emails and
    numbers; a title or role word, the way it is written, or NER for names)."""

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


@dataclass(frozen=True)
class _Candidate:
    """A spelling matched in canonical text, with the bytes it came from."""

    start: int  # bytes of the data searched
    end: int
    spelling: Spelling
    decoded: Decoded  # the window it was found in
    window_start: int  # where that window starts in the data
    cstart: int  # canonical characters of the window
    cend: int


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


def _fold_full_width_upper(data: bytes) -> bytes:
    """Ｔ -> ｔ in UTF-8 bytes (same length), so mixed-case full-width text meets lower-case anchors."""
    if b"\xef\xbc" not in data:
        return data
    return _FULL_WIDTH_UPPER.sub(lambda m: b"\xef\xbd" + bytes([m.group(1)[0] - 0x20]), data)


def _soft_line_breaks(data: bytes) -> list[tuple[int, int]]:
    """Where quoted-printable soft line breaks (=LF, =CRLF) are, in order."""
    spans = []
    for needle in (b"=\n", b"=\r\n"):
        at = data.find(needle)
        while at >= 0:
            spans.append((at, at + len(needle)))
            at = data.find(needle, at + len(needle))
    return sorted(spans)


def _char_start(data: bytes, i: int) -> int:
    """The nearest UTF-8 character start at or after i."""
    while i < len(data) and 0x80 <= data[i] < 0xC0:
        i += 1
    return i


def _word(c: str) -> bool:
    """A letter or digit that would run on into a Latin word (CJK around a name is its sentence)."""
    return c.isalnum() and not _cjk(c)


def _cjk(c: str) -> bool:
    return unicodedata.east_asian_width(c) in "WF"


def _email_char(c: str) -> bool:
    return c.isalnum() or c in "._%+-'"


def _bounded(kind: IdentifierKind, text: str, start: int, end: int) -> bool:
    """Whether a match stands alone, judged by the canonical characters around it."""
    before = text[start - 1] if start else ""
    before2 = text[start - 2] if start > 1 else ""
    after, after2 = text[end : end + 1], text[end + 1 : end + 2]
    if kind is IdentifierKind.EMAIL:
        if before and _email_char(before) or after and (after.isalnum() or after in "-_"):
            return False
        return not (after == "." and after2.isalnum())
    if kind is IdentifierKind.PHONE:  # a longer digit run, or a country code of another number
        if before and (before.isdigit() or before == "+" or before in "-." and before2.isdigit()):
            return False
        return not (after.isdigit() or after in "-." and after2.isdigit())
    if kind is IdentifierKind.NAME:
        return not (before and _word(before) or after and _word(after))
    return not (before and before.isalnum() or after and after.isalnum())


class SubjectMatcher:
    """Finds one subject's mentions. Build it once per request; it holds only the subject's spellings."""

    def __init__(self, subject: Subject, analyzer: object | None = None, min_confidence: dict[IdentifierKind, float] | None = None):
        self.subject = subject
        self.spellings = subject_spellings(subject)
        self.analyzer = analyzer
        self.min_confidence = {**DEFAULT_MIN_CONFIDENCE, **(min_confidence or {})}
        self.failures = 0  # candidates whose confirmation failed (kept, unconfirmed)
        self._people: dict[str, list[tuple[int, int]]] = {}
        owners: dict[bytes, list[Spelling]] = {}
        for spelling in self.spellings:
            for form in anchor_forms(spelling.anchor):
                owners.setdefault(form.encode(), []).append(spelling)
        anchors = sorted(owners)
        companions = sorted({c for s in self.spellings for c in s.companions})
        forms = sorted({(f.encode(), i) for i, c in enumerate(companions) for f in anchor_forms(c)})
        self._companion_of = [i for _, i in forms]
        self._companions = ahocorasick_rs.BytesAhoCorasick([f for f, _ in forms], implementation=ahocorasick_rs.Implementation.DFA) if forms else None
        #: For each anchor, the companions each spelling it belongs to needs (as indexes into `companions`).
        self._needs = [[frozenset(companions.index(c) for c in s.companions) for s in owners[a]] for a in anchors]
        # Leftmost-first lets the automaton use its SIMD prefilter (~13 GB/s against ~0.5 for overlapping).
        self._anchors = ahocorasick_rs.BytesAhoCorasick(anchors, matchkind=ahocorasick_rs.MatchKind.LeftmostFirst, implementation=ahocorasick_rs.Implementation.DFA)
        #: Bytes around an anchor that may belong to its mention (encoded), with room for the boundary
        #: check; and around one with no escape nearby (UTF-8 takes at most 4 bytes a character).
        self.reach = MAX_BYTES_PER_CHAR * max(s.longest for s in self.spellings) + 2 * EDGE
        #: The same for each anchor (the longest spelling it stands in), encoded and plain.
        self._reaches = [
            (MAX_BYTES_PER_CHAR * longest + 2 * EDGE, 4 * longest + 2 * EDGE) for longest in (max(s.longest for s in owners[a]) for a in anchors)
        ]

    def like_fragments(self) -> list[str]:
        return like_fragments(self.subject)

    # ---------------------------------------------------------------- text

    def find(self, text: str) -> list[TextHit]:
        """Mentions in a text, as character offsets."""
        text = _LONE_SURROGATE.sub("\ufffd", text)  # same length; the automaton and spaCy need valid text
        data = text.encode()
        candidates = self._candidates(data, complete=True)
        self._ask_ner_at_once(candidates, data)
        hits = [h for c in candidates if (h := self._judge(c, data, 0)) is not None]
        if text.isascii():
            return hits
        return [TextHit(len(data[: h.start].decode()), len(data[: h.end].decode()), h.identifier, h.confidence, h.confirmed, h.line, h.failure) for h in hits]

    def mentions(self, text: str | None) -> bool:
        return bool(text) and bool(self.find(text))  # type: ignore[arg-type]

    def redact(self, text: str) -> tuple[str, int]:
        """The text with every mention replaced; and how many were replaced. A candidate whose
        confirmation failed stays: it may be someone else's, and a person reviews it."""
        hits = [h for h in self.find(text) if not h.unconfirmed]
        for hit in sorted(hits, key=lambda h: h.start, reverse=True):
            text = text[: hit.start] + REDACTION + text[hit.end :]
        return text, len(hits)

    # ---------------------------------------------------------------- streams

    def scan_stream(self, chunks: Iterable[bytes]) -> Iterator[TextHit]:
        """Mentions in a byte stream (UTF-8), as byte offsets with 1-based line numbers.

        Memory stays bounded by the chunk size: the tail of each chunk that could hold the start of
        a mention cut in two is carried into the next one, with context before it.
        """
        carry, carry_offset, carry_line, fresh_from = b"", 0, 1, 0
        for chunk in itertools.chain(chunks, [None]):
            final = chunk is None
            data = carry + (chunk or b"")
            limit = len(data) if final else len(data) - self.reach  # later starts may be cut off: next round
            line, counted = carry_line, 0
            candidates = [c for c in self._candidates(data, complete=final) if fresh_from <= c.start < limit]
            self._ask_ner_at_once(candidates, data)
            for candidate in candidates:
                line += data.count(b"\n", counted, candidate.start)
                counted = candidate.start
                hit = self._judge(candidate, data, line)
                if hit is not None:
                    yield TextHit(hit.start + carry_offset, hit.end + carry_offset, hit.identifier, hit.confidence, hit.confirmed, line, hit.failure)
            cut = max(0, limit - self.reach)  # keep context before the unsearched tail
            carry_line += data.count(b"\n", 0, cut)
            carry, carry_offset, fresh_from = data[cut:], carry_offset + cut, max(0, limit - cut)

    # ---------------------------------------------------------------- matching

    def _anchor_spans(self, data: bytes) -> list[tuple[int, int, int]]:
        """Where the anchors stand with their companions near (within reach); through
        quoted-printable soft line breaks too."""
        lowered = _fold_full_width_upper(data.lower())
        searched = lowered.replace(b"=\r\n", b"").replace(b"=\n", b"") if b"=\n" in lowered else lowered
        found = []
        for index, start, end in self._anchors.find_matches_as_indexes(searched):
            needs = self._needs[index]
            if not all(needs):  # a spelling of this anchor needs no companion
                found.append((index, start, end))
                continue
            reach = self._reaches[index][0]
            near = searched[max(0, start - reach) : end + reach]
            present = {self._companion_of[i] for i, _, _ in self._companions.find_matches_as_indexes(near, overlapping=True)}  # type: ignore[union-attr]
            if any(need <= present for need in needs):
                found.append((index, start, end))
        if not found or searched is lowered:
            return found
        breaks = _soft_line_breaks(lowered)
        removed = [0, *itertools.accumulate(end - start for start, end in breaks)]
        kept_starts = [start - before for (start, _), before in zip(breaks, removed)]  # where each break was, in the searched bytes

        def back(i: int) -> int:
            return i + removed[bisect.bisect_right(kept_starts, i)]

        return [(index, back(s), back(e)) for index, s, e in found]

    def _candidates(self, data: bytes, complete: bool) -> list[_Candidate]:
        """Every spelling matched in the windows around the anchors, leftmost-longest, bounded; by start."""
        windows: list[list[int]] = []
        for index, start, end in self._anchor_spans(data):
            reach, plain_reach = self._reaches[index]
            lo, hi = max(0, start - reach), min(len(data), end + reach)
            if not _ESCAPE_BYTES.search(data, lo, hi):  # plain text: the mention is near
                lo, hi = max(0, start - plain_reach), min(len(data), end + plain_reach)
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], hi)
            else:
                windows.append([lo, hi])
        found: dict[tuple[int, int], _Candidate] = {}
        for lo, hi in windows:
            lo, hi = _char_start(data, lo), _char_start(data, hi)
            decoded = decode(data[lo:hi])
            matches = sorted(  # a spelling holds its anchor: a window without it cannot hold the spelling
                ((m.start(), m.end(), s) for s in self.spellings if s.anchor in decoded.text for m in s.pattern.finditer(decoded.text)),
                key=lambda m: (m[0], m[0] - m[1]),
            )
            taken = -1
            for cstart, cend, spelling in matches:
                if cstart < taken:
                    continue  # overlaps a longer or earlier mention
                cstart = _balanced(decoded.text, cstart, cend)
                if not _bounded(spelling.identifier.kind, decoded.text, cstart, cend):
                    continue
                taken = cend
                start, end = decoded.span(cstart, cend)
                if lo and start < EDGE or (hi < len(data) or not complete) and hi - lo - end < EDGE:
                    continue  # too near a cut: the window around its own anchor sees it whole
                found.setdefault((lo + start, lo + end), _Candidate(lo + start, lo + end, spelling, decoded, lo, cstart, cend))
        return sorted(found.values(), key=lambda c: (c.start, c.end))

    # ---------------------------------------------------------------- confirming

    def _judge(self, candidate: _Candidate, data: bytes, line: int) -> TextHit | None:
        """The hit for a candidate, with its confidence; None when it is someone else's."""
        identifier = candidate.spelling.identifier
        confidence, confirmed = BASE_CONFIDENCE[identifier.kind], identifier.kind is not IdentifierKind.NAME
        if identifier.kind is IdentifierKind.NAME:
            context = _name_context(candidate, data)
            if context == "title":
                confidence, confirmed = NAME_WITH_TITLE, True
            elif context == "ambiguous" and self.analyzer is not None:
                try:
                    verdict = self._ner(candidate, data)
                except Exception as exc:  # noqa: BLE001 - one candidate's failure must not end the request
                    verdict = failure_of(exc)
                if isinstance(verdict, str):
                    self.failures += 1
                    log.warning("confirming a %s candidate failed (%s): kept for review", identifier.kind.value, verdict)
                    return TextHit(candidate.start, candidate.end, identifier, confidence, False, line, verdict)
                if verdict is None:
                    return None  # part of another person's name
                confidence, confirmed = verdict
            elif context == "plain" and _proper_name(readable(data[candidate.start : candidate.end])):
                confidence, confirmed = NAME_CONFIRMED, True
        if confidence < self.min_confidence[identifier.kind]:
            return None
        return TextHit(candidate.start, candidate.end, identifier, confidence, confirmed, line)

    def _ask_ner_at_once(self, candidates: list[_Candidate], data: bytes) -> None:
        """The NER windows of every ambiguous name candidate not seen yet, through spaCy in one batch
        (nlp.pipe), so that judging them one by one finds each in the cache."""
        if self.analyzer is None or not hasattr(self.analyzer, "persons_many"):
            return
        windows = list(dict.fromkeys(
            self._ner_window(c, data)[0] for c in candidates
            if c.spelling.identifier.kind is IdentifierKind.NAME and _name_context(c, data) == "ambiguous"
        ))
        windows = [w for w in windows if w not in self._people]
        if len(windows) < 2:
            return  # one window costs the same asked alone, when it is judged
        try:
            answers = self.analyzer.persons_many(windows)
        except Exception:  # noqa: BLE001 - each window is then asked alone, and its failure kept to it
            return
        for window, people in zip(windows, answers, strict=True):
            self._remember(window, people)

    def _remember(self, window: str, people: Sequence[tuple[int, int]]) -> bool:
        """Cache NER's answer for a window; a failed one is not kept (the next ask may fare better)."""
        if isinstance(people, Analysis) and people.failures:
            return False
        if len(self._people) >= NER_CACHE:
            self._people.clear()
        self._people[window] = list(people)
        return True

    @staticmethod
    def _ner_window(candidate: _Candidate, data: bytes) -> tuple[str, int, int]:
        """A small window of the candidate's line, and where the candidate stands in it."""
        prefix = readable(data[_char_start(data, max(0, candidate.start - 4 * WINDOW)) : candidate.start])[-WINDOW:].rpartition("\n")[2]
        body = readable(data[candidate.start : candidate.end])
        suffix = readable(data[candidate.end : _char_start(data, candidate.end + 4 * WINDOW)])[:WINDOW].partition("\n")[0]
        return prefix + body + suffix, len(prefix), len(prefix) + len(body)

    def _ner(self, candidate: _Candidate, data: bytes) -> tuple[float, bool] | str | None:
        """spaCy on a small window of the candidate's line: (confidence, confirmed); None when a
        person it tags reaches over the candidate into other words that are no title or role
        (another person's name); the failure (type and place) when the analyzer reports that NER
        failed on this window (scanners.engine.Analysis.failures)."""
        window, s, e = self._ner_window(candidate, data)
        people = self._people.get(window)
        if people is None:
            people = self.analyzer.persons(window)  # type: ignore[union-attr]
            if not self._remember(window, people):
                return str(people.failures[0])  # type: ignore[union-attr]
        for ps, pe in people:
            if ps < e and pe > s and not _only_titles(window[ps:s] + " " + window[e:pe]):
                return None
        if any(ps < e and pe > s for ps, pe in people):
            return NAME_CONFIRMED, True
        return BASE_CONFIDENCE[IdentifierKind.NAME], False


def _balanced(text: str, start: int, end: int) -> int:
    """A match's start past an opening parenthesis that it does not close: `(090-1234-5678)`."""
    return start + 1 if text[start] == "(" and ")" not in text[start:end] else start


def _only_titles(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", canonical(text))
    return all(w in ROLE_WORDS or w in HONORIFICS for w in words)


def _proper_name(text: str) -> bool:
    """Written as a name is (Taro Yamada, YAMADA Taro): every Latin word starts with a capital."""
    words = re.findall(r"[^\W\d_]+", text)
    return bool(words) and all(w[0].isupper() for w in words)


def _name_context(candidate: _Candidate, data: bytes) -> str:
    """'title' when a title, honorific or role word stands next to the name; 'ambiguous' when a
    capitalised word does (it may belong to the name: Jiro Yamada, Taro Tanaka); else 'plain'."""
    text, decoded = candidate.decoded.text, candidate.decoded
    i = candidate.cstart
    while i > 0 and text[i - 1] in _JOINERS_BEFORE:
        i -= 1
    j = i
    while j > 0 and (text[j - 1].isalnum()):
        j -= 1
    before = text[j:i]
    k = candidate.cend
    while k < len(text) and text[k] in _JOINERS_AFTER:
        k += 1
    m = k
    while m < len(text) and text[m].isalnum():
        m += 1
    after = text[k:m]
    if before in ROLE_WORDS or after in HONORIFICS or any(before.endswith(w) for w in ROLE_WORDS if _cjk(w[0])) or any(after.startswith(w) for w in HONORIFICS if _cjk(w[0])):
        return "title"

    def capitalised(word: str, at: int) -> bool:
        if len(word) < 2 or _cjk(word[0]):
            return False
        start, end = decoded.bytes_of(at)
        raw = data[candidate.window_start + start : candidate.window_start + end]
        return readable(raw)[:1].isupper()

    if capitalised(before, j) or capitalised(after, k):
        return "ambiguous"
    return "plain"
