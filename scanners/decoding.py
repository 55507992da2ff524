"""Text as logs and exports carry it, decoded into one canonical form, with a map back to the bytes.

A mention is written in many surface forms: URL-encoded in an access log (`taro+yamada`,
`%40`, `%E5%B1%B1`), as HTML entities (`&#64;`), as JSON escapes (`\\u5c71`), quoted-printable
in a mail (`=E5=B1=B1`, soft line breaks), in full-width letters, with any of a dozen dashes.
Rather than listing every spelling of every identifier, the matcher decodes the few bytes around
a candidate into a canonical form and matches there; the offset map takes each canonical
character back to the bytes it came from, so that a redaction rewrites exactly the original
encoded bytes.

The canonical form: escapes decoded; NFKC (full-width -> half-width, half-width katakana -> full);
lower case; hiragana -> katakana; every dash, hyphen, minus and long-vowel mark -> `-`; every
horizontal space -> ` `; format characters (zero-width, soft hyphen) dropped. Identifiers are put
into the same form with `canonical()`, so both sides compare alike.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u30fc\uff70"
_HIRAGANA = range(0x3041, 0x3097)
_VOICING_MARKS = ("\u3099", "\u309a")

_ESCAPES = re.compile(
    r"(?P<url>(?:%[0-9A-Fa-f]{2})+)"
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)"
    r"|(?P<json>(?:\\u[0-9A-Fa-f]{4})+|\\/)"
    r"|(?P<qp>(?:=[0-9A-F]{2}|=\r?\n)+)"
    r"|(?P<plus>\+)"
)
_ESCAPE_START = re.compile(r"[%&\\=+]")
#: Quoted-printable shows itself by soft line breaks or by escaped UTF-8 sequences; without either,
#: `=20` in `limit=20` is a query parameter, not a space.
_QUOTED_PRINTABLE = re.compile(r"=\r?\n|=[89A-F][0-9A-F]=[89A-F][0-9A-F]")


@lru_cache(maxsize=8192)
def fold(c: str) -> str:
    """One decoded character in canonical form (may be empty or several characters)."""
    if c in DASHES:
        return "-"
    if c in "\n\r":
        return c  # line ends separate records: never a joiner
    if c.isspace():
        return " "
    if unicodedata.category(c) == "Cf":
        return ""
    folded = unicodedata.normalize("NFKC", c).lower()
    if len(folded) != 1:
        return "".join(fold(x) if x != c else x for x in folded)
    if folded in DASHES:
        return "-"
    if folded.isspace():
        return " "
    if ord(folded) in _HIRAGANA:
        return chr(ord(folded) + 0x60)
    return folded


_TRANSLATE = {**dict.fromkeys(map(ord, DASHES), "-"), ord("\t"): " ", **{c: c + 0x60 for c in _HIRAGANA}}
_TRANSLATED = re.compile(f"[{re.escape(DASHES)}\t\u3041-\u3096]")
_FORMAT_CHARACTERS = re.compile("[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")


@dataclass(frozen=True)
class _Segment:
    """Canonical characters from `cstart` on, and where their bytes are: one to one with `source`
    (from byte `offset`), or listed in `starts`/`ends` (escapes, characters NFKC joins or splits)."""

    cstart: int
    offset: int
    source: str | None = None
    starts: list[int] | None = None
    ends: list[int] | None = None

    def bytes_of(self, i: int) -> tuple[int, int]:
        k = i - self.cstart
        if self.source is None:
            return self.starts[k], self.ends[k]  # type: ignore[index]
        start = self.offset + len(self.source[:k].encode("utf-8", "surrogateescape"))
        return start, start + len(self.source[k].encode("utf-8", "surrogateescape"))


@dataclass(frozen=True)
class Decoded:
    """Canonical text, and for each of its characters the [start, end) of the bytes it came from."""

    text: str
    segments: list[_Segment]
    cstarts: list[int]  # where each segment starts in the text

    def bytes_of(self, i: int) -> tuple[int, int]:
        """The bytes behind canonical character i."""
        return self.segments[bisect.bisect_right(self.cstarts, i) - 1].bytes_of(i)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The bytes behind canonical characters [start, end)."""
        return self.bytes_of(start)[0], self.bytes_of(end - 1)[1]


class _Builder:
    """Canonical text built piece by piece: whole runs of plain text at C speed, one to one with their
    bytes; escapes (and the rare characters NFKC joins or splits) character by character."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.segments: list[_Segment] = []
        self._chars: list[str] = []  # the open character-by-character segment
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, chars: str, start: int, end: int) -> None:
        for c in chars:
            if c in _VOICING_MARKS and self._chars:  # ﾀﾞ: a half-width kana and its mark make one character
                composed = unicodedata.normalize("NFC", self._chars[-1] + c)
                if len(composed) == 1:
                    self._chars[-1] = fold(composed)
                    self._ends[-1] = end
                    continue
            self._chars.append(c)
            self._starts.append(start)
            self._ends.append(end)

    def _close(self) -> None:
        if self._chars:
            self.segments.append(_Segment(self.length, 0, None, self._starts, self._ends))
            self.parts.append("".join(self._chars))
            self.length += len(self._chars)
            self._chars, self._starts, self._ends = [], [], []

    def plain(self, text: str, offset: int) -> None:
        """A run of text without escapes, its first byte at `offset`."""
        if not text:
            return
        if text.isascii():
            folded = text.lower().replace("\t", " ")
        else:
            folded = unicodedata.normalize("NFKC", text).lower()
            if len(folded) != len(text) or _FORMAT_CHARACTERS.search(text):
                for c in text:
                    width = _width(c)
                    self.add(fold(c), offset, offset + width)
                    offset += width
                return
            if _TRANSLATED.search(folded):
                folded = folded.translate(_TRANSLATE)
        self._close()
        self.segments.append(_Segment(self.length, offset, text))
        self.parts.append(folded)
        self.length += len(folded)

    def result(self) -> Decoded:
        self._close()
        return Decoded("".join(self.parts), self.segments, [seg.cstart for seg in self.segments])


def canonical(text: str) -> str:
    """An identifier (or any text without escapes) in canonical form."""
    builder = _Builder()
    builder.plain(text, 0)
    return builder.result().text


def _width(c: str) -> int:
    code = ord(c)
    if code < 0x80 or 0xDC80 <= code <= 0xDCFF:  # ASCII, or an undecodable byte (surrogateescape)
        return 1
    return 2 if code < 0x800 else 3 if code < 0x10000 else 4


def _json_chars(escaped: str) -> list[tuple[str, int]]:
    """\\uXXXX escapes as characters (surrogate pairs joined), each with how many escapes it took."""
    units = [int(escaped[i + 2 : i + 6], 16) for i in range(0, len(escaped), 6)]
    chars: list[tuple[str, int]] = []
    i = 0
    while i < len(units):
        if 0xD800 <= units[i] < 0xDC00 and i + 1 < len(units) and 0xDC00 <= units[i + 1] < 0xE000:
            chars.append((chr(0x10000 + ((units[i] - 0xD800) << 10) + units[i + 1] - 0xDC00), 2))
            i += 2
        else:
            chars.append((chr(units[i]), 1))
            i += 1
    return chars


_HEX_ESCAPE = re.compile(r"[%=]([0-9A-Fa-f]{2})")


def _hex_bytes(escaped: str) -> bytes:
    return bytes(int(h, 16) for h in _HEX_ESCAPE.findall(escaped))


def _hex_chars(escaped: str, start: int) -> Iterator[tuple[str, int, int]]:
    """The characters of a run of %XX or =XX escapes (quoted-printable soft line breaks may stand
    between the escapes of one character), each with the [start, end) of its escapes."""
    escapes = [(int(m.group(1), 16), start + m.start(), start + m.end()) for m in _HEX_ESCAPE.finditer(escaped)]
    i = 0
    while i < len(escapes):
        lead = escapes[i][0]
        size = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        group = escapes[i : i + size]
        try:
            c = bytes(b for b, _, _ in group).decode()
        except UnicodeDecodeError:
            group, c = group[:1], bytes([lead]).decode("utf-8", "surrogateescape")
        yield c, group[0][1], group[-1][2]
        i += len(group)


def _plus_is_space(text: str, at: int) -> bool:
    """In a URL query (`q=taro+yamada`) `+` between words is a space; a `+` that starts a value
    (`tel=+81`, `<+81`) or stands in prose (`+81 90`) is a plus sign."""
    if at == 0 or not text[at - 1].isalnum():
        return False
    run = text[max(text.rfind(" ", 0, at), text.rfind("\n", 0, at), text.rfind('"', 0, at)) + 1 : at]
    return "=" in run or "?" in run or "%" in run


def _escapes(text: str) -> Iterator[re.Match[str]]:
    """The escapes that really are escapes in this text (looked for only where one can start:
    the alternation tried at every character costs a hundred times more)."""
    quoted_printable = _QUOTED_PRINTABLE.search(text) is not None
    end = 0
    for trigger in _ESCAPE_START.finditer(text):
        if trigger.start() < end or (m := _ESCAPES.match(text, trigger.start())) is None:
            continue
        end = m.end()
        if m.lastgroup == "qp" and not quoted_printable:
            continue
        if m.lastgroup == "plus" and (quoted_printable or not _plus_is_space(text, m.start())):
            continue
        if m.lastgroup == "entity" and html.unescape(m.group()) == m.group():
            continue  # not an entity HTML knows: literal text
        yield m


def _byte_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def decode(data: bytes) -> Decoded:
    """The canonical form of UTF-8 bytes that may hold URL, HTML, JSON or quoted-printable escapes."""
    text = data.decode("utf-8", "surrogateescape")
    builder = _Builder()
    pos, offset = 0, 0  # offset: the byte where text[pos] starts
    for m in _escapes(text):
        plain = text[pos : m.start()]
        builder.plain(plain, offset)
        start = offset + _byte_length(plain)
        kind, escaped = m.lastgroup, m.group()  # escapes are ASCII: a byte a character
        if kind in ("url", "qp"):
            for c, c_start, c_end in _hex_chars(escaped, start):
                builder.add(fold(c), c_start, c_end)
        elif kind == "json" and escaped != "\\/":
            at = start
            for c, units in _json_chars(escaped):
                builder.add(fold(c), at, at + 6 * units)
                at += 6 * units
        elif kind == "json":
            builder.add("/", start, start + 2)
        elif kind == "entity":
            builder.add("".join(map(fold, html.unescape(escaped))), start, start + len(escaped))
        else:  # a + that is a space in a URL query
            builder.add(" ", start, start + 1)
        pos, offset = m.end(), start + len(escaped)
    builder.plain(text[pos:], offset)
    return builder.result()


def readable(data: bytes) -> str:
    """The bytes with escapes decoded but case and script kept, for NER (which needs capitals)."""
    text = data.decode("utf-8", "replace")
    parts, pos = [], 0
    for m in _escapes(text):
        kind, escaped = m.lastgroup, m.group()
        parts.append(text[pos : m.start()])
        if kind in ("url", "qp"):
            parts.append(_hex_bytes(escaped).decode("utf-8", "replace"))
        elif kind == "json":
            parts.append("/" if escaped == "\\/" else "".join(c for c, _ in _json_chars(escaped)))
        elif kind == "entity":
            parts.append(html.unescape(escaped))
        elif kind == "plus":
            parts.append(" ")
        pos = m.end()
    parts.append(text[pos:])
    return "".join(parts)
