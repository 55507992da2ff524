"""Other people in a customer's export: privacy policy §5 forbids disclosing them to this customer.

A support note or a call transcript exported to the subject may name the agent, a relative, another
customer. Presidio finds people, emails and numbers; those that are not the subject's own mentions
are masked in the export.
"""

from __future__ import annotations

from scanners.matcher import SubjectMatcher

OTHER_PEOPLE_ENTITIES = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "JP_PHONE_NUMBER", "HK_PHONE_NUMBER", "JP_MY_NUMBER", "HK_HKID", "CREDIT_CARD"]
MASK = "[other person]"


def mask_other_people(text: str, matcher: SubjectMatcher) -> str:
    """The text with every personal entity masked except the subject's own mentions."""
    if not text or matcher.analyzer is None:
        return text
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates would stop spaCy
    own = [(h.start, h.end) for h in matcher.find(text)]
    found = matcher.analyzer.analyze(text=text, language="en", entities=OTHER_PEOPLE_ENTITIES)  # type: ignore[attr-defined]
    spans: list[tuple[int, int]] = []
    for result in sorted(found, key=lambda r: (r.start, -r.end)):
        if any(result.start < end and result.end > start for start, end in own):
            continue  # the subject's own data stays: it is what the export is for
        if spans and result.start < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], result.end))
        else:
            spans.append((result.start, result.end))
    for start, end in reversed(spans):
        text = text[:start] + MASK + text[end:]
    return text
