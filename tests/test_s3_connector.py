"""The S3 connector: the shared object-store conformance tests on plain and versioned buckets, plus
what only S3 has (versions and delete markers, Object Lock, multipart-sized objects streamed).

The S3 server is moto's standalone server in its own process, spoken to over HTTP (`s3_endpoint`);
nothing is patched inside this process.
"""

from __future__ import annotations

import csv
import gc
import gzip
import io
import json
import random
import threading
import time
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from connectors.base import AppliedStep, ApplyContext, ConnectorError, Step
from connectors.s3 import S3Connector
from dsr.config import DatasetConfig, SystemConfig
from scanners.matcher import REDACTION, SubjectMatcher
from tests.conformance_objects import BUCKET, EMAIL, NAME, PHONE, SPELLINGS, ConformanceBucket, ObjectConnectorConformance, identifying, subject_matcher

REGION = "us-east-1"
DOWN = SystemConfig(kind="s3", url="http://127.0.0.1:9", options={"region": REGION})  # the discard port: nothing listens


# --------------------------------------------------------------------------- plumbing


def _client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION)


def _config(endpoint: str) -> SystemConfig:
    return SystemConfig(kind="s3", url=endpoint, options={"region": REGION})


def _get(s3: Any, bucket: str, key: str, version: str | None = None) -> bytes | None:
    args = {"Bucket": bucket, "Key": key} | ({"VersionId": version} if version else {})
    try:
        return s3.get_object(**args)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchVersion", "MethodNotAllowed"):
            return None
        raise


def _versions(s3: Any, bucket: str, key: str) -> tuple[list[dict], list[dict]]:
    """(versions, delete markers) of exactly this key."""
    page = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [v for v in page.get("Versions", []) if v["Key"] == key], [m for m in page.get("DeleteMarkers", []) if m["Key"] == key]


def _connector(endpoint: str, bucket: str, fmt: str = "auto", prefix: str = "") -> S3Connector:
    dataset = DatasetConfig.model_validate({"system": "store", "collections": {"objects": {"objects": {"bucket": bucket, "prefix": prefix, "format": fmt}}}})
    return S3Connector("store", _config(endpoint), dataset)


def _mentions_subject(body: bytes) -> bool:
    text = (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode("utf-8", "replace").lower()
    return any(s.lower() in text for s in SPELLINGS)


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    return _client(s3_endpoint)


@pytest.fixture
def matcher() -> SubjectMatcher:
    return subject_matcher()


def _versioned(s3: Any, bucket: str) -> None:
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


# --------------------------------------------------------------------------- conformance


class TestS3Conformance(ObjectConnectorConformance):
    @pytest.fixture(params=["plain", "versioned"])
    def bucket(self, request: pytest.FixtureRequest, s3_endpoint: str, s3: Any) -> ConformanceBucket:
        if request.param == "versioned":
            _versioned(s3, BUCKET)
        else:
            s3.create_bucket(Bucket=BUCKET)
        return ConformanceBucket(
            "s3",
            _config(s3_endpoint),
            put=lambda key, body: s3.put_object(Bucket=BUCKET, Key=key, Body=body),
            get=lambda key: _get(s3, BUCKET, key),
            unreachable=DOWN,
        )


# --------------------------------------------------------------------------- versions


def test_delete_removes_every_version_and_delete_marker(s3_endpoint: str, s3: Any, matcher: SubjectMatcher) -> None:
    _versioned(s3, "tickets")
    key = "t/1/note.txt"
    s3.put_object(Bucket="tickets", Key=key, Body=f"From {EMAIL}: my router is broken\n".encode())
    s3.put_object(Bucket="tickets", Key=key, Body=b"edited: router replaced\n")
    s3.put_object(Bucket="tickets", Key=key, Body=f"closed; call back on {PHONE}\n".encode())
    s3.delete_object(Bucket="tickets", Key=key)  # a plain delete only hides them behind a marker
    s3.put_object(Bucket="tickets", Key=f"{key}.bak", Body=f"backup: {EMAIL}\n".encode())  # shares the key as a prefix
    s3.put_object(Bucket="tickets", Key="t/2/note.txt", Body=b"From ken@example.com: billing\n")
    s3.put_object(Bucket="tickets", Key="t/2/note.txt", Body=b"From ken@example.com: billing, again\n")
    assert [len(x) for x in _versions(s3, "tickets", key)] == [3, 1]
    others = {k: _versions(s3, "tickets", k) for k in (f"{key}.bak", "t/2/note.txt")}

    connector = _connector(s3_endpoint, "tickets")
    hits = [m for m in connector.scan("objects", matcher) if m.key[0] == key]
    assert len(hits) == 2  # the marker hides nothing from the scan: both old versions that mention the subject
    (result,) = connector.apply([Step("objects", "delete_object_all_versions", [m.key for m in hits])], ApplyContext(pseudonym=str))
    assert result == AppliedStep(1)

    assert _versions(s3, "tickets", key) == ([], [])  # not hidden: gone, marker and all
    assert {k: _versions(s3, "tickets", k) for k in others} == others
    assert {m.key[0] for m in connector.scan("objects", matcher)} == {f"{key}.bak"}
    connector.close()


def test_rewrite_of_a_versioned_object_leaves_one_clean_version(s3_endpoint: str, s3: Any, matcher: SubjectMatcher) -> None:
    _versioned(s3, "tickets")
    key = "t/1/note.txt"
    s3.put_object(Bucket="tickets", Key=key, Body=f"From {EMAIL}: my router is broken\n".encode())
    s3.put_object(Bucket="tickets", Key=key, Body=f"From {EMAIL}: call me on {PHONE}\n".encode())
    s3.put_object(Bucket="tickets", Key=key, Body=f"{NAME} <{EMAIL}> wrote:\nthe router works now\n".encode())
    s3.put_object(Bucket="tickets", Key="t/2/note.txt", Body=b"From ken@example.com: billing\n")

    connector = _connector(s3_endpoint, "tickets")
    hits = [m for m in connector.scan("objects", matcher) if m.key[0] == key]
    assert len(hits) == 3
    context = ApplyContext(pseudonym=str, redact=matcher.redact)
    (result,) = connector.apply([Step("objects", "rewrite_object", [m.key for m in hits])], context)
    assert result == AppliedStep(1)  # one object, however many versions

    versions, markers = _versions(s3, "tickets", key)
    assert len(versions) == 1 and markers == []
    bodies = [_get(s3, "tickets", key, v["VersionId"]) for v in versions]
    assert not any(_mentions_subject(b) for b in bodies)
    assert bodies == [f"{REDACTION} <{REDACTION}> wrote:\nthe router works now\n".encode()]
    assert list(connector.scan("objects", matcher)) == []
    assert len(_versions(s3, "tickets", "t/2/note.txt")[0]) == 1
    connector.close()


@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "plain"])
def test_rewrite_keeps_headers_metadata_and_tags_with_their_values_redacted(s3_endpoint: str, s3: Any, matcher: SubjectMatcher, versioned: bool) -> None:
    if versioned:
        _versioned(s3, "tickets")
    else:
        s3.create_bucket(Bucket="tickets")
    key = "t/1/note.txt"
    s3.put_object(Bucket="tickets", Key=key, Body=f"From {EMAIL}: my router is broken\n".encode(), ContentType="text/plain; charset=utf-8",
                  ContentLanguage="ja", CacheControl="no-store", Metadata={"ticket": "T-1", "submitted-by": EMAIL},
                  Tagging=f"team=support&contact={EMAIL}")
    connector = _connector(s3_endpoint, "tickets")
    hits = [m.key for m in connector.scan("objects", matcher)]

    (result,) = connector.apply([Step("objects", "rewrite_object", hits)], ApplyContext(pseudonym=str, redact=matcher.redact))

    assert result == AppliedStep(1)
    versions, _ = _versions(s3, "tickets", key)
    assert len(versions) == 1
    head = s3.head_object(Bucket="tickets", Key=key)
    assert (head["ContentType"], head["ContentLanguage"], head["CacheControl"]) == ("text/plain; charset=utf-8", "ja", "no-store")
    assert head["Metadata"] == {"ticket": "T-1", "submitted-by": REDACTION}  # kept, but not his address
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket="tickets", Key=key)["TagSet"]}
    assert tags == {"team": "support", "contact": REDACTION.strip("[]")}  # S3 allows no brackets in a tag
    assert not _mentions_subject(_get(s3, "tickets", key) or b"")
    connector.close()


def test_rewrite_leaves_a_version_another_writer_added_meanwhile(s3_endpoint: str, s3: Any, matcher: SubjectMatcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the versions that were there when the object was read are purged: a version someone
    else wrote during the rewrite is theirs (a later scan judges whether it mentions the subject)."""
    import connectors.s3

    _versioned(s3, "tickets")
    key = "t/1/note.txt"
    s3.put_object(Bucket="tickets", Key=key, Body=f"From {EMAIL}: my router is broken\n".encode())
    real_rewrite = connectors.s3.rewrite

    def rewrite_while_another_writer_saves(*args: Any, **kwargs: Any) -> Any:
        s3.put_object(Bucket="tickets", Key=key, Body=b"agent note: router replaced\n")
        return real_rewrite(*args, **kwargs)

    monkeypatch.setattr(connectors.s3, "rewrite", rewrite_while_another_writer_saves)
    connector = _connector(s3_endpoint, "tickets")
    hits = [m.key for m in connector.scan("objects", matcher)]
    connector.apply([Step("objects", "rewrite_object", hits)], ApplyContext(pseudonym=str, redact=matcher.redact))

    bodies = sorted(_get(s3, "tickets", key, v["VersionId"]) or b"" for v in _versions(s3, "tickets", key)[0])
    assert bodies == [f"From {REDACTION}: my router is broken\n".encode(), b"agent note: router replaced\n"]
    connector.close()


def test_rewrite_of_an_object_hidden_behind_a_delete_marker(s3_endpoint: str, s3: Any, matcher: SubjectMatcher) -> None:
    """Old versions mention the subject, the latest is a delete marker (a plain DELETE was done).

    The rewrite has no current version to keep; the versions that mention the subject must still
    not survive — or the store's refusal must come back as a refusal or a ConnectorError, never as
    a raw botocore error that escapes the connector protocol.
    """
    _versioned(s3, "tickets")
    key = "t/1/note.txt"
    s3.put_object(Bucket="tickets", Key=key, Body=f"From {EMAIL}: my router is broken\n".encode())
    s3.delete_object(Bucket="tickets", Key=key)
    connector = _connector(s3_endpoint, "tickets")
    hits = list(connector.scan("objects", matcher))
    assert [m.key[0] for m in hits] == [key]
    try:
        (result,) = connector.apply([Step("objects", "rewrite_object", [m.key for m in hits])], ApplyContext(pseudonym=str, redact=matcher.redact))
    except ConnectorError as exc:
        assert "'store'" in str(exc) and identifying(str(exc)) == []
    else:
        left = [v for v in _versions(s3, "tickets", key)[0] if _mentions_subject(_get(s3, "tickets", key, v["VersionId"]) or b"")]
        assert result.refused or not left
    finally:
        connector.close()


# --------------------------------------------------------------------------- formats


def test_gzip_jsonl_without_gz_suffix_is_scanned_and_rewritten_as_gzip(s3_endpoint: str, s3: Any, matcher: SubjectMatcher) -> None:
    s3.create_bucket(Bucket="events")
    lines = [
        json.dumps({"ts": "2024-05-01T10:00:00Z", "event": "login", "user": "ken@example.com"}),
        json.dumps({"ts": "2024-05-01T10:01:00Z", "event": "contact", "from": EMAIL, "meta": {"phone": PHONE, "tags": ["vip", NAME]}}),
        json.dumps({"ts": "2024-05-01T10:02:00Z", "event": "logout", "user": "hanako@example.jp"}),
    ]
    plain = ("\n".join(lines) + "\n").encode()
    key = "2024/05/01/events.jsonl"  # no .gz: gzip is told by its magic bytes
    s3.put_object(Bucket="events", Key=key, Body=gzip.compress(plain))

    connector = _connector(s3_endpoint, "events")
    (mention,) = connector.scan("objects", matcher)
    assert mention.key[0] == key and mention.kinds == ("email", "name", "phone")
    assert {line for line, _, _ in mention.spans} == {2}
    assert all(plain[s:e].decode() in (EMAIL, PHONE, NAME) for _, s, e in mention.spans)

    (result,) = connector.apply([Step("objects", "rewrite_object", [mention.key])], ApplyContext(pseudonym=str, redact=matcher.redact))
    assert result == AppliedStep(1)
    stored = _get(s3, "events", key)
    assert stored is not None and stored[:2] == b"\x1f\x8b"
    out = gzip.decompress(stored).decode().splitlines()
    assert [json.loads(line) for line in out]  # every line still JSON
    assert out[0] == lines[0] and out[2] == lines[2]  # untouched lines byte for byte
    assert json.loads(out[1]) == {"ts": "2024-05-01T10:01:00Z", "event": "contact", "from": REDACTION, "meta": {"phone": REDACTION, "tags": ["vip", REDACTION]}}
    assert list(connector.scan("objects", matcher)) == []
    connector.close()


def test_csv_with_a_quoted_multiline_cell(s3_endpoint: str, s3: Any, matcher: SubjectMatcher) -> None:
    s3.create_bucket(Bucket="crm")
    body = (
        "id,customer,notes\r\n"
        '1,ken@example.com,"line one\nline two"\r\n'
        f'2,"Yamada, Taro","called twice.\nReach him at {EMAIL}\nor {PHONE}, ""urgent"""\r\n'
        "3,someone,ok\r\n"
    ).encode()
    s3.put_object(Bucket="crm", Key="exports/cases.csv", Body=body)
    before = list(csv.reader(io.StringIO(body.decode(), newline="")))

    connector = _connector(s3_endpoint, "crm")
    (mention,) = connector.scan("objects", matcher)
    assert mention.kinds == ("email", "name", "phone")
    assert sorted(line for line, _, _ in mention.spans) == [4, 5, 6]  # name on the row's first line, then email, phone
    rows = list(connector.read("objects", [mention.key], []))
    assert [r["line"] for r in rows] == [1, 2, 4, 7]  # a record spans lines; each says where it starts

    (result,) = connector.apply([Step("objects", "rewrite_object", [mention.key])], ApplyContext(pseudonym=str, redact=matcher.redact))
    assert result == AppliedStep(1)
    stored = _get(s3, "crm", "exports/cases.csv")
    assert stored is not None
    after = list(csv.reader(io.StringIO(stored.decode(), newline="")))
    assert len(after) == len(before) and [len(r) for r in after] == [len(r) for r in before]
    assert after[:2] == before[:2] and after[3] == before[3]
    assert after[2] == ["2", REDACTION, f'called twice.\nReach him at {REDACTION}\nor {REDACTION}, "urgent"']
    assert not _mentions_subject(stored)
    assert stored.startswith(body[: body.index(b"2,")])  # rows without a mention are copied byte for byte
    assert list(connector.scan("objects", matcher)) == []
    connector.close()


def test_binary_object_is_skipped_and_the_rest_still_scanned(s3_endpoint: str, s3: Any, matcher: SubjectMatcher) -> None:
    s3.create_bucket(Bucket="uploads")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(3).randbytes(64 << 10)
    s3.put_object(Bucket="uploads", Key="a/id-card.png", Body=png)
    s3.put_object(Bucket="uploads", Key="a/id-card.png.txt", Body=f"uploaded by {EMAIL}\n".encode())
    s3.put_object(Bucket="uploads", Key="b/readme.txt", Body=f"contact {PHONE}\n".encode())

    connector = _connector(s3_endpoint, "uploads")
    mentions = {m.key[0]: m for m in connector.scan("objects", matcher)}
    assert sorted(mentions) == ["a/id-card.png", "a/id-card.png.txt", "b/readme.txt"]
    skipped = mentions["a/id-card.png"]
    assert skipped.skipped and "binary" in skipped.skipped and skipped.spans == ()
    assert mentions["a/id-card.png.txt"].kinds == ("email",) and mentions["b/readme.txt"].kinds == ("phone",)
    assert list(connector.read("objects", [skipped.key], [])) == []
    connector.close()


# --------------------------------------------------------------------------- big objects


class _Fabricated(io.RawIOBase):
    """`size` bytes of log lines made up on the fly, ending with `tail`: an upload source that never
    holds the object (boto3 reads it in multipart-sized parts)."""

    LINE = b"2024-05-01T10:00:00Z GET /mypage user=ken@example.com phone=080-9999-0000 status=200 bytes=5120\n"
    BLOCK = LINE * ((1 << 20) // len(LINE))

    def __init__(self, size: int, tail: bytes):
        super().__init__()
        self.size, self.tail, self.position = size, tail, 0
        self.body = size - len(tail)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.size:
            return 0
        if self.position < self.body:
            at = self.position % len(self.BLOCK)
            data = self.BLOCK[at : at + min(len(buffer), self.body - self.position)]
        else:
            at = self.position - self.body
            data = self.tail[at : at + len(buffer)]
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class _PeakRss:
    """The highest resident set size of this process while in the block, sampled every 10 ms."""

    def __init__(self) -> None:
        self.peak, self.samples = 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            self.samples += 1
            time.sleep(0.01)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


SIZE = 200 << 20


def test_a_200_mb_object_is_scanned_in_bounded_memory(s3_endpoint: str, s3: Any, matcher: SubjectMatcher, record_property: Any) -> None:
    s3.create_bucket(Bucket="logs")
    tail = f"2024-05-31T23:59:59Z POST /contact from={EMAIL} status=200\n".encode() + _Fabricated.LINE * 3
    started = time.monotonic()
    s3.upload_fileobj(_Fabricated(SIZE, tail), "logs", "2024-05/access.log", Config=TransferConfig(multipart_chunksize=16 << 20, max_concurrency=2))
    uploaded = time.monotonic() - started
    assert s3.head_object(Bucket="logs", Key="2024-05/access.log")["ContentLength"] == SIZE
    connector = _connector(s3_endpoint, "logs", fmt="text")

    gc.collect()
    baseline = _rss()
    started = time.monotonic()
    with _PeakRss() as rss:
        mentions = list(connector.scan("objects", matcher))
    scanned = time.monotonic() - started
    growth = rss.peak - baseline
    record_property("upload_s", round(uploaded, 2))
    record_property("scan_s", round(scanned, 2))
    record_property("scan_mb_s", round(SIZE / 2**20 / scanned, 1))
    record_property("rss_growth_mb", round(growth / 2**20, 1))
    print(f"\n200 MB: upload {uploaded:.1f} s, scan {scanned:.1f} s ({SIZE / 2**20 / scanned:.0f} MB/s), peak RSS growth {growth / 2**20:.1f} MB over {rss.samples} samples")

    (mention,) = mentions
    at = SIZE - len(tail) + tail.index(EMAIL.encode())
    ((line, start, end),) = mention.spans
    assert (start, end) == (at, at + len(EMAIL))
    assert line == (SIZE - len(tail)) // len(_Fabricated.LINE) + 1  # the body is whole lines
    assert rss.samples >= 10
    assert growth < 64 << 20, f"scanning a 200 MB object grew this process by {growth / 2**20:.0f} MB"
    connector.close()


# --------------------------------------------------------------------------- refusals


def _locked(s3: Any, bucket: str) -> None:
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})


def test_object_lock_refuses_deletion_and_the_refusal_is_reported(s3_endpoint: str, s3: Any, matcher: SubjectMatcher) -> None:
    _locked(s3, "vault")
    key = "2024/calls/recording-notes.txt"
    s3.put_object(Bucket="vault", Key=key, Body=f"caller {NAME} <{EMAIL}>\n".encode())
    before = _versions(s3, "vault", key)
    connector = _connector(s3_endpoint, "vault")
    (mention,) = connector.scan("objects", matcher)

    (result,) = connector.apply([Step("objects", "delete_object_all_versions", [mention.key])], ApplyContext(pseudonym=str))
    assert result.affected == 0 and len(result.refused) == 1
    (reason,) = result.refused
    assert "Object Lock" in reason and "AccessDenied" in reason
    assert identifying(reason) == [] and "caller" not in reason
    assert _versions(s3, "vault", key) == before
    assert _get(s3, "vault", key) == f"caller {NAME} <{EMAIL}>\n".encode()
    connector.close()


def test_object_lock_refusal_of_a_rewrite_is_reported_not_counted(s3_endpoint: str, s3: Any, matcher: SubjectMatcher) -> None:
    _locked(s3, "vault")
    key = "2024/calls/recording-notes.txt"
    s3.put_object(Bucket="vault", Key=key, Body=f"caller {NAME} <{EMAIL}>\n".encode())
    connector = _connector(s3_endpoint, "vault")
    (mention,) = connector.scan("objects", matcher)
    (result,) = connector.apply([Step("objects", "rewrite_object", [mention.key])], ApplyContext(pseudonym=str, redact=matcher.redact))
    # The locked version holding the subject cannot go, so the object is not done, whatever was written.
    assert result.affected == 0 and len(result.refused) == 1 and identifying(result.refused[0]) == []
    assert any(_mentions_subject(_get(s3, "vault", key, v["VersionId"]) or b"") for v in _versions(s3, "vault", key)[0])
    connector.close()


def test_identifiers_never_appear_in_errors_or_refusals(s3_endpoint: str, s3: Any, matcher: SubjectMatcher) -> None:
    """Object keys may name the subject (an export, a mailbox); messages for reports must not repeat them."""
    _locked(s3, "vault")
    named = f"mail/{EMAIL}/{NAME}/{PHONE}.txt"
    s3.put_object(Bucket="vault", Key=named, Body=f"to {EMAIL}\n".encode())
    s3.create_bucket(Bucket="uploads")
    s3.put_object(Bucket="uploads", Key=f"ids/{EMAIL}.png", Body=b"\x89PNG\r\n\x1a\n\x00\x00" + random.Random(5).randbytes(1024))

    messages: list[str] = []
    vault = _connector(s3_endpoint, "vault")
    (mention,) = vault.scan("objects", matcher)
    for operation in ("delete_object_all_versions", "rewrite_object"):
        (result,) = vault.apply([Step("objects", operation, [mention.key])], ApplyContext(pseudonym=str, redact=matcher.redact))  # type: ignore[arg-type]
        assert result.refused
        messages += result.refused
    assert list(vault.read("objects", [(f"mail/{EMAIL}/gone.txt", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")], [])) == []  # gone, as a deleted row
    vault.close()

    uploads = _connector(s3_endpoint, "uploads")
    (png,) = uploads.scan("objects", matcher)
    assert png.skipped
    messages.append(png.skipped)
    (result,) = uploads.apply([Step("objects", "rewrite_object", [png.key])], ApplyContext(pseudonym=str, redact=matcher.redact))
    messages += result.refused
    uploads.close()

    down = S3Connector("store", DOWN, DatasetConfig.model_validate({"system": "store", "collections": {"objects": {"objects": {"bucket": "vault"}}}}))
    with pytest.raises(ConnectorError) as unreachable:
        list(down.read("objects", [(named, "null")], []))
    messages.append(str(unreachable.value))
    down.close()

    assert len(messages) == 5 and all(messages)
    leaks = {m: identifying(m) for m in messages if identifying(m) or "mail/" in m or "ids/" in m}
    assert leaks == {}


def test_check_warns_of_a_versioned_bucket(s3_endpoint: str, s3: Any) -> None:
    _versioned(s3, "tickets")
    connector = _connector(s3_endpoint, "tickets")
    assert any("versioned" in w for w in connector.check())
    connector.close()

