"""A real drill run whose evidence a KMS key signs (moto's KMS on loopback), checked offline.

One module-scoped run: the drill host signs through KMS and never holds the key; the auditor
checks the ledger and the attestation with the exported ECDSA P-256 public key alone (the
standalone verifier, and securesystemslib for the DSSE envelope), and a wrong key is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from tests.integration.s3fixtures import Moto
from tests.support import STANDARD_CHECKS, Workspace, make_repo, write_drill

pytestmark = pytest.mark.integration

VERIFIER = Path(__file__).resolve().parents[2] / "src" / "drillbook" / "evidence" / "verify.py"


@dataclass
class KmsRun:
    ws: Workspace
    public_pem: Path
    run_dir: Path
    key_output: str  # what `drillbook evidence key` printed


def new_workspace(root: Path) -> Workspace:
    ws = Workspace(root)
    for folder in (ws.drills, ws.reports, ws.sandboxes, ws.state):
        folder.mkdir(parents=True)
    return ws


@pytest.fixture(scope="module")
def kms_run(moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> KmsRun:
    tmp = tmp_path_factory.mktemp("kms")
    key = moto.client("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    repo = make_repo(tmp)
    repo.backup()
    ws = new_workspace(tmp / "ws")
    (ws.drills / "drillbook.yaml").write_text(f"evidence: {{signer: {{kms_key_id: '{key}'}}}}\n")
    write_drill(ws.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    ran = ws.cli("run", "clinic", **moto.env())
    assert ran.returncode == 0, ran.stderr
    exported = ws.cli("evidence", "key", "--out", str(tmp / "public.pem"), **moto.env())
    assert exported.returncode == 0, exported.stderr
    run_id = ws.last_run("clinic")["run_id"]
    return KmsRun(ws, tmp / "public.pem", ws.reports / "clinic" / run_id, exported.stdout)


def offline(*args: str) -> subprocess.CompletedProcess[str]:
    """The shipped verifier with no AWS in reach: no credentials, no endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([sys.executable, str(VERIFIER), *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_run_is_signed_by_kms_and_no_key_file_is_made(kms_run: KmsRun) -> None:
    entries = [json.loads(line) for line in (kms_run.ws.reports / "evidence" / "ledger.jsonl").read_text().splitlines()]
    assert [e["key_type"] for e in entries] == ["ecdsa-p256"]
    assert not (kms_run.ws.state / "signing-key.pem").exists()
    assert f"key id:      {entries[0]['key_id']} (ecdsa-p256)" in kms_run.key_output
    assert "private key: AWS KMS key " in kms_run.key_output and "(it never leaves KMS)" in kms_run.key_output


def test_the_ledger_and_the_attestation_verify_offline_with_only_the_public_key(kms_run: KmsRun) -> None:
    whole = offline(str(kms_run.ws.reports), "--key", str(kms_run.public_pem))
    assert whole.returncode == 0, whole.stdout
    assert "key:      ecdsa-p256" in whole.stdout and "attested: 1 run folder(s)" in whole.stdout
    one = offline("--attestation", str(kms_run.run_dir), "--key", str(kms_run.public_pem))
    assert one.returncode == 0, one.stdout


def test_securesystemslib_accepts_the_kms_signed_attestation(kms_run: KmsRun) -> None:
    public = serialization.load_pem_public_key(kms_run.public_pem.read_bytes())
    key = SSlibKey.from_crypto(public, keyid=json.loads(
        (kms_run.ws.reports / "evidence" / "ledger.jsonl").read_text().splitlines()[0])["key_id"])
    envelope = Envelope.from_dict(json.loads((kms_run.run_dir / "attestation.dsse.json").read_text()))
    assert list(envelope.verify([key], 1)) == [key.keyid]
    predicate = json.loads(envelope.payload)["predicate"]
    record = json.loads((kms_run.run_dir / "run.json").read_text())
    assert predicate["status"] == "passed" and predicate["snapshot"]["id"] == record["snapshot"]["id"]
    assert predicate["resticVersion"] == record["versions"]["restic"]
    assert predicate["objectives"]["rto"]["measured_seconds"] == record["objectives"]["rto"]["measured_seconds"]
    assert predicate["isolation"] == record["isolation"]


def test_a_wrong_key_is_refused(kms_run: KmsRun, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    whole = offline(str(kms_run.ws.reports), "--key", str(wrong))
    assert whole.returncode == 1 and "[wrong-key]" in whole.stdout
    one = offline("--attestation", str(kms_run.run_dir), "--key", str(wrong))
    assert one.returncode == 1 and "[attestation-signature]" in one.stdout


def test_an_unknown_kms_key_is_an_error_naming_the_setting_not_a_fallback(moto: Moto, tmp_path: Path) -> None:
    ws = new_workspace(tmp_path / "ws")
    (ws.drills / "drillbook.yaml").write_text("evidence: {signer: {kms_key_id: alias/no-such-key}}\n")
    result = ws.cli("evidence", "key", **moto.env())
    assert result.returncode != 0
    assert "evidence.signer in drillbook.yaml: KMS key alias/no-such-key not found" in result.stderr
    assert not (ws.state / "signing-key.pem").exists()


def test_the_default_key_file_is_announced_on_stderr_when_it_is_made(tmp_path: Path) -> None:
    """Only once: tests/unit/evidence/test_kms_signer.py checks a second use says nothing."""
    ws = new_workspace(tmp_path / "ws")
    first = ws.cli("evidence", "key")
    assert first.returncode == 0
    assert f"generated a new evidence signing key at {ws.state / 'signing-key.pem'}" in first.stderr
