"""RFC 6962 / RFC 9162 Merkle trees over SHA-256: the hub's tamper evidence.

The encrypted event log and the audit ledger are append-only. Hashing their records into a
Merkle tree lets the hub publish a small checkpoint (tree size and root) that partner
witnesses keep. Later the hub can prove, without revealing or re-sending any record, that a
record is in the tree a witness holds (inclusion proof) and that a newer tree extends an older
one without rewriting history (consistency proof). Rewriting any past record changes every
later root, so a witness holding an old checkpoint detects it.

The hashing is exactly RFC 6962 §2.1 (domain-separated leaves and nodes, so a leaf can never
be passed off as an interior node), so checkpoints can be checked with any Certificate
Transparency tooling. Everything here is pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "inclusion_proofs",
    "leaf_hash",
    "node_hash",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree (RFC 6962 §2.1: MTH({}) = SHA-256())."""


class ProofError(ValueError):
    """A proof or tree state was asked for with arguments that cannot describe one."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the 0x00 prefix stops a leaf posing as an interior node."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes (a SHA-256 digest)")


class Frontier:
    """The compact state of an append-only tree: enough to extend it and compute its root.

    It holds the roots of the perfect subtrees the leaves so far decompose into, largest
    first (one per set bit of the size), so the hub can keep its current checkpoint without
    keeping or re-reading every record hash. Appending is O(1) amortised (O(log n) worst
    case) and `root()` is O(log n).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int, hashes: Sequence[bytes]) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ProofError("frontier size must be a non-negative integer")
        if len(hashes) != size.bit_count():
            raise ProofError(
                f"a frontier of size {size} holds {size.bit_count()} subtree roots,"
                f" not {len(hashes)}"
            )
        for position, value in enumerate(hashes):
            _check_hash(value, f"frontier hash {position}")
        self._size = size
        self._hashes = list(hashes)

    @classmethod
    def empty(cls) -> Frontier:
        return cls(0, [])

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect-subtree roots, largest (leftmost) first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one already-hashed leaf, merging equal-sized subtrees as a binary counter."""
        _check_hash(leaf_hash, "leaf hash")
        merged, size = leaf_hash, self._size
        while size & 1:
            merged = node_hash(self._hashes.pop(), merged)
            size >>= 1
        self._hashes.append(merged)
        self._size += 1

    def extend(self, hashes: Iterable[bytes]) -> None:
        for value in hashes:
            self.append(value)

    def root(self) -> bytes:
        """The Merkle tree hash of the leaves so far: fold the subtree roots right to left."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for value in reversed(self._hashes[:-1]):
            result = node_hash(value, result)
        return result

    def to_json(self) -> dict[str, object]:
        """A JSON-ready form ({"size": n, "hashes": [hex, ...]}) for persisting the state."""
        return {"size": self._size, "hashes": [value.hex() for value in self._hashes]}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Frontier:
        """Rebuild a frontier from `to_json` output; anything malformed raises ProofError."""
        size, hashes = data.get("size"), data.get("hashes")
        if not isinstance(size, int) or isinstance(size, bool):
            raise ProofError("frontier JSON needs an integer 'size'")
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise ProofError("frontier JSON needs 'hashes', a list of hex strings")
        try:
            decoded = [bytes.fromhex(value) for value in hashes]
        except ValueError as error:
            raise ProofError(f"frontier JSON has a hash that is not hex: {error}") from None
        return cls(size, decoded)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"


def _check_leaves(leaf_hashes: Sequence[bytes], *, numbered: bool) -> None:
    if not all(isinstance(value, bytes) and len(value) == HASH_SIZE for value in leaf_hashes):
        for position, value in enumerate(leaf_hashes):
            _check_hash(value, f"leaf hash {position}" if numbered else "leaf hash")


def _parents(level: Sequence[bytes]) -> list[bytes]:
    """The level above: neighbours paired (0x01 || left || right), an unpaired last node
    carried up unchanged. One list comprehension over hashlib, no per-node Python calls."""
    sha256 = hashlib.sha256
    parents = [
        sha256(b"\x01" + left + right).digest()
        for left, right in zip(level[0::2], level[1::2], strict=False)
    ]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of already-hashed leaves, in linear time.

    Level by level (pairing neighbours and carrying an unpaired last node up unchanged builds
    exactly the RFC 6962 tree, see `_levels`), which hashes as the frontier does but without
    a Python call per node: verifying a store hashes every leaf of its tree.
    """
    _check_leaves(leaf_hashes, numbered=False)
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        level = _parents(level)
    return level[0]


def _levels(leaf_hashes: Sequence[bytes], size: int) -> list[list[bytes]]:
    """Every level of the tree over the first `size` leaves, leaves first, root last.

    Pairing neighbours and carrying an unpaired last node up unchanged builds exactly the
    RFC 6962 tree (left subtree = largest power of two below n), in O(n) time.
    """
    level = list(leaf_hashes[:size])
    _check_leaves(level, numbered=True)
    levels = [level]
    while len(level) > 1:
        level = _parents(level)
        levels.append(level)
    return levels


def _path_up(levels: list[list[bytes]], height: int, index: int) -> list[bytes]:
    """Siblings of node `index` at level `height` on its way to the root, lowest first."""
    path = []
    for level in levels[height:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index >>= 1
    return path


def _resolve_size(leaf_hashes: Sequence[bytes], size: int | None, what: str) -> int:
    if size is None:
        return len(leaf_hashes)
    if not 0 <= size <= len(leaf_hashes):
        raise ProofError(f"{what} {size} is outside 0..{len(leaf_hashes)} (the leaves given)")
    return size


def inclusion_proof(
    leaf_hashes: Sequence[bytes], index: int, size: int | None = None
) -> list[bytes]:
    """The audit path PATH(m, D[n]) of RFC 6962 §2.1.1 for leaf `index` in the first `size`."""
    size = _resolve_size(leaf_hashes, size, "tree size")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    return _path_up(_levels(leaf_hashes, size), 0, index)


def inclusion_proofs(
    leaf_hashes: Sequence[bytes], indices: Sequence[int], size: int | None = None
) -> list[list[bytes]]:
    """`inclusion_proof` for many leaves of one tree, building the tree once: O(n + k log n)
    for k proofs rather than O(k n) (a transfer proves a thousand rows of a large log)."""
    size = _resolve_size(leaf_hashes, size, "tree size")
    for index in indices:
        if not 0 <= index < size:
            raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    if not indices:
        return []
    levels = _levels(leaf_hashes, size)
    return [_path_up(levels, 0, index) for index in indices]


def consistency_proof(
    leaf_hashes: Sequence[bytes], old_size: int, new_size: int | None = None
) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2: shows the tree of `new_size` extends `old_size`.

    The proof is empty when old_size is 0 or equals new_size (nothing to show).
    """
    new_size = _resolve_size(leaf_hashes, new_size, "new size")
    if not 0 <= old_size <= new_size:
        raise ProofError(f"old size {old_size} is not in 0..{new_size} (the new size)")
    if old_size in (0, new_size):
        return []
    levels = _levels(leaf_hashes, new_size)
    # Start from the smallest perfect subtree ending at old_size; its root is omitted when
    # it is the whole old tree (old_size a power of two) because the verifier has it.
    height = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> height
    seed = [levels[height][index]] if index else []
    return seed + _path_up(levels, height, index)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: is `leaf_hash` leaf `index` of the tree of `size` with `root`?

    Needs only the checkpoint and the proof, never the leaves. Malformed input of any kind
    is answered False rather than raised, so a witness can treat it as a failed proof.
    """
    if not (0 <= index < size and _is_hash(leaf_hash) and _is_hash(root)):
        return False
    if not all(_is_hash(p) for p in proof):
        return False
    fn, sn, result = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(p, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does the tree (new_size, new_root) extend (old_size, old_root)?

    This is the check a witness makes before countersigning a newer checkpoint. Equal sizes
    need equal roots and an empty proof; old size 0 needs the empty-tree root and an empty
    proof. Malformed input is answered False, never raised.
    """
    if not (0 <= old_size <= new_size and _is_hash(old_root) and _is_hash(new_root)):
        return False
    if not all(_is_hash(p) for p in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
