"""Offline verification for auditors: receipts, checkpoints, consistency, the whole ledger, a subject.

Every function returns a list of `Check(name, ok, detail)`, one readable pass/fail line each, and
never raises on bad input: a malformed, tampered or hostile bundle is reported, not crashed on.
What is checked, and the message each kind of tampering produces, is documented in docs/receipts.md.

Like the rest of this package, this module imports only the standard library, `cryptography` and
`rfc8785` (through the receipts modules): an auditor installs `hkt-dsr-receipts` alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receipts import merkle
from receipts.bundle import CERTIFICATES, CHECKPOINTS, ENTRIES, KEYRING, Bundle
from receipts.canonical import parse_strict
from receipts.commitment import opens
from receipts.merkle import MerkleTree, leaf_hash
from receipts.note import Checkpoint, Keyring, NoteError, open_checkpoint
from receipts.receipt import KINDS, SCHEMA, Verdict, check

__all__ = [
    "STATUSES",
    "Check",
    "SubjectMatch",
    "body_problem",
    "find_subject",
    "load_bundle",
    "verify_checkpoint",
    "verify_consistency",
    "verify_log",
    "verify_receipts",
]

STATUSES = ("done", "retained", "deferred", "skipped", "failed")
ACTION_FIELDS = (
    "step", "system", "collection", "operation", "target", "planned", "affected", "resumed",
    "status", "rule", "legal_basis", "purge_by", "evidence", "post_check", "refused",
)  # fmt: skip
REQUEST_FIELDS = ("id", "kind", "received_at", "due_at", "verification_method")
_COMMITMENT = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_LEAF_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)
_SIZE_IN_NAME = re.compile(r"([0-9]+)(?:[^0-9].*)?\.note", re.ASCII)


@dataclass(frozen=True)
class Check:
    """One verification step: what was checked (`name`), whether it held, and why (`detail`)."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name} {self.detail}"


def _pass(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def _fail(name: str, detail: str) -> Check:
    return Check(name, False, detail)


def _short(value: bytes | str) -> str:
    text = value.hex() if isinstance(value, bytes | bytearray) else str(value)
    return text[:16]


def _b64(root: bytes) -> str:
    return base64.b64encode(root).decode("ascii")


def _describe_exc(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


# -- receipts ---------------------------------------------------------------------------------


def _envelope(data: bytes) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(body, signature) of a receipt if it parses as an envelope at all, without verifying anything."""
    try:
        doc = parse_strict(bytes(data))
    except Exception:  # hostile input (deep nesting) may raise RecursionError
        return None, None
    if not isinstance(doc, dict):
        return None, None
    body, signature = doc.get("receipt"), doc.get("signature")
    return (body if isinstance(body, dict) else None), (signature if isinstance(signature, dict) else None)


def _safe_check(name: str, data: bytes, keyring: Keyring) -> Verdict:
    """receipt.check, which can raise on hostile input (NaN, huge integers, deep nesting): never raises."""
    try:
        return check(name, bytes(data), keyring)
    except RecursionError:
        return Verdict(name, False, "not a receipt: JSON nested too deeply")
    except Exception as exc:
        return Verdict(name, False, f"not a receipt: {_describe_exc(exc)}")


def _key_problem(problem: str, signature: dict[str, Any] | None, keyring: Keyring) -> str:
    """Say whether an unknown signing key is a stranger, or a wrong key claiming a pinned key's name."""
    if not problem.startswith("signed by unknown key") or signature is None:
        return problem
    name, kid = str(signature.get("key")), str(signature.get("key_id"))
    pinned = sorted({w.key_id.hex() for w in keyring.windows if w.name == name})
    if pinned:
        return f"wrong key: signed by a key named {name!r} with key id {kid}, but the pinned key of that name has key id {', '.join(pinned)}"
    return f"unknown key: signed by {name!r} (key id {kid}), which is not in the pinned keyring"


def _issued_at(body: dict[str, Any] | None) -> dt.datetime | None:
    if not isinstance(body, dict) or not isinstance(body.get("issued_at"), str):
        return None
    try:
        when = dt.datetime.fromisoformat(body["issued_at"])
    except ValueError:
        return None
    return when if when.tzinfo is not None and when.utcoffset() is not None else None


def _request_id(body: dict[str, Any] | None) -> str | None:
    request = body.get("request") if isinstance(body, dict) else None
    value = request.get("id") if isinstance(request, dict) else None
    return value if isinstance(value, str) else None


def body_problem(body: Any) -> str | None:
    """What is wrong with a receipt body's fields (hkt-dsr/receipt/1), or None. Extra fields are allowed."""
    if not isinstance(body, dict):
        return "receipt body is not a JSON object"
    if body.get("schema") != SCHEMA:
        return f"unknown schema {body.get('schema')!r} (expected {SCHEMA})"
    kind = body.get("kind")
    if kind not in KINDS:
        return f"unknown receipt kind {kind!r}"
    for field in ("receipt_id", "issued_at", "origin", "request", "subject", "policy", "plan_digest"):
        if field not in body:
            return f"missing field {field!r}"
    if not isinstance(body["receipt_id"], str) or not body["receipt_id"]:
        return "receipt_id is not a non-empty string"
    if _issued_at(body) is None:
        return f"issued_at {body['issued_at']!r} is not an ISO 8601 time with a time zone"
    if not isinstance(body["origin"], str) or not body["origin"]:
        return "origin is not a non-empty string"
    request = body["request"]
    if not isinstance(request, dict) or any(f not in request for f in REQUEST_FIELDS):
        return f"request must have the fields {', '.join(REQUEST_FIELDS)}"
    if not isinstance(request["id"], str) or not request["id"]:
        return "request.id is not a non-empty string"
    subject = body["subject"]
    commitments = subject.get("commitments") if isinstance(subject, dict) else None
    if not isinstance(commitments, list) or not all(isinstance(c, str) and _COMMITMENT.fullmatch(c) for c in commitments):
        return 'subject.commitments must be a list of "sha256:<64 hex>" strings'
    if commitments != sorted(commitments):
        return "subject.commitments are not sorted"
    policy = body["policy"]
    if not isinstance(policy, dict) or "id" not in policy or "digest" not in policy:
        return "policy must have the fields id and digest"
    if body["plan_digest"] is not None and not isinstance(body["plan_digest"], str):
        return "plan_digest is neither a string nor null"
    if kind == "action":
        action = body.get("action")
        if not isinstance(action, dict):
            return "action receipt without an 'action' object"
        missing = [f for f in ACTION_FIELDS if f not in action]
        if missing:
            return f"action is missing the field(s) {', '.join(missing)}"
        if action["status"] not in STATUSES:
            return f"action.status {action['status']!r} is not one of {', '.join(STATUSES)}"
        if not isinstance(action["refused"], list):
            return "action.refused is not a list"
        if action["purge_by"] is not None and not isinstance(action["purge_by"], str):
            return "action.purge_by is neither an ISO date nor null"
        return None
    listed = body.get("receipts")
    if not isinstance(listed, list) or not all(isinstance(h, str) and _LEAF_HEX.fullmatch(h) for h in listed):
        return "certificate 'receipts' must be a list of leaf hashes (64 lower-case hex digits)"
    verification = body.get("verification")
    if not isinstance(verification, dict) or not all(isinstance(verification.get(f), int) and not isinstance(verification.get(f), bool) for f in ("checks", "failed")):
        return "certificate 'verification' must be {checks: int, failed: int}"
    if not isinstance(body.get("outcome"), str):
        return "certificate 'outcome' is not a string"
    approval = body.get("approval")  # absent in certificates of schema versions before four-eyes approval
    if approval is not None:
        if not isinstance(approval, dict) or not all(isinstance(approval.get(f), str) and approval.get(f) for f in ("by", "at", "plan_digest")):
            return "certificate 'approval' must be null or {by, at, plan_digest}"
        if approval["plan_digest"] != body.get("plan_digest"):
            return f"certificate approval was given for plan {approval['plan_digest']}, but the request ran plan {body.get('plan_digest')}"
    return None


def _receipt_problem(name: str, data: bytes, keyring: Keyring, origin: str | None) -> tuple[str | None, dict[str, Any] | None, dict[str, Any] | None]:
    """(problem or None, body, signature) for one receipt's bytes."""
    verdict = _safe_check(name, data, keyring)
    body, signature = _envelope(data) if not verdict.ok or verdict.body is None else (verdict.body, None)
    if not verdict.ok:
        return _key_problem(verdict.problem, signature, keyring), body, signature
    problem = body_problem(body)
    if problem is None and origin is not None and body is not None and body.get("origin") != origin:
        problem = f"receipt belongs to log origin {body.get('origin')!r}, not {origin!r}"
    return problem, body, signature


def _describe(body: dict[str, Any]) -> str:
    text = f"{body.get('kind')} receipt {body.get('receipt_id')} of request {_request_id(body)}"
    action = body.get("action")
    if isinstance(action, dict):
        text += f", step {action.get('step')} ({action.get('system')}.{action.get('collection')} {action.get('operation')}): {action.get('status')}"
    elif body.get("kind") == "certificate":
        text += f", {len(body.get('receipts') or [])} action receipt(s), outcome {body.get('outcome')!r}"
    return text


def _is_proof_file(doc: Any) -> bool:
    return isinstance(doc, dict) and {"index", "proof", "checkpoint"} <= set(doc) and "receipt" not in doc


def verify_receipts(files: Sequence[Path], keyring: Keyring, origin: str | None = None, complete: bool = False) -> list[Check]:
    """Check receipt files one by one (signature, a pinned key valid at issue time, schema, origin).

    `complete`: the files are a request's whole folder, so every receipt a certificate among them
    lists must be among them too (a folder that lost receipts must not pass).

    Certificate proof files (certificates/<request>.json: index, proof, checkpoint) may be given too,
    together with the certificate receipt they prove: the checkpoint note is verified and the
    receipt's inclusion proof checked against it; action receipts given alongside are checked to be
    listed by their request's certificate.
    """
    checks: list[Check] = []
    receipts: list[tuple[str, bytes, dict[str, Any]]] = []  # verified: (name, leaf bytes, body)
    proofs: list[tuple[Path, dict[str, Any]]] = []
    for path in files:
        name = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            checks.append(_fail(name, f"cannot read the file: {exc.strerror or exc}"))
            continue
        try:
            doc = parse_strict(data)
        except Exception:  # reported below by the receipt check
            doc = None
        if _is_proof_file(doc):
            proofs.append((Path(path), doc))
            continue
        problem, body, signature = _receipt_problem(name, data, keyring, origin)
        if problem is not None:
            rid = f" (receipt {body.get('receipt_id')})" if isinstance(body, dict) and body.get("receipt_id") else ""
            checks.append(_fail(name, f"{problem}{rid}"))
            continue
        if body is None:  # pragma: no cover - a body without problems exists
            continue
        _, signature = _envelope(data)
        key = f"{signature.get('key')} ({signature.get('key_id')})" if signature else "?"
        checks.append(_pass(name, f"{_describe(body)}; issued {body.get('issued_at')} by key {key}, valid then; origin {body.get('origin')}"))
        receipts.append((name, data.rstrip(b"\n"), body))
    certificates = [(n, d, b) for n, d, b in receipts if b.get("kind") == "certificate"]
    for path, doc in proofs:
        checks.extend(_check_proof_file(path, doc, certificates, keyring, origin))
    # action receipts given with their request's certificate must be listed by it
    listed: dict[str, set[str]] = defaultdict(set)
    for _, _, body in certificates:
        listed[_request_id(body) or ""].update(body.get("receipts") or [])
    for name, data, body in receipts:
        request = _request_id(body) or ""
        if body.get("kind") != "action" or request not in listed:
            continue
        if leaf_hash(data).hex() in listed[request]:
            checks.append(_pass(f"{name}:listed", f"listed by the certificate of request {request}"))
        else:
            checks.append(_fail(f"{name}:listed", f"not listed by the certificate of request {request} given with it (issued after it, or edited)"))
    if complete:
        present = {leaf_hash(data).hex() for _, data, _ in receipts}
        certified = {_request_id(b) for _, _, b in certificates}
        for request in sorted({_request_id(b) or "" for _, _, b in receipts} - certified):
            checks.append(_fail(f"{request}:complete", f"no certificate of request {request} among the files: its receipts cannot be known complete"))
        for name, _, body in certificates:
            missing = [leaf for leaf in body.get("receipts") or [] if leaf not in present]
            if missing:
                checks.append(_fail(f"{name}:complete", f"{len(missing)} of the {len(body.get('receipts') or [])} receipts this certificate lists "
                                                        f"are missing (leaf {missing[0][:16]}...)"))
            else:
                checks.append(_pass(f"{name}:complete", f"all {len(body.get('receipts') or [])} receipts it lists are present"))
    if not files:
        checks.append(_fail("receipts", "no files given"))
    return checks


def _check_proof_file(path: Path, doc: dict[str, Any], certificates: list[tuple[str, bytes, dict[str, Any]]], keyring: Keyring, origin: str | None) -> list[Check]:
    name = str(path)
    request = path.parent.name if path.stem == "certificate" else path.stem
    shape = _proof_shape(doc)
    if shape is not None:
        return [_fail(name, f"malformed certificate proof file: {shape}")]
    index, proof, note = doc["index"], [bytes.fromhex(h) for h in doc["proof"]], doc["checkpoint"].encode()
    checkpoint, note_checks = verify_checkpoint(note, keyring, name=f"{name}:checkpoint")
    checks = list(note_checks)
    if checkpoint is None:
        return checks
    if origin is not None and checkpoint.origin != origin:
        checks.append(_fail(name, f"its checkpoint is for log origin {checkpoint.origin!r}, not {origin!r}"))
    candidates = [c for c in certificates if _request_id(c[2]) == request] or certificates
    for receipt_name, data, body in candidates:
        if merkle.verify_inclusion(data, index, checkpoint.size, proof, checkpoint.root):
            checks.append(_pass(name, f"certificate {body.get('receipt_id')} ({receipt_name}) is entry {index} of the log whose signed checkpoint has size {checkpoint.size}"))
            if index == checkpoint.size - 1 and (when := _issued_at(body)) is not None:
                checks.append(_window_check(f"{name}:key-window", note, keyring, when, f"certificate {body.get('receipt_id')}"))
            return checks
    if not candidates:
        checks.append(_fail(name, f"no verified certificate receipt of request {request} among the given files: give its receipt file too to check the inclusion proof"))
        return checks
    receipt_name, data, _ = candidates[0]
    checks.append(_fail(name, _inclusion_problem(data, index, checkpoint, proof, None, ()) + f" ({receipt_name})"))
    return checks


def _proof_shape(doc: dict[str, Any]) -> str | None:
    index, proof, note = doc.get("index"), doc.get("proof"), doc.get("checkpoint")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return "'index' is not a ledger index"
    if not isinstance(proof, list) or not all(isinstance(h, str) and _LEAF_HEX.fullmatch(h) for h in proof):
        return "'proof' is not a list of hashes (64 lower-case hex digits)"
    if not isinstance(note, str):
        return "'checkpoint' is not the text of a signed note"
    return None


def _path_length(index: int, size: int) -> int:
    """The number of hashes in an RFC 9162 inclusion proof of leaf `index` in a tree of `size`."""
    length, start, end = 0, 0, size
    while end - start > 1:
        k = 1 << ((end - start - 1).bit_length() - 1)
        if index < start + k:
            end = start + k
        else:
            start += k
        length += 1
    return length


def _inclusion_problem(leaf: bytes, index: int, checkpoint: Checkpoint, proof: list[bytes], tree: MerkleTree | None, sizes: Iterable[int]) -> str:
    """Why an inclusion proof failed: made for another tree size, or for other content."""
    size = checkpoint.size
    if index >= size:
        return f"entry {index} is not covered by its checkpoint of size {size}"
    if tree is not None:
        for other in sorted(set(sizes) | {tree.size}):
            if other != size and index < other <= tree.size and tree.inclusion_proof(index, other) == proof:
                return f"the inclusion proof of entry {index} is for tree size {other}, not the checkpoint's size {size}"
    expected = _path_length(index, size)
    if len(proof) != expected:
        return (f"the inclusion proof of entry {index} has {len(proof)} hashes, but a proof against the checkpoint's tree size {size} has {expected}: "
                f"it was made for a different tree size than the checkpoint's")  # fmt: skip
    return f"the inclusion proof of entry {index} does not verify against the checkpoint (size {size}, root {_b64(checkpoint.root)}): the entry or the proof was altered"


# -- checkpoints ------------------------------------------------------------------------------


def _note_signers(note: bytes) -> list[tuple[str, str]]:
    """(key name, key id hex) of each signature line, parsed leniently, for messages only."""
    out = []
    text = bytes(note).decode("utf-8", "replace")
    _, _, block = text.rpartition("\n\n")
    for line in block.split("\n"):
        if not line.startswith("\u2014 "):
            continue
        name, _, sig = line[2:].partition(" ")
        try:
            kid = base64.b64decode(sig, validate=True)[:4].hex()
        except ValueError:
            kid = "?"
        out.append((name, kid))
    return out


def _note_problem(exc: NoteError, note: bytes, keyring: Keyring) -> str:
    text = str(exc)
    if text.startswith("note is not signed by any known key"):
        names = {w.name: w.key_id.hex() for w in keyring.windows}
        signers = _note_signers(note)
        wrong = [(n, k) for n, k in signers if n in names]
        if wrong:
            return "wrong key: " + "; ".join(f"signed by a key named {n!r} with key id {k}, but the pinned key of that name has key id {names[n]}" for n, k in wrong)
        return "unknown key: signed only by " + (", ".join(f"{n!r} (key id {k})" for n, k in signers) or "nobody") + ", not in the pinned keyring"
    if "does not match the note" in text:
        return f"{text}: the checkpoint was edited after it was signed"
    return text


def _window_check(name: str, note: bytes, keyring: Keyring, signed_at: dt.datetime, what: str) -> Check:
    try:
        _, signers = keyring.open_note(note, signed_at)
    except NoteError as exc:
        return _fail(name, f"signing key not valid for what it covers ({what}, issued {signed_at.isoformat()}): {exc}")
    return _pass(name, f"signed by {', '.join(signers)}, valid at {signed_at.isoformat()} ({what})")


def verify_checkpoint(note: bytes, keyring: Keyring, *, name: str = "checkpoint", signed_at: dt.datetime | None = None) -> tuple[Checkpoint | None, list[Check]]:
    """Verify a signed checkpoint note against the pinned keyring; parse it.

    A checkpoint carries no time, so the signer's validity window can only be checked against the
    entries it covers: give `signed_at` (the issued_at of the last entry it covers) to check it;
    `verify_log` and `verify_consistency` with entries do.
    """
    try:
        checkpoint, signers = open_checkpoint(bytes(note), keyring)
    except NoteError as exc:
        return None, [_fail(name, _note_problem(exc, note, keyring))]
    except Exception as exc:
        return None, [_fail(name, f"not a signed note: {_describe_exc(exc)}")]
    detail = f"signed checkpoint of {checkpoint.origin!r}: size {checkpoint.size}, root {_b64(checkpoint.root)}, signed by {', '.join(signers)}"
    if signed_at is None:
        windows = "; ".join(f"{w.name} {w.window()}" for w in keyring.windows if w.name in signers)
        detail += f" (key window {windows}; checked against the entries it covers by `log`)"
    checks = [_pass(name, detail)]
    if signed_at is not None:
        checks.append(_window_check(f"{name}:key-window", note, keyring, signed_at, "the last entry it covers"))
    return checkpoint, checks


def verify_consistency(
    old_note: bytes,
    new_note: bytes,
    proof: Sequence[bytes] | None,
    keyring: Keyring,
    entries: Sequence[bytes] | None = None,
    *,
    proof_sizes: tuple[int, int] | None = None,
) -> list[Check]:
    """Is the log of `new_note` an append-only extension of the log of `old_note`?

    Both checkpoints must verify and share an origin, old.size <= new.size, and the consistency
    proof (`proof`, for sizes `proof_sizes` if known) must hold; with `entries` (a bundle's), the
    proof is computed from them, both roots are recomputed and the signers' windows checked.
    """
    checks: list[Check] = []
    try:
        _consistency(old_note, new_note, proof, keyring, entries, proof_sizes, checks)
    except Exception as exc:  # a verifier reports, it never crashes
        checks.append(_fail("consistency", f"verification stopped on unexpected input: {_describe_exc(exc)}"))
    return checks


def _consistency(
    old_note: bytes,
    new_note: bytes,
    proof: Sequence[bytes] | None,
    keyring: Keyring,
    entries: Sequence[bytes] | None,
    proof_sizes: tuple[int, int] | None,
    checks: list[Check],
) -> None:
    old, old_checks = verify_checkpoint(old_note, keyring, name="old")
    new, new_checks = verify_checkpoint(new_note, keyring, name="new")
    checks += old_checks + new_checks
    if old is None or new is None:
        checks.append(_fail("consistency", "cannot be checked: a checkpoint does not verify"))
        return
    if old.origin != new.origin:
        checks.append(_fail("origin", f"the checkpoints belong to different logs: old {old.origin!r}, new {new.origin!r}"))
    else:
        checks.append(_pass("origin", f"both checkpoints are of {old.origin!r}"))
    if old.size > new.size:
        checks.append(_fail("consistency", f"the new checkpoint (size {new.size}) is smaller than the old one (size {old.size}): the log was truncated or rolled back"))
        return
    if old.size == new.size:
        if old.root == new.root:
            checks.append(_pass("consistency", f"both checkpoints are of the same tree (size {new.size})"))
        else:
            checks.append(_fail("consistency", f"both checkpoints are of size {new.size} but their roots differ: the log was forked"))
        return
    if proof is None and entries is None:
        checks.append(_fail("consistency", "neither a consistency proof nor the log's entries were given"))
    if proof is not None:
        hashes = list(proof)
        if proof_sizes is not None and tuple(proof_sizes) != (old.size, new.size):
            checks.append(_fail("consistency-proof", f"the proof is for sizes {proof_sizes[0]} -> {proof_sizes[1]}, but the checkpoints are of sizes {old.size} -> {new.size}"))
        elif merkle.verify_consistency(old.size, new.size, old.root, new.root, hashes):
            checks.append(_pass("consistency-proof", f"the tree of size {old.size} is a prefix of the tree of size {new.size} ({len(hashes)} hashes)"))
        else:
            checks.append(_fail("consistency-proof", f"the proof does not show that the old tree (size {old.size}) is a prefix of the new one (size {new.size}): the log was rewritten (forked), or the proof is not for these checkpoints"))
    if entries is None:
        return
    entries = list(entries)
    if len(entries) < new.size:
        checks.append(_fail("entries", f"the bundle has {len(entries)} entries, fewer than the new checkpoint's {new.size}: truncated or rolled back"))
        return
    tree = MerkleTree(entries[: new.size])
    matching = True
    for label, cp, note in (("old", old, old_note), ("new", new, new_note)):
        if tree.root(cp.size) != cp.root:
            matching = False
            checks.append(_fail(f"{label}-root", f"the first {cp.size} entries of the bundle hash to {_b64(tree.root(cp.size))}, not to the {label} checkpoint's root {_b64(cp.root)}"))
        else:
            checks.append(_pass(f"{label}-root", f"the first {cp.size} entries of the bundle hash to the {label} checkpoint's root"))
        if cp.size and (when := _issued_at(_envelope(entries[cp.size - 1])[0])) is not None:
            checks.append(_window_check(f"{label}:key-window", note, keyring, when, f"entry {cp.size - 1}, the last it covers"))
    if not matching:
        checks.append(_fail("consistency", f"not shown: the bundle's entries do not match both checkpoints, so they cannot prove that the log of size {new.size} extends the log of size {old.size} (the bundle or the log was altered)"))
        return
    computed = tree.consistency_proof(old.size, new.size)
    if merkle.verify_consistency(old.size, new.size, old.root, new.root, computed):
        checks.append(_pass("consistency", f"the tree of size {old.size} is a prefix of the tree of size {new.size} (proof computed from the bundle: {len(computed)} hashes)"))
    else:  # pragma: no cover - both roots match the entries, so the computed proof holds
        checks.append(_fail("consistency", f"the log of size {new.size} is not an append-only extension of the log of size {old.size}"))


# -- the whole log ----------------------------------------------------------------------------


@dataclass
class _Entry:
    index: int
    body: dict[str, Any] | None
    problem: str | None

    @property
    def receipt_id(self) -> str:
        return str(self.body.get("receipt_id")) if self.body and self.body.get("receipt_id") else "?"

    @property
    def valid(self) -> bool:
        return self.problem is None and self.body is not None


@dataclass
class _Opened:
    name: str  # as shown: checkpoints/<file> or certificates/<request>.json
    note: bytes
    checkpoint: Checkpoint | None
    problem: str | None
    matches: bool | None = None  # root equals that of the first `size` entries (None: not computable)


def verify_log(bundle: Bundle, keyring: Keyring, origin: str | None = None) -> list[Check]:
    """Replay an audit bundle: every entry, every checkpoint, every certificate proof.

    Verifies each entry (strict canonical JSON without duplicate keys, schema, a pinned key valid at
    its issued_at, the signature, one origin for all), unique receipt ids, that each certificate lists
    exactly its request's earlier action receipts, every checkpoint (signature, origin, signer valid at
    the last entry it covers, size within the log, root recomputed), forks (two checkpoints of one
    size, different roots) and each certificate's inclusion proof against its checkpoint.
    """
    checks: list[Check] = []
    try:
        _verify_log(bundle, keyring, origin, checks)
    except Exception as exc:  # a verifier reports, it never crashes
        checks.append(_fail("log", f"verification stopped on unexpected input: {_describe_exc(exc)}"))
    return checks


def _open(name: str, note: bytes, keyring: Keyring) -> _Opened:
    try:
        checkpoint, _ = open_checkpoint(bytes(note), keyring)
    except NoteError as exc:
        return _Opened(name, note, None, _note_problem(exc, note, keyring))
    except Exception as exc:
        return _Opened(name, note, None, f"not a signed note: {_describe_exc(exc)}")
    return _Opened(name, note, checkpoint, None)


def _infer_origin(origin: str | None, entries: list[_Entry], opened: list[_Opened]) -> tuple[str | None, str]:
    if origin is not None:
        return origin, "pinned with --origin"
    votes = Counter(e.body["origin"] for e in entries if e.valid and isinstance(e.body.get("origin"), str))
    votes.update(o.checkpoint.origin for o in opened if o.checkpoint is not None)
    if not votes:
        return None, "none found"
    return votes.most_common(1)[0][0], "inferred from the bundle; pin it with --origin"


def _verify_log(bundle: Bundle, keyring: Keyring, origin: str | None, checks: list[Check]) -> None:
    entries = [bytes(e) for e in bundle.entries]
    n = len(entries)
    checks.append(_keyring_check(keyring, bundle.keyring))

    # every entry, on its own
    infos: list[_Entry] = []
    for i, data in enumerate(entries):
        problem, body, _ = _receipt_problem(f"entry[{i}]", data, keyring, None)
        infos.append(_Entry(i, body, problem))
    opened = [_open(f"{CHECKPOINTS}/{name}", note, keyring) for name, note in sorted(bundle.checkpoints.items(), key=lambda kv: _sort_key(kv[0]))]
    log_origin, origin_source = _infer_origin(origin, infos, opened)
    for info in infos:
        if info.valid and log_origin is not None and info.body.get("origin") != log_origin:
            info.problem = f"receipt belongs to log origin {info.body.get('origin')!r}, not {log_origin!r}"
    bad = [info for info in infos if info.problem is not None]
    for info in bad:
        checks.append(_fail(f"entry[{info.index}]", f"{ENTRIES} line {info.index + 1} (receipt {info.receipt_id}): {info.problem}"))
    if not bad:
        checks.append(_pass("entries", f"all {n} entries are canonical signed receipts ({SCHEMA}) by pinned keys valid at their issued_at, of origin {log_origin!r} ({origin_source})"))

    # receipt ids
    seen: dict[str, int] = {}
    duplicates = 0
    for info in infos:
        rid = info.body.get("receipt_id") if info.body else None
        if not isinstance(rid, str):
            continue
        if rid in seen:
            duplicates += 1
            checks.append(_fail(f"entry[{info.index}]", f"receipt_id {rid} duplicates entry {seen[rid]}"))
        else:
            seen[rid] = info.index
    if not duplicates:
        checks.append(_pass("receipt-ids", f"all {len(seen)} receipt ids are unique"))

    leaves = [leaf_hash(e) for e in entries]
    tree = MerkleTree.from_leaf_hashes(leaves)
    checks.extend(_certificate_listings(infos, leaves))

    # checkpoints
    if not opened:
        checks.append(_fail("checkpoints", f"no signed checkpoint in {CHECKPOINTS}/: nothing commits to the log"))
    per_item = [_checkpoint_checks(item, infos, tree, keyring, log_origin) for item in opened]
    _localise(opened)
    for item, item_checks in zip(opened, per_item):
        checks.extend(item_checks)
        if item.checkpoint is not None and item.matches is False:
            checks.append(_fail(item.name, item.problem or "root mismatch"))
    good = [o for o in opened if o.checkpoint is not None and o.problem is None and o.matches]
    all_good = bool(good) and len(good) == len(opened)
    if all_good:
        sizes = ", ".join(str(o.checkpoint.size) for o in good)
        checks.append(_pass("checkpoints", f"{len(good)} signed checkpoint(s) (sizes {sizes}) verify, are of {log_origin!r}, signed by keys valid for the entries they cover, and match the log's roots"))

    # certificate proof files
    proof_opened: list[_Opened] = []
    certificate_failures = 0
    for request, doc in sorted(bundle.certificates.items()):
        results, item = _certificate_file(request, doc, infos, entries, tree, keyring, log_origin, [o.checkpoint.size for o in opened if o.checkpoint])
        if item is not None:
            proof_opened.append(item)
        failures = [c for c in results if not c.ok]
        certificate_failures += len(failures)
        checks.extend(failures)
    if bundle.certificates and not certificate_failures:
        checks.append(_pass("certificate-proofs", f"{len(bundle.certificates)} certificate file(s): each certificate receipt is included, by its proof, in the signed checkpoint given with it"))

    checks.extend(_forks(opened + proof_opened))

    if all_good:
        largest = max(o.checkpoint.size for o in good)
        if largest == n:
            checks.append(_pass("coverage", f"the latest signed checkpoint covers all {n} entries"))
        else:
            checks.append(_pass("coverage", f"entries {largest}..{n - 1} are individually signed but not yet covered by a signed checkpoint"))


def _sort_key(name: str) -> tuple[int, str]:
    match = _SIZE_IN_NAME.fullmatch(name)
    return (int(match.group(1)) if match else 2**64, name)


def _keyring_check(keyring: Keyring, bundled: Keyring | None) -> Check:
    detail = f"verifying against the pinned keyring {keyring.digest()} ({len(keyring)} key window(s): " + ", ".join(f"{w.name} {w.window()}" for w in keyring.windows) + ")"
    if bundled is not None and bundled.digest() != keyring.digest():
        detail += f"; the bundle's own keyring.json differs ({bundled.digest()}) and is ignored"
    return _pass("keyring", detail)


def _certificate_listings(infos: list[_Entry], leaves: list[bytes]) -> list[Check]:
    """Each certificate lists, in ledger order, exactly the action receipts of its request before it."""
    checks: list[Check] = []
    where: dict[bytes, list[int]] = defaultdict(list)
    for i, h in enumerate(leaves):
        where[h].append(i)
    actions: dict[str, list[int]] = defaultdict(list)  # request -> indices of its action receipts so far
    count = 0
    for info in infos:
        body = info.body
        request = _request_id(body)
        if body is None or request is None:
            continue
        if body.get("kind") == "action":
            actions[request].append(info.index)
            continue
        if body.get("kind") != "certificate" or not info.valid:
            continue
        count += 1
        c = info.index
        label = f"certificate[{c}]"
        found: list[int] = []
        problems: list[str] = []
        for h in body.get("receipts") or []:
            positions = where.get(bytes.fromhex(h), [])
            before = [j for j in positions if j < c]
            if not before:
                if positions:
                    problems.append(f"lists receipt {h[:16]} which is entry {positions[0]}, after the certificate")
                else:
                    problems.append(f"lists action receipt {h[:16]} which is not in the log: it was dropped, or edited after the certificate was issued")
                continue
            j = before[0]
            found.append(j)
            other = infos[j].body
            if other is None or other.get("kind") != "action" or _request_id(other) != request:
                kind = other.get("kind") if other else "unreadable"
                problems.append(f"lists entry {j}, which is not an action receipt of request {request} (it is the {kind} receipt of request {_request_id(other)})")
        if found != sorted(found):
            problems.append(f"lists its receipts out of ledger order (entries {found}): the log was reordered")
        missing = [j for j in actions[request] if j not in found]
        if missing:
            problems.append(f"does not list the action receipt(s) at entries {missing} of its request: edited, inserted or reordered after it was issued")
        for problem in problems:
            checks.append(_fail(label, f"{ENTRIES} line {c + 1} (certificate {info.receipt_id} of request {request}) {problem}"))
    if count and not checks:
        checks.append(_pass("certificates", f"{count} certificate receipt(s) each list exactly the earlier action receipts of their request, in ledger order"))
    return checks


def _checkpoint_checks(item: _Opened, infos: list[_Entry], tree: MerkleTree, keyring: Keyring, log_origin: str | None) -> list[Check]:
    if item.checkpoint is None:
        return [_fail(item.name, item.problem or "does not verify")]
    cp, n, checks = item.checkpoint, tree.size, []
    if log_origin is not None and cp.origin != log_origin:
        item.problem = f"checkpoint of log origin {cp.origin!r}, not {log_origin!r}"
        checks.append(_fail(item.name, item.problem))
    match = _SIZE_IN_NAME.fullmatch(item.name.rpartition("/")[2])
    if item.name.startswith(CHECKPOINTS) and match and int(match.group(1)) != cp.size:
        item.problem = f"the file name says size {match.group(1)} but the signed checkpoint is of size {cp.size}"
        checks.append(_fail(item.name, item.problem))
    if cp.size > n:
        item.problem = f"checkpoint of size {cp.size} but the log has {n} entries: truncated or rolled back"
        checks.append(_fail(item.name, item.problem))
        return checks
    if cp.size:
        last = infos[cp.size - 1]
        when = _issued_at(last.body)
        if when is None:
            item.problem = f"the last entry it covers ({cp.size - 1}) has no readable issued_at to check the signer's validity window against"
            checks.append(_fail(item.name, item.problem))
        else:
            window = _window_check(item.name, item.note, keyring, when, f"entry {cp.size - 1}, the last it covers")
            if not window.ok:
                item.problem = window.detail
                checks.append(window)
    item.matches = tree.root(cp.size) == cp.root
    if not item.matches:
        item.problem = None  # set by _localise, reported by the caller
    return checks


def _localise(opened: list[_Opened]) -> None:
    """Say, for a root mismatch, which range of entries changed: after the largest checkpoint that still matches."""
    verified = sorted((o for o in opened if o.checkpoint is not None and o.matches is not None), key=lambda o: o.checkpoint.size)
    for item in verified:
        if item.matches:
            continue
        cp = item.checkpoint
        below = [o for o in verified if o.matches and o.checkpoint.size < cp.size]
        where = f"entries 0..{cp.size - 1}"
        if below:
            start = below[-1].checkpoint.size
            where = f"entries {start}..{cp.size - 1} (entries 0..{start - 1} still match {below[-1].name})"
        item.problem = (f"root mismatch: the signed checkpoint of size {cp.size} has root {_b64(cp.root)}, but the log's first {cp.size} entries hash to a different root; "
                        f"an entry among {where} was edited (even if re-signed), dropped, inserted or reordered")  # fmt: skip


def _certificate_file(request: str, doc: Any, infos: list[_Entry], entries: list[bytes], tree: MerkleTree, keyring: Keyring, log_origin: str | None, sizes: list[int]) -> tuple[list[Check], _Opened | None]:
    name = f"{CERTIFICATES}/{request}.json"
    if not isinstance(doc, dict):
        return [_fail(name, "malformed certificate proof file: not a JSON object")], None
    shape = _proof_shape(doc)
    if shape is not None:
        return [_fail(name, f"malformed certificate proof file: {shape}")], None
    index, proof = doc["index"], [bytes.fromhex(h) for h in doc["proof"]]
    item = _open(name, doc["checkpoint"].encode(), keyring)
    if item.checkpoint is None:
        return [_fail(name, f"its checkpoint: {item.problem}")], None
    cp, n = item.checkpoint, len(entries)
    checks: list[Check] = []
    if log_origin is not None and cp.origin != log_origin:
        checks.append(_fail(name, f"its checkpoint is of log origin {cp.origin!r}, not {log_origin!r}"))
    if index >= n:
        checks.append(_fail(name, f"points at entry {index} but the log has {n} entries: truncated or rolled back"))
        return checks, item
    body = infos[index].body
    if body is None or body.get("kind") != "certificate" or _request_id(body) != request:
        kind = body.get("kind") if body else "unreadable"
        checks.append(_fail(name, f"entry {index} is not the certificate of request {request} (it is the {kind} receipt of request {_request_id(body)})"))
    if cp.size > n:
        checks.append(_fail(name, f"its checkpoint is of size {cp.size} but the log has {n} entries: truncated or rolled back"))
    else:
        item.matches = tree.root(cp.size) == cp.root
        if not item.matches:
            checks.append(_fail(name, f"its signed checkpoint (size {cp.size}) does not match the log's root at that size: the log was rewritten after the certificate"))
        if cp.size and (when := _issued_at(infos[cp.size - 1].body)) is not None:
            checks.append(_window_check(name, item.note, keyring, when, f"entry {cp.size - 1}, the last its checkpoint covers"))
    if merkle.verify_inclusion(entries[index], index, cp.size, proof, cp.root):
        checks.append(_pass(name, f"entry {index} is included in the checkpoint of size {cp.size}"))
    else:
        checks.append(_fail(name, _inclusion_problem(entries[index], index, cp, proof, tree, sizes)))
    return checks, item


def _forks(opened: list[_Opened]) -> list[Check]:
    by_size: dict[int, dict[bytes, list[str]]] = defaultdict(lambda: defaultdict(list))
    for item in opened:
        if item.checkpoint is not None:
            by_size[item.checkpoint.size][item.checkpoint.root].append(item.name)
    checks = []
    for size, roots in sorted(by_size.items()):
        if len(roots) > 1:
            versions = "; ".join(f"{', '.join(names)} (root {_b64(root)})" for root, names in roots.items())
            checks.append(_fail("fork", f"signed checkpoints of one size {size} with different roots: {versions}: the log was forked (two histories were signed)"))
    if not checks and by_size:
        checks.append(_pass("fork", f"no two signed checkpoints of one size disagree ({len(by_size)} size(s))"))
    return checks


# -- reading a bundle leniently ---------------------------------------------------------------


def load_bundle(directory: Path) -> tuple[Bundle, list[Check]]:
    """Read an audit bundle for verification, tolerating damage: unreadable certificate files or a
    broken keyring.json become failed checks instead of exceptions. Raises FileNotFoundError (or
    OSError) only when the directory is not a readable bundle at all (no entries.jsonl)."""
    directory = Path(directory)
    path = directory / ENTRIES
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {ENTRIES}; not an audit bundle")
    raw = path.read_bytes()
    entries = raw.split(b"\n")
    if entries and entries[-1] == b"":
        entries.pop()
    problems: list[Check] = []
    checkpoints: dict[str, bytes] = {}
    if (directory / CHECKPOINTS).is_dir():
        for p in sorted((directory / CHECKPOINTS).glob("*.note")):
            checkpoints[p.name] = p.read_bytes()
    certificates: dict[str, dict[str, Any]] = {}
    if (directory / CERTIFICATES).is_dir():
        for p in sorted((directory / CERTIFICATES).glob("*.json")):
            try:
                certificates[p.stem] = parse_strict(p.read_bytes())
            except Exception as exc:
                problems.append(_fail(f"{CERTIFICATES}/{p.name}", f"unreadable certificate proof file: {_describe_exc(exc)}"))
    keyring = None
    if (directory / KEYRING).is_file():
        try:
            keyring = Keyring.from_json((directory / KEYRING).read_bytes())
        except Exception as exc:
            problems.append(_fail(KEYRING, f"the bundle's keyring.json is not a valid keyring: {_describe_exc(exc)}"))
    return Bundle(entries, checkpoints, keyring, certificates), problems


# -- finding a person's receipts --------------------------------------------------------------


@dataclass(frozen=True)
class SubjectMatch:
    """A ledger entry whose subject commitments open with the given identifier and salt."""

    index: int
    receipt_id: str
    request_id: str
    kind: str
    step: str
    status: str
    verified: bool
    problem: str = ""


def find_subject(bundle: Bundle, keyring: Keyring, kind: str, normalised_value: str, opening_salt: bytes) -> list[SubjectMatch]:
    """The receipts whose subject commitments open with (kind, normalised value) and the opening salt.

    Each match says whether the receipt itself verifies against the keyring (run `verify_log` to
    check the ledger as a whole). Entries that do not parse are skipped.
    """
    matches = []
    for index, data in enumerate(bundle.entries):
        body, _ = _envelope(data)
        subject = body.get("subject") if body else None
        commitments = subject.get("commitments") if isinstance(subject, dict) else None
        if not isinstance(commitments, list) or not all(isinstance(c, str) for c in commitments):
            continue
        if not opens(commitments, opening_salt, kind, normalised_value):
            continue
        problem, _, _ = _receipt_problem(f"entry[{index}]", data, keyring, None)
        action = body.get("action") if isinstance(body.get("action"), dict) else {}
        step = str(action.get("step")) if body.get("kind") == "action" else "certificate"
        status = str(action.get("status")) if body.get("kind") == "action" else str(body.get("outcome"))
        matches.append(SubjectMatch(index, str(body.get("receipt_id")), str(_request_id(body)), str(body.get("kind")), step, status, problem is None, problem or ""))
    return matches
