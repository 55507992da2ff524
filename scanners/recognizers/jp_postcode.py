"""Japanese postcodes: 〒123-4567 always, a bare 123-4567 only next to a context word."""

from __future__ import annotations

from presidio_analyzer import Pattern

from scanners.recognizers.context import ContextScoredRecognizer


class JpPostcodeRecognizer(ContextScoredRecognizer):
    """Finds Japanese postcodes (郵便番号): three digits, a dash, four digits.

    After 〒 the format is unambiguous. A bare NNN-NNNN is just as likely an order or ticket
    number, so it is reported only when a context word (郵便番号, postcode, zip, 〒) stands within
    CONTEXT_WINDOW characters before it; that test runs here on the raw text, since Presidio's lemma
    enhancer misses multi-word context ("postal code") and splits Japanese text only at spaces.
    """

    ENTITY = "JP_POSTCODE"
    PATTERNS = [
        Pattern("postcode after 〒", r"(?<=〒[ 　]?)[0-9０-９]{3}[-‐−－ー]?[0-9０-９]{4}(?![0-9０-９])", 0.9),
        Pattern("postcode (NNN-NNNN)", r"(?<![0-9０-９][-‐−－ー]?)[0-9０-９]{3}[-‐−－ー][0-9０-９]{4}(?![-‐−－ー]?[0-9０-９])", 0.2),
        Pattern("postcode (7 digits)", r"(?<![0-9０-９])[0-9０-９]{7}(?![0-9０-９])", 0.1),
    ]
    CONTEXT = ["郵便番号", "〒", "postcode", "postal code", "post code", "zip", "zip code"]
    SCORE_WITH_CONTEXT = 0.7
