"""RFC 8785 canonical JSON: the one byte form that is hashed and signed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785


class NonCanonicalJSON(ValueError):
    """Input whose bytes are not the canonical form of what they parse to, or that has duplicate keys."""


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def digest(value: Any) -> str:
    """'sha256:<hex>' of the canonical form: the digest used for policies, plans and files."""
    return "sha256:" + hashlib.sha256(canonical(value)).hexdigest()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise NonCanonicalJSON(f"duplicate JSON key(s): {', '.join(dupes)}")
    return dict(pairs)


def parse_strict(data: bytes) -> Any:
    """Parse JSON, rejecting duplicate keys (a classic way to show a verifier one thing and a reader another)."""
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except NonCanonicalJSON:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise NonCanonicalJSON(f"not JSON: {exc}") from None
    except RecursionError:
        raise NonCanonicalJSON("not JSON: nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise NonCanonicalJSON(f"{name} is not JSON (RFC 8259) and has no canonical form")
