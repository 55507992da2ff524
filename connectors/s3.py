"""S3 object storage through boto3: AWS S3, MinIO and Ceph alike (endpoint from the config).

Collections are bucket/prefix sets of objects in one format (text and logs, CSV, JSON, JSON Lines,
each optionally gzip). Objects are streamed: a several-GB object never lives in memory whole.
In a versioned bucket every version is scanned and erased, because a plain DELETE only adds a
delete marker and every old version stays readable.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from connectors.base import AppliedStep, ApplyContext, CollectionInfo, ConnectorError, ForeignKey, Key, Match, Mention, Step, StoreSchema, TextMatcher
from dsr import failpoints
from dsr.config import DatasetConfig, ObjectsConfig, SystemConfig
from dsr.subject import Identifier
from scanners.readers import Format, SkippedObject, decoded_chunks, iter_records, rewrite

NULL_VERSION = "null"  # S3's version id of objects written while versioning was off
SPOOL_BYTES = 32 << 20  # a rewritten object spills from memory to a temporary file beyond this
GZIP_MAGIC = b"\x1f\x8b"  # a gzip object is rewritten as gzip, whatever its name says
TAG_UNSAFE = re.compile(r"[^\w\s+\-=.:/@]")  # S3 refuses these in a tag value ("[redacted]" becomes "redacted")
MISSING = ("404", "NoSuchKey", "NoSuchVersion", "NotFound")  # error codes of an object or version that is not there
# Headers a rewritten object keeps (as head_object names them, as put_object takes them).
# The data map: objects are counted up to this bound per prefix; a sample reads a few objects, each only so far.
OBJECT_COUNT_CAP = 10_000
SAMPLE_OBJECTS = 8
SAMPLE_BYTES = 64 << 10
KEPT_HEADERS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl", "Expires",
                "ServerSideEncryption", "SSEKMSKeyId", "StorageClass")


class S3Connector:
    """A connector for one S3 endpoint; each collection is a bucket and prefix of one format."""

    def __init__(self, system: str, config: SystemConfig, dataset: DatasetConfig):
        self.system = system
        self.dataset = dataset
        endpoint = config.url if config.url.startswith(("http://", "https://")) else None
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=config.options.get("region"),
            aws_access_key_id=config.options.get("access_key_id"),
            aws_secret_access_key=config.options.get("secret_access_key"),
            config=BotoConfig(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}),
        )

    # ----------------------------------------------------------------- plumbing

    def _objects(self, collection: str) -> ObjectsConfig:
        coll = self.dataset.collections.get(collection)
        if coll is None or coll.objects is None:
            raise ConnectorError(f"system {self.system!r}: collection {collection!r} is not an object collection in its dataset")
        return coll.objects

    def _fail(self, what: str, exc: Exception) -> ConnectorError:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
        return ConnectorError(f"system {self.system!r}: {what} failed ({code})")

    def _versions(self, objects: ObjectsConfig, prefix: str | None = None) -> Iterator[tuple[str, str, bool]]:
        """(key, version id, is delete marker) of every version under the prefix, versioned bucket or not."""
        paginator = self.client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=objects.bucket, Prefix=prefix if prefix is not None else objects.prefix):
                for version in page.get("Versions", []):
                    yield version["Key"], version.get("VersionId") or NULL_VERSION, False
                for marker in page.get("DeleteMarkers", []):
                    yield marker["Key"], marker.get("VersionId") or NULL_VERSION, True
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"listing bucket {objects.bucket}", exc) from None

    def _body(self, objects: ObjectsConfig, key: str, version: str, byte_range: str | None = None) -> Any:
        # Always name the version, "null" included: without it S3 serves (or deletes) the current
        # version, and an object written before versioning was switched on would be missed.
        args = {"Bucket": objects.bucket, "Key": key, "VersionId": version}
        if byte_range:
            args["Range"] = byte_range
        try:
            return self.client.get_object(**args)["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"reading an object of {objects.bucket}", exc) from None

    # ----------------------------------------------------------------- lookups

    def find_by_identity(self, collection: str, identifiers: Sequence[Identifier], fields: Sequence[str]) -> Iterator[Match]:
        return iter(())  # objects have no identity fields: they are scanned

    def find_by_values(self, collection: str, field: str, values: Sequence[Any], fields: Sequence[str]) -> Iterator[Match]:
        return iter(())

    def scan(self, collection: str, matcher: TextMatcher) -> Iterator[Mention]:
        """Every version of every object, streamed through the matcher's fast path."""
        objects = self._objects(collection)
        for key, version, is_marker in self._versions(objects):
            if is_marker:
                continue
            body = self._body(objects, key, version)
            try:
                hits = list(matcher.scan_stream(decoded_chunks(body)))
            except SkippedObject as skipped:
                yield Mention((key, version), None, skipped=skipped.reason)
                continue
            finally:
                body.close()
            if hits:
                yield Mention.of_hits((key, version), None, hits)

    def read(self, collection: str, keys: Sequence[Key], fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The records (lines, rows) of the given object versions; a version that no longer exists
        yields nothing, as a deleted row does."""
        objects = self._objects(collection)
        for key, version in keys:
            try:
                body = self.client.get_object(Bucket=objects.bucket, Key=key, VersionId=version)["Body"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in MISSING:
                    continue
                raise self._fail(f"reading an object of {objects.bucket}", exc) from None
            except BotoCoreError as exc:
                raise self._fail(f"reading an object of {objects.bucket}", exc) from None
            try:
                for record in iter_records(body, objects.format_of(key)):
                    yield {"object": key, "version_id": version, "line": record.line, "text": record.text}
            except SkippedObject:
                continue
            finally:
                body.close()

    # ----------------------------------------------------------------- changes

    def apply(self, steps: Sequence[Step], context: ApplyContext) -> list[AppliedStep]:
        """Every step on every object is attempted; what the store refuses (Object Lock, a denied
        permission) is reported per step with the reason, never counted as done."""
        results = []
        for step in steps:
            objects = self._objects(step.collection)
            affected, refused = 0, []
            for key, _versions in groupby(sorted(step.keys), key=lambda k: k[0]):
                try:
                    if step.operation == "delete_object_all_versions":
                        changed = self._delete_versions(objects, key) > 0
                    elif step.operation == "rewrite_object":
                        changed = self._rewrite(objects, key, context)
                    else:
                        raise ConnectorError(f"system {self.system!r}: {step.operation} does not apply to objects")
                    affected += changed  # a rerun on objects already gone counts nothing
                except _Refused as exc:
                    refused.append(str(exc))
            results.append(AppliedStep(affected, tuple(refused)))
        return results

    def _versions_of(self, objects: ObjectsConfig, key: str) -> list[str]:
        """Every version id and delete marker of exactly this key (not of keys it is a prefix of)."""
        return [v for k, v, _ in self._versions(objects, prefix=key) if k == key]

    def _delete_versions(self, objects: ObjectsConfig, key: str, versions: list[str] | None = None) -> int:
        """Delete the given versions of the key (default: every version and delete marker); returns how many."""
        doomed = self._versions_of(objects, key) if versions is None else versions
        for version in doomed:
            try:
                self.client.delete_object(Bucket=objects.bucket, Key=key, VersionId=version)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                raise _Refused(f"object version refused deletion ({code}: Object Lock, legal hold or permissions)") from None
            except BotoCoreError as exc:
                raise self._fail(f"deleting an object of {objects.bucket}", exc) from None
        return len(doomed)

    def _rewrite(self, objects: ObjectsConfig, key: str, context: ApplyContext) -> bool:
        """Write a redacted copy of the current version, then purge the versions that were there.

        The copy keeps the object's headers, user metadata and tags, their values redacted too.
        Versions written by someone else while we rewrote are not ours to delete: they are left
        (and a later scan judges them). When the current version is a delete marker, nothing current
        is left to keep: every version (the old ones still hold the subject) is purged instead."""
        if context.redact is None:
            raise ConnectorError("rewrite_object needs a redactor")
        try:
            head = self.client.head_object(Bucket=objects.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return self._delete_versions(objects, key) > 0
            raise _Refused(f"object refused the rewrite ({exc.response.get('Error', {}).get('Code', '')})") from None
        except BotoCoreError as exc:
            raise self._fail(f"rewriting an object of {objects.bucket}", exc) from None
        before = self._versions_of(objects, key)
        attributes = self._attributes(objects, key, head, context.redact)
        version = head.get("VersionId") or NULL_VERSION
        magic = self._body(objects, key, version, byte_range="bytes=0-1").read() if head.get("ContentLength") else b""
        body = self._body(objects, key, version)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as redacted:
            try:
                rewrite(body, redacted, objects.format_of(key), context.redact, gzip_output=magic == GZIP_MAGIC)
            except SkippedObject as exc:
                raise _Refused(f"object cannot be rewritten: {exc.reason}") from None
            finally:
                body.close()
            redacted.seek(0)
            try:
                put = self.client.put_object(Bucket=objects.bucket, Key=key, Body=redacted, **attributes)
            except ClientError as exc:
                raise _Refused(f"object refused the rewrite ({exc.response.get('Error', {}).get('Code', '')})") from None
        written = put.get("VersionId") or NULL_VERSION  # an unversioned bucket overwrote "null" in place
        failpoints.reach("during-rewrite")
        self._delete_versions(objects, key, [v for v in before if v != written])
        return True

    def _attributes(self, objects: ObjectsConfig, key: str, head: dict[str, Any], redact: Callable[[str], tuple[str, int]]) -> dict[str, Any]:
        """What put_object needs to keep the object as it was: headers, metadata and tags (values redacted)."""
        attributes = {name: head[name] for name in KEPT_HEADERS if head.get(name)}
        attributes.setdefault("ContentType", "text/plain")
        if head.get("Metadata"):
            attributes["Metadata"] = {name: redact(value)[0] for name, value in head["Metadata"].items()}
        try:
            tags = self.client.get_object_tagging(Bucket=objects.bucket, Key=key).get("TagSet", [])
        except ClientError as exc:
            raise _Refused(f"object tags could not be read for the rewrite ({exc.response.get('Error', {}).get('Code', '')})") from None
        except BotoCoreError as exc:
            raise self._fail(f"reading tags of an object of {objects.bucket}", exc) from None
        if tags:
            attributes["Tagging"] = urlencode([(t["Key"], TAG_UNSAFE.sub("", redact(t["Value"])[0])) for t in tags])
        return attributes

    # ----------------------------------------------------------------- structure

    def foreign_keys(self) -> list[ForeignKey]:
        return []

    def check(self) -> list[str]:
        warnings = []
        for name, coll in self.dataset.collections.items():
            if coll.objects is None:
                warnings.append(f"{self.system}.{name}: not an object collection (declare objects: bucket, prefix, format)")
                continue
            try:
                versioning = self.client.get_bucket_versioning(Bucket=coll.objects.bucket).get("Status")
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(f"checking bucket {coll.objects.bucket}", exc) from None
            if versioning == "Enabled":
                warnings.append(f"{self.system}.{name}: bucket {coll.objects.bucket} is versioned; erasure deletes every version")
        return warnings

    # ----------------------------------------------------------------- data map (every prefix, declared or not)

    def schema(self) -> StoreSchema:
        """Every bucket the dataset names or the credentials can list, as prefixes: the first path
        segment of its keys (and each declared collection's own prefix), with objects counted up to
        OBJECT_COUNT_CAP. Objects directly at a bucket's top are the prefix "bucket/"."""
        buckets = {c.objects.bucket for c in self.dataset.collections.values() if c.objects}
        try:
            buckets |= {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        except ClientError:
            pass  # credentials that may not list buckets still reach the declared ones
        except BotoCoreError as exc:
            raise self._fail("listing buckets", exc) from None
        collections = []
        for bucket in sorted(buckets):
            try:
                prefixes = self._first_segments(bucket)
            except _NoBucket:
                continue  # a declared bucket that is not there: the data map reports it missing
            prefixes |= {c.objects.prefix for c in self.dataset.collections.values() if c.objects and c.objects.bucket == bucket and c.objects.prefix}
            for prefix in sorted(prefixes):
                collections.append(CollectionInfo(f"{bucket}/{prefix}", kind="prefix", rows_estimate=sum(1 for _ in self._keys(bucket, prefix, OBJECT_COUNT_CAP))))
        return StoreSchema(self.system, tuple(collections))

    def sample(self, collection: str, n: int) -> list[dict[str, Any]]:
        """Up to n records (lines, rows) from a few objects spread over the prefix, at most
        SAMPLE_BYTES read of each: {"object": key, "text": record}. `collection` is a dataset
        collection or a "bucket/prefix" from schema()."""
        if n < 1:
            raise ConnectorError(f"system {self.system!r}: a sample needs at least one record (asked for {n})")
        coll = self.dataset.collections.get(collection)
        if coll is not None and coll.objects is not None:
            bucket, prefix, format_of = coll.objects.bucket, coll.objects.prefix, coll.objects.format_of
        elif "/" in collection:
            bucket, prefix = collection.split("/", 1)
            format_of = ObjectsConfig(bucket=bucket).format_of
        else:
            raise ConnectorError(f"system {self.system!r}: {collection!r} is neither an object collection of its dataset nor a bucket/prefix")
        keys = list(self._keys(bucket, prefix, OBJECT_COUNT_CAP))
        chosen = keys[:: max(1, len(keys) // SAMPLE_OBJECTS)][:SAMPLE_OBJECTS]
        records: list[dict[str, Any]] = []
        for key in chosen:
            per_object = -(-(n - len(records)) // max(1, len(chosen) - chosen.index(key)))  # an even share of what is left
            try:
                body = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                    continue  # an empty object: nothing to read
                raise self._fail(f"sampling an object of {bucket}", exc) from None
            except BotoCoreError as exc:
                raise self._fail(f"sampling an object of {bucket}", exc) from None
            try:
                for record in iter_records(body, _sample_format(format_of(key))):
                    records.append({"object": key, "text": record.text})
                    per_object -= 1
                    if per_object <= 0 or len(records) >= n:
                        break
            except SkippedObject:
                pass  # binary, or a gzip stream cut at SAMPLE_BYTES: what was read before still counts
            finally:
                body.close()
        return records[:n]

    def _first_segments(self, bucket: str) -> set[str]:
        """The bucket's top-level "folders" (and "" when objects lie at its top)."""
        segments: set[str] = set()
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter="/"):
                segments |= {p["Prefix"] for p in page.get("CommonPrefixes", [])}
                if page.get("Contents"):
                    segments.add("")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                raise _NoBucket(bucket) from None
            raise self._fail(f"listing bucket {bucket}", exc) from None
        except BotoCoreError as exc:
            raise self._fail(f"listing bucket {bucket}", exc) from None
        return segments

    def _keys(self, bucket: str, prefix: str, limit: int) -> Iterator[str]:
        """Current objects' keys under the prefix, at most `limit` (prefix "": those at the bucket's top)."""
        seen = 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **({"Delimiter": "/"} if not prefix else {}))
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]
                    seen += 1
                    if seen >= limit:
                        return
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"listing bucket {bucket}", exc) from None

    def purge_deleted(self, collections: Sequence[str]) -> str | None:
        """Nothing is left to purge: erasure deletes every version and delete marker itself."""
        return None

    def close(self) -> None:
        self.client.close()


def _sample_format(fmt: Format) -> Format:
    """A sample reads only the start of an object: a JSON document is read as lines rather than whole."""
    return "text" if fmt == "json" else fmt


class _Refused(Exception):
    """The store refused one object; the message says why (never content)."""


class _NoBucket(Exception):
    """A bucket the dataset names does not exist."""
