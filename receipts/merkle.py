"""RFC 6962 / RFC 9162 Merkle tree hashing: roots, inclusion proofs and consistency proofs.

Leaves are raw bytes; this module applies the leaf hash itself:

    leaf hash  = SHA-256(0x00 || leaf)
    node hash  = SHA-256(0x01 || left || right)
    empty tree = SHA-256("")

A tree of n > 1 leaves is split at k, the largest power of two smaller than n: its hash is
node_hash(MTH(D[0:k]), MTH(D[k:n])) (RFC 9162 section 2.1.1).

`MerkleTree` keeps the leaf hashes and the hash of every complete, aligned power-of-two subtree,
so a root or a proof over a large log costs O(log² n) hashes instead of re-hashing every leaf.
The module-level functions build a `MerkleTree` and are convenient for small inputs.

The two verifiers (`verify_inclusion`, `verify_consistency`) follow RFC 9162 sections 2.1.3.2
and 2.1.4.2. They return a bool and never raise: malformed input is simply "not verified".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + bytes(leaf)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + bytes(left) + bytes(right)).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview) and len(value) == HASH_SIZE


class MerkleTree:
    """An append-only Merkle tree over leaf hashes, with cached complete subtrees.

    `_levels[k][i]` is the hash of the complete subtree of 2**k leaves starting at leaf i * 2**k.
    Appending a leaf adds at most one entry per level (amortised: about one node hash per leaf).
    Every range the RFC recursion visits splits into such aligned complete subtrees, so any root
    or proof for any size up to the current one is assembled from O(log² n) cached hashes.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> MerkleTree:
        """A tree from already computed leaf hashes (e.g. read back from a ledger)."""
        tree = cls()
        for h in hashes:
            tree.append_leaf_hash(h)
        return tree

    # -- building -----------------------------------------------------------------------------

    def append(self, leaf: bytes) -> int:
        """Add one raw leaf; returns its index."""
        return self.append_leaf_hash(leaf_hash(leaf))

    def append_leaf_hash(self, h: bytes) -> int:
        """Add one leaf given its leaf hash (SHA-256(0x00 || leaf)); returns its index."""
        if not _is_hash(h):
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes")
        levels = self._levels
        index = len(levels[0])
        levels[0].append(bytes(h))
        level, i = 0, index
        while i & 1:  # this node is a right child: its parent is now complete
            row = levels[level]
            parent = node_hash(row[i - 1], row[i])
            level += 1
            if level == len(levels):
                levels.append([])
            levels[level].append(parent)
            i >>= 1
        return index

    # -- reading ------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    def leaf_hash_at(self, index: int) -> bytes:
        if not (_is_size(index) and index < self.size):
            raise IndexError(f"leaf index {index!r} out of range for a tree of {self.size} leaves")
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """The tree head of the first `size` leaves (default: all of them)."""
        size = self._check_size(size)
        return self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 section 2.1.3.1 PATH(index, D[0:size])."""
        size = self._check_size(size)
        if not (_is_size(index) and index < size):
            raise IndexError(f"leaf index {index!r} out of range for a tree of {size} leaves")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:  # walk down; siblings are collected top-down, the proof is bottom-up
            k = _split(end - start)
            if index < start + k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 section 2.1.4.1 PROOF(old_size, D[0:new_size]); empty if old_size is 0 or new_size."""
        new_size = self._check_size(new_size)
        if not (_is_size(old_size) and old_size <= new_size):
            raise ValueError(f"old size {old_size!r} must be between 0 and the new size {new_size}")
        if old_size == 0 or old_size == new_size:
            return []
        # SUBPROOF(m, D[start:end], b), unrolled: collected top-down, returned bottom-up.
        proof: list[bytes] = []
        m, start, end, complete = old_size, 0, new_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
                m -= k
                complete = False
        if not complete:
            proof.append(self._subtree(start, end))
        proof.reverse()
        return proof

    # -- internals ----------------------------------------------------------------------------

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not (_is_size(size) and size <= self.size):
            raise ValueError(f"size {size!r} must be between 0 and {self.size}")
        return size

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range the RFC recursion can produce (end <= size)."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:  # complete, aligned: cached
            level = n.bit_length() - 1
            return self._levels[level][start >> level]
        k = _split(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))


# -- module-level functions over raw leaves ---------------------------------------------------


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of raw leaves; the empty tree hashes to SHA-256("")."""
    return MerkleTree(leaves).root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path for leaf `index` in the tree of `leaves` (raises IndexError if out of range)."""
    return MerkleTree(leaves).inclusion_proof(index)


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the first `old_size` leaves are a prefix of `leaves` (raises ValueError if out of range)."""
    return MerkleTree(leaves).consistency_proof(old_size)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: is raw `leaf` at `index` in the tree of `size` leaves with head `root`?"""
    try:
        if not (_is_size(index) and _is_size(size) and index < size and _is_hash(root)):
            return False
        if not isinstance(leaf, bytes | bytearray | memoryview):
            return False
        path = list(proof)
        if not all(_is_hash(p) for p in path):
            return False
        fn, sn = index, size - 1
        r = leaf_hash(leaf)
        for p in path:
            if sn == 0:
                return False  # proof too long
            if fn & 1 or fn == sn:
                r = node_hash(p, r)
                if not fn & 1:
                    while fn and not fn & 1:
                        fn >>= 1
                        sn >>= 1
            else:
                r = node_hash(r, p)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == bytes(root)
    except Exception:  # a verifier answers False, whatever it was handed
        return False


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree (old_size, old_root) a prefix of (new_size, new_root)?

    Edge cases (outside the RFC algorithm, which assumes 0 < old_size < new_size):
    equal sizes verify only with an empty proof and equal roots; old_size 0 verifies only with an
    empty proof and old_root equal to the empty-tree hash SHA-256("").
    """
    try:
        if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
            return False
        if not (_is_hash(old_root) and _is_hash(new_root)):
            return False
        path = list(proof)
        if not all(_is_hash(p) for p in path):
            return False
        old_root, new_root = bytes(old_root), bytes(new_root)
        if old_size == new_size:
            return not path and old_root == new_root
        if old_size == 0:
            return not path and old_root == EMPTY_ROOT
        if not path:
            return False
        if old_size & (old_size - 1) == 0:  # exact power of two: the old root is itself a node
            path.insert(0, old_root)
        fn, sn = old_size - 1, new_size - 1
        while fn & 1:
            fn >>= 1
            sn >>= 1
        fr = sr = bytes(path[0])
        for c in path[1:]:
            if sn == 0:
                return False  # proof too long
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                if not fn & 1:
                    while fn and not fn & 1:
                        fn >>= 1
                        sn >>= 1
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return sn == 0 and fr == old_root and sr == new_root
    except Exception:  # a verifier answers False, whatever it was handed
        return False
