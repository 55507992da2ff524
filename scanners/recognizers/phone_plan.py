"""Numbering-plan checks shared by the phone recognizers (phonenumbers, never raising on text)."""

from __future__ import annotations

import unicodedata

import phonenumbers


def digits_of(matched: str) -> str:
    """The ASCII digits of a match, full-width ones included (NFKC), everything else dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", matched) if "0" <= ch <= "9")


def valid_in_region(number: str, region: str) -> bool:
    """Whether `number` (digits, '+' and a country code first when international) is a valid number
    of `region`'s plan. Text phonenumbers cannot parse at all is simply not a number of that plan:
    in Japan 010 is the international call prefix, so 01089139167 raises 'country calling code not
    recognised' instead of being invalid."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and phonenumbers.region_code_for_number(parsed) == region
