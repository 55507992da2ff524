"""Object readers: formats, gzip, binary refusal, redacted rewrites and bounded memory."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import time
import tracemalloc
from pathlib import Path

import pytest

from dsr.subject import Identifier, Subject
from scanners.matcher import REDACTION, SubjectMatcher
from scanners.readers import CHUNK_SIZE, Record, SkippedObject, decoded_chunks, iter_records, matching_records, rewrite

EMAIL = "taro.yamada@example.jp"
PHONE = "090-1234-5678"
NAME = "Taro Yamada"


@pytest.fixture(scope="module")
def matcher() -> SubjectMatcher:
    subject = Subject((Identifier.parse("email", EMAIL), Identifier.parse("phone", PHONE), Identifier.parse("name", NAME)))
    return SubjectMatcher(subject, analyzer=None)


def _rewritten(data: bytes, fmt: str, matcher: SubjectMatcher, gzip_output: bool = False, **kwargs: int) -> tuple[bytes, int]:
    out = io.BytesIO()
    count = rewrite(io.BytesIO(data), out, fmt, matcher.redact, gzip_output, **kwargs)  # type: ignore[arg-type]
    return out.getvalue(), count


# --------------------------------------------------------------------------- gzip detection


LOG = f"2024-05-01 login ok\n2024-05-02 mail from {EMAIL} bounced\n2024-05-03 done\n".encode()


def test_gzip_is_detected_by_magic_bytes_whatever_the_name(tmp_path: Path) -> None:
    plain_named_gz = tmp_path / "app.log.gz"
    plain_named_gz.write_bytes(LOG)
    gzip_named_txt = tmp_path / "app.log"
    gzip_named_txt.write_bytes(gzip.compress(LOG))
    gzip_no_suffix = tmp_path / "export-2024"
    gzip_no_suffix.write_bytes(gzip.compress(LOG))

    for path in (plain_named_gz, gzip_named_txt, gzip_no_suffix):
        with path.open("rb") as raw:
            assert b"".join(decoded_chunks(raw)) == LOG, path.name
        with path.open("rb") as raw:
            assert [r.text for r in iter_records(raw, "text")] == LOG.decode().splitlines(), path.name


def test_gzip_of_every_format_is_read(matcher: SubjectMatcher) -> None:
    samples = {
        "text": LOG,
        "csv": f"id,email\n1,{EMAIL}\n".encode(),
        "jsonl": f'{{"email": "{EMAIL}"}}\n'.encode(),
        "json": f'{{"email": "{EMAIL}"}}'.encode(),
    }
    for fmt, data in samples.items():
        plain = list(iter_records(io.BytesIO(data), fmt))  # type: ignore[arg-type]
        zipped = list(iter_records(io.BytesIO(gzip.compress(data)), fmt))  # type: ignore[arg-type]
        assert plain == zipped and plain, fmt
        assert [r.text for r in matching_records(io.BytesIO(gzip.compress(data)), fmt, matcher.mentions)], fmt  # type: ignore[arg-type]


def test_multi_member_gzip_is_read_whole() -> None:
    data = gzip.compress(b"first line\n") + gzip.compress(b"second line\n")
    assert [r.text for r in iter_records(io.BytesIO(data), "text")] == ["first line", "second line"]


def test_corrupt_gzip_is_skipped_with_a_reason() -> None:
    whole = gzip.compress(LOG * 2000)
    with pytest.raises(SkippedObject) as truncated:
        list(decoded_chunks(io.BytesIO(whole[: len(whole) // 2])))
    assert truncated.value.reason == "corrupt gzip stream"
    garbage = b"\x1f\x8b" + bytes(range(1, 200))
    with pytest.raises(SkippedObject) as bad:
        list(iter_records(io.BytesIO(garbage), "text"))
    assert bad.value.reason == "corrupt gzip stream"


# --------------------------------------------------------------------------- text and logs


def test_text_records_have_line_numbers() -> None:
    data = b"first\r\n\nthird line\nlast without newline"
    records = list(iter_records(io.BytesIO(data), "text"))
    assert records == [Record(0, 1, "first"), Record(1, 2, ""), Record(2, 3, "third line"), Record(3, 4, "last without newline")]


def test_text_redaction_preserves_every_other_byte(matcher: SubjectMatcher) -> None:
    data = (
        "\ufeff2024-05-01T10:00:00Z INFO start\r\n"
        f"2024-05-01T10:00:01Z WARN delivery to <{EMAIL}> failed\r\n"
        "\n"
        "\t  indented — unicode ✓ line, nothing here  \n"
        "otaro.yamada@example.jpn is someone else\n"
        f"trailing line mentions {EMAIL}"
    ).encode()
    out, count = _rewritten(data, "text", matcher)
    assert count == 2
    expected = data.replace(f"<{EMAIL}>".encode(), f"<{REDACTION}>".encode()).replace(f"mentions {EMAIL}".encode(), f"mentions {REDACTION}".encode())
    assert expected.count(REDACTION.encode()) == 2 and b"otaro.yamada@example.jpn" in expected
    assert out == expected


def test_text_rewrite_keeps_undecodable_bytes_after_the_sniffed_head(matcher: SubjectMatcher) -> None:
    data = b"a" * 9000 + b"\n" + b"stray \xff byte\n" + f"{PHONE}\n".encode()
    out, count = _rewritten(data, "text", matcher)
    assert count == 1
    assert out == data.replace(PHONE.encode(), REDACTION.encode())
    records = list(iter_records(io.BytesIO(data), "text"))
    assert records[1] == Record(1, 2, "stray \ufffd byte")
    beside = b"b" * 9000 + b"\n\xfe" + EMAIL.encode() + b"\xff and " + PHONE.encode() + b"\n"
    out, count = _rewritten(beside, "text", matcher)
    assert (out, count) == (beside.replace(EMAIL.encode(), REDACTION.encode()).replace(PHONE.encode(), REDACTION.encode()), 2)


def test_jsonl_with_an_escaped_lone_surrogate(matcher: SubjectMatcher) -> None:
    data = ('{"note": "broken \\ud800 emoji", "email": "' + EMAIL + '"}\n').encode()
    out, count = _rewritten(data, "jsonl", matcher)
    assert count == 1
    assert json.loads(out) == {"note": "broken \ud800 emoji", "email": REDACTION}


def test_rewrite_with_gzip_output_is_valid_gzip(matcher: SubjectMatcher) -> None:
    expected = LOG.replace(EMAIL.encode(), REDACTION.encode())
    for source in (LOG, gzip.compress(LOG)):
        out, count = _rewritten(source, "text", matcher, gzip_output=True)
        assert count == 1
        assert out[:2] == b"\x1f\x8b"
        assert gzip.decompress(out) == expected
        assert list(iter_records(io.BytesIO(out), "text"))[1].text == expected.decode().splitlines()[1]
    plain, _ = _rewritten(gzip.compress(LOG), "text", matcher, gzip_output=False)
    assert plain == expected


def test_rewrite_never_closes_the_output(matcher: SubjectMatcher, tmp_path: Path) -> None:
    path = tmp_path / "redacted.gz"
    with path.open("wb") as out:
        rewrite(io.BytesIO(LOG), out, "text", matcher.redact, gzip_output=True)
        assert not out.closed
    assert gzip.decompress(path.read_bytes()).count(REDACTION.encode()) == 1


# --------------------------------------------------------------------------- csv


CSV_DATA = (
    "id,name,notes,email\r\n"
    '1,"Hanako Sato","called, asked about billing",hanako@example.org\r\n'
    f'2,"{NAME}","first line\r\nsecond line mentions {PHONE}\r\nthird line",{EMAIL}\r\n'
    '3,"Ichiro ""Ichi"" Suzuki","",ichiro@example.org\r\n'
).encode()


def test_csv_quoted_newlines_make_one_record(matcher: SubjectMatcher) -> None:
    records = list(iter_records(io.BytesIO(CSV_DATA), "csv"))
    assert [(r.index, r.line) for r in records] == [(0, 1), (1, 2), (2, 3), (3, 6)]
    spanning = records[2]
    assert PHONE in spanning.text and EMAIL in spanning.text and spanning.text.count("\n") == 2
    assert next(csv.reader(io.StringIO(spanning.text, newline=""))) == ["2", NAME, f"first line\r\nsecond line mentions {PHONE}\r\nthird line", EMAIL]
    assert list(matching_records(io.BytesIO(CSV_DATA), "csv", matcher.mentions)) == [spanning]


def test_csv_rewrite_redacts_cells_and_keeps_the_shape(matcher: SubjectMatcher) -> None:
    out, count = _rewritten(CSV_DATA, "csv", matcher)
    assert count == 3  # name, phone inside the multi-line cell, email
    before = list(csv.reader(io.StringIO(CSV_DATA.decode(), newline="")))
    after = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert len(after) == len(before) and [len(r) for r in after] == [len(r) for r in before]
    assert after[2] == ["2", REDACTION, f"first line\r\nsecond line mentions {REDACTION}\r\nthird line", REDACTION]
    for index in (0, 1, 3):
        assert after[index] == before[index]
    original_lines = CSV_DATA.split(b"\r\n")
    assert out.startswith(b"\r\n".join(original_lines[:2]) + b"\r\n")  # rows without a mention are copied byte for byte
    assert out.endswith(original_lines[-2] + b"\r\n")
    assert EMAIL.encode() not in out and PHONE.encode() not in out


def test_csv_rewrite_quotes_a_redacted_cell_that_needs_it() -> None:
    data = b'a,b\n"x, y",plain\n'
    out = io.BytesIO()
    count = rewrite(io.BytesIO(data), out, "csv", lambda cell: (cell.replace("plain", 'has "quote",\nand comma'), 1) if "plain" in cell else (cell, 0), False)
    assert count == 1
    rows = list(csv.reader(io.StringIO(out.getvalue().decode(), newline="")))
    assert rows == [["a", "b"], ["x, y", 'has "quote",\nand comma']]


def test_csv_with_a_cell_over_the_default_field_limit() -> None:
    big = "z" * 200_000
    data = f"id,notes\n1,{big}\n".encode()
    records = list(iter_records(io.BytesIO(data), "csv"))
    assert records[1].text == f"1,{big}"


# --------------------------------------------------------------------------- json lines and json


def test_jsonl_redacts_nested_values_and_keeps_keys(matcher: SubjectMatcher) -> None:
    clean = '{"event": "login", "user": 42, "ok": true}'
    nested = {
        "event": "profile",
        "customer": {"email": EMAIL, "phones": [PHONE, "03-0000-0000"], "display": f"Mr {NAME} (VIP)"},
        "tags": ["a", {"note": "nothing here", EMAIL.split("@")[0]: "key-like"}],
        "count": 3,
        "missing": None,
    }
    data = (clean + "\n" + json.dumps(nested) + "\n\n" + "not json but mentions " + EMAIL + "\n" + clean).encode()

    records = list(iter_records(io.BytesIO(data), "jsonl"))
    assert [(r.index, r.line) for r in records] == [(0, 1), (1, 2), (2, 4), (3, 5)]

    out, count = _rewritten(data, "jsonl", matcher)
    assert count == 4  # email, phone, name, and the email in the line that is not JSON
    lines = out.decode().split("\n")
    assert lines[0] == clean and lines[4] == clean and lines[2] == ""  # untouched lines are byte for byte
    redacted = json.loads(lines[1])
    assert redacted == {
        "event": "profile",
        "customer": {"email": REDACTION, "phones": [REDACTION, "03-0000-0000"], "display": f"Mr {REDACTION} (VIP)"},
        "tags": ["a", {"note": "nothing here", EMAIL.split("@")[0]: "key-like"}],
        "count": 3,
        "missing": None,
    }
    assert list(redacted) == list(nested) and list(redacted["customer"]) == list(nested["customer"])
    assert lines[3] == f"not json but mentions {REDACTION}"


def test_jsonl_keeps_non_ascii_readable(matcher: SubjectMatcher) -> None:
    data = json.dumps({"name": "山田太郎", "email": EMAIL}, ensure_ascii=False).encode() + b"\n"
    out, count = _rewritten(data, "jsonl", matcher)
    assert count == 1
    assert "山田太郎".encode() in out and json.loads(out) == {"name": "山田太郎", "email": REDACTION}


def test_json_document_redaction(matcher: SubjectMatcher) -> None:
    document = {
        "customers": [
            {"id": 1, "name": NAME, "contact": {"email": EMAIL, "phone": PHONE}},
            {"id": 2, "name": "Hanako Sato", "contact": {"email": "hanako@example.org", "phone": None}},
        ],
        "generated": "2024-05-01",
    }
    data = json.dumps(document, indent=2).encode() + b"\n"
    assert list(iter_records(io.BytesIO(data), "json")) == [Record(0, 1, data.decode())]

    out, count = _rewritten(data, "json", matcher)
    assert count == 3
    assert out.endswith(b"}\n")
    redacted = json.loads(out)
    assert redacted["customers"][0] == {"id": 1, "name": REDACTION, "contact": {"email": REDACTION, "phone": REDACTION}}
    assert redacted["customers"][1] == document["customers"][1]  # type: ignore[index]
    assert redacted["generated"] == "2024-05-01"

    untouched = json.dumps({"nobody": "here"}).encode()
    assert _rewritten(untouched, "json", matcher) == (untouched, 0)


def test_json_document_over_the_limit_is_skipped(matcher: SubjectMatcher) -> None:
    data = json.dumps({"rows": [{"email": EMAIL, "i": i} for i in range(200)]}).encode()
    with pytest.raises(SkippedObject) as exc:
        list(iter_records(io.BytesIO(data), "json", max_json_bytes=1000))
    assert exc.value.reason == "JSON document larger than 1000 bytes: store it as JSON Lines"
    assert EMAIL not in str(exc.value)
    with pytest.raises(SkippedObject, match="store it as JSON Lines"):
        _rewritten(gzip.compress(data), "json", matcher, max_json_bytes=1000)
    assert len(list(iter_records(io.BytesIO(data), "json", max_json_bytes=len(data)))) == 1


def test_invalid_json_document_is_skipped_on_rewrite(matcher: SubjectMatcher) -> None:
    with pytest.raises(SkippedObject) as exc:
        _rewritten(f'{{"email": "{EMAIL}",'.encode(), "json", matcher)
    assert exc.value.reason == "not a valid JSON document"


# --------------------------------------------------------------------------- binary input


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00\x5c\x72\xa8\x66"


def _assert_skipped(data: bytes, reason: str) -> None:
    calls = (
        lambda raw: decoded_chunks(raw),
        lambda raw: iter_records(raw, "text"),
        lambda raw: iter_records(raw, "csv"),
        lambda raw: matching_records(raw, "jsonl", lambda _text: True),
        lambda raw: rewrite(raw, io.BytesIO(), "text", lambda t: (t, 0), False),
    )
    for call in calls:
        with pytest.raises(SkippedObject) as exc:
            call(io.BytesIO(data))  # the head is checked when called, before any iteration
        assert exc.value.reason == reason
        assert str(exc.value) == reason  # words only: never a byte of the content
        assert "\\x" not in str(exc.value) and "PNG" not in str(exc.value)


def test_binary_input_is_skipped() -> None:
    _assert_skipped(PNG, "binary content (NUL bytes)")
    _assert_skipped(gzip.compress(PNG), "binary content (NUL bytes)")
    rng = random.Random(7)
    noise = bytearray(rng.randbytes(64 << 10))
    noise[100] = 0
    _assert_skipped(bytes(noise), "binary content (NUL bytes)")
    _assert_skipped(b"\x89PNG\r\n\x1a\n", "not UTF-8 text")  # the signature alone has no NUL


def test_invalid_utf8_is_skipped() -> None:
    _assert_skipped("café au lait, naïve\n".encode("latin-1"), "not UTF-8 text")
    _assert_skipped("顧客メモ\n".encode("shift_jis"), "not UTF-8 text")
    _assert_skipped(gzip.compress("café\n".encode("cp1252")), "not UTF-8 text")


def test_a_utf8_sequence_cut_at_the_sniff_boundary_is_text() -> None:
    for pad in range(8190, 8194):  # 'あ' is three bytes: some of these cut it at 8 KiB
        data = b"x" * pad + "あいう\n".encode()
        assert b"".join(decoded_chunks(io.BytesIO(data), chunk_size=1000)) == data
        assert [r.text for r in iter_records(io.BytesIO(data), "text")] == [data.decode().rstrip("\n")]


def test_empty_and_bom_only_objects_are_text(matcher: SubjectMatcher) -> None:
    for fmt in ("text", "csv", "json", "jsonl"):
        assert list(iter_records(io.BytesIO(b""), fmt)) == []  # type: ignore[arg-type]
        assert _rewritten(b"", fmt, matcher) == (b"", 0)
    assert list(decoded_chunks(io.BytesIO(b""))) == []
    assert _rewritten(b"\xef\xbb\xbf", "text", matcher) == (b"\xef\xbb\xbf", 0)


# --------------------------------------------------------------------------- streaming


class _Trickle:
    """A raw object whose read(n) returns at most `step` bytes, like a slow network body."""

    def __init__(self, data: bytes, step: int):
        self._data, self._pos, self._step = data, 0, step

    def read(self, n: int = -1) -> bytes:
        n = self._step if n is None or n < 0 else min(n, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def test_mention_split_across_chunks_is_found(matcher: SubjectMatcher) -> None:
    lines = [f"line {i} nothing to see" for i in range(40)]
    lines[17] = f"line 17 contact {EMAIL} or {PHONE}"
    lines[31] = f"line 31 signed {NAME}"
    data = ("\n".join(lines) + "\n").encode()
    expected = sorted((data.index(m.encode()), data.index(m.encode()) + len(m.encode())) for m in (EMAIL, PHONE, NAME))
    for source in (data, gzip.compress(data)):
        for chunk_size in (1, 3, 7, 16, 64, 1000):
            hits = list(matcher.scan_stream(decoded_chunks(io.BytesIO(source), chunk_size=chunk_size)))
            assert sorted((h.start, h.end) for h in hits) == expected, chunk_size
            assert sorted(h.line for h in hits) == [18, 18, 32], chunk_size
    for step in (1, 2, 5):  # sources that return fewer bytes than asked
        hits = list(matcher.scan_stream(decoded_chunks(_Trickle(data, step), chunk_size=11)))  # type: ignore[arg-type]
        assert sorted((h.start, h.end) for h in hits) == expected
        assert [r.text for r in iter_records(_Trickle(gzip.compress(data), step), "text")] == lines  # type: ignore[arg-type]


BLOCK_LINES = 1024
LINE = b"2024-05-01T10:00:00Z INFO request served " + b"." * 982 + b"\n"  # 1024 bytes
MENTION_LINE = (b"2024-05-01T10:00:00Z WARN bounce " + EMAIL.encode()).ljust(1023, b" ") + b"\n"
BLOCK = MENTION_LINE + LINE * (BLOCK_LINES - 1)  # 1 MiB, one mention


class _Fabricated:
    """A raw object of `blocks` MiB of log lines, made up on the fly: the test never holds it."""

    def __init__(self, blocks: int):
        self.size = blocks * len(BLOCK)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        offset = self._pos % len(BLOCK)
        n = min(len(BLOCK) - offset, self.size - self._pos, len(BLOCK) if n is None or n < 0 else n)
        self._pos += n
        return BLOCK[offset : offset + n]


class _Discard:
    """A sink that counts what is written to it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def test_a_200_mb_object_streams_in_bounded_memory(matcher: SubjectMatcher) -> None:
    blocks = 200
    assert len(BLOCK) == 1 << 20 and CHUNK_SIZE == 1 << 20
    tracemalloc.start()
    try:
        started = time.perf_counter()
        hits = 0
        last = None
        for hit in matcher.scan_stream(decoded_chunks(_Fabricated(blocks))):  # type: ignore[arg-type]
            hits, last = hits + 1, hit
        scanned = time.perf_counter() - started
        _, scan_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()

        started = time.perf_counter()
        sink = _Discard()
        count = rewrite(_Fabricated(blocks), sink, "text", matcher.redact, gzip_output=False)  # type: ignore[arg-type]
        rewritten = time.perf_counter() - started
        _, rewrite_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    total = blocks * len(BLOCK)
    assert hits == blocks and count == blocks
    assert last is not None and last.start == (blocks - 1) * len(BLOCK) + MENTION_LINE.index(EMAIL.encode())
    assert last.line == (blocks - 1) * BLOCK_LINES + 1
    assert sink.size == total - blocks * (len(EMAIL) - len(REDACTION))
    assert scan_peak < 32 << 20, f"scan peak {scan_peak / 1e6:.1f} MB"
    assert rewrite_peak < 32 << 20, f"rewrite peak {rewrite_peak / 1e6:.1f} MB"
    print(
        f"\n{total / 1e6:.0f} MB: scan {total / 1e6 / scanned:.0f} MB/s (peak {scan_peak / 1e6:.1f} MB), "
        f"rewrite {total / 1e6 / rewritten:.0f} MB/s (peak {rewrite_peak / 1e6:.1f} MB)"
    )


# --------------------------------------------------------------------------- hostile input


def test_json_nested_to_the_recursion_limit_is_redacted_or_skipped_under_a_deep_caller(matcher: SubjectMatcher) -> None:
    """A caller deep in its own stack (a task runner, a connector) leaves the JSON encoder less room
    than the parser had: the document is then skipped with a reason, never a RecursionError."""

    def outcomes(frames: int) -> list[str]:
        if frames:
            return outcomes(frames - 1)
        results = []
        for depth in range(900, 1000, 5):
            for fmt, sep in (("json", "\n"), ("json", ""), ("jsonl", "")):
                doc = (("[" + sep) * depth + f'"{PHONE}"' + "]" * depth).encode()
                try:
                    data, count = _rewritten(doc, fmt, matcher)
                except SkippedObject as skipped:
                    results.append(skipped.reason)
                else:
                    assert count == 1 and PHONE.encode() not in data and REDACTION.encode() in data
                    results.append("redacted")
        return results

    for frames in (0, 150):
        found = set(outcomes(frames))
        assert found <= {"redacted", "JSON document nested too deeply"}
        assert "redacted" in found


def test_gzip_corrupted_after_the_sniffed_head_is_skipped_by_every_reader(matcher: SubjectMatcher) -> None:
    packed = bytearray(gzip.compress(LOG * 4000))
    packed[len(packed) * 3 // 4] ^= 0xFF  # past the first 8 KiB of decoded text
    for fmt in ("text", "csv", "jsonl", "json"):
        with pytest.raises(SkippedObject) as read:
            list(iter_records(io.BytesIO(bytes(packed)), fmt))  # type: ignore[arg-type]
        with pytest.raises(SkippedObject) as rewritten:
            _rewritten(bytes(packed), fmt, matcher)
        assert read.value.reason == rewritten.value.reason == "corrupt gzip stream"


def test_nul_bytes_and_broken_utf8_after_the_head_do_not_stop_a_log(matcher: SubjectMatcher) -> None:
    data = b"ok\n" * 4000 + b"bad \x00 byte and \xff\xfe here\n" + f"contact {EMAIL}\n".encode()
    records = list(iter_records(io.BytesIO(data), "text"))
    assert records[4000].text == "bad \x00 byte and \ufffd\ufffd here"
    assert [r.line for r in matching_records(io.BytesIO(data), "text", matcher.mentions)] == [4002]
    out, count = _rewritten(data, "text", matcher)
    assert count == 1 and out == data.replace(EMAIL.encode(), REDACTION.encode())
