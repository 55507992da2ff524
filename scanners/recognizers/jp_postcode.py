"""Japanese postcodes: 〒123-4567 always, a bare 123-4567 only next to a context word."""

from __future__ import annotations

from presidio_analyzer import Pattern

from scanners.recognizers.context import ALNUM, DIGIT, HYPHENS, ContextScoredRecognizer

_END = f"(?![{ALNUM}]|[{HYPHENS}]{DIGIT})"
_START = f"(?<![{ALNUM}]|{DIGIT}[{HYPHENS}])"


class JpPostcodeRecognizer(ContextScoredRecognizer):
    """Finds Japanese postcodes (郵便番号): three digits, a dash, four digits.

    After 〒 the format is unambiguous. A bare NNN-NNNN is just as likely an order or ticket
    number, so it is reported only when a context word (郵便番号, postcode, zip, 〒) stands within
    the context window on either side; that test runs here on the raw text, since Presidio's lemma
    enhancer misses multi-word context ("postal code") and splits Japanese text only at spaces.
    """

    ENTITY = "JP_POSTCODE"
    PATTERNS = [
        Pattern("postcode after 〒", f"(?<=〒[ 　]?){DIGIT}{{3}}[{HYPHENS}]?{DIGIT}{{4}}{_END}", 0.9),
        Pattern("postcode (NNN-NNNN)", f"{_START}{DIGIT}{{3}}[{HYPHENS}]{DIGIT}{{4}}{_END}", 0.2),
        Pattern("postcode (7 digits)", f"{_START}{DIGIT}{{7}}{_END}", 0.1),
    ]
    CONTEXT = ["郵便番号", "郵便", "〒", "postcode", "postal code", "post code", "zip", "zip code", "zipcode"]
    SCORE_WITH_CONTEXT = 0.7
