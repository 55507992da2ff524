"""Japanese phone numbers, national (090-1234-5678, 03-1234-5678, 0120-123-456) and +81."""

from __future__ import annotations

import unicodedata
from typing import Any

import phonenumbers
from presidio_analyzer import Pattern, PatternRecognizer

_DIGIT = "[0-9０-９]"
_DASH = "-‐−－ー.．"  # dash-like characters Japanese text uses between digit groups, and dots
_GAP = rf"(?:[{_DASH} 　]|[)）][ 　]?|[(（])?"  # '-', ' ', none, or the ')' / '(' of (03)1234-5678, 03(1234)5678
_REST = rf"{_DIGIT}{{1,4}}{_GAP}{_DIGIT}{{3,4}}(?!{_DIGIT}|[{_DASH}]{_DIGIT})"


class JpPhoneRecognizer(PatternRecognizer):
    """Finds Japanese phone numbers in any usual notation, full-width included.

    The pattern only finds digit groups that start with 0 (or +81); phonenumbers then checks the
    digits against Japan's numbering plan, so order numbers, dates and other digit runs that merely
    look like a phone number are dropped. Context words are left to Presidio's enhancer: a valid
    number is reported without them.
    """

    ENTITY = "JP_PHONE_NUMBER"
    PATTERNS = [
        Pattern("jp phone (+81)", rf"[+＋][8８][1１][{_DASH} 　]?(?:[(（][0０][)）][ 　]?)?[1-9１-９]{_DIGIT}{{0,3}}{_GAP}{_REST}", 0.7),
        Pattern("jp phone (national)", rf"(?<![0-9０-９+＋]|{_DIGIT}[{_DASH}])[(（]?[0０]{_DIGIT}{{1,4}}{_GAP}{_REST}", 0.6),
    ]
    CONTEXT = ["phone", "telephone", "tel", "mobile", "fax", "contact", "電話", "携帯", "連絡先"]

    def __init__(self, supported_language: str = "en", **kwargs: Any) -> None:
        kwargs.setdefault("patterns", list(self.PATTERNS))
        kwargs.setdefault("context", list(self.CONTEXT))
        super().__init__(supported_entity=self.ENTITY, supported_language=supported_language, **kwargs)

    def invalidate_result(self, pattern_text: str) -> bool:
        text = unicodedata.normalize("NFKC", pattern_text)
        digits = "".join(ch for ch in text if ch.isdigit())
        number = phonenumbers.parse(("+" if text.startswith("+") else "") + digits, "JP")
        return not (phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == "JP")
