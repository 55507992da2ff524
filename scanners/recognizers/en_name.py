"""English names that spaCy's small model misses, found by the words people put around a name.

en_core_web_sm misses about one English name in ten ("Call Gareth Johnson on ..."). A name is
two or three capitalised words; what makes them a name rather than a product or a place is a
title or a role before them (Mr, Dr, agent, caller, call, contact, ask) or what people write after
a name: a bracketed phone or email, a possessive, "who", or a verb of speaking or calling.
"""

from __future__ import annotations

import re
from typing import Any

from presidio_analyzer import Pattern, PatternRecognizer

_WORD = r"(?:Mc|Mac|O')?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
#: Capitalised words that are products, teams and places rather than surnames.
NOT_NAMES = (
    "Fibre|Fiber|Plan|Support|Center|Centre|Team|Desk|Service|Services|Office|Shop|Store|Bank|Card|Account|Router|Line|"
    "Street|Road|Avenue|Lane|Home|Mobile|Broadband|Internet|Pack|Package|Customer|Care|Group|Company|Limited|Ltd|Inc"
)
_NAME = rf"(?!(?:{NOT_NAMES})\b){_WORD}(?:[ ](?!(?:{NOT_NAMES})\b){_WORD}){{1,2}}"
BEFORE = (
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame)\.?|(?i:dear|hi|hello|call|called|calling|contact|contacted|ask|asked|tell|told|"
    r"email|emailed|phone|phoned|agent|caller|installer|technician|engineer|relative|tenant|visitor|partner|ex-partner|neighbour|"
    r"neighbor|friend|colleague|manager|courier|driver|attn:?|cc:?|name:?|signed|regards,?|name of|registered to|belongs to|"
    r"transfer:|holder:?|from:|to:|contact:|on file:|sister|brother|mother|father|wife|husband|son|daughter|aunt|uncle|cousin|"
    r"grandmother|grandfather|girlfriend|boyfriend|landlord|landlady|flatmate|roommate)"
)
AFTER = r"(?:[ ]?\(|'s\b|,?[ ]who\b|[ ](?:said|says|called|calls|rang|rings|wrote|writes|asked|asks|phoned|emailed|left|visited|showed|signed|pays|paid|will|is|was|has|had|from[ ]our)\b)"


class EnNameRecognizer(PatternRecognizer):
    """PERSON: capitalised words after a title or role, or before a bracket, a possessive or a verb."""

    def __init__(self, supported_language: str = "en", **kwargs: Any) -> None:
        patterns = [
            Pattern("name after a title or role", rf"(?<={BEFORE}[ ]){_NAME}\b", 0.6),
            Pattern("name before what follows names", rf"\b{_NAME}(?={AFTER})", 0.5),
            Pattern("name in brackets after an email or phone", rf"(?<=[\w.]\s?\(){_NAME}(?=\))", 0.5),
        ]
        kwargs.setdefault("global_regex_flags", re.DOTALL | re.MULTILINE)  # case matters: Presidio's default ignores it
        super().__init__(supported_entity="PERSON", patterns=patterns, supported_language=supported_language, name="EnNameRecognizer", **kwargs)
