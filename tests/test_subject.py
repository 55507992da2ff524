"""Identifier normalisation: one normal form decides whether two spellings are the same person."""

from __future__ import annotations

import pytest

from dsr.subject import (
    MAX_IDENTIFIER_LENGTH,
    Identifier,
    IdentifierError,
    IdentifierKind,
    Subject,
    digits_forms,
    normalise,
    spellings,
)

EMAIL, PHONE, CUSTOMER_ID, NAME, ADDRESS = (
    IdentifierKind.EMAIL,
    IdentifierKind.PHONE,
    IdentifierKind.CUSTOMER_ID,
    IdentifierKind.NAME,
    IdentifierKind.POSTAL_ADDRESS,
)

TARO_E164 = "+819012345678"


# --------------------------------------------------------------------------- email


def test_email_full_width_is_folded_and_lower_cased() -> None:
    assert normalise(EMAIL, "ＴＡＲＯ@Example.JP") == "taro@example.jp"
    assert Identifier.parse("email", "ＴＡＲＯ@Example.JP") == Identifier(EMAIL, "taro@example.jp")


@pytest.mark.parametrize(
    "raw",
    [
        "taro@example.jp",
        "TARO@EXAMPLE.JP",
        "  Taro@Example.jp \n",
        "taro @ example.jp",
        "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ",  # every character full-width, including @ and .
        "taro\u200b@example.jp",  # zero-width space pasted from a web form
        "taro\x00@example.jp",  # NUL
        "\u202etaro@example.jp",  # bidi override
    ],
)
def test_email_spellings_share_one_normal_form(raw: str) -> None:
    assert normalise(EMAIL, raw) == "taro@example.jp"


def test_email_normal_form_is_idempotent() -> None:
    once = normalise(EMAIL, "ＴＡＲＯ@Example.JP")
    assert normalise(EMAIL, once) == once


def test_email_spellings_include_the_normal_form_and_all_normalise_back() -> None:
    forms = spellings(EMAIL, "taro@example.jp")
    assert "taro@example.jp" in forms
    assert "TARO@EXAMPLE.JP" in forms
    assert {normalise(EMAIL, f) for f in forms} == {"taro@example.jp"}


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    "raw",
    [
        "090-1234-5678",
        "09012345678",
        "090 1234 5678",
        "+81 90 1234 5678",
        "+81-90-1234-5678",
        "+819012345678",
        "(090)1234-5678",
        "０９０－１２３４－５６７８",  # full-width digits and dashes
        "０９０１２３４５６７８",
        "090\u30001234\u30005678",  # ideographic spaces
        "819012345678",  # country code without '+': phonenumbers recognises the JP prefix
    ],
)
def test_japanese_mobile_spellings_normalise_to_e164(raw: str) -> None:
    assert normalise(PHONE, raw) == TARO_E164


def test_hong_kong_number_keeps_its_country_code() -> None:
    assert normalise(PHONE, "+852 9123 4567") == "+85291234567"
    assert normalise(PHONE, "+852-9123-4567") == "+85291234567"
    assert normalise(PHONE, "+852 9123 4567") != normalise(PHONE, "9123 4567")  # without +852 it is read as Japanese


def test_phone_normal_form_is_idempotent() -> None:
    assert normalise(PHONE, normalise(PHONE, "090-1234-5678")) == TARO_E164


def test_phone_spellings_cover_the_usual_ways_of_writing_it() -> None:
    forms = spellings(PHONE, TARO_E164)
    for expected in ("090-1234-5678", "09012345678", TARO_E164, "+81 90 1234 5678", "819012345678"):
        assert expected in forms
    assert len(forms) == len(set(forms))
    # Every spelling of a Japanese number confirms as the same person.
    assert {normalise(PHONE, f) for f in forms} == {TARO_E164}


def test_hong_kong_spellings_include_international_forms() -> None:
    forms = spellings(PHONE, "+85291234567")
    assert "+85291234567" in forms
    assert "+852 9123 4567" in forms
    assert "85291234567" in forms
    assert all(normalise(PHONE, f) == "+85291234567" for f in forms if f.startswith("+"))


def test_phone_digit_forms_are_national_and_international() -> None:
    assert digits_forms(PHONE, TARO_E164) == ["09012345678", "819012345678"]
    assert digits_forms(PHONE, "+85291234567") == ["85291234567", "91234567"]


# --------------------------------------------------------------------------- other kinds


def test_names_fold_width_case_and_spaces() -> None:
    assert normalise(NAME, "ＹＡＭＡＤＡ\u3000Taro") == "yamada taro"
    assert normalise(NAME, "  Yamada   Taro ") == "yamada taro"


def test_postal_address_drops_the_postcode_mark() -> None:
    assert normalise(ADDRESS, "〒150-0001 Tokyo, Shibuya") == "150-0001 tokyo, shibuya"


def test_customer_id_folds_width_but_keeps_case() -> None:
    assert normalise(CUSTOMER_ID, " Ｃ－００１２３ ") == "C-00123"
    assert normalise(CUSTOMER_ID, "c-00123") != normalise(CUSTOMER_ID, "C-00123")


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize("stored", ["090-1234-5678", "+81 90-1234-5678", "０９０１２３４５６７８", "(090) 1234-5678", 819012345678, 9012345678])
def test_phone_identifier_matches_other_spellings(stored: object) -> None:
    assert Identifier.parse(PHONE, "090-1234-5678").matches(stored)


@pytest.mark.parametrize("stored", ["090-1234-5679", "080-1234-5678", "+852 9012 3456", "", None])
def test_phone_identifier_does_not_match_another_number(stored: object) -> None:
    assert not Identifier.parse(PHONE, "090-1234-5678").matches(stored)


@pytest.mark.parametrize("stored", ["not a phone", "n/a", "TEL: unknown", "x" * 200])
def test_phone_identifier_does_not_match_garbage_and_does_not_raise(stored: str) -> None:
    """Stores hold junk in phone columns; confirming a row must say 'no', not crash discovery."""
    assert Identifier.parse(PHONE, "090-1234-5678").matches(stored) is False


def test_email_identifier_matches_case_and_width_variants_only() -> None:
    taro = Identifier.parse(EMAIL, "taro@example.jp")
    assert taro.matches("TARO@Example.JP")
    assert taro.matches("ｔａｒｏ@example.jp")
    assert not taro.matches("taro@example.com")
    assert not taro.matches("jiro@example.jp")
    assert not taro.matches("no at sign")
    assert not taro.matches(None)


# --------------------------------------------------------------------------- refusals


GARBAGE = [
    (PHONE, "call me maybe"),
    (PHONE, "secret-garbage"),
    (PHONE, "12"),
    (PHONE, "x'); DROP TABLE customers;--"),
    (PHONE, "9" * 300),
    (PHONE, ""),
    (PHONE, "   \u3000 "),
    (EMAIL, ""),
    (EMAIL, "taro.example.jp"),
    (EMAIL, "taro@localhost"),
    (EMAIL, "@example.jp"),
    (NAME, "\u200b\u200b"),
    (CUSTOMER_ID, "\x00"),
]


@pytest.mark.parametrize(("kind", "raw"), GARBAGE, ids=[f"{k.value}-{i}" for i, (k, _) in enumerate(GARBAGE)])
def test_garbage_raises_identifier_error_without_echoing_the_value(kind: IdentifierKind, raw: str) -> None:
    with pytest.raises(IdentifierError) as info:
        normalise(kind, raw)
    message = str(info.value)
    assert message.startswith(f"{kind.value}:")
    if raw.strip():
        assert raw not in message
        assert raw.strip() not in message


@pytest.mark.parametrize("kind", [EMAIL, PHONE, NAME, CUSTOMER_ID, ADDRESS])
def test_overlong_value_is_refused_without_echo(kind: IdentifierKind) -> None:
    raw = "0" * 19_995 + "@x.jp"  # 20,000 characters
    assert len(raw) == 20_000
    with pytest.raises(IdentifierError) as info:
        normalise(kind, raw)
    assert str(MAX_IDENTIFIER_LENGTH) in str(info.value)
    assert "00000000" not in str(info.value)
    assert len(str(info.value)) < 200


def test_length_limit_boundary() -> None:
    domain = "@example.jp"
    at_limit = "a" * (MAX_IDENTIFIER_LENGTH - len(domain)) + domain
    assert normalise(EMAIL, at_limit) == at_limit
    with pytest.raises(IdentifierError):
        normalise(EMAIL, "a" + at_limit)


def test_non_text_is_refused() -> None:
    with pytest.raises(IdentifierError, match="expected text"):
        normalise(PHONE, 9012345678)  # type: ignore[arg-type]


def test_parse_refuses_unknown_kind() -> None:
    with pytest.raises(ValueError):
        Identifier.parse("passport", "TK1234567")


# --------------------------------------------------------------------------- hostile text


def _harmless_or_refused(kind: IdentifierKind, raw: str) -> str | None:
    """SQL-looking input either normalises to plain text or is refused without being repeated."""
    try:
        value = normalise(kind, raw)
    except IdentifierError as exc:
        assert raw not in str(exc)
        assert "DROP" not in str(exc).upper()
        return None
    assert isinstance(value, str)
    assert normalise(kind, value) == value  # stable: the same person next time
    return value


def test_sql_like_email_is_just_text() -> None:
    raw = "x'); DROP TABLE customers;--@example.com"
    value = _harmless_or_refused(EMAIL, raw)
    if value is not None:
        assert value == value.lower()
        assert value.endswith("@example.com")
        assert " " not in value
        assert Identifier(EMAIL, value).matches(raw.upper())


def test_sql_like_phone_is_refused_or_just_text() -> None:
    for raw in ("090-1234-5678'; DROP TABLE customers;--", "'; DELETE FROM customers; --"):
        value = _harmless_or_refused(PHONE, raw)
        if value is not None:
            assert value.startswith("+") and value[1:].isdigit()


# --------------------------------------------------------------------------- the subject


def test_subject_needs_a_strong_identifier() -> None:
    name = Identifier.parse(NAME, "Taro Yamada")
    address = Identifier.parse(ADDRESS, "〒150-0001 Shibuya")
    with pytest.raises(IdentifierError) as info:
        Subject((name, address))
    assert "taro" not in str(info.value).lower()
    assert "shibuya" not in str(info.value).lower()
    with pytest.raises(IdentifierError):
        Subject(())


@pytest.mark.parametrize(("kind", "raw"), [(EMAIL, "taro@example.jp"), (PHONE, "090-1234-5678"), (CUSTOMER_ID, "C-00123")])
def test_subject_with_one_strong_identifier_is_accepted(kind: IdentifierKind, raw: str) -> None:
    subject = Subject((Identifier.parse(NAME, "Taro Yamada"), Identifier.parse(kind, raw)))
    assert [i.kind for i in subject.of_kind(kind)] == [kind]
    assert subject.of_kind(NAME)[0].value == "taro yamada"


def test_strong_kinds() -> None:
    assert {k for k in IdentifierKind if k.is_strong} == {EMAIL, PHONE, CUSTOMER_ID}


def test_subject_json_round_trip_keeps_normal_forms() -> None:
    subject = Subject((Identifier.parse(EMAIL, "ＴＡＲＯ@Example.JP"), Identifier.parse(PHONE, "090-1234-5678")))
    data = subject.to_json()
    assert data == [{"kind": "email", "value": "taro@example.jp"}, {"kind": "phone", "value": TARO_E164}]
    assert Subject.from_json(data) == subject
