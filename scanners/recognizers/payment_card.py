"""Payment card numbers: every brand's number ranges, with the Luhn check."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

#: Issuer prefixes (IIN ranges) and lengths of the card brands in use: Visa, Mastercard (51-55,
#: 2221-2720), American Express, Discover, Diners Club, JCB (3528-3589, 2131, 1800), UnionPay,
#: Maestro (50, 56-69; 12 to 19 digits). Presidio's CreditCardRecognizer knows only some of them.
_PREFIX = re.compile(r"^(?:4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|6011|64[4-9]|65|3(?:0[0-5]|[689])|35(?:2[89]|[3-8]\d)|2131|1800|62|5[06-9]|6\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


class PaymentCardRecognizer(PatternRecognizer):
    """Finds card numbers of 12-19 digits (grouped by spaces or dashes or not) with a known issuer
    prefix and a correct Luhn digit; shorter numbers score lower, being order numbers more often."""

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        patterns = [
            Pattern("card (16-19 digits)", r"(?<![\w-])\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?(?![\w-])", 0.6),
            Pattern("card (12-15 digits)", r"(?<![\w-])\d{4}[ -]?\d{4,6}[ -]?\d{4,5}(?![\w-])", 0.4),
        ]
        context = ["card", "credit", "visa", "mastercard", "amex", "カード", "クレジット"]
        super().__init__(supported_entity="CREDIT_CARD", patterns=patterns, context=context, supported_language=supported_language, name="PaymentCardRecognizer", **kwargs)  # type: ignore[arg-type]

    def validate_result(self, pattern_text: str) -> bool:
        digits = re.sub(r"\D", "", pattern_text)
        return 12 <= len(digits) <= 19 and bool(_PREFIX.match(digits)) and luhn_valid(digits)
