"""The shared conformance tests every OBJECT-store connector must pass (S3, MinIO, a file share...).

The table connectors have tests/conformance.py; object stores answer the same protocol differently:
there are no identity fields, a collection is a bucket (and prefix) of objects that are scanned as
a stream, a record is a line or a row of an object, and erasure deletes an object in every version
or rewrites it with the subject's mentions redacted.

To prove a new object connector: write tests/test_<kind>_connector.py with a subclass of
`ObjectConnectorConformance` and a `bucket` fixture returning a `ConformanceBucket` for your kind:
a system config pointing at a real store holding an empty bucket named `BUCKET`, a `put` that
writes one object, a `get` that reads an object's current bytes back (None when there is none),
and a config for an endpoint that answers nothing (`unreachable`). The tests below then run
against it, with the real subject matcher (pattern matching only, no Presidio).
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from connectors.base import ApplyContext, ConnectorError, Mention, Step
from connectors.registry import connector_class, kinds
from dsr.config import DatasetConfig, SystemConfig
from dsr.subject import Identifier, Subject
from scanners.matcher import REDACTION, SubjectMatcher
from scanners.readers import CHUNK_SIZE

SYSTEM = "store"
BUCKET = "dsr-conformance"
PREFIX = "notes/"
COLLECTION = "notes"

DATASET = DatasetConfig.model_validate({
    "system": SYSTEM,
    "collections": {
        COLLECTION: {"categories": ["support_case"], "objects": {"bucket": BUCKET, "prefix": PREFIX, "format": "auto"}},
    },
})

EMAIL = "taro.yamada@example.jp"
PHONE = "090-1234-5678"
NAME = "Taro Yamada"
#: How the subject is written in the objects below (each is found by the matcher as it stands).
SPELLINGS = (EMAIL, PHONE, NAME, "Yamada, Taro", "+81 90 1234 5678")


def subject_matcher() -> SubjectMatcher:
    return SubjectMatcher(Subject((Identifier.parse("email", EMAIL), Identifier.parse("phone", PHONE), Identifier.parse("name", NAME))))


def _jsonl(*lines: str) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def _chunk_straddler() -> bytes:
    """Over one read chunk of log lines, with the email starting 10 bytes before the chunk boundary."""
    filler = b"2024-05-01T10:00:00Z GET /mypage user=ken@example.com 200\n"
    head = filler * ((CHUNK_SIZE - 100) // len(filler))
    pad = b"x" * (CHUNK_SIZE - 10 - len(head) - len(b"user="))
    return head + pad + b"user=" + EMAIL.encode() + b" 200\n" + filler * 50


def _binary() -> bytes:
    """A PNG header and noise (with the subject's email inside: binary is skipped, never scanned)."""
    noise = random.Random(7).randbytes(4096)
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + noise[:2000] + EMAIL.encode() + noise[2000:]


#: Objects that mention the subject, by key; each in a form whose rewrite is byte-identical but for the spans.
MENTIONING: dict[str, bytes] = {
    f"{PREFIX}call.txt": (
        "2024-05-01 10:02 inbound call\n"
        f"caller: {NAME} <{EMAIL}>\n"
        f"callback on {PHONE} after 18:00\n"
        "agent: Hanako Sato\n"
    ).encode(),
    f"{PREFIX}tickets.csv": (
        "id,opened,customer,summary\n"
        "1,2024-05-01,ken@example.com,billing question\n"
        f"2,2024-05-02,{EMAIL},roaming not working\n"
        '3,2024-05-03,"Sato, Hanako",asked for a new SIM\n'
    ).encode(),
    f"{PREFIX}profile.json": (
        '{"customer": {"phone": "' + PHONE + '", "plan": "5G unlimited"}, "notes": ["prefers email", "VIP"]}\n'
    ).encode(),
    f"{PREFIX}events.jsonl": _jsonl(
        '{"ts": "2024-05-01T10:00:00Z", "event": "login", "user": "ken@example.com"}',
        '{"ts": "2024-05-01T10:01:00Z", "event": "contact", "from": "' + EMAIL + '", "message": "Hi, this is ' + NAME + '"}',
        '{"ts": "2024-05-01T10:02:00Z", "event": "logout", "user": "ken@example.com"}',
    ),
    f"{PREFIX}archive.log.gz": gzip.compress(
        b"2024-04-30T23:59:58Z sms sent to +81 90 1234 5678 ok\n2024-04-30T23:59:59Z sms sent to +81 80 9999 0000 ok\n", mtime=0
    ),
    f"{PREFIX}long.log": _chunk_straddler(),
}

#: Objects that do not mention the subject: other people, and lookalikes the matcher must not take.
OTHERS: dict[str, bytes] = {
    f"{PREFIX}other.txt": (
        b"From ken@example.com, phone 080-1234-5678\n"
        b"otaro.yamada@example.jp and taro.yamada@example.jpn are other people\n"
        b"so are taro.yamada@example.jp.evil.com, 090-1234-56789 and Taro Yamadashita\n"
    ),
    f"{PREFIX}other.jsonl": _jsonl('{"user": "hanako.sato@example.jp", "phone": "070-0000-1111"}'),
    f"{PREFIX}empty.txt": b"",
}

#: Objects that cannot be read as text: skipped with a reason, never a crash.
UNREADABLE: dict[str, bytes] = {
    f"{PREFIX}photo.png": _binary(),
    f"{PREFIX}broken.gz": b"\x1f\x8b\x08\x00" + b"not really gzip at all " * 10,
}

#: Outside the collection's prefix: never the collection's business, even though it mentions the subject.
OUTSIDE: dict[str, bytes] = {"elsewhere/call.txt": f"caller: {EMAIL}\n".encode()}

OBJECTS: dict[str, bytes] = {**MENTIONING, **OTHERS, **UNREADABLE, **OUTSIDE}

EXPECTED_KINDS: dict[str, tuple[str, ...]] = {
    f"{PREFIX}call.txt": ("email", "name", "phone"),
    f"{PREFIX}tickets.csv": ("email",),
    f"{PREFIX}profile.json": ("phone",),
    f"{PREFIX}events.jsonl": ("email", "name"),
    f"{PREFIX}archive.log.gz": ("phone",),
    f"{PREFIX}long.log": ("email",),
}


@dataclass
class ConformanceBucket:
    kind: str
    config: SystemConfig
    put: Callable[[str, bytes], None]
    get: Callable[[str], bytes | None]  # the key's current bytes, as stored (gzip stays gzip); None if none
    unreachable: SystemConfig | None = None


def decoded(body: bytes) -> bytes:
    return gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body


def redacted(body: bytes) -> bytes:
    """What a rewrite must leave: the decoded body with every spelling of the subject replaced, nothing else."""
    text = decoded(body)
    for spelling in SPELLINGS:
        text = text.replace(spelling.encode(), REDACTION.encode())
    return text


def planted_spans(body: bytes) -> list[tuple[int, int, int]]:
    """(line, start, end) of every spelling of the subject in the decoded body."""
    text, spans = decoded(body), []
    for spelling in SPELLINGS:
        needle, at = spelling.encode(), 0
        while (at := text.find(needle, at)) >= 0:
            spans.append((text.count(b"\n", 0, at) + 1, at, at + len(needle)))
            at += len(needle)
    return sorted(spans)


def identifying(text: str) -> list[str]:
    """The subject's identifiers (in any case) found in a message meant for reports."""
    return [s for s in SPELLINGS if s.lower() in text.lower()]


class ObjectConnectorConformance:
    """Inherit this and provide a `bucket` fixture (a ConformanceBucket whose store holds an empty BUCKET)."""

    @pytest.fixture
    def connector(self, bucket: ConformanceBucket):
        for key, body in OBJECTS.items():
            bucket.put(key, body)
        connector = connector_class(bucket.kind)(SYSTEM, bucket.config, DATASET)
        yield connector
        connector.close()

    @pytest.fixture
    def matcher(self) -> SubjectMatcher:
        return subject_matcher()

    @staticmethod
    def _scan(connector, matcher: SubjectMatcher) -> dict[str, list[Mention]]:  # noqa: ANN001
        found: dict[str, list[Mention]] = {}
        for mention in connector.scan(COLLECTION, matcher):
            found.setdefault(mention.key[0], []).append(mention)
        return found

    # ------------------------------------------------------------------ identity

    def test_registered_under_its_kind(self, bucket: ConformanceBucket) -> None:
        assert bucket.kind in kinds()

    def test_objects_have_no_identity_fields(self, connector) -> None:  # noqa: ANN001
        assert list(connector.find_by_identity(COLLECTION, [Identifier.parse("email", EMAIL)], [])) == []
        assert list(connector.find_by_values(COLLECTION, "object", [f"{PREFIX}call.txt"], [])) == []
        assert connector.foreign_keys() == []

    # ------------------------------------------------------------------ scanning

    def test_scan_finds_the_subject_in_every_text_format(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        found = self._scan(connector, matcher)
        mentions = {key: [m for m in ms if m.skipped is None] for key, ms in found.items()}
        assert sorted(k for k, ms in mentions.items() if ms) == sorted(MENTIONING)
        for key, body in MENTIONING.items():
            (mention,) = mentions[key]  # one per version; the store holds one
            assert len(mention.key) == 2 and mention.key[0] == key and isinstance(mention.key[1], str) and mention.key[1], mention.key
            assert mention.field is None and mention.skipped is None
            assert mention.kinds == EXPECTED_KINDS[key], key
            assert 0 < mention.confidence <= 1
            # Spans are (line, start, end) in bytes of the decoded (gunzipped) object, and cover exactly the planted spellings.
            assert sorted(mention.spans) == planted_spans(body), key

    def test_scan_finds_a_mention_cut_by_the_read_chunk(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        (mention,) = self._scan(connector, matcher)[f"{PREFIX}long.log"]
        ((line, start, end),) = mention.spans
        assert start < CHUNK_SIZE < end
        assert MENTIONING[f"{PREFIX}long.log"][start:end] == EMAIL.encode()

    def test_scan_does_not_report_other_people_or_lookalikes(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        found = self._scan(connector, matcher)
        for key in OTHERS:
            assert key not in found, key

    def test_scan_keeps_to_the_collections_prefix(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        assert all(key.startswith(PREFIX) for key in self._scan(connector, matcher))

    def test_binary_objects_are_skipped_with_a_reason(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        found = self._scan(connector, matcher)
        for key in UNREADABLE:
            (mention,) = found[key]
            assert mention.skipped and mention.spans == () and mention.kinds == (), key
            assert identifying(mention.skipped) == [] and "PNG" not in mention.skipped
        assert sorted(k for k, ms in found.items() if any(m.skipped is None for m in ms)) == sorted(MENTIONING)  # the rest still scanned

    def test_scan_of_an_unknown_collection_is_a_clear_error(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        with pytest.raises(ConnectorError, match=f"'{SYSTEM}'"):
            list(connector.scan("no_such_collection", matcher))

    # ------------------------------------------------------------------ reading

    def test_read_yields_the_records_of_an_object(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        key = f"{PREFIX}events.jsonl"
        (mention,) = self._scan(connector, matcher)[key]
        records = list(connector.read(COLLECTION, [mention.key], []))
        lines = MENTIONING[key].decode().splitlines()
        assert records == [{"object": key, "version_id": mention.key[1], "line": n, "text": text} for n, text in enumerate(lines, start=1)]
        # the record that holds the mention is the one on the mention's line
        assert {records[line - 1]["line"] for line, _, _ in mention.spans} == {2}

    def test_read_of_a_gzip_and_a_csv_object(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        found = self._scan(connector, matcher)
        (log,) = found[f"{PREFIX}archive.log.gz"]
        texts = [r["text"] for r in connector.read(COLLECTION, [log.key], [])]
        assert texts == decoded(MENTIONING[f"{PREFIX}archive.log.gz"]).decode().splitlines()
        (csv_mention,) = found[f"{PREFIX}tickets.csv"]
        rows = list(connector.read(COLLECTION, [csv_mention.key], []))
        assert [r["line"] for r in rows] == [1, 2, 3, 4] and rows[2]["text"] == f"2,2024-05-02,{EMAIL},roaming not working"

    def test_read_of_a_binary_object_yields_nothing_and_does_not_crash(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        (png,) = self._scan(connector, matcher)[f"{PREFIX}photo.png"]
        assert list(connector.read(COLLECTION, [png.key], [])) == []

    # ------------------------------------------------------------------ changes

    def test_delete_removes_the_object_and_nothing_else(self, connector, bucket: ConformanceBucket, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        key = f"{PREFIX}call.txt"
        found = self._scan(connector, matcher)
        (result,) = connector.apply([Step(COLLECTION, "delete_object_all_versions", [m.key for m in found[key]])], ApplyContext(pseudonym=str))
        assert (result.affected, result.refused) == (1, ())
        assert bucket.get(key) is None
        after = self._scan(connector, matcher)
        assert key not in after
        assert sorted(k for k, ms in after.items() if any(m.skipped is None for m in ms)) == sorted(set(MENTIONING) - {key})
        for other, body in OBJECTS.items():
            if other != key:
                assert bucket.get(other) == body, other

    def test_rewrite_redacts_only_the_subjects_spans(self, connector, bucket: ConformanceBucket, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        found = self._scan(connector, matcher)
        keys = [m.key for key in MENTIONING for m in found[key]]
        (result,) = connector.apply([Step(COLLECTION, "rewrite_object", keys)], ApplyContext(pseudonym=str, redact=matcher.redact))
        assert (result.affected, result.refused) == (len(MENTIONING), ())
        for key, body in MENTIONING.items():
            stored = bucket.get(key)
            assert stored is not None, key
            assert stored[:2] == body[:2], f"{key}: a gzip object stays gzip, a plain one plain"
            assert decoded(stored) == redacted(body), key
        for key, body in {**OTHERS, **UNREADABLE, **OUTSIDE}.items():
            assert bucket.get(key) == body, key
        after = self._scan(connector, matcher)
        assert [k for k, ms in after.items() if any(m.skipped is None for m in ms)] == []

    def test_apply_is_idempotent(self, connector, bucket: ConformanceBucket, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        """A rerun (a retried erasure) changes nothing more and says so, as table connectors do."""
        found = self._scan(connector, matcher)
        context = ApplyContext(pseudonym=str, redact=matcher.redact)
        delete = Step(COLLECTION, "delete_object_all_versions", [m.key for m in found[f"{PREFIX}call.txt"]])
        rewrite = Step(COLLECTION, "rewrite_object", [m.key for m in found[f"{PREFIX}events.jsonl"]])
        assert [r.affected for r in connector.apply([delete, rewrite], context)] == [1, 1]
        rewritten = bucket.get(f"{PREFIX}events.jsonl")
        second = connector.apply([delete, rewrite], context)
        assert all(r.refused == () for r in second)
        assert bucket.get(f"{PREFIX}call.txt") is None and bucket.get(f"{PREFIX}events.jsonl") == rewritten
        assert second[0].affected == 0, "deleting an object that is no longer there changed nothing: 0 objects affected"

    def test_rewrite_of_a_binary_object_is_refused_not_counted(self, connector, bucket: ConformanceBucket, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        (png,) = self._scan(connector, matcher)[f"{PREFIX}photo.png"]
        (result,) = connector.apply([Step(COLLECTION, "rewrite_object", [png.key])], ApplyContext(pseudonym=str, redact=matcher.redact))
        assert result.affected == 0 and len(result.refused) == 1
        assert identifying(result.refused[0]) == []
        assert bucket.get(f"{PREFIX}photo.png") == UNREADABLE[f"{PREFIX}photo.png"]

    def test_table_operations_do_not_apply_to_objects(self, connector, matcher: SubjectMatcher) -> None:  # noqa: ANN001
        (mention,) = self._scan(connector, matcher)[f"{PREFIX}call.txt"]
        with pytest.raises(ConnectorError, match=f"'{SYSTEM}'"):
            connector.apply([Step(COLLECTION, "delete_record", [mention.key])], ApplyContext(pseudonym=str))

    # ------------------------------------------------------------------ failures

    def test_unreachable_store_is_a_clear_error(self, bucket: ConformanceBucket, matcher: SubjectMatcher) -> None:
        if bucket.unreachable is None:
            pytest.fail("a conformance bucket must say how to reach nothing (ConformanceBucket.unreachable)")
        connector = connector_class(bucket.kind)(SYSTEM, bucket.unreachable, DATASET)
        key = (f"{PREFIX}{EMAIL}.txt", "null")
        attempts = {
            "scan": lambda: list(connector.scan(COLLECTION, matcher)),
            "read": lambda: list(connector.read(COLLECTION, [key], [])),
            "delete": lambda: connector.apply([Step(COLLECTION, "delete_object_all_versions", [key])], ApplyContext(pseudonym=str)),
            "rewrite": lambda: connector.apply([Step(COLLECTION, "rewrite_object", [key])], ApplyContext(pseudonym=str, redact=matcher.redact)),
        }
        wrong = {}
        for what, attempt in attempts.items():
            try:
                attempt()
            except ConnectorError as exc:
                assert f"'{SYSTEM}'" in str(exc), what
                assert identifying(str(exc)) == [], what
            except Exception as exc:  # anything else escapes the protocol
                wrong[what] = type(exc).__name__
            else:
                wrong[what] = "no error"
        connector.close()
        assert wrong == {}, f"not a ConnectorError naming the system: {wrong}"

    # ------------------------------------------------------------------ data map: schema() and sample()

    def test_schema_lists_prefixes_declared_or_not_with_object_counts(self, connector) -> None:  # noqa: ANN001
        counts = {c.name: c.rows_estimate for c in connector.schema().collections if c.name.startswith(f"{BUCKET}/")}
        assert counts == {f"{BUCKET}/{PREFIX}": sum(1 for k in OBJECTS if k.startswith(PREFIX)), f"{BUCKET}/elsewhere/": 1}
        assert all(c.kind == "prefix" for c in connector.schema().collections)

    def test_sample_reads_a_few_records_of_any_prefix(self, connector) -> None:  # noqa: ANN001
        assert connector.sample(f"{BUCKET}/elsewhere/", 5) == [{"object": "elsewhere/call.txt", "text": f"caller: {EMAIL}"}]
        few = connector.sample(COLLECTION, 3)
        assert 1 <= len(few) <= 3 and all(r["object"].startswith(PREFIX) and isinstance(r["text"], str) for r in few)
        records = connector.sample(COLLECTION, 500)  # unreadable objects are passed over, never a crash
        assert records and not [r for r in records if r["object"] in UNREADABLE]
        with pytest.raises(ConnectorError, match="at least one"):
            connector.sample(COLLECTION, 0)
