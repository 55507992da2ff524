"""Signed checkpoints in the C2SP signed-note format, and a keyring of Ed25519 keys with validity windows.

Formats (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint):

    checkpoint body     <origin>\\n<tree size, decimal>\\n<root hash, base64>\\n
    signed note         <body>\\n— <key name> <base64(key id || signature)>\\n   (one line per signature)
    key id              first 4 bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)
    verifier key        <key name>+<key id, 8 hex digits>+<base64(0x01 || public key)>

The Ed25519 signature is over the body bytes exactly. A note body may not contain ASCII control
characters other than newline, so a receipt signature (whose message starts with the domain
prefix "hkt-dsr/receipt/v1\\x00") can never be presented as a note signature, nor the reverse.

Key rotation: a `Keyring` pins each key with a validity window (not_before..not_after, both
inclusive, not_after None = still current). `Keyring.check` says why a key may not be trusted
for something signed at a given time; `Keyring.open_note` verifies and applies that check.
An auditor pins the keyring as a small canonical (RFC 8785) JSON document.

This module imports only the standard library, `cryptography` and (via receipts.canonical) `rfc8785`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from receipts.canonical import NonCanonicalJSON, canonical, digest, parse_strict

__all__ = [
    "ALG_ED25519",
    "Checkpoint",
    "KeyWindow",
    "Keyring",
    "NoteError",
    "Verifiers",
    "add_signature",
    "key_id",
    "make_verifiers",
    "open_checkpoint",
    "open_note",
    "parse_vkey",
    "sign_note",
    "vkey",
]

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 ".encode()  # em dash, space
MAX_SIGNATURES = 100  # as in the Go reference implementation: bounds the work an untrusted note can cause
HASH_SIZE = 32

# (key name, 4-byte key id) -> public key
Verifiers = Mapping[tuple[str, bytes], Ed25519PublicKey]


class NoteError(ValueError):
    """A malformed or unverifiable note, checkpoint, verifier key or keyring."""


# -- keys -------------------------------------------------------------------------------------


def _valid_name(name: object) -> bool:
    """A key name: non-empty, no Unicode whitespace, no '+', no control characters."""
    return isinstance(name, str) and name != "" and "+" not in name and not any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in name)


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64decode_strict(text: str) -> bytes:
    """Standard, padded base64 in its one canonical spelling; raises NoteError otherwise."""
    if not re.fullmatch(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", text, flags=re.ASCII):
        raise NoteError("not standard padded base64")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("not standard padded base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise NoteError("base64 is not in canonical form (non-zero padding bits)")
    return data


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The signed-note key id: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    if not _valid_name(name):
        raise NoteError(f"invalid key name {name!r} (must be non-empty, without spaces or '+')")
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + _raw(public_key)).digest()[:4]


def vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key string `<name>+<hex key id>+<base64(0x01 || public key)>`."""
    kid = key_id(name, public_key)
    return f"{name}+{kid.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + _raw(public_key)).decode('ascii')}"


def parse_vkey(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key id, public key) from a verifier key string; the key id must match the key."""
    if not isinstance(text, str):
        raise NoteError("a verifier key is a string")
    name, _, rest = text.partition("+")
    hex_id, _, key_b64 = rest.partition("+")
    if not _valid_name(name):
        raise NoteError(f"verifier key {text!r}: invalid key name")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise NoteError(f"verifier key {text!r}: key id must be 8 hex digits")
    try:
        key = _b64decode_strict(key_b64)
    except NoteError as exc:
        raise NoteError(f"verifier key {text!r}: key is {exc}") from None
    if len(key) != 33 or key[0] != ALG_ED25519:
        raise NoteError(f"verifier key {text!r}: not an Ed25519 key (expected 0x01 followed by 32 bytes)")
    public_key = Ed25519PublicKey.from_public_bytes(key[1:])
    kid = bytes.fromhex(hex_id)
    if key_id(name, public_key) != kid:
        raise NoteError(f"verifier key {text!r}: key id {hex_id} does not match the name and key (expected {key_id(name, public_key).hex()})")
    return name, kid, public_key


def make_verifiers(keys: Iterable[str | tuple[str, Ed25519PublicKey]]) -> dict[tuple[str, bytes], Ed25519PublicKey]:
    """A verifiers mapping for `open_note`, from vkey strings or (name, public key) pairs."""
    out: dict[tuple[str, bytes], Ed25519PublicKey] = {}
    for item in keys:
        if isinstance(item, str):
            name, kid, public_key = parse_vkey(item)
        elif isinstance(item, tuple) and len(item) == 2:
            name, public_key = item
            kid = key_id(name, public_key)
        else:
            raise NoteError(f"not a verifier key: {item!r}")
        out[(name, kid)] = public_key
    return out


# -- notes ------------------------------------------------------------------------------------


def _check_text(data: bytes, what: str) -> str:
    if not isinstance(data, bytes | bytearray):
        raise NoteError(f"{what} must be bytes")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None
    bad = next((c for c in text if (ord(c) < 0x20 and c != "\n") or c == "\x7f"), None)
    if bad is not None:
        raise NoteError(f"{what} contains the control character {bad!r}")
    return text


def _check_body(body: bytes) -> bytes:
    _check_text(body, "note body")
    if not body.endswith(b"\n"):
        raise NoteError("note body must end with a newline")
    return bytes(body)


@dataclass(frozen=True)
class _Signature:
    name: str
    key_id: bytes
    signature: bytes
    line: bytes


def _split_note(note: bytes) -> tuple[bytes, list[_Signature]]:
    """The body and the parsed signature lines of a note, without verifying anything."""
    _check_text(note, "note")
    note = bytes(note)
    split = note.rfind(b"\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line between the body and the signatures")
    body, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith(b"\n"):
        raise NoteError("malformed note: no signature lines (each must end with a newline)")
    lines = block[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    signatures = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed note: signature line {number} does not start with an em dash and a space")
        name, _, sig_b64 = line[len(SIG_PREFIX) :].decode("utf-8").partition(" ")
        if not _valid_name(name):
            raise NoteError(f"malformed note: signature line {number} has an invalid key name {name!r}")
        try:
            raw = _b64decode_strict(sig_b64)
        except NoteError as exc:
            raise NoteError(f"malformed note: signature line {number} ({name}): signature is {exc}") from None
        if len(raw) < 5:
            raise NoteError(f"malformed note: signature line {number} ({name}) is too short")
        signatures.append(_Signature(name, raw[:4], raw[4:], line))
    return body, signatures


def _signature_line(body: bytes, name: str, private_key: Ed25519PrivateKey) -> bytes:
    if not isinstance(private_key, Ed25519PrivateKey):
        raise NoteError("signing key must be an Ed25519 private key")
    kid = key_id(name, private_key.public_key())
    signature = private_key.sign(body)
    return SIG_PREFIX + f"{name} {base64.b64encode(kid + signature).decode('ascii')}\n".encode()


def sign_note(body: bytes, name: str, private_key: Ed25519PrivateKey) -> bytes:
    """A signed note: the body, a blank line and one signature line (Ed25519 over the body bytes)."""
    body = _check_body(body)
    return body + b"\n" + _signature_line(body, name, private_key)


def add_signature(note: bytes, name: str, private_key: Ed25519PrivateKey) -> bytes:
    """The note with one more signature line (a co-signature); existing signatures are kept, not checked."""
    body, signatures = _split_note(note)
    kid = key_id(name, private_key.public_key())
    if any(s.name == name and s.key_id == kid for s in signatures):
        raise NoteError(f"note is already signed by {name} ({kid.hex()})")
    return bytes(note) + _signature_line(body, name, private_key)


def _check_verifiers(verifiers: Verifiers) -> None:
    for entry, public_key in verifiers.items():
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], bytes) and len(entry[1]) == 4):
            raise NoteError(f"verifiers must map (key name, 4-byte key id) to a public key, not {entry!r}")
        if not isinstance(public_key, Ed25519PublicKey):
            raise NoteError(f"verifier {entry[0]!r} is not an Ed25519 public key")
        if key_id(entry[0], public_key) != entry[1]:
            raise NoteError(f"verifier {entry[0]!r}: key id {entry[1].hex()} does not match the name and key")


def _open(note: bytes, verifiers: Verifiers) -> tuple[bytes, list[tuple[str, bytes]]]:
    _check_verifiers(verifiers)
    body, signatures = _split_note(note)
    verified: list[tuple[str, bytes]] = []
    unknown: list[str] = []
    for sig in signatures:
        public_key = verifiers.get((sig.name, sig.key_id))
        if public_key is None:
            unknown.append(f"{sig.name} ({sig.key_id.hex()})")
            continue  # signatures by keys we do not know are ignored (signed-note spec)
        try:
            if len(sig.signature) != 64:
                raise InvalidSignature
            public_key.verify(sig.signature, body)
        except InvalidSignature:
            raise NoteError(f"signature by {sig.name} ({sig.key_id.hex()}) does not match the note") from None
        if (sig.name, sig.key_id) not in verified:
            verified.append((sig.name, sig.key_id))
    if not verified:
        signers = ", ".join(dict.fromkeys(unknown))
        raise NoteError(f"note is not signed by any known key (signed by: {signers})")
    return body, verified


def open_note(note: bytes, verifiers: Verifiers | Keyring) -> tuple[bytes, list[str]]:
    """Verify a signed note: returns (body, names of the known keys whose signatures verified).

    `verifiers` maps (key name, key id) to a public key (see `make_verifiers`), or is a Keyring.
    Signatures by unknown keys are ignored. Raises NoteError when the note is malformed, when a
    known key's signature does not verify, or when no known key signed it. A Keyring's validity
    windows are NOT checked here: use `Keyring.open_note(note, signed_at)` for that.
    """
    if isinstance(verifiers, Keyring):
        verifiers = verifiers.verifiers()
    body, verified = _open(note, verifiers)
    return body, list(dict.fromkeys(name for name, _ in verified))


# -- checkpoints ------------------------------------------------------------------------------


_SIZE = re.compile(r"0|[1-9][0-9]*", re.ASCII)


@dataclass(frozen=True)
class Checkpoint:
    """A tlog checkpoint: the log's origin, its tree size and its RFC 6962 root hash."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise NoteError("checkpoint origin must be a non-empty string")
        if self.origin != self.origin.strip():
            raise NoteError(f"checkpoint origin {self.origin!r} has leading or trailing whitespace")
        if any(ord(c) < 0x20 or c == "\x7f" for c in self.origin):
            raise NoteError(f"checkpoint origin {self.origin!r} contains a control character")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 0 <= self.size < 2**64:
            raise NoteError(f"checkpoint size {self.size!r} must be an integer in 0..2**64-1")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise NoteError(f"checkpoint root hash must be {HASH_SIZE} bytes")

    def body(self) -> bytes:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n".encode()

    def sign(self, name: str, private_key: Ed25519PrivateKey) -> bytes:
        return sign_note(self.body(), name, private_key)

    @classmethod
    def parse(cls, body: bytes) -> Checkpoint:
        """Strictly parse a checkpoint body: exactly three lines (origin, size, base64 root)."""
        text = _check_text(body, "checkpoint")
        if not text.endswith("\n"):
            raise NoteError("checkpoint must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) != 3:
            raise NoteError(f"checkpoint has {len(lines)} lines; expected exactly 3 (origin, tree size, root hash)")
        origin, size_text, root_text = lines
        if not origin:
            raise NoteError("checkpoint origin (line 1) is empty")
        if origin != origin.rstrip() or origin != origin.lstrip():
            raise NoteError(f"checkpoint origin (line 1) {origin!r} has leading or trailing whitespace")
        if not _SIZE.fullmatch(size_text):
            raise NoteError(f"checkpoint tree size (line 2) {size_text!r} is not a decimal number without leading zeros")
        size = int(size_text)
        if size >= 2**64:
            raise NoteError(f"checkpoint tree size (line 2) {size_text} does not fit in 64 bits")
        try:
            root = _b64decode_strict(root_text)
        except NoteError as exc:
            raise NoteError(f"checkpoint root hash (line 3) {root_text!r} is {exc}") from None
        if len(root) != HASH_SIZE:
            raise NoteError(f"checkpoint root hash (line 3) is {len(root)} bytes; expected {HASH_SIZE}")
        return cls(origin, size, root)


def open_checkpoint(note: bytes, verifiers: Verifiers | Keyring) -> tuple[Checkpoint, list[str]]:
    """Verify a signed checkpoint note and parse its body."""
    body, names = open_note(note, verifiers)
    return Checkpoint.parse(body), names


# -- key rotation -----------------------------------------------------------------------------


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _aware(when: object) -> bool:
    return isinstance(when, datetime) and when.tzinfo is not None and when.utcoffset() is not None


def _parse_time(value: object, what: str) -> datetime:
    if not isinstance(value, str):
        raise NoteError(f"{what} must be an ISO 8601 string")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise NoteError(f"{what} {value!r} is not an ISO 8601 time") from None
    if not _aware(when):
        raise NoteError(f"{what} {value!r} has no time zone")
    return when


@dataclass(frozen=True, eq=False)
class KeyWindow:
    """One signing key and the period (inclusive at both ends) in which it may sign."""

    name: str
    public_key: Ed25519PublicKey
    not_before: datetime
    not_after: datetime | None = None

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise NoteError(f"invalid key name {self.name!r} (must be non-empty, without spaces or '+')")
        if not isinstance(self.public_key, Ed25519PublicKey):
            raise NoteError(f"key {self.name}: not an Ed25519 public key")
        if not _aware(self.not_before):
            raise NoteError(f"key {self.name}: not_before must be a datetime with a time zone")
        if self.not_after is not None:
            if not _aware(self.not_after):
                raise NoteError(f"key {self.name}: not_after must be a datetime with a time zone, or None")
            if self.not_after < self.not_before:
                raise NoteError(f"key {self.name}: not_after {_iso(self.not_after)} is before not_before {_iso(self.not_before)}")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        return vkey(self.name, self.public_key)

    def covers(self, when: datetime) -> bool:
        return _aware(when) and self.not_before <= when and (self.not_after is None or when <= self.not_after)

    def window(self) -> str:
        return f"{_iso(self.not_before)}..{_iso(self.not_after) if self.not_after is not None else ''}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyWindow):
            return NotImplemented
        return (self.name, _raw(self.public_key), self.not_before, self.not_after) == (other.name, _raw(other.public_key), other.not_before, other.not_after)

    def __hash__(self) -> int:
        return hash((self.name, _raw(self.public_key), self.not_before, self.not_after))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vkey": self.vkey,
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after) if self.not_after is not None else None,
        }


KeyRef = str | bytes | tuple[str, bytes]


class Keyring:
    """The keys an auditor trusts, each with its validity window(s).

    A key is referred to by name (str), by key id (4 bytes) or by both ((name, key id)). The same
    key may have several windows; a name may (after rotation under the same name) have several
    keys, in which case refer to the key by key id: a bare name is then refused as ambiguous.
    """

    def __init__(self, windows: Iterable[KeyWindow] = ()) -> None:
        self._windows: list[KeyWindow] = []
        for window in windows:
            self.add(window)

    def add(self, window: KeyWindow) -> None:
        if not isinstance(window, KeyWindow):
            raise NoteError(f"not a KeyWindow: {window!r}")
        for other in self._windows:
            if (other.name, other.key_id) == (window.name, window.key_id) and _raw(other.public_key) != _raw(window.public_key):
                raise NoteError(f"keys {window.name}+{window.key_id.hex()} collide: same name and key id, different public keys")
        self._windows.append(window)

    @property
    def windows(self) -> tuple[KeyWindow, ...]:
        return tuple(self._windows)

    def __len__(self) -> int:
        return len(self._windows)

    def verifiers(self) -> dict[tuple[str, bytes], Ed25519PublicKey]:
        return {(w.name, w.key_id): w.public_key for w in self._windows}

    def _matching(self, key: KeyRef) -> list[KeyWindow]:
        if isinstance(key, str):
            return [w for w in self._windows if w.name == key]
        if isinstance(key, bytes | bytearray):
            return [w for w in self._windows if w.key_id == bytes(key)]
        if isinstance(key, tuple) and len(key) == 2:
            return [w for w in self._windows if (w.name, w.key_id) == (key[0], bytes(key[1]))]
        return []

    @staticmethod
    def _label(key: KeyRef) -> str:
        if isinstance(key, str):
            return key
        if isinstance(key, bytes | bytearray):
            return bytes(key).hex()
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], bytes | bytearray):
            return f"{key[0]} ({bytes(key[1]).hex()})"
        return repr(key)

    def check(self, key: KeyRef, signed_at: datetime) -> str | None:
        """None if `key` may have signed at `signed_at`; otherwise the reason it may not."""
        label = self._label(key)
        if not _aware(signed_at):
            return f"signing time {signed_at!r} for key {label} has no time zone"
        matches = self._matching(key)
        if not matches:
            return f"unknown key {label}"
        keys = {(w.name, w.key_id) for w in matches}
        if len(keys) > 1:
            return f"key {label} is ambiguous ({len(keys)} keys match); identify it by key id"
        if any(w.covers(signed_at) for w in matches):
            return None
        name = matches[0].name
        plural = "s" if len(matches) > 1 else ""
        windows = ", ".join(w.window() for w in matches)
        return f"key {name} used outside its validity window{plural} ({windows}): signed at {_iso(signed_at)}"

    def valid_at(self, key: KeyRef, when: datetime) -> bool:
        return self.check(key, when) is None

    def open_note(self, note: bytes, signed_at: datetime) -> tuple[bytes, list[str]]:
        """Verify a note against this keyring and check each verifying key's window at `signed_at`."""
        body, verified = _open(note, self.verifiers())
        for name, kid in verified:
            problem = self.check((name, kid), signed_at)
            if problem is not None:
                raise NoteError(problem)
        return body, list(dict.fromkeys(name for name, _ in verified))

    # -- the pinned JSON document --

    def to_dict(self) -> dict[str, Any]:
        return {"keys": [w.to_dict() for w in self._windows]}

    def to_json(self) -> bytes:
        """The canonical (RFC 8785) JSON document an auditor pins."""
        return canonical(self.to_dict())

    def digest(self) -> str:
        """'sha256:<hex>' of the canonical document: what to pin out of band."""
        return digest(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> Keyring:
        try:
            doc = parse_strict(data.encode() if isinstance(data, str) else data)
        except NonCanonicalJSON as exc:
            raise NoteError(f"keyring: {exc}") from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> Keyring:
        if not isinstance(doc, dict) or set(doc) != {"keys"} or not isinstance(doc["keys"], list):
            raise NoteError('keyring must be {"keys": [...]}')
        windows = []
        for number, entry in enumerate(doc["keys"], 1):
            where = f"keyring entry {number}"
            if not isinstance(entry, dict) or set(entry) != {"name", "vkey", "not_before", "not_after"}:
                raise NoteError(f"{where} must have exactly name, vkey, not_before and not_after")
            name, kid, public_key = parse_vkey(entry["vkey"])
            if entry["name"] != name:
                raise NoteError(f"{where}: name {entry['name']!r} does not match its vkey's name {name!r}")
            not_before = _parse_time(entry["not_before"], f"{where} not_before")
            not_after = None if entry["not_after"] is None else _parse_time(entry["not_after"], f"{where} not_after")
            windows.append(KeyWindow(name, public_key, not_before, not_after))
        return cls(windows)
