"""Hong Kong Identity Card numbers (HKID): A123456(3), AB987654(1), A1234563."""

from __future__ import annotations

import re
import unicodedata

from presidio_analyzer import Pattern

from scanners.recognizers.context import ContextScoredRecognizer

_LETTER = "[A-ZＡ-Ｚ]"  # the recognizer matches case-insensitively
_DIGIT = "[0-9０-９]"
_CHECK = "[0-9０-９AＡ]"
_HEAD = rf"(?<![A-Za-zＡ-Ｚａ-ｚ0-9０-９]){_LETTER}{{1,2}}{_DIGIT}{{6}}"


def check_character(prefix: str, digits: str) -> str:
    """The HKID check character for a one- or two-letter prefix and six digits."""
    values = [36 if ch == " " else ord(ch) - ord("A") + 10 for ch in prefix.upper().rjust(2)] + [int(d) for d in digits]
    check = (11 - sum(v * w for v, w in zip(values, range(9, 1, -1))) % 11) % 11
    return "A" if check == 10 else str(check)


class HkidRecognizer(ContextScoredRecognizer):
    """Finds HKID numbers with a correct check character.

    One or two letters and six digits is also the shape of flight, product and ticket codes;
    the check character rejects all but one in eleven of those. The bracketed form is specific
    enough to report alone, the compact one scores lower; a context word (HKID, 香港身份證,
    identity card) within CONTEXT_WINDOW characters before either raises the score. That test runs
    here on the raw text, because Presidio's lemma enhancer never matches multi-word context.
    """

    ENTITY = "HK_HKID"
    PATTERNS = [
        Pattern("hkid (check in brackets)", rf"{_HEAD}[ 　]?[(（]{_CHECK}[)）]", 0.8),
        Pattern("hkid (compact)", rf"{_HEAD}{_CHECK}(?![A-Za-zＡ-Ｚａ-ｚ0-9０-９])", 0.5),
    ]
    CONTEXT = ["HKID", "香港身份證", "身份證", "身分證", "identity card", "ID card", "ID no", "ID number"]
    SCORE_WITH_CONTEXT = 0.95

    def invalidate_result(self, pattern_text: str) -> bool:
        chars = re.sub(r"[^0-9A-Z]", "", unicodedata.normalize("NFKC", pattern_text).upper())
        return chars[-1] != check_character(chars[:-7], chars[-7:-1])
