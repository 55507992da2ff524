"""`hkt-dsr-verify`: an auditor's offline verifier for HKT's DSR receipts and receipt ledger.

    hkt-dsr-verify receipt FILE... --keys KEYRING.json [--origin ORIGIN]
    hkt-dsr-verify checkpoint NOTE --keys KEYRING.json
    hkt-dsr-verify consistency --old OLD.note --new NEW.note (--proof PROOF.json | --bundle DIR) --keys KEYRING.json
    hkt-dsr-verify log BUNDLE_DIR --keys KEYRING.json [--origin ORIGIN]
    hkt-dsr-verify subject BUNDLE_DIR --identifier KIND:VALUE --opening SALT_HEX --keys KEYRING.json

Prints one line per check (`PASS name detail` or `FAIL name detail`) and a summary line
`N passed, M failed`. Exit status: 0 when every check passes, 1 when any fails, 2 on usage errors
(missing or unreadable files, bad arguments). Standard library only, besides the receipts package.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from receipts.audit import Check, find_subject, load_bundle, verify_checkpoint, verify_consistency, verify_log, verify_receipts
from receipts.bundle import Bundle
from receipts.canonical import parse_strict
from receipts.note import Keyring

KINDS = ("email", "phone", "customer_id", "name", "postal_address")

NORMALISATION = """\
identifier normalisation (as the orchestrator does before committing):
  every kind   Unicode NFKC (full-width letters and digits fold to ASCII), control and format
               characters removed, runs of white space collapsed to one space, leading and
               trailing space stripped
  email        then all spaces removed and lower-cased:  ' ＴＡＲＯ@Example.JP ' -> taro@example.jp
  phone        pass E.164 yourself (+<country code><number>, e.g. +819012345678 for 090-1234-5678);
               spaces, hyphens, dots and parentheses are removed, nothing else is converted
  name         then lower-cased
  postal_address  then lower-cased, the postal mark (U+3012) removed
  customer_id  used as given (after the common steps), case kept
"""

_SPACES = re.compile(r"\s+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)


class UsageError(Exception):
    """A problem with the command line or its files: exit status 2."""


def normalise_identifier(kind: str, value: str) -> str:
    """The normal form the orchestrator commits to, for the basic cases (see NORMALISATION)."""
    text = unicodedata.normalize("NFKC", value)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf") or c in "\t\n\r")
    text = _SPACES.sub(" ", text).strip()
    if not text:
        raise UsageError(f"{kind}: the identifier is empty after normalisation")
    if kind == "email":
        text = text.replace(" ", "").lower()
        local, at, domain = text.rpartition("@")
        if not at or not local or "." not in domain:
            raise UsageError("email: not of the form local@domain")
        return text
    if kind == "phone":
        text = re.sub(r"[ \-.()]", "", text)
        if not _E164.fullmatch(text):
            raise UsageError("phone: give the number in E.164 form, e.g. +819012345678 (the orchestrator commits to E.164)")
        return text
    if kind == "name":
        return text.lower()
    if kind == "postal_address":
        return text.lower().replace("\u3012", "")
    if kind == "customer_id":
        return text
    raise UsageError(f"unknown identifier kind {kind!r} (one of {', '.join(KINDS)})")


# -- argument parsing ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hkt-dsr-verify",
        description="Verify HKT's DSR receipts, checkpoints and receipt ledger offline, against keys you pinned.",
        epilog="Output: one line per check, 'PASS name detail' or 'FAIL name detail', then 'N passed, M failed'. "
        "Exit status 0 when all checks pass, 1 when any fails, 2 on usage errors. Format: docs/receipts.md.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=_Parser)

    def keys(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument("--keys", type=Path, required=required, metavar="KEYRING.json",
                       help="the keyring you pinned (public keys and validity windows), obtained out of band")  # fmt: skip

    p = verbs.add_parser("receipt", help="verify receipt files (and certificates/<request>.json proof files with their certificate receipt)",
                         description="Verify receipt files one by one: canonical JSON, signature, a pinned key valid at issued_at, schema, origin. "
                         "A certificates/<request>.json proof file given together with its certificate receipt is checked too (inclusion in its signed checkpoint).")  # fmt: skip
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    keys(p)
    p.add_argument("--origin", help="the log origin the receipts must belong to, e.g. hkt.example/dsr-ledger")

    p = verbs.add_parser("checkpoint", help="verify a signed checkpoint note", description="Verify a signed checkpoint (C2SP signed note) against the pinned keys.")
    p.add_argument("note", type=Path, metavar="NOTE")
    keys(p)

    p = verbs.add_parser("consistency", help="check that a newer checkpoint extends an older one",
                         description="Check that the log of NEW.note is an append-only extension of the log of OLD.note, with a consistency proof "
                         'file ({"old_size", "new_size", "proof": [hex]}) or computed from an audit bundle.')  # fmt: skip
    p.add_argument("--old", type=Path, required=True, metavar="OLD.note")
    p.add_argument("--new", type=Path, required=True, metavar="NEW.note")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--proof", type=Path, metavar="PROOF.json")
    source.add_argument("--bundle", type=Path, metavar="DIR")
    keys(p)

    p = verbs.add_parser("log", help="replay a whole audit bundle",
                         description="Replay an audit bundle (entries.jsonl, checkpoints/, certificates/): every entry, every checkpoint, every "
                         "certificate proof; detects edited, re-signed, dropped, reordered, truncated, rolled-back and forked logs.")  # fmt: skip
    p.add_argument("bundle", type=Path, metavar="BUNDLE_DIR")
    keys(p, required=False)
    p.add_argument("--origin", help="the log origin, e.g. hkt.example/dsr-ledger (inferred from the bundle if omitted)")

    p = verbs.add_parser("subject", help="list the receipts that concern one person",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="List the receipts whose subject commitments open with an identifier and the request's opening (salt).\n\n" + NORMALISATION)  # fmt: skip
    p.add_argument("bundle", type=Path, metavar="BUNDLE_DIR")
    p.add_argument("--identifier", required=True, metavar="KIND:VALUE", help=f"e.g. email:taro@example.jp; KIND is one of {', '.join(KINDS)}")
    p.add_argument("--opening", required=True, metavar="SALT_HEX", help="the request's opening: its 32-byte salt, in hex")
    keys(p)
    return parser


# -- reading files ----------------------------------------------------------------------------


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _keyring(path: Path) -> Keyring:
    data = _read(path, "keyring")
    try:
        return Keyring.from_json(data)
    except Exception as exc:
        raise UsageError(f"{path} is not a valid keyring: {exc}") from None


def _bundle(directory: Path) -> tuple[Bundle, list[Check]]:
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory (an audit bundle is a directory with entries.jsonl, checkpoints/, certificates/)")
    try:
        return load_bundle(directory)
    except OSError as exc:
        raise UsageError(f"cannot read the bundle {directory}: {exc}") from None


def _proof_file(path: Path) -> tuple[list[bytes], tuple[int, int]]:
    data = _read(path, "proof file")
    try:
        doc = parse_strict(data)
        sizes = (doc["old_size"], doc["new_size"])
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
            raise ValueError("old_size and new_size must be tree sizes")
        return [bytes.fromhex(h) for h in doc["proof"]], sizes
    except Exception as exc:
        raise UsageError(f'{path}: not a consistency proof file {{"old_size", "new_size", "proof": [hex]}}: {exc}') from None


# -- verbs ------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> list[Check]:
    if args.verb == "log":
        bundle, problems = _bundle(args.bundle)
        if args.keys is None:
            print("*" * 78, file=sys.stderr)
            print(f"WARNING: no --keys given: verifying against the bundle's OWN keyring ({args.bundle / 'keyring.json'}).", file=sys.stderr)
            print("WARNING: whoever wrote the bundle chose those keys; a forger would ship his own. Pin the keyring", file=sys.stderr)
            print("WARNING: you obtained out of band and pass it with --keys KEYRING.json.", file=sys.stderr)
            print("*" * 78, file=sys.stderr)
            if bundle.keyring is None:
                raise UsageError(f"{args.bundle}: no usable keyring.json in the bundle, and no --keys given")
            keyring = bundle.keyring
        else:
            keyring = _keyring(args.keys)
        return problems + verify_log(bundle, keyring, args.origin)
    keyring = _keyring(args.keys)
    if args.verb == "receipt":
        for path in args.files:
            _read(path, "receipt")  # unreadable files are usage errors, named
        return verify_receipts(args.files, keyring, args.origin)
    if args.verb == "checkpoint":
        return verify_checkpoint(_read(args.note, "checkpoint note"), keyring)[1]
    if args.verb == "consistency":
        old, new = _read(args.old, "old checkpoint"), _read(args.new, "new checkpoint")
        if args.proof is not None:
            proof, sizes = _proof_file(args.proof)
            return verify_consistency(old, new, proof, keyring, None, proof_sizes=sizes)
        bundle, _ = _bundle(args.bundle)  # only its entries matter here
        return verify_consistency(old, new, None, keyring, bundle.entries)
    # subject
    kind, sep, value = args.identifier.partition(":")
    if not sep:
        raise UsageError("--identifier must be KIND:VALUE, e.g. email:taro@example.jp")
    normal = normalise_identifier(kind.strip().lower(), value)
    try:
        salt = bytes.fromhex(args.opening)
    except ValueError:
        raise UsageError("--opening must be the salt in hex") from None
    bundle, _ = _bundle(args.bundle)
    matches = find_subject(bundle, keyring, kind.strip().lower(), normal, salt)
    checks = [
        Check(f"entry[{m.index}]", m.verified, f"{m.kind} receipt {m.receipt_id} of request {m.request_id}: {m.step} {m.status}" + (f" -- {m.problem}" if m.problem else ""))
        for m in matches
    ]
    if not matches:
        checks.append(Check("subject", False, f"no receipt among {len(bundle.entries)} entries opens with this {kind} and opening (wrong salt, a different spelling, or not in this log)"))
    else:
        requests = sorted({m.request_id for m in matches})
        checks.append(Check("subject", True, f"{len(matches)} receipt(s) of request(s) {', '.join(requests)} concern this {kind}; run `log` to verify the ledger as a whole"))
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        checks = _run(args)
    except UsageError as exc:
        print(f"hkt-dsr-verify: {exc}" if not str(exc).startswith("hkt-dsr-verify") else str(exc), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if isinstance(exc.code, int | None) else 2
    for check in checks:
        print(check.line())
    failed = sum(1 for c in checks if not c.ok)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
