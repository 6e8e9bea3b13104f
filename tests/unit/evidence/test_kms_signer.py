"""drillbook.yaml's evidence.signer: a KMS key signs the ledger and attestations, the file key is
never made, and whoever verifies needs only the ECDSA P-256 public key (KMS is faked at the AWS
module's seam with a local key: the moto-backed run is in tests/integration/test_evidence_kms.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from drillbook.backends import aws
from drillbook.cli.app import cli
from drillbook.errors import BadInput, CannotRun
from drillbook.evidence import attestation, ledger, notes, signing, upload
from drillbook.evidence import verify as v
from drillbook.settings import Settings
from drillbook.spec.models import ProjectConfig
from tests.unit.evidence.ledgers import fake_run, make_settings

SIGNER_ONLY = {"evidence": {"signer": {"kms_key_id": "alias/drillbook-evidence"}}}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    settings = make_settings(tmp_path)
    settings.drills_dir.mkdir(parents=True)
    return settings


@pytest.fixture
def hsm(monkeypatch: pytest.MonkeyPatch) -> ec.EllipticCurvePrivateKey:
    """KMS as drillbook's AWS module answers it: the private half stays in here."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)

    def kms_key(key_id: str, region: str | None = None, endpoint_url: str | None = None) -> aws.KmsKey:
        return aws.KmsKey(key_id, f"arn:aws:kms:eu-west-1:1:key/{key_id}", "ECC_NIST_P256", der, region, endpoint_url)

    monkeypatch.setattr(aws, "kms_key", kms_key)
    monkeypatch.setattr(aws, "kms_sign", lambda key, message: private.sign(message, ec.ECDSA(hashes.SHA256())))
    return private


def test_a_project_may_name_only_a_signer_and_then_uploads_nothing() -> None:
    project = ProjectConfig.model_validate(SIGNER_ONLY)
    assert project.evidence is not None and project.evidence.signer is not None
    assert project.evidence.signer.kms_key_id == "alias/drillbook-evidence"
    assert upload.target_for(None, project) is None


def test_the_kms_key_signs_when_drillbook_yaml_names_it_and_no_key_file_is_made(settings, hsm) -> None:
    (settings.drills_dir / "drillbook.yaml").write_text(yaml.safe_dump(SIGNER_ONLY))
    folder = fake_run(settings.reports_dir, "portal", "20261102T030000Z-000001")
    entry = ledger.seal(folder, settings)
    assert entry is not None and entry["key_type"] == "ecdsa-p256"
    assert not signing.key_path(settings).exists()
    published = v.published_keys(settings.reports_dir)
    assert list(published) == [entry["key_id"]] and v.key_type(published[entry["key_id"]]) == "ecdsa-p256"
    result = v.verify_folder(settings.reports_dir)
    assert result.ok, result.problems
    assert result.key_types == {entry["key_id"]: "ecdsa-p256"} and result.attested == 1


def test_securesystemslib_accepts_the_kms_signed_attestation_with_the_public_key_alone(settings, hsm) -> None:
    project = ProjectConfig.model_validate(SIGNER_ONLY)
    folder = fake_run(settings.reports_dir, "portal", "20261102T030000Z-000001")
    ledger.seal(folder, settings, project)
    public = serialization.load_pem_public_key(
        (ledger.evidence_dir(settings.reports_dir) / v.PUBLIC_KEY_FILE).read_bytes())
    envelope = Envelope.from_dict(json.loads((folder / attestation.ATTESTATION_FILE).read_text()))
    assert list(envelope.verify([SSlibKey.from_crypto(public, keyid=v.key_id(public))], 1)) == [v.key_id(public)]
    assert json.loads(envelope.payload)["predicate"]["signer"]["keyType"] == "ecdsa-p256"


def test_a_note_signed_by_the_kms_key_says_so_and_verifies(settings, hsm) -> None:
    (settings.drills_dir / "drillbook.yaml").write_text(yaml.safe_dump(SIGNER_ONLY))
    ledger.seal(fake_run(settings.reports_dir, "portal", "20261102T030000Z-000001"), settings)
    note = notes.add(settings, "20261102T030000Z-000001", "A. Jones", "review", "Checked the restored letters.")
    assert note["key_type"] == "ecdsa-p256"
    result = v.verify_folder(settings.reports_dir)
    assert result.ok, result.problems
    assert result.notes == 1


def test_a_wrong_ecdsa_key_is_refused(settings, hsm) -> None:
    ledger.seal(fake_run(settings.reports_dir, "portal", "20261102T030000Z-000001"), settings,
                ProjectConfig.model_validate(SIGNER_ONLY))
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    problems = v.verify_folder(settings.reports_dir, pinned_keys=[other]).problems
    assert [p.code for p in problems] == ["wrong-key"]


def test_a_drillbook_yaml_that_cannot_be_read_signs_nothing_rather_than_with_another_key(settings) -> None:
    (settings.drills_dir / "drillbook.yaml").write_text("evidence: {signer: {kms_key: alias/typo}}\n")
    with pytest.raises(BadInput, match=r"cannot tell which key signs the evidence: .*kms_key"):
        signing.load_signer(settings)
    assert not signing.key_path(settings).exists()


def test_a_kms_key_that_cannot_be_reached_names_the_setting(settings, monkeypatch) -> None:
    def unreachable(*args: object) -> aws.KmsKey:
        raise aws.AwsError("endpoint https://kms.example unreachable")

    monkeypatch.setattr(aws, "kms_key", unreachable)
    with pytest.raises(CannotRun, match=r"evidence\.signer in drillbook\.yaml: endpoint"):
        signing.load_signer(settings, project=ProjectConfig.model_validate(SIGNER_ONLY))


def test_the_default_key_file_is_made_with_a_visible_message_naming_it_once(settings, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="drillbook.evidence")
    path = signing.load_signer(settings).source
    made = [r.getMessage() for r in caplog.records if "generated a new evidence signing key" in r.getMessage()]
    assert made == [f"generated a new evidence signing key at {path} (keep it secret, back it up)"]
    caplog.clear()
    signing.load_signer(settings)
    assert not caplog.records


def test_after_rotating_from_the_key_file_to_kms_an_auditor_verifies_with_both_keys(settings, hsm,
                                                                                   tmp_path) -> None:
    """Entries keep the key that signed them: verifying the whole ledger takes every key given."""
    old, new = tmp_path / "file-key.pem", tmp_path / "kms-key.pem"
    ledger.seal(fake_run(settings.reports_dir, "portal", "20261101T030000Z-000001"), settings)
    old.write_bytes(signing.load_signer(settings).public_pem())
    (settings.drills_dir / "drillbook.yaml").write_text(yaml.safe_dump(SIGNER_ONLY))
    rotated = fake_run(settings.reports_dir, "portal", "20261102T030000Z-000002")
    ledger.seal(rotated, settings)
    new.write_bytes(signing.load_signer(settings).public_pem())
    reports = str(settings.reports_dir)

    assert v.main([reports, "--key", str(old), "--key", str(new)]) == 0
    assert v.main([reports, "--key", str(old)]) == 1  # the KMS key's entries are not the auditor's
    assert v.main([reports, "--key", str(new)]) == 1
    assert v.main(["--attestation", str(rotated), "--key", str(old), "--key", str(new)]) == 0
    args = ["--drills", str(settings.drills_dir), "--reports", reports, "--state", str(settings.state_dir),
            "--runbooks", str(settings.runbooks_dir), "evidence", "verify"]
    both = CliRunner().invoke(cli, [*args, "--key", str(old), "--key", str(new)])
    assert both.exit_code == 0, both.output
    for pem, kind in ((old, "ed25519"), (new, "ecdsa-p256")):
        assert f"key:      {kind} {v.key_id(serialization.load_pem_public_key(pem.read_bytes()))}" in both.output
    assert both.output.count("pinned with --key") == 2
    only_old = [serialization.load_pem_public_key(old.read_bytes())]
    assert {p.code for p in v.verify_folder(settings.reports_dir, pinned_keys=only_old).problems} == {"wrong-key"}
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    assert "--key OLD.pem --key NEW.pem" in readme
