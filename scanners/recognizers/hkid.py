"""Hong Kong Identity Card numbers (HKID): A123456(3), AB987654(1), A1234563."""

from __future__ import annotations

import re
import unicodedata

from presidio_analyzer import Pattern

from scanners.recognizers.context import ALNUM, DIGIT, HYPHENS, ContextScoredRecognizer

_LETTER = "[A-Za-zＡ-Ｚａ-ｚ]"
_CHECK = "[0-9０-９AaＡａ]"
_HEAD = f"(?<![{ALNUM}]|[{ALNUM}][{HYPHENS}]){_LETTER}{{1,2}}{DIGIT}{{6}}"  # not the tail of a code (CX-A1234563)
_CANONICAL = re.compile("[A-Z]{1,2}[0-9]{7}|[A-Z]{1,2}[0-9]{6}A")


def check_character(prefix: str, digits: str) -> str:
    """The HKID check character for a one- or two-letter prefix (A-Z) and six digits (0-9)."""
    values = [36 if ch == " " else ord(ch) - ord("A") + 10 for ch in prefix.upper().rjust(2)] + [int(d) for d in digits]
    check = (11 - sum(v * w for v, w in zip(values, range(9, 1, -1))) % 11) % 11
    return "A" if check == 10 else str(check)


class HkidRecognizer(ContextScoredRecognizer):
    """Finds HKID numbers with a correct check character.

    One or two letters and six digits is also the shape of flight, product and ticket codes;
    the check character rejects all but one in eleven of those. The bracketed form is specific
    enough to report alone, the compact one scores lower; a context word (HKID, 香港身份證,
    identity card) within the context window on either side raises the score. That test runs
    here on the raw text, because Presidio's lemma enhancer never matches multi-word context.
    """

    ENTITY = "HK_HKID"
    PATTERNS = [
        Pattern("hkid (check in brackets)", rf"{_HEAD}[ 　]?[(（]{_CHECK}[)）]", 0.8),
        Pattern("hkid (compact)", f"{_HEAD}{_CHECK}(?![{ALNUM}]|[{HYPHENS}][{ALNUM}])", 0.5),
    ]
    CONTEXT = ["HKID", "HK ID", "HKIC", "香港身份證", "身份證", "身分證", "identity card", "ID card", "ID no", "ID number"]
    SCORE_WITH_CONTEXT = 0.95

    def invalidate_result(self, pattern_text: str) -> bool:
        # The pattern admits only ASCII and full-width letters and digits, which NFKC makes ASCII;
        # anything else (a case-insensitive match on a look-alike) is no HKID.
        chars = re.sub("[ ()]", "", unicodedata.normalize("NFKC", pattern_text).upper())
        return not _CANONICAL.fullmatch(chars) or chars[-1] != check_character(chars[:-7], chars[-7:-1])
