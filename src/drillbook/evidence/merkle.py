"""Building the ledger's Merkle tree and its proofs (RFC 6962 section 2.1), for exports.

Only the writer needs this: the hashes and the proof checks live in ``verify.py`` (the one
definition of the format, shipped to auditors), which also checks what this module produces.
Subtree roots are cached, so one proof per exported entry costs O(log n) hashes after the first.
"""

from __future__ import annotations

import hashlib
from typing import Any

from drillbook.evidence.verify import entry_leaf, node_hash

EMPTY_ROOT = hashlib.sha256(b"").digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): where RFC 6962 cuts a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """The tree over leaf hashes; every method takes the tree size, so one Tree serves every head."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self._roots: dict[tuple[int, int], bytes] = {}

    @classmethod
    def of_entries(cls, entries: list[dict[str, Any]]) -> Tree:
        return cls([entry_leaf(e) for e in entries])

    def _check(self, size: int) -> None:
        if not 0 <= size <= len(self.leaves):
            raise ValueError(f"tree size {size} outside 0..{len(self.leaves)}")

    def root(self, size: int | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        self._check(size)
        return self._mth(0, size) if size else EMPTY_ROOT

    def _mth(self, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return self.leaves[lo]
        cached = self._roots.get((lo, hi))
        if cached is None:
            k = split(hi - lo)
            cached = self._roots[(lo, hi)] = node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))
        return cached

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        return self._path(index, 0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = split(hi - lo)
        if m < k:
            return [*self._path(m, lo, lo + k), self._mth(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self._mth(lo, lo + k)]

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        self._check(new)
        if not 0 < old <= new:
            raise ValueError(f"no consistency proof from size {old} to {new}")
        return self._subproof(old, 0, new, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        if m == hi - lo:
            return [] if whole else [self._mth(lo, hi)]
        k = split(hi - lo)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self._mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._mth(lo, lo + k)]
