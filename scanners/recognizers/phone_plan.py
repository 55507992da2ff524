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


def group_ends(written: str) -> set[int]:
    """How many digits precede each break between digit groups: 03-1234-5678 -> {2, 6}; a bare
    run of digits -> set(). Any non-digit between two digits is a break."""
    ends, count, after_break = set(), 0, False
    for ch in written:
        if "0" <= ch <= "9":
            if after_break and count:
                ends.add(count)
            count, after_break = count + 1, False
        else:
            after_break = True
    return ends
