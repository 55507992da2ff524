"""Passport numbers (Japan, Hong Kong, UK, US and the like), reported only next to a context word."""

from __future__ import annotations

from presidio_analyzer import Pattern

from scanners.recognizers.context import ContextScoredRecognizer


class PassportRecognizer(ContextScoredRecognizer):
    """Finds passport numbers: one or two letters and 6-8 digits (JP TK1234567, HK K12345678) or 9 digits (UK, US).

    That shape is also an order, ticket or account number, so a match alone scores below any
    threshold; a context word (passport, パスポート, 旅券, 護照) next to it makes it a passport number.
    """

    ENTITY = "PASSPORT"
    PATTERNS = [
        Pattern("passport (letters and digits)", r"(?<![A-Za-z0-9])[A-Z]{1,2}[ ]?\d{6,8}(?![A-Za-z0-9])", 0.1),
        Pattern("passport (9 digits)", r"(?<![A-Za-z0-9])\d{9}(?![A-Za-z0-9])", 0.05),
    ]
    CONTEXT = ["passport", "passport no", "passport number", "パスポート", "旅券", "旅券番号", "護照"]
    SCORE_WITH_CONTEXT = 0.8
