"""Hong Kong phone numbers: eight digits, with or without the +852 country code."""

from __future__ import annotations

import unicodedata

import phonenumbers
from presidio_analyzer import Pattern

from scanners.recognizers.context import ContextScoredRecognizer

_DIGIT = "[0-9０-９]"
_SEP = "[-‐−－ー 　.．]"
_LOCAL = rf"[2356789２３５６７８９]{_DIGIT}{{3}}{_SEP}?{_DIGIT}{{4}}(?!{_SEP}?{_DIGIT})"


class HkPhoneRecognizer(ContextScoredRecognizer):
    """Finds Hong Kong numbers (9123 4567, 2123-4567, +852 9123 4567, (852) 2123 4567).

    phonenumbers rejects eight-digit runs outside Hong Kong's numbering plan. A valid plan is
    still most eight-digit runs (amounts, order numbers), so without +852 a number is reported
    only when a context word (phone, tel, 電話, HK, ...) stands within CONTEXT_WINDOW characters
    before it; that test runs here on the raw text, because Presidio's lemma enhancer matches
    context by substring ('tel' in 'hotel', 'hk' in 'HKT') and never matches 'Hong Kong'.
    """

    ENTITY = "HK_PHONE_NUMBER"
    PATTERNS = [
        Pattern("hk phone (+852)", rf"(?<!{_DIGIT})(?:[(（][+＋]?(?:852|８５２)[)）]|[+＋]?(?:852|８５２)){_SEP}?{_LOCAL}", 0.6),
        Pattern("hk phone (local)", rf"(?<!{_DIGIT}{_SEP}?|[+＋]){_LOCAL}", 0.2),
    ]
    CONTEXT = ["phone", "telephone", "tel", "mobile", "call", "contact", "whatsapp", "HK", "Hong Kong", "電話", "手機", "聯絡"]
    SCORE_WITH_CONTEXT = 0.75

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = "".join(ch for ch in unicodedata.normalize("NFKC", pattern_text) if ch.isdigit())
        number = phonenumbers.parse("+" + digits if len(digits) == 11 else digits, "HK")
        return not (phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == "HK")
