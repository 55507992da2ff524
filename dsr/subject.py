"""The data subject: who a request is about, as typed and normalised identifiers.

Stores hold the same person in many spellings ('090-1234-5678', '+81 90 1234 5678',
'ＴＡＲＯ@Example.COM'). Everything that compares identifiers goes through this module, so
that one normal form decides whether two spellings are the same person.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers

#: Region assumed for phone numbers written without a country code (HKT is a Japanese company).
DEFAULT_PHONE_REGION = "JP"

MAX_IDENTIFIER_LENGTH = 16_384


class IdentifierError(ValueError):
    """An identifier value that cannot be normalised; the message never repeats the value."""


class IdentifierKind(enum.StrEnum):
    """Kinds of identifier named in privacy policy §2, plus HKT's own customer number."""

    EMAIL = "email"
    PHONE = "phone"
    CUSTOMER_ID = "customer_id"
    NAME = "name"
    POSTAL_ADDRESS = "postal_address"

    @property
    def is_strong(self) -> bool:
        """Strong identifiers single out one person on their own and may seed discovery.

        Names and addresses are shared by namesakes and households; they confirm, never seed.
        """
        return self in (IdentifierKind.EMAIL, IdentifierKind.PHONE, IdentifierKind.CUSTOMER_ID)


_SPACES = re.compile(r"\s+")


def _nfkc(value: str) -> str:
    """NFKC folds full-width letters, digits and punctuation to their half-width forms; control and
    format characters (NUL, zero-width, bidi overrides) are never part of an identifier."""
    text = unicodedata.normalize("NFKC", value)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf") or c in "\t\n\r")
    return _SPACES.sub(" ", text).strip()


def normalise(kind: IdentifierKind, value: str) -> str:
    """The canonical form of one identifier value; raises IdentifierError when it has none."""
    if not isinstance(value, str):
        raise IdentifierError(f"{kind.value}: expected text, got {type(value).__name__}")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise IdentifierError(f"{kind.value}: longer than {MAX_IDENTIFIER_LENGTH} characters")
    if any("\ud800" <= c <= "\udfff" for c in value):  # what Python makes of bytes in argv that are not UTF-8
        raise IdentifierError(f"{kind.value}: holds bytes that are not UTF-8 text; check the terminal's encoding")
    text = _nfkc(value)
    if not text:
        raise IdentifierError(f"{kind.value}: empty after normalisation")
    if kind is IdentifierKind.EMAIL:
        text = text.replace(" ", "").lower()
        local, at, domain = text.rpartition("@")
        if not at or not local or "." not in domain:
            raise IdentifierError("email: not of the form local@domain")
        return text
    if kind is IdentifierKind.PHONE:
        return _phone_e164(text)
    if kind is IdentifierKind.NAME:
        return text.lower()
    if kind is IdentifierKind.POSTAL_ADDRESS:
        return text.lower().replace("〒", "")
    return text


def _parse_phone(text: str) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(text, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise IdentifierError("phone: not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise IdentifierError("phone: not a possible phone number")
    return number


def _phone_e164(text: str) -> str:
    return phonenumbers.format_number(_parse_phone(text), phonenumbers.PhoneNumberFormat.E164)


def spellings(kind: IdentifierKind, normal: str) -> list[str]:
    """Ways a store may have written a normalised identifier, for index-friendly `IN (...)` lookups.

    A phone number is stored as '090-1234-5678', '09012345678', '+81 90-1234-5678' and so on; an
    email with the case its owner typed. Rows found through a spelling are always confirmed by
    normalising the stored value, so listing a spelling too many costs nothing but a probe.
    """
    if kind is IdentifierKind.PHONE:
        number = _parse_phone(normal)
        fmt = phonenumbers.PhoneNumberFormat
        national = phonenumbers.format_number(number, fmt.NATIONAL)
        international = phonenumbers.format_number(number, fmt.INTERNATIONAL)
        national_digits = re.sub(r"\D", "", national)
        variants = {
            normal,
            national,
            international,
            national_digits,
            normal.lstrip("+"),
            national.replace("-", " "),
            international.replace(" ", "-"),
            international.replace("-", " "),
            f"+{number.country_code}{national_digits.lstrip('0')}",
            f"+{number.country_code} {national_digits.lstrip('0')}",
        }
        return sorted(variants)
    if kind is IdentifierKind.EMAIL:
        local, _, domain = normal.rpartition("@")
        return sorted({normal, normal.upper(), f"{local.capitalize()}@{domain}"})
    if kind is IdentifierKind.NAME:
        return sorted({normal, normal.title(), normal.upper()})
    return [normal]


def digits_forms(kind: IdentifierKind, normal: str) -> list[str]:
    """Digit-only renderings, for stores that compare `digits(column)` (national and international)."""
    if kind is not IdentifierKind.PHONE:
        return [re.sub(r"\D", "", normal)]
    number = _parse_phone(normal)
    national = re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    return sorted({national, normal.lstrip("+")})


@dataclass(frozen=True)
class Identifier:
    """One identifier of the subject, held in normal form only."""

    kind: IdentifierKind
    value: str

    @classmethod
    def parse(cls, kind: IdentifierKind | str, raw: str) -> Identifier:
        kind = IdentifierKind(kind)
        return cls(kind, normalise(kind, raw))

    def matches(self, stored: object) -> bool:
        """Whether a stored value is a spelling of this identifier."""
        if stored is None:
            return False
        try:
            return normalise(self.kind, str(stored)) == self.value
        except IdentifierError:
            return False


@dataclass(frozen=True)
class Subject:
    """The person a request is about."""

    identifiers: tuple[Identifier, ...]

    def __post_init__(self) -> None:
        if not any(i.kind.is_strong for i in self.identifiers):
            raise IdentifierError(
                "subject: needs at least one email, phone or customer_id (names and addresses alone "
                "are shared by other people)"
            )

    def of_kind(self, kind: IdentifierKind) -> list[Identifier]:
        return [i for i in self.identifiers if i.kind is kind]

    def to_json(self) -> list[dict[str, str]]:
        return [{"kind": i.kind.value, "value": i.value} for i in self.identifiers]

    @classmethod
    def from_json(cls, items: list[dict[str, str]]) -> Subject:
        return cls(tuple(Identifier(IdentifierKind(i["kind"]), i["value"]) for i in items))
