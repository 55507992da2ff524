"""Japan's Individual Number (マイナンバー / 個人番号), reported only next to a context word."""

from __future__ import annotations

from presidio_analyzer import Pattern

from scanners.recognizers.context import ALNUM, DIGIT, HYPHENS, ContextScoredRecognizer
from scanners.recognizers.phone_plan import digits_of


def check_digit(first_eleven: str) -> int:
    """The official check digit of a My Number, from its first 11 digits."""
    weighted = sum(int(p) * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(first_eleven), start=1))
    remainder = weighted % 11
    return 0 if remainder <= 1 else 11 - remainder


class MyNumberRecognizer(ContextScoredRecognizer):
    """Finds 12-digit My Numbers (optionally grouped 4-4-4) with a correct check digit.

    Any 12-digit run (order, account, tracking numbers) has a 1-in-10 chance of a valid check
    digit, so the check digit only rejects; a match is reported only when a context word stands
    within the context window before or after it (マイナンバー：…, …（個人番号）). That test is done here, on the raw text, because
    Presidio's lemma enhancer cannot do it reliably: it never matches multi-word context
    ("my number") and, in Japanese text without spaces, treats a whole clause as one token.
    """

    ENTITY = "JP_MY_NUMBER"
    # Full-width digits and the dashes/spaces Japanese text uses; the same separator throughout.
    PATTERNS = [
        Pattern(
            "my number (12 digits, 4-4-4)",
            f"(?<![{ALNUM}]|{DIGIT}[{HYPHENS} 　]){DIGIT}{{4}}([{HYPHENS} 　]?){DIGIT}{{4}}\\1{DIGIT}{{4}}(?![{ALNUM}]|[{HYPHENS} 　]{DIGIT})",
            0.2,
        ),
    ]
    CONTEXT = ["マイナンバー", "個人番号", "my number", "mynumber", "individual number"]
    SCORE_WITH_CONTEXT = 0.85

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = digits_of(pattern_text)
        return len(digits) != 12 or set(digits) == {"0"} or int(digits[-1]) != check_digit(digits[:11])
