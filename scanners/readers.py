"""Format-aware streaming of objects (S3 bodies, files): records to read and redacted copies to write.

An object may be several GB, so nothing here holds one whole: bytes flow through small buffers,
records (a line, a CSV row) are handled one at a time, and only the `json` format, whose single
document cannot be parsed piecewise, is read whole — up to `max_json_bytes`, beyond which the
object is skipped with a reason rather than loaded.

The input is anything with `read(n)` (botocore's StreamingBody, an open file, io.BytesIO). Gzip is
recognised by its magic bytes (1f 8b), whatever the key is called. Text is UTF-8, with or without a
byte-order mark. An object whose first 8 KiB hold NUL bytes or are not UTF-8 is not text: it raises
SkippedObject, whose reason goes into reports and therefore never quotes content.

Decoding after those first 8 KiB is lenient, so that one stray byte deep in a log does not hide the
rest of it: records for reading replace undecodable bytes with U+FFFD; rewriting carries them
through unchanged (surrogateescape), so a redacted copy differs from the original only where a
mention was replaced.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

Format = Literal["text", "csv", "json", "jsonl"]
FORMATS: tuple[str, ...] = ("text", "csv", "json", "jsonl")

CHUNK_SIZE = 1 << 20
MAX_JSON_BYTES = 64 << 20
#: The longest record (a line, a CSV row) handled; a longer one would have to live in memory whole.
MAX_RECORD_CHARS = 64 << 20

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 8 << 10
_BUFFER_SIZE = 64 << 10
_FLUSH_CHARS = 256 << 10
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)
_SURROGATES = re.compile("[\ud800-\udfff]+")
_UNESCAPED_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")  # not from surrogateescape: cannot be written as bytes


class SkippedObject(Exception):
    """An object that cannot be scanned as text; `reason` says why in words for a report (never content)."""

    reason: str

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Record:
    index: int  # 0-based record number (line for text/jsonl, row for csv, 0 for a json document)
    line: int  # 1-based line where the record starts in the decoded stream
    text: str  # the record as text (a csv row re-joined with its original cells; a jsonl line; a text line without its newline)


# --------------------------------------------------------------------------- byte plumbing


class _ReadAdapter(io.RawIOBase):
    """A raw io object over anything with read(n), with bytes pushed back in front of it.

    botocore's StreamingBody has read(n) but is no io object; io.BufferedReader and
    io.TextIOWrapper need one. Closing the adapter never closes the source: its owner does.
    """

    def __init__(self, source: Any, gzip_errors: bool = False):
        super().__init__()
        self._source = source
        self._pending = b""
        self._gzip_errors = gzip_errors

    def readable(self) -> bool:
        return True

    def unread(self, data: bytes) -> None:
        self._pending = data + self._pending

    def read_up_to(self, n: int) -> bytes:
        """Exactly n bytes, fewer only at the end of the stream (read(n) may return less)."""
        parts, size = [], 0
        while size < n:
            part = self.read(n - size)
            if not part:
                break
            parts.append(part)
            size += len(part)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        if self._pending:
            n = min(len(buffer), len(self._pending))
            buffer[:n] = self._pending[:n]
            self._pending = self._pending[n:]
            return n
        try:
            data = self._source.read(len(buffer))
        except _GZIP_ERRORS:
            if not self._gzip_errors:
                raise
            raise SkippedObject("corrupt gzip stream") from None
        if not data:
            return 0
        n = len(data)
        buffer[:n] = data
        return n


@dataclass
class _Opened:
    stream: io.BufferedReader  # the decoded (gunzipped) bytes, BOM included
    gzipped: bool
    bom: bool


def _check_text(head: bytes, at_end: bool) -> None:
    if b"\x00" in head:
        raise SkippedObject("binary content (NUL bytes)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=at_end)  # a sequence cut at 8 KiB is fine
    except UnicodeDecodeError:
        raise SkippedObject("not UTF-8 text") from None


def _open(raw: BinaryIO) -> _Opened:
    """The object's decoded bytes, after checking that they start like UTF-8 text."""
    source = _ReadAdapter(raw)
    magic = source.read_up_to(len(_GZIP_MAGIC))
    source.unread(magic)
    decoded = source
    gzipped = magic == _GZIP_MAGIC
    if gzipped:
        unzipped = gzip.GzipFile(fileobj=io.BufferedReader(source, _BUFFER_SIZE), mode="rb")
        decoded = _ReadAdapter(unzipped, gzip_errors=True)
    head = decoded.read_up_to(_SNIFF_BYTES)
    _check_text(head, at_end=len(head) < _SNIFF_BYTES)
    decoded.unread(head)
    return _Opened(io.BufferedReader(decoded, _BUFFER_SIZE), gzipped, head.startswith(codecs.BOM_UTF8))


def _text(opened: _Opened, errors: str, newline: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(opened.stream, encoding="utf-8-sig", errors=errors, newline=newline)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown object format {fmt!r} (expected one of {', '.join(FORMATS)})")


def decoded_chunks(raw: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The object's bytes, gunzipped if gzip, in chunks of about chunk_size. Raises SkippedObject
    (reason e.g. 'binary content (NUL bytes)' or 'not UTF-8 text') when the first 8 KiB look binary
    or are not valid UTF-8 (allow a UTF-8 sequence cut at the 8 KiB boundary), or when the gzip
    stream is corrupt. Used by the scanner's fast path (SubjectMatcher.scan_stream).

    The first 8 KiB are checked when this is called; a corrupt gzip stream further on raises while
    iterating.
    """
    opened = _open(raw)

    def chunks() -> Iterator[bytes]:
        while chunk := opened.stream.read(chunk_size):
            yield chunk

    return chunks()


# --------------------------------------------------------------------------- records


def _lines(text: io.TextIOWrapper) -> Iterator[str]:
    """Lines with their endings, none longer than MAX_RECORD_CHARS."""
    while line := text.readline(MAX_RECORD_CHARS + 1):
        if len(line) > MAX_RECORD_CHARS:
            raise SkippedObject(f"a line longer than {MAX_RECORD_CHARS} characters (cannot be processed in bounded memory)")
        yield line


def _split_ending(line: str) -> tuple[str, str]:
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


class _CsvRows:
    """CSV rows with the 1-based line each starts on and the raw lines it was parsed from."""

    def __init__(self, text: io.TextIOWrapper):
        if csv.field_size_limit() < MAX_RECORD_CHARS:  # the default (128 KiB) refuses long free-text cells
            csv.field_size_limit(MAX_RECORD_CHARS)
        self._lines = _lines(text)
        self.raw: list[str] = []  # the raw lines of the row being read
        self._row_chars = 0
        self._newlines = 0

    def _feed(self) -> Iterator[str]:
        for line in self._lines:
            self._row_chars += len(line)
            if self._row_chars > MAX_RECORD_CHARS:
                raise SkippedObject(f"a CSV row longer than {MAX_RECORD_CHARS} characters (cannot be processed in bounded memory)")
            self.raw.append(line)
            yield line

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(self._feed())
        while True:
            self.raw, self._row_chars = [], 0
            start = self._newlines + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise SkippedObject(f"CSV does not parse (the row starting at line {start})") from None
            self._newlines += sum(line.count("\n") for line in self.raw)
            yield start, row


def _csv_text(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)  # \r\n so that cells holding a newline are quoted
    return buffer.getvalue()[:-2]


def _json_text(opened: _Opened, max_json_bytes: int, errors: str) -> str:
    data = opened.stream.read(max_json_bytes + 1)
    if len(data) > max_json_bytes:
        raise SkippedObject(f"JSON document larger than {max_json_bytes} bytes: store it as JSON Lines")
    return data.decode("utf-8-sig", errors)


def iter_records(raw: BinaryIO, fmt: Format, max_json_bytes: int = MAX_JSON_BYTES) -> Iterator[Record]:
    """Records of the object, streamed. CSV must handle quoted newlines (a record spanning lines).
    A `json` document larger than max_json_bytes raises SkippedObject('JSON document larger than
    ... bytes: store it as JSON Lines'), since a single JSON document cannot be parsed in bounded
    memory. Raises SkippedObject like decoded_chunks for binary input.

    Text yields every line (empty ones too); JSON Lines skips blank lines, so its index counts
    records while `line` says where each one is. A json document is one record, not parsed.
    """
    _check_format(fmt)
    opened = _open(raw)
    return _records(opened, fmt, max_json_bytes)


def _records(opened: _Opened, fmt: str, max_json_bytes: int) -> Iterator[Record]:
    if fmt == "json":
        text = _json_text(opened, max_json_bytes, "replace")
        if text.strip():
            yield Record(0, 1, text)
        return
    if fmt == "csv":
        for index, (line, row) in enumerate(_CsvRows(_text(opened, "replace", ""))):
            yield Record(index, line, _csv_text(row))
        return
    index = 0
    for number, line in enumerate(_lines(_text(opened, "replace", "\n")), start=1):
        content, _ = _split_ending(line)
        if fmt == "jsonl" and not content.strip():
            continue
        yield Record(index, number, content)
        index += 1


def matching_records(raw: BinaryIO, fmt: Format, mentions: Callable[[str], bool]) -> Iterator[Record]:
    """Only the records for which mentions(record.text) is true (for access exports of 'matching
    records only')."""
    return (record for record in iter_records(raw, fmt) if mentions(record.text))


# --------------------------------------------------------------------------- rewriting


class _Writer:
    """UTF-8 text out to a binary sink, gzipped if asked, in batches; never closes the sink."""

    def __init__(self, out: BinaryIO, gzip_output: bool, bom: bool):
        self._out = out
        self._gzip = gzip.GzipFile(filename="", fileobj=out, mode="wb", mtime=0) if gzip_output else None
        self._target: Any = self._gzip if self._gzip is not None else out
        self._parts: list[str] = []
        self._size = 0
        if bom:
            self._target.write(codecs.BOM_UTF8)

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= _FLUSH_CHARS:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._target.write("".join(self._parts).encode("utf-8", "surrogateescape"))
            self._parts, self._size = [], 0

    def close(self) -> None:
        self.flush()
        if self._gzip is not None:
            self._gzip.close()  # writes the trailer; leaves `out` open
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()


def _surrogate_safe(redact: Callable[[str], tuple[str, int]]) -> Callable[[str], tuple[str, int]]:
    """The redactor, shown only the decodable parts of a text.

    Rewriting decodes with surrogateescape, so an undecodable byte is a lone surrogate in the text,
    as is a JSON escape such as "\\ud800"; the matcher (Rust underneath) cannot take one. No mention
    spans such a byte, so the parts between them are redacted one by one.
    """

    def safe(text: str) -> tuple[str, int]:
        if text.isascii() or not _SURROGATES.search(text):
            return redact(text)
        parts, total, pos = [], 0, 0
        for run in _SURROGATES.finditer(text):
            redacted, count = redact(text[pos : run.start()])
            parts += [redacted, run.group()]
            total += count
            pos = run.end()
        redacted, count = redact(text[pos:])
        parts.append(redacted)
        return "".join(parts), total + count

    return safe


def _dumps(value: Any, indent: int | None = None) -> str:
    """JSON with non-ASCII kept readable; a lone surrogate that came from a JSON escape stays escaped."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _UNESCAPED_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _redact_json(value: Any, redact: Callable[[str], tuple[str, int]]) -> tuple[Any, int]:
    """Every string value redacted, recursively; keys are left alone.

    A number whose digits are a mention (a customer number or phone stored as a JSON number) is
    replaced whole by the redacted text, since a scan of the raw text finds it too.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        total, result = 0, {}
        for key, item in value.items():
            result[key], count = _redact_json(item, redact)
            total += count
        return result, total
    if isinstance(value, list):
        total, items = 0, []
        for item in value:
            redacted, count = _redact_json(item, redact)
            items.append(redacted)
            total += count
        return items, total
    if isinstance(value, int | float) and not isinstance(value, bool):
        redacted, count = redact(json.dumps(value))
        return (redacted, count) if count else (value, 0)
    return value, 0


def rewrite(
    raw: BinaryIO,
    out: BinaryIO,
    fmt: Format,
    redact: Callable[[str], tuple[str, int]],
    gzip_output: bool,
    *,
    max_json_bytes: int = MAX_JSON_BYTES,
) -> int:
    """Write a redacted copy of the object to `out` and return how many spans were redacted.
    Format-preserving: text -> each line redacted, line endings kept; csv -> each cell redacted,
    written back with the csv module (quoting preserved as needed so the file still parses with the
    same number of columns and rows); jsonl -> each line parsed, every string value (and string
    keys? no: values only) redacted recursively, dumped with ensure_ascii=False, one per line;
    json -> the document (bounded by max_json_bytes as above) redacted the same way. When
    gzip_output, `out` receives gzip. Streams: memory bounded by one record (one line/row), except
    the json format.

    Records without a mention are copied byte for byte (a CSV row keeps its original quoting, a
    JSON line its spacing and key order), as is a byte-order mark. A JSON Lines line that is not
    JSON is redacted as text. On SkippedObject, `out` holds a partial copy to be discarded.
    """
    _check_format(fmt)
    opened = _open(raw)
    redact = _surrogate_safe(redact)
    writer = _Writer(out, gzip_output, opened.bom)
    if fmt == "json":
        total = _rewrite_json(opened, writer, redact, max_json_bytes)
    elif fmt == "csv":
        total = _rewrite_csv(opened, writer, redact)
    else:
        total = _rewrite_lines(opened, writer, redact, as_json=fmt == "jsonl")
    writer.close()
    return total


def _rewrite_lines(opened: _Opened, writer: _Writer, redact: Callable[[str], tuple[str, int]], as_json: bool) -> int:
    total = 0
    for line in _lines(_text(opened, "surrogateescape", "\n")):
        content, ending = _split_ending(line)
        count = 0
        if as_json and content.strip():
            try:
                value, count = _redact_json(json.loads(content), redact)
            except (ValueError, RecursionError):
                content, count = redact(content)  # not JSON: redact it as text
            else:
                if count:
                    content = _dumps(value)
        elif not as_json:
            content, count = redact(content)
        if count:
            total += count
            writer.write(content + ending)
        else:
            writer.write(line)
    return total


def _rewrite_csv(opened: _Opened, writer: _Writer, redact: Callable[[str], tuple[str, int]]) -> int:
    total = 0
    rows = _CsvRows(_text(opened, "surrogateescape", ""))
    for _line, row in rows:
        cells, count = [], 0
        for cell in row:
            redacted, n = redact(cell)
            cells.append(redacted)
            count += n
        if not count:
            writer.write("".join(rows.raw))
            continue
        total += count
        last = rows.raw[-1] if rows.raw else ""
        ending = "\r\n" if last.endswith("\r\n") else "\n" if last.endswith("\n") else "\r" if last.endswith("\r") else ""
        writer.write(_csv_text(cells) + ending)
    return total


def _rewrite_json(opened: _Opened, writer: _Writer, redact: Callable[[str], tuple[str, int]], max_json_bytes: int) -> int:
    text = _json_text(opened, max_json_bytes, "surrogateescape")
    if not text.strip():
        writer.write(text)
        return 0
    try:
        value, count = _redact_json(json.loads(text), redact)
    except ValueError:
        raise SkippedObject("not a valid JSON document") from None
    except RecursionError:
        raise SkippedObject("JSON document nested too deeply") from None
    if not count:
        writer.write(text)
        return 0
    trailing = text[len(text.rstrip()) :]
    writer.write(_dumps(value, indent=2 if "\n" in text.strip() else None) + trailing)
    return count
