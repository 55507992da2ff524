"""Hong Kong phone numbers: eight digits, with or without the +852 country code."""

from __future__ import annotations

from presidio_analyzer import Pattern

from scanners.recognizers.context import ALNUM, DASHES, DIGIT, ContextScoredRecognizer
from scanners.recognizers.phone_plan import digits_of, valid_in_region

_SEP = f"[{DASHES} 　]"
_CC = "(?:852|８５２)"
_LOCAL = f"[2356789２３５６７８９]{DIGIT}{{3}}{_SEP}?{DIGIT}{{4}}(?![{ALNUM}]|{_SEP}?{DIGIT})"


class HkPhoneRecognizer(ContextScoredRecognizer):
    """Finds Hong Kong numbers (9123 4567, 2123-4567, 21234567, +852 9123 4567, (852) 2123 4567).

    phonenumbers rejects eight-digit runs outside Hong Kong's numbering plan. A valid plan is
    still most eight-digit runs (amounts, order numbers), so without +852 (or 852 set apart by a
    separator) a number is reported only when a context word (phone, tel, 電話, 手機, HK, ...) stands within the context window
    on either side; that test runs here on the raw text, because Presidio's lemma enhancer matches
    context by substring ('tel' in 'hotel', 'hk' in 'HKT') and never matches 'Hong Kong'.
    """

    ENTITY = "HK_PHONE_NUMBER"
    PATTERNS = [
        Pattern("hk phone (+852)", f"(?:(?<![{ALNUM}])[(（][+＋]?{_CC}[)）]|(?<![0-9０-９])[+＋]{_CC}){_SEP}?{_LOCAL}", 0.6),  # TEL+852...
        Pattern("hk phone (852, grouped)", f"(?<![{ALNUM}+＋]){_CC}{_SEP}{_LOCAL}", 0.6),
        Pattern("hk phone (852, bare digits)", f"(?<![{ALNUM}+＋]){_CC}{_LOCAL}", 0.2),  # 11 digits: as likely an account number
        # Not the subscriber part of another number: 03-2123-4567, (03)2123-4567.
        Pattern("hk phone (local)", f"(?<![{ALNUM}+＋]|{DIGIT}{_SEP}|{DIGIT}[)）]){_LOCAL}", 0.2),
    ]
    CONTEXT = ["phone", "telephone", "tel", "mobile", "mob", "cell", "call", "called", "phoned", "rang", "ring", "contact", "whatsapp", "HK", "Hong Kong",
               "電話", "手機", "手提", "聯絡", "聯絡電話", "流動電話", "傳真", "香港", "携帯", "連絡先", "☎"]
    SCORE_WITH_CONTEXT = 0.75

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = digits_of(pattern_text)
        return not valid_in_region("+" + digits if len(digits) == 11 else digits, "HK")
