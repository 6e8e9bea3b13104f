"""What every evidence signer derives from its public key and its one signing call.

The key file and the KMS key differ only in where the private half is and how a message gets
signed; the key id, fingerprint, type, PEM and the ledger's base64 signature of a digest are
defined once here, from the format in :mod:`verify`.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from typing import Any

from cryptography.hazmat.primitives import serialization

from drillbook.evidence.verify import fingerprint, key_id, key_type


class EvidenceSigner(ABC):
    @property
    @abstractmethod
    def public(self) -> Any:
        """The public key (a ``cryptography`` ed25519 or P-256 key)."""

    @property
    @abstractmethod
    def described(self) -> str:
        """Where the private key is, for messages (never the key)."""

    @abstractmethod
    def sign_bytes(self, message: bytes) -> bytes:
        """The signature of ``message`` (ECDSA: with SHA-256, DER)."""

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    @property
    def key_type(self) -> str:
        return key_type(self.public)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, digest_hex: str) -> str:
        """Signature of the 32-byte digest, base64: what the ledger stores as ``sig``."""
        return base64.b64encode(self.sign_bytes(bytes.fromhex(digest_hex))).decode("ascii")

    def public_pem(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
