"""The Merkle tree over ledger entries agrees with RFC 6962's published test vectors.

The leaves, roots and node hashes below are the Certificate Transparency reference data
(transparency-dev/merkle, testonly/constants.go). A tree no other implementation agrees with
proves nothing to an auditor using their own tools, so these are checked byte for byte.
"""

from __future__ import annotations

import pytest

from drillbook.evidence import merkle
from drillbook.evidence import verify as v

LEAF_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def leaves(n: int) -> list[bytes]:
    return [v.leaf_hash(bytes.fromhex(x)) for x in LEAF_INPUTS[:n]]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_match_rfc6962(size):
    assert merkle.Tree(leaves(size)).root(size).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_and_verify(index, size, path):
    tree = merkle.Tree(leaves(8))
    assert [h.hex() for h in tree.inclusion_proof(index, size)] == path
    proof = [bytes.fromhex(h) for h in path]
    root = bytes.fromhex(ROOTS[size])
    assert v.inclusion_ok(index, size, leaves(8)[index], proof, root)
    assert not v.inclusion_ok(index, size, leaves(8)[(index + 1) % size], proof, root)  # another leaf
    assert not v.inclusion_ok(index, size * 2, leaves(8)[index], proof, root)  # a tree of another depth
    if proof:
        assert not v.inclusion_ok(index, size, leaves(8)[index], proof[:-1], root)  # a shortened path


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_and_verify(old, new, path):
    tree = merkle.Tree(leaves(8))
    assert [h.hex() for h in tree.consistency_proof(old, new)] == path
    proof = [bytes.fromhex(h) for h in path]
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    assert v.consistency_ok(old, new, old_root, new_root, proof)
    assert not v.consistency_ok(old, new, bytes.fromhex(ROOTS[old - 1]), new_root, proof)  # a rewritten past
    if proof:
        assert not v.consistency_ok(old, new, old_root, new_root, proof[1:])


def test_every_proof_of_every_shape_verifies_and_a_changed_leaf_does_not():
    """Sizes 1..40: every leaf's path and every pair of sizes, generated here, verify."""
    data = [v.leaf_hash(bytes([i, i * 7 % 256])) for i in range(40)]
    tree = merkle.Tree(data)
    for size in range(1, 41):
        root = tree.root(size)
        for index in range(size):
            assert v.inclusion_ok(index, size, data[index], tree.inclusion_proof(index, size), root)
        for old in range(1, size + 1):
            assert v.consistency_ok(old, size, tree.root(old), root, tree.consistency_proof(old, size))
    forged = merkle.Tree([*data[:5], v.leaf_hash(b"rewritten"), *data[6:]])
    assert not v.consistency_ok(10, 40, forged.root(10), tree.root(40), tree.consistency_proof(10, 40))
    assert not v.consistency_ok(10, 40, tree.root(10), forged.root(40), forged.consistency_proof(10, 40))
