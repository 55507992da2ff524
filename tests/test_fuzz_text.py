"""Text nobody here wrote never ends a request: the analyzer and the object readers, fuzzed.

The analyzer (every configured recognizer, pattern-only and with spaCy on short texts) must never
raise and should not even need its containment (`Analysis.failures` stays empty: every recognizer
copes by itself). The readers may refuse an object only with SkippedObject (a reason for the
report), never with any other exception, and what they do read they keep exact: a rewrite that
redacts nothing gives back the very bytes it was given.
"""

from __future__ import annotations

import gzip
import io
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dsr.subject import Identifier, Subject
from scanners import readers
from scanners.engine import build_analyzer
from scanners.matcher import SubjectMatcher
from scanners.readers import FORMATS, SkippedObject, decoded_chunks, iter_records, matching_records, rewrite
from scanners.recognizers import RECOGNIZERS
from scanners.settings import ScannerConfig

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Pieces of the text we meet: digits of every width, the separators numbers are written with,
# kana, kanji, Cyrillic, full-width Latin, control characters, and the words recognizers react to.
_ALPHABETS = [
    "0123456789", "０１２３４５６７８９", "-‐‑‒–—―−－ーｰ.．()（） 　+＋/:：",
    "あいうえおカタカナマイナンバー", "電話番号携帯連絡先郵便〒個人香港身份證手機", "абвгдЖЗИЙ", "ＡＢＣＨＫＩＤａｂｃ",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "\x00\x01\x07\x1b\x7f\x85\u200b\u200e\ufeff\ufffd\t\r\n",
    "ſKıİßﬁ²³¹٣६",  # characters that case-fold or normalise to ASCII letters and digits
]
_WORDS = ["TEL ", "Tel.", "phone", "mobile", "mob", "contact", "postcode", "zip", "my number", "HKID", "+81", "+852", "(0)", "〒",
          "マイナンバー", "個人番号", "携帯", "電話", "連絡先", "郵便番号", "香港身份證", "W010343(0)", "01089139167", "090-1234-5678"]
fragments = st.one_of(
    *(st.text(alphabet=alphabet, min_size=1, max_size=14) for alphabet in _ALPHABETS),
    st.sampled_from(_WORDS),
    st.text(min_size=1, max_size=6),  # anything Unicode has, surrogates excluded by default
)
texts = st.lists(fragments, max_size=12).map("".join)


@pytest.fixture(scope="module")
def analyzer():  # type: ignore[no-untyped-def]
    return build_analyzer(ScannerConfig())


def _entities(analyzer) -> list[str]:  # type: ignore[no-untyped-def]
    return analyzer.engine.get_supported_entities(ScannerConfig().nlp.language)


# --------------------------------------------------------------------------- analyzer


@FUZZ
@given(text=texts)
@example(text="TEL 01089139167")  # the phonenumbers exception that used to end a request
@example(text="HKID W010343(0)")
@example(text="ORD0901234567890 ſ123456(7) İ1234567")
def test_pattern_recognizers_never_fail(analyzer, text: str) -> None:  # type: ignore[no-untyped-def]
    results = analyzer.analyze_patterns(text, _entities(analyzer))
    assert results.failures == ()
    assert all(0 <= r.start < r.end <= len(text) for r in results)


@FUZZ
@given(text=texts)
def test_each_recognizer_on_its_own_never_raises(text: str) -> None:
    """Without the engine's containment: our recognizers themselves cope with any text."""
    for cls in RECOGNIZERS.values():
        recognizer = cls(supported_language="en")
        recognizer.analyze(text, recognizer.supported_entities, None)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(fragments, max_size=6).map("".join))
def test_full_analysis_with_spacy_never_fails(analyzer, text: str) -> None:  # type: ignore[no-untyped-def]
    results = analyzer.analyze(text, "en")
    assert results.failures == ()
    assert analyzer.persons(text).failures == ()


def test_a_failing_recognizer_is_contained_and_reported_by_type_and_place(analyzer, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    """The engine's safety net: one recognizer raising leaves the others' findings and says where."""
    jp = next(r for r in analyzer.engine.registry.recognizers if r.stage == "JpPhoneRecognizer")
    secret = "090-1234-5678 taro.yamada@example.jp"
    with mock.patch.object(jp.recognizer, "invalidate_result", side_effect=ValueError(f"cannot parse {secret}")):
        for results in (analyzer.analyze(secret, "en"), analyzer.analyze_patterns(secret, ["JP_PHONE_NUMBER", "EMAIL_ADDRESS"])):
            found = {r.entity_type for r in results}
            assert "EMAIL_ADDRESS" in found and "JP_PHONE_NUMBER" not in found
            assert not results.complete
            (failure,) = results.failures
            assert (failure.stage, failure.error) == ("JpPhoneRecognizer", "ValueError")
            assert ".py:" in failure.place
    logged = caplog.text
    assert "JpPhoneRecognizer raised ValueError" in logged
    assert "090" not in logged and "taro" not in logged and "cannot parse" not in logged


# --------------------------------------------------------------------------- readers

_SUBJECT = Subject((Identifier.parse("email", "taro.yamada@example.jp"), Identifier.parse("phone", "090-1234-5678"), Identifier.parse("name", "Taro Yamada")))
_MATCHER = SubjectMatcher(_SUBJECT, analyzer=None)

lines = st.lists(st.one_of(texts, st.sampled_from(['{"a": "090-1234-5678"}', '"x","y\n z"', "[1, 2", '{"n": 1e999}', "9" * 5000, "{" * 3000])), max_size=8)


@st.composite
def objects(draw: st.DrawFn) -> bytes:
    """Bytes as objects arrive: text in any line ending, maybe gzip, maybe broken on the way."""
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(draw(lines))
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + data
    damage = draw(st.sampled_from(["none", "gzip", "truncated gzip", "corrupt gzip", "bad utf-8", "nul", "raw bytes"]))
    if damage == "gzip":
        data = gzip.compress(data)
    elif damage == "truncated gzip":
        packed = gzip.compress(data)
        data = packed[: draw(st.integers(0, max(0, len(packed) - 1)))]
    elif damage == "corrupt gzip":
        packed = bytearray(gzip.compress(data))
        at = draw(st.integers(0, len(packed) - 1))
        packed[at] ^= draw(st.integers(1, 255))
        data = bytes(packed)
    elif damage == "bad utf-8":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80"])) + data[at:]
    elif damage == "nul":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\x00" + data[at:]
    elif damage == "raw bytes":
        data = draw(st.binary(max_size=300))
    return data


def _consume(call, *args, **kwargs) -> object:  # type: ignore[no-untyped-def]
    """Run a reader to the end: its result, or the SkippedObject it refused with (never anything else)."""
    try:
        result = call(*args, **kwargs)
        return list(result) if hasattr(result, "__next__") else result
    except SkippedObject as skipped:
        assert skipped.reason and "090" not in skipped.reason
        return skipped


@FUZZ
@given(data=objects(), fmt=st.sampled_from(FORMATS), gzip_output=st.booleans())
@example(data=gzip.compress(b"ok\n" * 100)[:-5], fmt="text", gzip_output=False)
@example(data=b"\x1f\x8b", fmt="csv", gzip_output=True)
@example(data=b'"\x00,\n' * 3, fmt="csv", gzip_output=False)
def test_readers_never_raise_anything_but_skipped_object(data: bytes, fmt: str, gzip_output: bool) -> None:
    _consume(decoded_chunks, io.BytesIO(data), chunk_size=64)
    _consume(iter_records, io.BytesIO(data), fmt, max_json_bytes=4096)
    _consume(matching_records, io.BytesIO(data), fmt, _MATCHER.mentions)
    _consume(rewrite, io.BytesIO(data), io.BytesIO(), fmt, _MATCHER.redact, gzip_output, max_json_bytes=4096)


@FUZZ
@given(data=objects(), fmt=st.sampled_from(FORMATS))
def test_a_rewrite_that_redacts_nothing_returns_the_same_bytes(data: bytes, fmt: str) -> None:
    out = io.BytesIO()
    if isinstance(_consume(rewrite, io.BytesIO(data), out, fmt, lambda text: (text, 0), False), SkippedObject):
        return
    plain = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    assert out.getvalue() == plain


@settings(max_examples=20, deadline=None)
@given(records=lines, fmt=st.sampled_from(FORMATS), gzipped=st.booleans())
def test_huge_lines_and_documents_are_skipped_with_a_reason(records: list[str], fmt: str, gzipped: bool) -> None:
    """Bounded reads: a record over the limit is refused with a reason, never loaded whole."""
    text = "\n".join(r.replace("\x00", "") for r in records) + "\n" + "x" * 600 + "\n"
    data = text.encode("utf-8", "surrogatepass")
    data = gzip.compress(data) if gzipped else data
    with mock.patch.object(readers, "MAX_RECORD_CHARS", 512):
        for outcome in (_consume(iter_records, io.BytesIO(data), fmt, max_json_bytes=512),
                        _consume(rewrite, io.BytesIO(data), io.BytesIO(), fmt, _MATCHER.redact, False, max_json_bytes=512)):
            assert isinstance(outcome, SkippedObject), "a 600-character line passed a 512-character limit"
            assert "longer than" in outcome.reason or "larger than" in outcome.reason or (fmt == "csv" and "does not parse" in outcome.reason)


def test_when_spacy_fails_the_pattern_recognizers_still_answer(analyzer) -> None:  # type: ignore[no-untyped-def]
    text = "Mail taro.yamada@example.jp or call 090-1234-5678 (Taro Yamada)"
    with mock.patch.object(analyzer.engine.nlp_engine, "process_text", side_effect=MemoryError), \
         mock.patch.object(analyzer, "_ner", side_effect=UnicodeError):
        results = analyzer.analyze(text, "en")
        people = analyzer.persons(text)
    assert {(r.entity_type, text[r.start : r.end]) for r in results} >= {("EMAIL_ADDRESS", "taro.yamada@example.jp"), ("JP_PHONE_NUMBER", "090-1234-5678")}
    assert [(f.stage, f.error) for f in results.failures] == [("nlp", "MemoryError")]
    assert list(people) == [] and [(f.stage, f.error) for f in people.failures] == [("nlp", "UnicodeError")]
