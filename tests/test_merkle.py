"""RFC 6962 / RFC 9162 Merkle trees: reference roots, inclusion and consistency proofs, tampering."""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import pytest

from receipts.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parent / "data" / "rfc6962.json"  # RFC 6962 reference vectors, carried by the repository


def _vectors() -> dict:
    if not VECTORS.is_file():
        pytest.fail(f"RFC 6962 reference vectors not found at {VECTORS}")
    return json.loads(VECTORS.read_text())


@pytest.fixture(scope="module")
def vectors() -> dict:
    return _vectors()


@pytest.fixture(scope="module")
def leaves(vectors: dict) -> list[bytes]:
    return [bytes.fromhex(h) for h in vectors["leaves_hex"]]


# -- a naive transcription of the RFC 9162 definitions, to compare against --------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(d)) else ref_subproof(m, d, True)


# The verifiers see only hashes, so a proof also verifies for another tree size when the RFC recursion
# gives that size the very same shape (e.g. leaf 0 of 3 leaves and of 4: [leaf 1, MTH(D[2:])]).
# Binding the size to the root is the signed checkpoint's job. These shapes (sibling on the Left or
# Right, from the RFC definitions) say exactly when a tampered size must fail.


def ref_path_shape(m: int, n: int) -> list[str]:
    if n == 1:
        return []
    k = _k(n)
    return ref_path_shape(m, k) + ["R"] if m < k else ref_path_shape(m - k, n - k) + ["L"]


def ref_proof_shape(m: int, n: int, b: bool = True) -> list[str]:
    if m == n:
        return [] if b else ["old subtree"]
    k = _k(n)
    return ref_proof_shape(m, k, b) + ["R"] if m <= k else ref_proof_shape(m - k, n - k, False) + ["L"]


def _flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


# -- hashing and roots ------------------------------------------------------------------------


def test_hash_primitives() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_roots_match_reference_vectors(vectors: dict, leaves: list[bytes]) -> None:
    assert set(vectors["roots_hex"]) >= {str(n) for n in range(len(leaves) + 1)}
    for n, expected in vectors["roots_hex"].items():
        n = int(n)
        assert root_hash(leaves[:n]).hex() == expected, f"root of the first {n} leaves"
        assert ref_mth(leaves[:n]).hex() == expected  # the test's own reference agrees too
    tree = MerkleTree(leaves)
    for n, expected in vectors["roots_hex"].items():
        assert tree.root(int(n)).hex() == expected


def test_empty_tree() -> None:
    assert root_hash([]) == EMPTY_ROOT
    assert MerkleTree().root() == EMPTY_ROOT
    assert MerkleTree().size == 0
    with pytest.raises(IndexError):
        inclusion_proof([], 0)
    assert consistency_proof([], 0) == []
    assert not verify_inclusion(b"", 0, 0, [], EMPTY_ROOT)


# -- inclusion --------------------------------------------------------------------------------


def test_inclusion_every_index_of_small_trees(leaves: list[bytes]) -> None:
    for n in range(1, 9):
        d = leaves[:n]
        root = root_hash(d)
        for i in range(n):
            proof = inclusion_proof(d, i)
            assert proof == ref_path(i, d), (n, i)
            assert verify_inclusion(d[i], i, n, proof, root), (n, i)
            # tampered leaf, index, size, root
            assert not verify_inclusion(d[i] + b"x", i, n, proof, root)
            for j in range(n + 2):
                if j != i:
                    assert not verify_inclusion(d[i], j, n, proof, root), (n, i, j)
            for other in range(0, 12):
                if other != n:
                    same_shape = i < other and ref_path_shape(i, other) == ref_path_shape(i, n)
                    assert verify_inclusion(d[i], i, other, proof, root) is same_shape, (n, i, other)
            assert not verify_inclusion(d[i], i, n, proof, _flip(root))
            # tampered proof: every element, every bit position we try; too long, too short, reordered
            for p in range(len(proof)):
                for bit in (0, 7):
                    bad = list(proof)
                    bad[p] = _flip(bad[p], bit)
                    assert not verify_inclusion(d[i], i, n, bad, root), (n, i, p)
            assert not verify_inclusion(d[i], i, n, proof + [root], root)
            assert not verify_inclusion(d[i], i, n, proof + [b"\x00" * 32], root)
            if proof:
                assert not verify_inclusion(d[i], i, n, proof[:-1], root)
                assert not verify_inclusion(d[i], i, n, proof[1:], root)
            if len(proof) > 1 and proof[0] != proof[1]:
                assert not verify_inclusion(d[i], i, n, [proof[1], proof[0], *proof[2:]], root)


def test_inclusion_rejects_malformed_input_without_raising(leaves: list[bytes]) -> None:
    d = leaves[:5]
    root = root_hash(d)
    proof = inclusion_proof(d, 2)
    assert verify_inclusion(d[2], 2, 5, proof, root)
    for args in [
        (d[2], -1, 5, proof, root),
        (d[2], 5, 5, proof, root),
        (d[2], 2, -5, proof, root),
        (d[2], 2, 5, proof, root[:31]),
        (d[2], 2, 5, [p[:31] for p in proof], root),
        (d[2], 2, 5, [*proof[:-1], "x" * 32], root),
        (d[2], 2, 5, None, root),
        (d[2], 2, 5, proof, None),
        (None, 2, 5, proof, root),
        ("text", 2, 5, proof, root),
        (d[2], "2", 5, proof, root),
        (d[2], 2.0, 5, proof, root),
        (d[2], True, 5, proof, root),
    ]:
        assert verify_inclusion(*args) is False, args


def test_a_proof_does_not_bind_the_tree_size_when_the_shapes_agree(leaves: list[bytes]) -> None:
    d = leaves[:3]
    proof = inclusion_proof(d, 0)
    assert ref_path_shape(0, 3) == ref_path_shape(0, 4) == ["R", "R"]
    assert verify_inclusion(d[0], 0, 4, proof, root_hash(d))  # inherent to RFC 9162: the checkpoint binds size and root
    assert not verify_inclusion(d[0], 0, 5, proof, root_hash(d))


def test_inclusion_single_leaf_tree() -> None:
    root = root_hash([b"only"])
    assert root == leaf_hash(b"only")
    assert inclusion_proof([b"only"], 0) == []
    assert verify_inclusion(b"only", 0, 1, [], root)
    assert not verify_inclusion(b"only", 0, 1, [root], root)
    assert not verify_inclusion(b"only", 1, 1, [], root)


# -- consistency ------------------------------------------------------------------------------


def _check_consistency(d: list[bytes], m: int) -> None:
    n = len(d)
    old, new = root_hash(d[:m]), root_hash(d)
    proof = consistency_proof(d, m)
    assert proof == ref_proof(m, d), (m, n)
    assert verify_consistency(m, n, old, new, proof), (m, n)
    assert not verify_consistency(m, n, _flip(old), new, proof), (m, n)
    assert not verify_consistency(m, n, old, _flip(new), proof), (m, n)
    for p in range(len(proof)):
        bad = list(proof)
        bad[p] = _flip(bad[p])
        assert not verify_consistency(m, n, old, new, bad), (m, n, p)
    if m < n:
        assert not verify_consistency(m, n, old, new, proof + [new]), (m, n)
        assert not verify_consistency(m, n, old, new, proof[:-1]), (m, n)
        assert not verify_consistency(m, n, old, new, proof[1:]), (m, n)
        assert not verify_consistency(m, n, old, new, []), (m, n)
        assert not verify_consistency(n, m, new, old, proof), (m, n)
        for other in range(max(m - 3, 0), n + 1):
            if other != m:
                same_shape = 0 < other < n and ref_proof_shape(other, n) == ref_proof_shape(m, n)
                assert verify_consistency(other, n, old, new, proof) is same_shape, (m, n, other)
        for other in {m, m + 1, n - 1, n + 1, n + 2, n * 2}:
            if other != n:
                same_shape = other > m and ref_proof_shape(m, other) == ref_proof_shape(m, n)
                assert verify_consistency(m, other, old, new, proof) is same_shape, (m, n, other)
    else:
        assert proof == []
        assert not verify_consistency(m, n, old, new, [old]), (m, n)


def test_consistency_all_small_trees(leaves: list[bytes]) -> None:
    for n in range(1, 9):
        for m in range(1, n + 1):
            _check_consistency(leaves[:n], m)


def test_consistency_random_larger_trees() -> None:
    rng = random.Random(6962)
    d = [i.to_bytes(2, "big") + rng.randbytes(rng.randrange(0, 40)) for i in range(200)]
    tree = MerkleTree(d)
    for _ in range(60):
        n = rng.randrange(1, 201)
        m = rng.randrange(1, n + 1)
        _check_consistency(d[:n], m)
        assert tree.consistency_proof(m, n) == ref_proof(m, d[:n])


def test_consistency_edge_cases(leaves: list[bytes]) -> None:
    d = leaves[:6]
    root = root_hash(d)
    assert consistency_proof(d, 0) == []
    assert consistency_proof(d, 6) == []
    assert verify_consistency(0, 6, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 6, root, root, [])  # old root must be the empty-tree hash
    assert not verify_consistency(0, 6, EMPTY_ROOT, root, [root])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(6, 6, root, root, [])
    assert not verify_consistency(6, 6, root, _flip(root), [])
    assert not verify_consistency(6, 6, root, root, [root])
    with pytest.raises(ValueError):
        consistency_proof(d, 7)
    with pytest.raises(ValueError):
        consistency_proof(d, -1)
    proof = consistency_proof(d, 3)
    old = root_hash(d[:3])
    for args in [
        (-1, 6, old, root, proof),
        (3, -6, old, root, proof),
        (7, 6, old, root, proof),
        (3, 6, old[:16], root, proof),
        (3, 6, old, None, proof),
        (3, 6, old, root, None),
        (3, 6, old, root, [b"short"]),
        ("3", 6, old, root, proof),
        (3, 6.0, old, root, proof),
    ]:
        assert verify_consistency(*args) is False, args


# -- MerkleTree agrees with the functions; properties over random trees -----------------------


def test_tree_agrees_with_functions_as_it_grows() -> None:
    rng = random.Random(9162)
    d: list[bytes] = []
    tree = MerkleTree()
    for n in range(1, 70):
        leaf = rng.randbytes(rng.randrange(0, 24))
        d.append(leaf)
        assert tree.append(leaf) == n - 1
        assert tree.size == len(tree) == n
        assert tree.root() == root_hash(d) == ref_mth(d)
        for m in range(n + 1):
            assert tree.root(m) == ref_mth(d[:m])
        i = rng.randrange(n)
        assert tree.inclusion_proof(i) == inclusion_proof(d, i)
        m = rng.randrange(n + 1)
        assert tree.consistency_proof(m) == consistency_proof(d, m)
    other = MerkleTree.from_leaf_hashes(leaf_hash(x) for x in d)
    assert other.root() == tree.root()
    assert other.leaf_hash_at(3) == leaf_hash(d[3])


def test_tree_rejects_bad_sizes() -> None:
    tree = MerkleTree([b"a", b"b", b"c"])
    with pytest.raises(ValueError):
        tree.root(4)
    with pytest.raises(ValueError):
        tree.root(-1)
    with pytest.raises(IndexError):
        tree.inclusion_proof(3)
    with pytest.raises(IndexError):
        tree.inclusion_proof(2, size=2)
    with pytest.raises(ValueError):
        tree.consistency_proof(3, 2)
    with pytest.raises(ValueError):
        tree.append_leaf_hash(b"too short")


def test_property_random_trees_against_reference() -> None:
    rng = random.Random(20260101)
    for _ in range(25):
        n = rng.randrange(1, 301)
        d = [i.to_bytes(2, "big") + rng.randbytes(rng.randrange(0, 16)) for i in range(n)]  # distinct leaves
        tree = MerkleTree(d)
        root = tree.root()
        assert root == ref_mth(d)
        for _ in range(6):
            size = rng.randrange(1, n + 1)
            i = rng.randrange(size)
            proof = tree.inclusion_proof(i, size)
            assert proof == ref_path(i, d[:size])
            sub_root = tree.root(size)
            assert verify_inclusion(d[i], i, size, proof, sub_root)
            assert not verify_inclusion(d[i], (i + 1) % size if size > 1 else i + 1, size, proof, sub_root)
            m = rng.randrange(0, size + 1)
            cproof = tree.consistency_proof(m, size)
            assert cproof == ref_proof(m, d[:size])
            assert verify_consistency(m, size, tree.root(m), sub_root, cproof)
            if 0 < m < size:
                assert not verify_consistency(m, size, tree.root(m), root if size != n else _flip(root), cproof)


def test_large_log_is_fast() -> None:
    start = time.perf_counter()
    tree = MerkleTree(i.to_bytes(8, "big") for i in range(100_000))
    root = tree.root()
    rng = random.Random(1)
    for _ in range(1_000):
        i = rng.randrange(100_000)
        assert verify_inclusion(i.to_bytes(8, "big"), i, 100_000, tree.inclusion_proof(i), root)
    for _ in range(100):
        m = rng.randrange(1, 100_000)
        assert verify_consistency(m, 100_000, tree.root(m), root, tree.consistency_proof(m))
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"100k leaves + 1000 inclusion proofs took {elapsed:.2f}s"
