"""Japanese phone numbers, national (090-1234-5678, 03-1234-5678, 0120-123-456) and +81."""

from __future__ import annotations

import unicodedata

from presidio_analyzer import Pattern

from scanners.recognizers.context import ALNUM, DASHES, DIGIT, ContextScoredRecognizer
from scanners.recognizers.phone_plan import digits_of, group_ends, planned_group_ends, valid_in_region

#: '-', '.', ' ', none, or the ')' / '(' of (03)1234-5678, 03(1234)5678
_GAP = f"(?:[{DASHES} 　]|[)）][ 　]?|[(（])?"
_REST = f"{DIGIT}{{1,4}}{_GAP}{DIGIT}{{3,4}}(?![{ALNUM}]|[{DASHES}]{DIGIT})"
_NOT_AFTER_NUMBER = f"(?<![0-9０-９+＋]|{DIGIT}[{DASHES}])"
#: The area code is followed by a separator, or is in parentheses: how people write phone numbers.
_SEPARATED = f"(?=[(（]{DIGIT}{{2,5}}[)）]|{DIGIT}{{2,5}}(?:[{DASHES} 　(（]))"
UNUSUAL_GROUPING_SCORE = 0.2
#: National numbers are 10 digits (landlines, 0120, 0570) or 11 (070/080/090 mobiles, 050, 0800).
_BARE = f"(?<![{ALNUM}+＋]|{DIGIT}[{DASHES}])[0０]{DIGIT}{{9,10}}(?![{ALNUM}]|[{DASHES}]{DIGIT})"


class JpPhoneRecognizer(ContextScoredRecognizer):
    """Finds Japanese phone numbers in any usual notation, full-width included.

    The patterns only find digit groups that start with 0 (or +81); phonenumbers then checks the
    digits against Japan's numbering plan (prefixes and their lengths: 090-1234-5678 has 11
    digits, 03-1234-5678 ten), so dates and most digit runs that merely look like a phone number
    are dropped. The plan still admits about one random 0-led 10- or 11-digit run in fifty (order
    and account numbers), so a bare run of digits is reported only with a context word (電話,
    携帯, TEL, mobile...) within the window on either side, and so is a number grouped other than
    the plan groups it; written with +81, or grouped as the plan does (03-1234-5678, 03-12345678,
    (03)1234-5678), a valid number is reported without one.
    """

    ENTITY = "JP_PHONE_NUMBER"
    PATTERNS = [
        Pattern("jp phone (+81)", f"(?<![0-9０-９])[+＋][8８][1１][{DASHES} 　]?(?:[(（][0０][)）][ 　]?)?[1-9１-９]{DIGIT}{{0,3}}{_GAP}{_REST}", 0.7),
        Pattern("jp phone (national, grouped)", f"{_NOT_AFTER_NUMBER}{_SEPARATED}[(（]?[0０]{DIGIT}{{1,4}}{_GAP}{_REST}", 0.6),
        Pattern("jp phone (national, bare digits)", _BARE, 0.2),
    ]
    CONTEXT = ["phone", "telephone", "tel", "mobile", "mob", "cell", "fax", "contact", "call",
               "電話", "電話番号", "携帯", "携帯電話", "連絡先", "ケータイ", "でんわ", "☎"]  # ℡ is TEL after NFKC
    SCORE_WITH_CONTEXT = 0.7

    def score_without_context(self, matched: str, score: float) -> float:
        """Groups split where the plan does not split them (0312-345678, 012-345-6789 for the plan's
        0123-45-6789) are how order and account numbers get written: they need context too."""
        text = unicodedata.normalize("NFKC", matched)
        if text.startswith("+"):
            return score
        written = group_ends(text)
        if not written:
            return score  # a bare run: its pattern already scores it low
        return score if written <= planned_group_ends(digits_of(text), "JP") else min(score, UNUSUAL_GROUPING_SCORE)

    def invalidate_result(self, pattern_text: str) -> bool:
        international = unicodedata.normalize("NFKC", pattern_text).startswith("+")
        return not valid_in_region(("+" if international else "") + digits_of(pattern_text), "JP")
