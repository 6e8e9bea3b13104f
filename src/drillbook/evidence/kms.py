"""Evidence signed by an AWS KMS key: the drill host may ask KMS to sign but can never read the key.

With the file key, whoever takes the drill host (or a copy of its state folder) can sign a forged
history in drillbook's name for ever. With ``evidence: {signer: {kms_key_id: ...}}`` the private
key stays in KMS: a stolen host can sign only while it still holds credentials allowed
``kms:Sign``, and every such signature is in CloudTrail. The signer has the file key's face
(key id, type, fingerprint, public PEM, ``sign``), so the ledger, attestations and exports do not
care which one signs; the verifier needs only the public key either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from drillbook.backends import aws
from drillbook.errors import CannotRun
from drillbook.evidence.signer import EvidenceSigner
from drillbook.evidence.verify import key_type
from drillbook.spec.models import SignerSettings


@dataclass(frozen=True)
class KmsSigner(EvidenceSigner):
    key: aws.KmsKey
    public_key: Any  # the cryptography public key KMS reported

    @property
    def public(self) -> Any:
        return self.public_key

    @property
    def described(self) -> str:
        return f"AWS KMS key {self.key.arn}"

    def sign_bytes(self, message: bytes) -> bytes:
        try:
            return aws.kms_sign(self.key, message)
        except aws.AwsError as exc:
            raise CannotRun(f"cannot sign the evidence: {exc}") from None


def kms_signer(config: SignerSettings) -> KmsSigner:
    """The configured KMS key, checked to be one whose signatures the verifier can check."""
    try:
        key = aws.kms_key(config.kms_key_id, config.region, config.endpoint_url)
    except aws.AwsError as exc:
        raise CannotRun(f"evidence.signer in drillbook.yaml: {exc}") from None
    public = serialization.load_der_public_key(key.public_der)
    try:
        key_type(public)
    except ValueError:
        raise CannotRun(f"evidence.signer in drillbook.yaml: KMS key {config.kms_key_id} reported a public key "
                        "that is not ed25519 or ECDSA P-256") from None
    return KmsSigner(key, public)
