"""Context decided by the recognizer itself, on the raw text, on both sides of a candidate.

Presidio's lemma-based context enhancer cannot require context reliably: it never matches a
multi-word context ("my number", "Hong Kong"), it matches substrings ("hk" in "HKT", "tel" in
"hotel"), and in Japanese text without spaces a whole clause is one token, so 携帯090... or
090...（携帯） never meets its context word. Recognizers whose findings only count next to a context
word subclass this instead.

The window is measured in characters, not tokens, for the same reason: `context_window`
(scanners.yaml, default CONTEXT_WINDOW) characters before the candidate and as many after it (a
form writes "電話番号：", a note "... (mobile)"), normalised with NFKC so that full-width ＴＥＬ is
TEL. A Japanese full stop ends the window; a word after the candidate that stands nearer the next
number labels that one instead.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, ClassVar

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from scanners.settings import CONTEXT_WINDOW

#: What may not touch an identifier on either side: a Latin letter or a digit (ASCII or
#: full-width) makes it part of a longer code (ORD0901234567890, AB123-4567); kana and kanji may
#: (電話090-1234-5678 is written without a space).
ALNUM = "0-9A-Za-z０-９Ａ-Ｚａ-ｚ"
DIGIT = "[0-9０-９]"
#: Dashes, hyphens and minus signs Japanese and Chinese text puts between digit groups (U+2010-2015,
#: U+2212, full-width, the long-vowel marks ー/ｰ typed for a dash), for use inside a [...] class.
HYPHENS = "\\-\u2010-\u2015\u2212－ー\uff70"
#: HYPHENS, and the dots some write between the groups of a phone number instead.
DASHES = HYPHENS + ".．"
FULL_STOPS = ("。", "｡")  # ideographic and half-width: where a Japanese sentence, and its context, ends
_NUMBER = re.compile("[0-9]{3}")  # after NFKC: three digits in a row start another number


class ContextScoredRecognizer(PatternRecognizer):
    """A pattern recognizer whose score rises to SCORE_WITH_CONTEXT when a CONTEXT word stands
    within `context_window` characters before or after the match; the patterns' own scores are
    what a match gets without one (below the default threshold for bare digit runs)."""

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[list[Pattern]]
    CONTEXT: ClassVar[list[str]]
    SCORE_WITH_CONTEXT: ClassVar[float]

    def __init__(self, supported_language: str = "en", context_window: int = CONTEXT_WINDOW, **kwargs: Any) -> None:
        kwargs.setdefault("patterns", list(self.PATTERNS))
        kwargs.setdefault("context", list(self.CONTEXT))
        super().__init__(supported_entity=self.ENTITY, supported_language=supported_language, **kwargs)
        self.context_window = context_window
        self._context_re = context_regex(self.context)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None, regex_flags: int | None = None) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for result in results:
            result.score = self.score_without_context(text[result.start : result.end], result.score)
            if result.score < self.SCORE_WITH_CONTEXT and (word := self.context_word(text, result.start, result.end)):
                result.score = self.SCORE_WITH_CONTEXT
                result.analysis_explanation.set_supportive_context_word(word)
                result.analysis_explanation.set_improved_score(result.score)
            # Context was decided here: keep Presidio's lemma enhancer from adding its own boost.
            result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return results

    def score_without_context(self, matched: str, score: float) -> float:
        """What a valid match scores before context is looked for: its pattern's score, unless a
        recognizer knows more from the matched text itself."""
        return score

    def context_word(self, text: str, start: int, end: int) -> str | None:
        """The context word nearest the match within the window on either side, if any."""
        before, after = self._word_before(text, start), self._word_after(text, end)
        if before and (after is None or before[1] <= after[1]):
            return before[0]
        return after[0] if after else None

    def _word_before(self, text: str, start: int) -> tuple[str, int] | None:
        """The last context word wholly within the window before the match, and its distance.

        Read with one character more, so that a Latin word cut by the window's edge is judged
        with its true neighbour ('tel' at the edge of '...hotel'); a Japanese full stop (。) ends
        the window: the sentence before is about something else.
        """
        lo = max(0, start - self.context_window)
        if (stop := max(text.rfind(mark, lo, start) for mark in FULL_STOPS)) >= 0:
            lo = stop + 1
        lead = unicodedata.normalize("NFKC", text[max(0, lo - 1) : lo])
        window = lead + unicodedata.normalize("NFKC", text[lo:start])
        last = None
        for found in self._context_re.finditer(window, len(lead)):
            last = found
        return (last.group(), len(window) - last.end()) if last else None

    def _word_after(self, text: str, end: int) -> tuple[str, int] | None:
        """The first context word wholly within the window after the match, and its distance,
        unless it stands nearer the next number than this one ('Order 0312345678, phone
        0312345679': the word labels what follows it, as labels usually do)."""
        stop = min((i for mark in FULL_STOPS if (i := text.find(mark, end, end + 2 * self.context_window)) >= 0), default=end + 2 * self.context_window)
        window_end = len(unicodedata.normalize("NFKC", text[end : min(stop, end + self.context_window)]))
        rest = unicodedata.normalize("NFKC", text[end:stop])  # the window, and what a word in it is nearer to
        found = self._context_re.search(rest)
        if found is None or found.end() > window_end:
            return None
        following = _NUMBER.search(rest, found.end())
        if following is not None and following.start() - found.end() <= found.start():
            return None
        return found.group(), found.start()


def context_regex(words: list[str]) -> re.Pattern[str]:
    """Context words as one regex: case-insensitive, any spacing inside, whole words for Latin ones
    ('tel' is not in 'hotel', 'hk' not in 'HKT'; a plural s is allowed)."""
    parts = []
    for word in sorted({unicodedata.normalize("NFKC", w).strip() for w in words if w.strip()}, key=len, reverse=True):
        body = r"[\s_\-]*".join(re.escape(piece) for piece in word.split())
        head = r"(?<![a-z])" if word[0].isascii() and word[0].isalnum() else ""
        tail = r"s?(?![a-z])" if word[-1].isascii() and word[-1].isalnum() else ""
        parts.append(head + body + tail)
    return re.compile("|".join(parts) or "(?!)", re.IGNORECASE)
