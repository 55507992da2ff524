"""C2SP signed notes and checkpoints, verifier keys, and the key-rotation keyring."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from receipts.merkle import root_hash
from receipts.note import (
    Checkpoint,
    Keyring,
    KeyWindow,
    NoteError,
    add_signature,
    key_id,
    make_verifiers,
    open_checkpoint,
    open_note,
    parse_vkey,
    sign_note,
    vkey,
)

ORIGIN = "hkt.example/dsr-ledger"
ROOT = root_hash([b"a", b"b", b"c"])
URLSAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFF]) * 32).decode()  # '_' and '-': not standard base64


def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"test key {seed}".encode()).digest())


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _verifiers(*pairs: tuple[str, Ed25519PrivateKey]) -> dict:
    return make_verifiers((name, key.public_key()) for name, key in pairs)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- checkpoints ------------------------------------------------------------------------------


def test_checkpoint_round_trip() -> None:
    cp = Checkpoint(ORIGIN, 3, ROOT)
    body = cp.body()
    assert body == f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()}\n".encode()
    assert Checkpoint.parse(body) == cp
    assert Checkpoint.parse(Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest()).body()).size == 0


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()}\nextension\n", "4 lines"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()}", "newline"),
        (f"{ORIGIN}\n3\n", "2 lines"),
        (f"{ORIGIN}\n007\n{base64.b64encode(ROOT).decode()}\n", "leading zeros"),
        (f"{ORIGIN}\n-3\n{base64.b64encode(ROOT).decode()}\n", "decimal"),
        (f"{ORIGIN}\n+3\n{base64.b64encode(ROOT).decode()}\n", "decimal"),
        (f"{ORIGIN}\n 3\n{base64.b64encode(ROOT).decode()}\n", "decimal"),
        (f"{ORIGIN}\n\u0663\n{base64.b64encode(ROOT).decode()}\n", "decimal"),  # ARABIC-INDIC DIGIT THREE
        (f"{ORIGIN}\n{2**64}\n{base64.b64encode(ROOT).decode()}\n", "64 bits"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()[:-1]}\n", "base64"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode().rstrip('=')}\n", "base64"),
        (f"{ORIGIN}\n3\n{URLSAFE_ROOT}\n", "base64"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT + b'x').decode()}\n", "33 bytes"),
        (f"{ORIGIN}\n3\n!{base64.b64encode(ROOT).decode()}\n", "base64"),
        (f"\n3\n{base64.b64encode(ROOT).decode()}\n", "empty"),
        (f"{ORIGIN} \n3\n{base64.b64encode(ROOT).decode()}\n", "whitespace"),
        (f"{ORIGIN}\t\n3\n{base64.b64encode(ROOT).decode()}\n", "control character"),
        (f"{ORIGIN}\r\n3\r\n{base64.b64encode(ROOT).decode()}\r\n", "control character"),
    ],
)
def test_checkpoint_parsing_is_strict(body: str, complaint: str) -> None:
    with pytest.raises(NoteError, match=complaint):
        Checkpoint.parse(body.encode())


def test_checkpoint_rejects_non_canonical_base64_and_bad_utf8() -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    text = base64.b64encode(ROOT).decode()  # 32 bytes: 43 characters and '='; the last character has 2 spare bits
    tweaked = text[:-2] + alphabet[alphabet.index(text[-2]) ^ 1] + "="
    assert tweaked != text and base64.b64decode(tweaked) == ROOT  # decodes to the same bytes...
    with pytest.raises(NoteError, match="canonical"):  # ...but only one spelling is accepted
        Checkpoint.parse(f"{ORIGIN}\n3\n{tweaked}\n".encode())
    with pytest.raises(NoteError, match="UTF-8"):
        Checkpoint.parse(b"\xff\n3\n" + base64.b64encode(ROOT) + b"\n")


def test_checkpoint_constructor_validates() -> None:
    with pytest.raises(NoteError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint(ORIGIN, 1, ROOT[:31])
    with pytest.raises(NoteError):
        Checkpoint(ORIGIN + "\n", 1, ROOT)


# -- signed notes -----------------------------------------------------------------------------


def test_signed_checkpoint_verifies_and_has_the_spec_format() -> None:
    key = _key(1)
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    note = sign_note(body, "hkt-2026", key)
    text = note.decode()
    assert text.startswith(body.decode() + "\n\u2014 hkt-2026 ")
    assert text.endswith("\n") and text.count("\n") == 5
    sig = base64.b64decode(text.rsplit(" ", 1)[1])
    assert len(sig) == 68
    assert sig[:4] == hashlib.sha256(b"hkt-2026\n\x01" + _raw(key)).digest()[:4] == key_id("hkt-2026", key.public_key())
    key.public_key().verify(sig[4:], body)  # Ed25519 over the body bytes exactly
    verifiers = _verifiers(("hkt-2026", key))
    assert open_note(note, verifiers) == (body, ["hkt-2026"])
    checkpoint, names = open_checkpoint(note, verifiers)
    assert checkpoint == Checkpoint(ORIGIN, 3, ROOT) and names == ["hkt-2026"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.replace(b"\n3\n", b"\n4\n"),  # size
        lambda b: b.replace(ORIGIN.encode(), b"hkt.example/dsr-ledgeR"),  # origin
        lambda b: b.replace(base64.b64encode(ROOT), base64.b64encode(root_hash([b"a", b"b", b"d"]))),  # root
        lambda b: b[:3] + bytes([b[3] ^ 1]) + b[4:],  # one byte
    ],
)
def test_edited_body_fails(edit) -> None:
    key = _key(1)
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    note = sign_note(body, "hkt-2026", key)
    edited_body = edit(body)
    assert edited_body != body
    tampered = edited_body + note[len(body) :]
    with pytest.raises(NoteError, match="does not match"):
        open_note(tampered, _verifiers(("hkt-2026", key)))


def test_tampered_signature_fails() -> None:
    key = _key(1)
    note = sign_note(Checkpoint(ORIGIN, 3, ROOT).body(), "hkt-2026", key)
    head, sig = note.rstrip(b"\n").rsplit(b" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[10] ^= 1
    with pytest.raises(NoteError, match="does not match"):
        open_note(head + b" " + base64.b64encode(bytes(raw)) + b"\n", _verifiers(("hkt-2026", key)))
    short = base64.b64encode(bytes(raw[:40]))
    with pytest.raises(NoteError, match="does not match"):
        open_note(head + b" " + short + b"\n", _verifiers(("hkt-2026", key)))


def test_unknown_signers_are_ignored_but_a_known_one_is_required() -> None:
    ours, theirs = _key(1), _key(2)
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    note = add_signature(sign_note(body, "witness.example", theirs), "hkt-2026", ours)
    assert open_note(note, _verifiers(("hkt-2026", ours))) == (body, ["hkt-2026"])
    assert open_note(note, _verifiers(("hkt-2026", ours), ("witness.example", theirs)))[1] == ["witness.example", "hkt-2026"]
    only_theirs = sign_note(body, "witness.example", theirs)
    with pytest.raises(NoteError, match="not signed by any known key.*witness.example"):
        open_note(only_theirs, _verifiers(("hkt-2026", ours)))
    with pytest.raises(NoteError, match="not signed by any known key"):
        open_note(only_theirs, {})


def test_a_known_key_with_a_bad_signature_fails_even_beside_a_good_one() -> None:
    ours, theirs = _key(1), _key(2)
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    good = sign_note(body, "hkt-2026", ours)
    forged = sign_note(body.replace(b"\n3\n", b"\n4\n"), "witness.example", theirs)
    note = good + forged.split(b"\n\n", 1)[1]  # witness line signed a different body
    with pytest.raises(NoteError, match="witness.example"):
        open_note(note, _verifiers(("hkt-2026", ours), ("witness.example", theirs)))
    assert open_note(note, _verifiers(("hkt-2026", ours)))[1] == ["hkt-2026"]  # unknown to this verifier: ignored


def test_wrong_key_id_is_not_our_key() -> None:
    key, other = _key(1), _key(2)
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    # Signed by another key under our key's name: its key id differs, so it is an unknown signer.
    impostor = sign_note(body, "hkt-2026", other)
    with pytest.raises(NoteError, match="not signed by any known key"):
        open_note(impostor, _verifiers(("hkt-2026", key)))
    # Our genuine signature relabelled with another key id: also not recognised.
    note = sign_note(body, "hkt-2026", key)
    head, sig = note.rstrip(b"\n").rsplit(b" ", 1)
    raw = base64.b64decode(sig)
    relabelled = head + b" " + base64.b64encode(b"\x00\x00\x00\x00" + raw[4:]) + b"\n"
    with pytest.raises(NoteError, match="not signed by any known key"):
        open_note(relabelled, _verifiers(("hkt-2026", key)))
    # The same key under a different name has a different key id.
    assert key_id("hkt-2026", key.public_key()) != key_id("hkt-2027", key.public_key())
    # A verifiers mapping whose key id does not match its key is refused.
    with pytest.raises(NoteError, match="does not match"):
        open_note(note, {("hkt-2026", b"\x00\x00\x00\x00"): key.public_key()})


@pytest.mark.parametrize(
    "note",
    [
        b"",
        b"hkt\n",  # no signatures
        b"hkt\n\n",  # blank line, no signature lines
        b"hkt\n\n\xe2\x80\x94 name AAAAAAAAAA==",  # no final newline
        b"hkt\n\n- name AAAAAAAAAA==\n",  # hyphen, not em dash
        b"hkt\n\n\xe2\x80\x94 name\n",  # no signature
        b"hkt\n\n\xe2\x80\x94 name AAAA\n",  # too short
        b"hkt\n\n\xe2\x80\x94 name !!!!\n",  # not base64
        b"hkt\n\n\xe2\x80\x94 na+me AAAAAAAAAA==\n",  # '+' in name
        b"hkt\x00\n\n\xe2\x80\x94 name AAAAAAAAAA==\n",  # control character
        b"hkt\xff\n\n\xe2\x80\x94 name AAAAAAAAAA==\n",  # not UTF-8
    ],
)
def test_malformed_notes(note: bytes) -> None:
    with pytest.raises(NoteError):
        open_note(note, _verifiers(("name", _key(1))))


def test_sign_note_checks_body_and_name() -> None:
    with pytest.raises(NoteError, match="newline"):
        sign_note(b"no newline", "hkt", _key(1))
    with pytest.raises(NoteError, match="control"):
        sign_note(b"a\x00b\n", "hkt", _key(1))
    for name in ("", "a b", "a+b", "a\tb"):
        with pytest.raises(NoteError, match="name"):
            sign_note(b"body\n", name, _key(1))
    with pytest.raises(NoteError, match="already signed"):
        add_signature(sign_note(b"body\n", "hkt", _key(1)), "hkt", _key(1))


def test_receipt_signatures_cannot_be_replayed_as_notes() -> None:
    # Receipt signatures cover b"hkt-dsr/receipt/v1\x00" + JSON; a note body may not contain NUL.
    with pytest.raises(NoteError, match="control"):
        sign_note(b"hkt-dsr/receipt/v1\x00{}\n", "hkt", _key(1))


# -- verifier keys ----------------------------------------------------------------------------


def test_vkey_round_trip() -> None:
    key = _key(1)
    text = vkey("hkt-2026", key.public_key())
    name, hex_id, key_b64 = text.split("+", 2)
    assert name == "hkt-2026" and len(hex_id) == 8
    assert base64.b64decode(key_b64) == b"\x01" + _raw(key)
    parsed_name, kid, public_key = parse_vkey(text)
    assert (parsed_name, kid.hex(), _raw_pub(public_key)) == ("hkt-2026", hex_id, _raw(key))
    note = sign_note(b"body\n", "hkt-2026", key)
    assert open_note(note, make_verifiers([text]))[1] == ["hkt-2026"]


def _raw_pub(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_parse_vkey_rejects_bad_keys() -> None:
    key = _key(1)
    good = vkey("hkt-2026", key.public_key())
    name, hex_id, key_b64 = good.split("+", 2)
    wrong_id = f"{int(hex_id, 16) ^ 1:08x}"
    type2 = base64.b64encode(bytes([2]) + _raw(key)).decode()
    for bad, complaint in [
        (f"{name}+{wrong_id}+{key_b64}", "does not match"),
        (f"other+{hex_id}+{key_b64}", "does not match"),
        (f"{name}+{hex_id[:7]}+{key_b64}", "8 hex digits"),
        (f"{name}+{hex_id}+{type2}", "Ed25519"),
        (f"{name}+{hex_id}+{base64.b64encode(_raw(key)).decode()}", "Ed25519"),
        (f"{name}+{hex_id}+not base64", "base64"),
        (f"+{hex_id}+{key_b64}", "name"),
        ("", "name"),
    ]:
        with pytest.raises(NoteError, match=complaint):
            parse_vkey(bad)


# -- key rotation -----------------------------------------------------------------------------


def _keyring() -> Keyring:
    return Keyring(
        [
            KeyWindow("hkt-2026a", _key(1).public_key(), _time("2026-01-01T00:00:00+00:00"), _time("2026-06-30T23:59:59+00:00")),
            KeyWindow("hkt-2026b", _key(2).public_key(), _time("2026-07-01T00:00:00+00:00"), None),
        ]
    )


def test_key_window_accepts_inside_and_rejects_outside() -> None:
    ring = _keyring()
    a = key_id("hkt-2026a", _key(1).public_key())
    inside = _time("2026-03-15T12:00:00+00:00")
    assert ring.check("hkt-2026a", inside) is None
    assert ring.check(a, inside) is None
    assert ring.check(("hkt-2026a", a), inside) is None
    assert ring.valid_at("hkt-2026a", inside)
    assert ring.check("hkt-2026a", _time("2026-01-01T00:00:00Z")) is None  # inclusive at both ends
    assert ring.check("hkt-2026a", _time("2026-06-30T23:59:59Z")) is None
    assert ring.check("hkt-2026a", _time("2026-07-01T07:59:59+08:00")) is None  # Hong Kong time, still June 30 in UTC
    for outside in ("2025-12-31T23:59:59Z", "2026-07-01T00:00:00Z", "2027-01-01T00:00:00+08:00"):
        reason = ring.check("hkt-2026a", _time(outside))
        assert reason is not None and "hkt-2026a" in reason and "outside its validity window" in reason, reason
        assert "2026-01-01T00:00:00Z..2026-06-30T23:59:59Z" in reason
        assert not ring.valid_at(a, _time(outside))
    assert ring.check("hkt-2026b", _time("2030-01-01T00:00:00Z")) is None  # open-ended
    assert "hkt-2026b" in ring.check("hkt-2026b", _time("2026-06-30T00:00:00Z"))
    assert ring.check("nobody", inside) == "unknown key nobody"
    assert "unknown key" in ring.check(b"\x00\x00\x00\x00", inside)
    assert "time zone" in ring.check("hkt-2026a", datetime(2026, 3, 15))


def test_keyring_open_note_applies_the_windows() -> None:
    ring = _keyring()
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    old = sign_note(body, "hkt-2026a", _key(1))
    assert ring.open_note(old, _time("2026-05-01T00:00:00Z")) == (body, ["hkt-2026a"])
    with pytest.raises(NoteError, match="key hkt-2026a used outside its validity window"):
        ring.open_note(old, _time("2026-08-01T00:00:00Z"))
    assert open_note(old, ring)[1] == ["hkt-2026a"]  # signatures only, no window check
    new = sign_note(body, "hkt-2026b", _key(2))
    assert ring.open_note(new, _time("2026-08-01T00:00:00Z"))[1] == ["hkt-2026b"]


def test_rotation_under_one_name_needs_the_key_id() -> None:
    k1, k2 = _key(1), _key(2)
    ring = Keyring(
        [
            KeyWindow(ORIGIN, k1.public_key(), _time("2026-01-01T00:00:00Z"), _time("2026-06-30T23:59:59Z")),
            KeyWindow(ORIGIN, k2.public_key(), _time("2026-07-01T00:00:00Z")),
        ]
    )
    late = _time("2026-09-01T00:00:00Z")
    assert "ambiguous" in ring.check(ORIGIN, late)
    assert ring.check(key_id(ORIGIN, k2.public_key()), late) is None
    assert ORIGIN in ring.check(key_id(ORIGIN, k1.public_key()), late)
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    with pytest.raises(NoteError, match="outside its validity window"):
        ring.open_note(sign_note(body, ORIGIN, k1), late)
    assert ring.open_note(sign_note(body, ORIGIN, k2), late)[1] == [ORIGIN]


def test_keyring_json_round_trip() -> None:
    ring = _keyring()
    data = ring.to_json()
    doc = json.loads(data)
    assert doc == {
        "keys": [
            {"name": "hkt-2026a", "vkey": vkey("hkt-2026a", _key(1).public_key()), "not_before": "2026-01-01T00:00:00Z", "not_after": "2026-06-30T23:59:59Z"},
            {"name": "hkt-2026b", "vkey": vkey("hkt-2026b", _key(2).public_key()), "not_before": "2026-07-01T00:00:00Z", "not_after": None},
        ]
    }
    assert data == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()  # canonical
    again = Keyring.from_json(data)
    assert again.windows == ring.windows
    assert again.to_json() == data and again.digest() == ring.digest()
    assert ring.digest().startswith("sha256:")
    # a keyring with times in another zone serialises to the same instants in UTC
    hk = timezone(timedelta(hours=8))
    shifted = Keyring([KeyWindow("hkt-2026a", _key(1).public_key(), datetime(2026, 1, 1, 8, tzinfo=hk), datetime(2026, 7, 1, 7, 59, 59, tzinfo=hk))])
    assert shifted.to_json() == Keyring(ring.windows[:1]).to_json()


@pytest.mark.parametrize(
    ("doc", "complaint"),
    [
        ('{"keys": [], "extra": 1}', "keys"),
        ('{"keys": {}}', "keys"),
        ('{"keys": [], "keys": []}', "duplicate"),
        ('{"keys": [{"name": "x"}]}', "exactly"),
        ("not json", "JSON"),
    ],
)
def test_keyring_json_rejects_malformed_documents(doc: str, complaint: str) -> None:
    with pytest.raises(NoteError, match=complaint):
        Keyring.from_json(doc)


def test_keyring_json_rejects_bad_entries() -> None:
    entry = _keyring().to_dict()["keys"][0]
    for change, complaint in [
        ({"name": "someone-else"}, "does not match"),
        ({"not_before": "2026-01-01T00:00:00"}, "time zone"),
        ({"not_before": "yesterday"}, "ISO 8601"),
        ({"not_after": "2025-01-01T00:00:00Z"}, "before not_before"),
        ({"vkey": "hkt-2026a+00000000+AAAA"}, "vkey|Ed25519|verifier key"),
    ]:
        with pytest.raises(NoteError, match=complaint):
            Keyring.from_dict({"keys": [{**entry, **change}]})


def test_key_window_validation() -> None:
    pub = _key(1).public_key()
    with pytest.raises(NoteError, match="time zone"):
        KeyWindow("k", pub, datetime(2026, 1, 1))
    with pytest.raises(NoteError, match="before"):
        KeyWindow("k", pub, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(NoteError, match="name"):
        KeyWindow("a b", pub, datetime(2026, 1, 1, tzinfo=UTC))


def test_interoperates_with_the_go_reference_implementation() -> None:
    # The example in the documentation of golang.org/x/mod/sumdb/note.
    go_vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    go_note = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
        "\n"
        "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    ).encode()
    name, kid, public_key = parse_vkey(go_vkey)
    assert (name, kid.hex()) == ("PeterNeumann", "c74f20a3")
    assert vkey(name, public_key) == go_vkey
    body, names = open_note(go_note, make_verifiers([go_vkey]))
    assert body.endswith(b"what your problem is.\n") and names == ["PeterNeumann"]
    with pytest.raises(NoteError, match="does not match"):
        open_note(go_note.replace(b"cryptography", b"Cryptography"), make_verifiers([go_vkey]))


def test_parses_the_tlog_checkpoint_spec_example() -> None:
    body = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    checkpoint = Checkpoint.parse(body)
    assert (checkpoint.origin, checkpoint.size, len(checkpoint.root)) == ("example.com/behind-the-sofa", 20852163, 32)
    assert checkpoint.body() == body
