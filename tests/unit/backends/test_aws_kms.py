"""Evidence signing through KMS: which calls are made, and what is refused before any signing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drillbook.backends import aws

P256 = aws.KmsKey("alias/drillbook-evidence", "arn:aws:kms:us-east-1:1:key/k", "ECC_NIST_P256", b"der", None, None)
ED25519 = aws.KmsKey("alias/drillbook-ed", "arn:aws:kms:us-east-1:1:key/e", "ECC_NIST_EDWARDS25519", b"der",
                     None, None)


class FakeKms:
    def __init__(self, public: dict[str, Any] | None = None, error: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.public = public or {}
        self.error = error
        self.meta = type("Meta", (), {"endpoint_url": "https://kms.example"})()

    def sign(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"Signature": b"signature"}

    def get_public_key(self, **kwargs: Any) -> dict[str, Any]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "GetPublicKey")
        return self.public


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> FakeKms:
    fake = FakeKms()
    monkeypatch.setattr(aws, "_kms_client", lambda region, endpoint: fake)
    return fake


def test_a_short_message_is_signed_whole_with_the_keys_algorithm(kms: FakeKms) -> None:
    assert aws.kms_sign(P256, b"x" * 32) == b"signature"
    assert kms.calls == [{"KeyId": P256.arn, "Message": b"x" * 32, "MessageType": "RAW",
                          "SigningAlgorithm": "ECDSA_SHA_256"}]
    aws.kms_sign(ED25519, b"y" * 100)
    assert kms.calls[-1]["SigningAlgorithm"] == "ED25519_SHA_512" and kms.calls[-1]["MessageType"] == "RAW"


def test_a_long_message_goes_to_kms_as_its_sha256_digest_for_the_same_ecdsa_signature(kms: FakeKms) -> None:
    """KMS takes 4096 bytes whole; an attestation of a big run folder is longer."""
    message = b"m" * 5000
    aws.kms_sign(P256, message)
    assert kms.calls == [{"KeyId": P256.arn, "Message": hashlib.sha256(message).digest(), "MessageType": "DIGEST",
                          "SigningAlgorithm": "ECDSA_SHA_256"}]


def test_a_long_message_for_an_ed25519_kms_key_is_refused_naming_the_fix(kms: FakeKms) -> None:
    with pytest.raises(aws.AwsError, match="use an ECC_NIST_P256 key"):
        aws.kms_sign(ED25519, b"m" * 5000)
    assert kms.calls == []


@pytest.mark.parametrize("public", [
    {"KeyUsage": "SIGN_VERIFY", "KeySpec": "RSA_2048", "PublicKey": b"der"},
    {"KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT"},
], ids=["rsa", "symmetric"])
def test_a_key_the_verifier_could_not_check_is_refused(monkeypatch: pytest.MonkeyPatch, public: dict) -> None:
    monkeypatch.setattr(aws, "_kms_client", lambda region, endpoint: FakeKms(public))
    with pytest.raises(aws.AwsError, match="ECC_NIST_P256 or ECC_NIST_EDWARDS25519"):
        aws.kms_key("alias/drillbook-evidence")


@pytest.mark.parametrize(("code", "says"), [("NotFoundException", "not found at https://kms.example"),
                                            ("AccessDeniedException", "kms:GetPublicKey and kms:Sign")])
def test_a_missing_or_denied_key_says_what_to_check(monkeypatch: pytest.MonkeyPatch, code: str, says: str) -> None:
    monkeypatch.setattr(aws, "_kms_client", lambda region, endpoint: FakeKms(error=code))
    with pytest.raises(aws.AwsError, match=says):
        aws.kms_key("alias/drillbook-evidence")
