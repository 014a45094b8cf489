"""The RFC 6962 / RFC 9162 Merkle tree: published vectors, an independent implementation
(pymerkle) and a from-the-RFC recursive reference, plus tampering that must be caught."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree  # type: ignore[import-untyped]

from hub.domain.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# --- Published Certificate Transparency vectors --------------------------------------------
# From github.com/transparency-dev/merkle (the Go library behind Trillian and CT):
#   testonly/constants.go  -- LeafInputs(), NodeHashes(), RootHashes(), CompactTrees()
#   proof/verify_test.go   -- inclusionProofs, consistencyProofs
# They are the vectors of the original certificate-transparency C++ merkle_tree_test.cc.

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
H = bytes.fromhex
# NodeHashes(): [level][index], level 0 being the leaf hashes.
NODES = [
    [
        H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        H("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        H("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        H("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        H("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [H("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]
# RootHashes(): indexed by tree size, 0..8.
ROOTS = [
    H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    H("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    H("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    H("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    H("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    H("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# CompactTrees(): the frontier (perfect-subtree roots, largest first) at sizes 0..8.
N = NODES
COMPACT = [
    [],
    [N[0][0]],
    [N[1][0]],
    [N[1][0], N[0][2]],
    [N[2][0]],
    [N[2][0], N[0][4]],
    [N[2][0], N[1][2]],
    [N[2][0], N[1][2], N[0][6]],
    [N[3][0]],
]
# verify_test.go inclusionProofs, written there as 1-based {leaf, size}; here 0-based index.
INCLUSION_VECTORS = [
    (0, 1, []),
    (0, 8, [N[0][1], N[1][1], N[2][1]]),  # 96a296.., 5f083f.., 6b47aa..
    (5, 8, [N[0][4], N[1][3], N[2][0]]),  # bc1a06.., ca854e.., d37ee4..
    (2, 3, [N[1][0]]),  # fac542..
    (1, 5, [N[0][0], N[1][1], N[0][4]]),  # 6e340b.., 5f083f.., bc1a06..
]
# verify_test.go consistencyProofs: {size1, size2, proof}.
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (1, 8, [N[0][1], N[1][1], N[2][1]]),  # 96a296.., 5f083f.., 6b47aa..
    (6, 8, [N[1][2], N[1][3], N[2][0]]),  # 0ebc5d.., ca854e.., d37ee4..
    (2, 5, [N[1][1], N[0][4]]),  # 5f083f.., bc1a06..
    (6, 7, [N[1][2], N[0][6], N[2][0]]),  # 0ebc5d.., b08693.., d37ee4..
]
CT_LEAF_HASHES = [leaf_hash(data) for data in LEAVES]


# --- An independent reference: RFC 6962 §2.1 transcribed recursively, hashlib only ---------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return _sha(b"")
    if len(d) == 1:
        return d[0]
    k = _split(len(d))
    return _sha(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _split(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _split(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def flipped(proof: Sequence[bytes], position: int) -> list[bytes]:
    wrong = list(proof)
    wrong[position] = bytes([wrong[position][0] ^ 0x10]) + wrong[position][1:]
    return wrong


# --- Published vectors ---------------------------------------------------------------------


def test_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"") == _sha(b"\x00") == N[0][0]
    assert node_hash(N[0][0], N[0][1]) == N[1][0]
    assert ROOTS[0] == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_ct_roots(size: int) -> None:
    assert root_of(CT_LEAF_HASHES[:size]) == ROOTS[size]
    frontier = Frontier.empty()
    frontier.extend(CT_LEAF_HASHES[:size])
    assert frontier.root() == ROOTS[size]
    assert list(frontier.hashes) == COMPACT[size]


def test_ct_node_hashes_are_perfect_subtree_roots() -> None:
    for level, nodes in enumerate(NODES):
        width = 1 << level
        for index, expected in enumerate(nodes):
            assert root_of(CT_LEAF_HASHES[index * width : (index + 1) * width]) == expected


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION_VECTORS)
def test_ct_inclusion_proofs(index: int, size: int, expected: list[bytes]) -> None:
    assert inclusion_proof(CT_LEAF_HASHES, index, size) == expected
    assert verify_inclusion(CT_LEAF_HASHES[index], index, size, expected, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_VECTORS)
def test_ct_consistency_proofs(old: int, new: int, expected: list[bytes]) -> None:
    assert consistency_proof(CT_LEAF_HASHES, old, new) == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)


# --- Cross-checks against pymerkle and the recursive reference -----------------------------


def pymerkle_tree(entries: Sequence[bytes]) -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256")  # 0x00/0x01 prefixes on by default (RFC 9162)
    for entry in entries:
        tree.append_entry(entry)
    return tree


def test_roots_match_pymerkle_at_every_size_to_200() -> None:
    entries = [random.Random(size).randbytes(size % 37) for size in range(200)]
    tree = pymerkle_tree(entries)
    hashes = [leaf_hash(entry) for entry in entries]
    frontier = Frontier.empty()
    for size in range(1, 201):
        assert tree.get_leaf(size) == hashes[size - 1]
        frontier.append(hashes[size - 1])
        assert tree.get_root(size) == frontier.root() == root_of(hashes[:size])
        assert Frontier.from_json(frontier.to_json()) == frontier


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(st.binary(max_size=40), min_size=1, max_size=200),
    data=st.data(),
)
def test_proofs_agree_with_pymerkle_and_the_rfc(entries: list[bytes], data: st.DataObject) -> None:
    tree = pymerkle_tree(entries)
    hashes = [leaf_hash(entry) for entry in entries]
    size = data.draw(st.integers(1, len(entries)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size), label="old_size")
    root, old_root = tree.get_root(size), tree.get_root(old)

    path = inclusion_proof(hashes, index, size)
    # pymerkle's path is [the leaf itself, then the RFC 6962 audit path], 1-based index.
    assert path == tree.prove_inclusion(index + 1, size).path[1:]
    assert path == ref_path(index, hashes[:size])
    assert verify_inclusion(hashes[index], index, size, path, root)

    proof = consistency_proof(hashes, old, size)
    # pymerkle 7 proves consistency in its own format (rule/subset bits, old-tree subroots),
    # so its proof is not comparable element by element: check against its roots instead.
    tree.prove_consistency(old, size).verify(old_root, root)
    assert proof == ref_subproof(old, hashes[:size], True)
    assert verify_consistency(old, size, old_root, root, proof)


@pytest.mark.parametrize("size", [*range(1, 18), 31, 32, 33, 63, 64, 65, 100, 127, 128, 129])
def test_every_proof_of_a_size_verifies(size: int) -> None:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    roots = [root_of(hashes[:n]) for n in range(size + 1)]
    for index in range(size):
        path = inclusion_proof(hashes, index, size)
        assert verify_inclusion(hashes[index], index, size, path, roots[size])
    for old in range(size + 1):
        proof = consistency_proof(hashes, old, size)
        assert verify_consistency(old, size, roots[old], roots[size], proof)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 64, 100, 129])
def test_many_proofs_of_one_tree_are_the_single_proofs(size: int) -> None:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(size + 7)]  # more leaves than size
    indices = [size - 1, 0, *range(0, size, 3), size // 2]
    assert inclusion_proofs(hashes, indices, size) == [
        inclusion_proof(hashes, i, size) for i in indices
    ]
    assert inclusion_proofs(hashes, [], size) == []
    with pytest.raises(ProofError):
        inclusion_proofs(hashes, [size], size)


# --- Tampering is caught -------------------------------------------------------------------

HASHES_50 = [leaf_hash(i.to_bytes(2, "big")) for i in range(50)]
ROOTS_50 = [root_of(HASHES_50[:n]) for n in range(51)]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 32, 50])
def test_tampered_inclusion_proofs_fail(size: int) -> None:
    root = ROOTS_50[size]
    for index in range(size):
        leaf, path = HASHES_50[index], inclusion_proof(HASHES_50, index, size)
        for position in range(len(path)):
            assert not verify_inclusion(leaf, index, size, flipped(path, position), root)
        for other in range(-1, size + 1):
            if other != index:
                assert not verify_inclusion(leaf, other, size, path, root)
        assert not verify_inclusion(leaf, index, size * 2, path, root)
        assert not verify_inclusion(leaf, index, size // 2, path, root)
        assert not verify_inclusion(leaf, index, size, path, SOME_HASH)
        assert not verify_inclusion(leaf, index, size, path, EMPTY_ROOT)
        assert not verify_inclusion(SOME_HASH, index, size, path, root)
        assert not verify_inclusion(leaf, index, size, [*path, root], root)
        assert not verify_inclusion(leaf, index, size, [root, *path], root)
        assert not verify_inclusion(leaf, index, size, [*path, b""], root)
        if path:
            assert not verify_inclusion(leaf, index, size, path[:-1], root)
            assert not verify_inclusion(leaf, index, size, [SOME_HASH, *path], root)


def test_inclusion_proofs_do_not_bind_the_size_alone() -> None:
    """Sizes 7 and 8 share leaf 0's path shape: the signed checkpoint must bind size to root."""
    path = inclusion_proof(CT_LEAF_HASHES, 0, 8)
    assert verify_inclusion(CT_LEAF_HASHES[0], 0, 7, path, ROOTS[8])


@pytest.mark.parametrize("new", [2, 3, 5, 8, 13, 32, 50])
def test_tampered_consistency_proofs_fail(new: int) -> None:
    new_root = ROOTS_50[new]
    for old in range(1, new):
        old_root, proof = ROOTS_50[old], consistency_proof(HASHES_50, old, new)
        for position in range(len(proof)):
            assert not verify_consistency(old, new, old_root, new_root, flipped(proof, position))
        for other in range(new + 2):
            if other != old:
                assert not verify_consistency(other, new, old_root, new_root, proof)
        assert not verify_consistency(old, new * 2, old_root, new_root, proof)
        assert not verify_consistency(old, new // 2, old_root, new_root, proof)
        assert not verify_consistency(old, new, SOME_HASH, new_root, proof)
        assert not verify_consistency(old, new, old_root, SOME_HASH, proof)
        assert not verify_consistency(old, new, new_root, old_root, proof)
        assert not verify_consistency(old, new, old_root, new_root, [])
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])
        assert not verify_consistency(old, new, old_root, new_root, [proof[0], *proof])


def test_trivial_consistency_needs_matching_roots_and_no_proof() -> None:
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    assert verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    assert not verify_consistency(0, 5, SOME_HASH, ROOTS[5], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[4], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])
    assert not verify_consistency(5, 4, ROOTS[5], ROOTS[4], [])
    assert not verify_consistency(-1, 4, ROOTS[0], ROOTS[4], [])


def test_verifiers_reject_malformed_hashes_without_raising() -> None:
    assert not verify_inclusion(b"short", 0, 1, [], b"short")
    assert not verify_inclusion(CT_LEAF_HASHES[0], 0, 0, [], EMPTY_ROOT)
    assert not verify_consistency(1, 2, ROOTS[1][:31], ROOTS[2], [N[0][1]])
    assert not verify_consistency(1, 2, ROOTS[1], ROOTS[2], [N[0][1][:31]])


# --- Argument errors and the frontier ------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: inclusion_proof(CT_LEAF_HASHES, 8), "leaf index 8 is not in a tree of size 8"),
        (lambda: inclusion_proof(CT_LEAF_HASHES, -1), "leaf index -1"),
        (lambda: inclusion_proof(CT_LEAF_HASHES, 0, 0), "not in a tree of size 0"),
        (lambda: inclusion_proof(CT_LEAF_HASHES, 0, 9), "tree size 9 is outside 0..8"),
        (lambda: consistency_proof(CT_LEAF_HASHES, 5, 4), "old size 5 is not in 0..4"),
        (lambda: consistency_proof(CT_LEAF_HASHES, -1), "old size -1"),
        (lambda: consistency_proof(CT_LEAF_HASHES, 1, 9), "new size 9 is outside 0..8"),
        (lambda: root_of([b"short"]), "leaf hash must be 32 bytes"),
        (lambda: inclusion_proof([b"short"], 0), "leaf hash 0 must be 32 bytes"),
        (lambda: Frontier(3, [N[0][0]]), "holds 2 subtree roots, not 1"),
        (lambda: Frontier(-1, []), "non-negative"),
        (lambda: Frontier.from_json({"size": 1, "hashes": ["zz"]}), "not hex"),
        (lambda: Frontier.from_json({"size": "1", "hashes": []}), "integer 'size'"),
        (lambda: Frontier.from_json({"size": 1}), "list of hex strings"),
        (lambda: Frontier.from_json({"size": 1, "hashes": ["00"]}), "must be 32 bytes"),
    ],
)
def test_invalid_arguments_raise_proof_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ProofError, match=message):
        call()
    assert issubclass(ProofError, ValueError)


def test_empty_and_trivial_proofs() -> None:
    assert root_of([]) == EMPTY_ROOT == Frontier.empty().root()
    assert consistency_proof(CT_LEAF_HASHES, 0) == []
    assert consistency_proof(CT_LEAF_HASHES, 8) == []
    assert inclusion_proof(CT_LEAF_HASHES[:1], 0) == []


def test_frontier_round_trips_through_json_at_every_size() -> None:
    frontier, hashes = Frontier.empty(), [leaf_hash(bytes([i])) for i in range(130)]
    for size in range(130):
        restored = Frontier.from_json(frontier.to_json())
        assert restored == frontier
        assert restored.size == size
        assert restored.root() == root_of(hashes[:size])
        frontier.append(hashes[size])
    assert frontier.to_json()["size"] == 130
    assert "size=130" in repr(frontier)


def test_a_restored_frontier_keeps_growing_like_the_original() -> None:
    frontier = Frontier.empty()
    frontier.extend(CT_LEAF_HASHES[:5])
    restored = Frontier.from_json(frontier.to_json())
    restored.extend(CT_LEAF_HASHES[5:])
    assert restored.root() == ROOTS[8]
    assert restored.to_json() == {"size": 8, "hashes": [ROOTS[8].hex()]}
