"""Context decided by the recognizer itself, on the raw text.

Presidio's lemma-based context enhancer cannot require context reliably: it never matches a
multi-word context ("my number", "Hong Kong"), it matches substrings ("hk" in "HKT", "tel" in
"hotel"), and in Japanese text without spaces a whole clause is one token. Recognizers whose
findings only count next to a context word subclass this instead.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, ClassVar

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

CONTEXT_WINDOW = 30  # characters before a match searched for a context word


class ContextScoredRecognizer(PatternRecognizer):
    """A pattern recognizer whose score rises to SCORE_WITH_CONTEXT when a CONTEXT word stands
    within CONTEXT_WINDOW characters before the match; the base scores stay low otherwise."""

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[list[Pattern]]
    CONTEXT: ClassVar[list[str]]
    SCORE_WITH_CONTEXT: ClassVar[float]

    def __init__(self, supported_language: str = "en", **kwargs: Any) -> None:
        kwargs.setdefault("patterns", list(self.PATTERNS))
        kwargs.setdefault("context", list(self.CONTEXT))
        super().__init__(supported_entity=self.ENTITY, supported_language=supported_language, **kwargs)
        self._context_re = context_regex(self.context)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None, regex_flags: int | None = None) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for result in results:
            before = unicodedata.normalize("NFKC", text[max(0, result.start - CONTEXT_WINDOW) : result.start])
            if result.score < self.SCORE_WITH_CONTEXT and (found := self._context_re.search(before)):
                result.score = self.SCORE_WITH_CONTEXT
                result.analysis_explanation.set_supportive_context_word(found.group())
                result.analysis_explanation.set_improved_score(result.score)
            # Context was decided here: keep Presidio's lemma enhancer from adding its own boost.
            result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return results


def context_regex(words: list[str]) -> re.Pattern[str]:
    """Context words as one regex: case-insensitive, any spacing inside, whole words for Latin ones."""
    parts = []
    for word in words:
        body = r"[\s_-]*".join(re.escape(unicodedata.normalize("NFKC", w)) for w in word.split())
        head = r"(?<![a-z])" if word[0].isascii() else ""
        tail = r"s?(?![a-z])" if word[-1].isascii() else ""
        parts.append(head + body + tail)
    return re.compile("|".join(parts), re.IGNORECASE)
