"""Each sealed run carries an in-toto Statement in a DSSE envelope that third-party tools verify.

The third-party verifier is securesystemslib's DSSE implementation (the one in-toto and TUF use):
it accepts the envelope with nothing but the exported public key, and refuses it when a file of
the run or the envelope itself was edited.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from drillbook.cli.app import cli
from drillbook.evidence import attestation, ledger, signing
from drillbook.evidence import verify as v
from drillbook.settings import Settings
from tests.unit.evidence.ledgers import codes, fake_run

RECORD_EXTRA = {
    "snapshot": {"id": "4f0c5a9e", "time": "2026-11-01T23:00:00Z", "host": "clinic-1"},
    "objectives": {"rto": {"target_seconds": 900.0, "target": "15m", "measured_seconds": 61.5, "met": True},
                   "rpo": {"target_seconds": 93600.0, "target": "26h", "measured_seconds": 14400.0, "met": True}},
    "isolation": {"network": "none", "mode": "bubblewrap", "account": "drillbook-sandbox"},
    "versions": {"restic": "0.18.0", "drillbook": "0.1.0"},
}


def attested_run(settings: Settings) -> Path:
    folder = fake_run(settings.reports_dir, "portal", "20261102T030000Z-000001")
    record = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps(record | RECORD_EXTRA, indent=2) + "\n")
    (folder / "report.md").write_text("# portal passed\n")
    ledger.seal(folder, settings)
    return folder


def third_party_key(settings: Settings) -> SSlibKey:
    """The key as an auditor builds it: from public-key.pem alone, keyid as drillbook names it."""
    pem = (ledger.evidence_dir(settings.reports_dir) / v.PUBLIC_KEY_FILE).read_bytes()
    public = serialization.load_pem_public_key(pem)
    return SSlibKey.from_crypto(public, keyid=v.key_id(public))


def envelope_of(folder: Path) -> Envelope:
    return Envelope.from_dict(json.loads((folder / attestation.ATTESTATION_FILE).read_text()))


@pytest.fixture
def run(sealed: tuple[Settings, list[Path]]) -> tuple[Settings, Path]:
    settings, _ = sealed
    return settings, attested_run(settings)


def test_securesystemslib_accepts_the_envelope_with_only_the_exported_public_key(run) -> None:
    settings, folder = run
    accepted = envelope_of(folder).verify([third_party_key(settings)], 1)
    assert list(accepted) == [v.key_id(serialization.load_pem_public_key(
        (ledger.evidence_dir(settings.reports_dir) / v.PUBLIC_KEY_FILE).read_bytes()))]


def test_the_statement_names_every_file_of_the_run_but_itself_with_its_sha256(run) -> None:
    _, folder = run
    envelope = envelope_of(folder)
    assert envelope.payload_type == "application/vnd.in-toto+json"
    statement = json.loads(envelope.payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert subjects == {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
                        for name in ("run.json", "report.html", "report.md")}


def test_the_predicate_holds_what_the_drill_proved(run) -> None:
    _, folder = run
    statement = json.loads(envelope_of(folder).payload)
    assert statement["predicateType"] == "https://drillbook.dev/drill-run/v1"
    predicate = statement["predicate"]
    assert predicate["drill"] == "portal"
    assert predicate["status"] == "passed"
    assert predicate["snapshot"]["id"] == "4f0c5a9e"
    assert predicate["objectives"]["rto"] == {"target_seconds": 900.0, "measured_seconds": 61.5, "met": True}
    assert predicate["isolation"]["network"] == "none"
    assert predicate["resticVersion"] == "0.18.0"
    assert predicate["signer"]["keyType"] == "ed25519"


def test_the_ledger_seals_the_attestation_and_verification_passes(run) -> None:
    settings, folder = run
    entry = ledger.entry_for(settings.reports_dir, folder.name)
    assert entry is not None and attestation.ATTESTATION_FILE in entry["files"]
    result = v.verify_folder(settings.reports_dir)
    assert result.ok, result.problems
    assert result.attested == result.folders == 4  # the three runs of the fixture, and this one


def test_an_edited_run_file_fails_the_subject_digest(run) -> None:
    settings, folder = run
    (folder / "report.md").write_text("# portal passed (edited)\n")
    statement = json.loads(envelope_of(folder).payload)
    recorded = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert recorded["report.md"] != hashlib.sha256((folder / "report.md").read_bytes()).hexdigest()
    problems = v.verify_attestation(folder, v.published_keys(settings.reports_dir))
    assert [p.code for p in problems] == ["attestation-mismatch"]
    assert "report.md" in str(problems[0]) and "sha256" in str(problems[0])
    assert codes(settings) == ["file-changed"]  # the folder's check reports it once, through the ledger


def test_an_edited_envelope_fails_the_signature_for_both_verifiers(run) -> None:
    settings, folder = run
    path = folder / attestation.ATTESTATION_FILE
    data = json.loads(path.read_text())
    statement = json.loads(base64.b64decode(data["payload"]))
    statement["predicate"]["status"] = "failed"
    data["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_text(json.dumps(data))
    with pytest.raises(VerificationError):
        Envelope.from_dict(data).verify([third_party_key(settings)], 1)
    problems = v.verify_attestation(folder, v.published_keys(settings.reports_dir))
    assert [p.code for p in problems] == ["attestation-signature"]
    assert codes(settings) == ["file-changed"]


def test_an_attestation_that_disagrees_with_the_files_sealed_with_it_is_reported(run, monkeypatch) -> None:
    """Signed with the right key and sealed, but naming other digests: only the attestation check sees it."""
    settings, folder = run
    signer = signing.load_signer(settings)
    statement = json.loads(envelope_of(folder).payload)
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    (folder / attestation.ATTESTATION_FILE).write_text(json.dumps(attestation.envelope(
        v.canonical(statement), signer)))
    monkeypatch.setattr(attestation, "attest", lambda *args: None)  # a seal that does not redo it
    ledger.seal(folder, settings)
    assert "attestation-mismatch" in codes(settings)


def test_resealing_an_unchanged_run_keeps_its_attestation_and_its_single_entry(run) -> None:
    settings, folder = run
    before = (folder / attestation.ATTESTATION_FILE).read_bytes()
    count = len(ledger.read_entries(settings.reports_dir))
    ledger.seal(folder, settings)
    assert (folder / attestation.ATTESTATION_FILE).read_bytes() == before
    assert len(ledger.read_entries(settings.reports_dir)) == count


def test_the_standalone_verifier_checks_one_run_folder_offline(run, capsys) -> None:
    settings, folder = run
    key = ledger.evidence_dir(settings.reports_dir) / v.PUBLIC_KEY_FILE
    assert v.main(["--attestation", str(folder), "--key", str(key)]) == 0
    assert "attestation verified" in capsys.readouterr().out.lower()
    (folder / "report.html").write_text("<p>forged</p>\n")
    assert v.main(["--attestation", str(folder), "--key", str(key)]) == 1
    assert "report.html" in capsys.readouterr().out


def test_evidence_verify_checks_one_run_folder_like_the_standalone_verifier(run, tmp_path) -> None:
    settings, folder = run
    key = ledger.evidence_dir(settings.reports_dir) / v.PUBLIC_KEY_FILE
    args = ["--drills", str(settings.drills_dir), "--reports", str(settings.reports_dir),
            "--state", str(settings.state_dir), "--runbooks", str(settings.runbooks_dir), "evidence", "verify"]
    passed = CliRunner().invoke(cli, [*args, "--attestation", str(folder), "--key", str(key)])
    assert passed.exit_code == 0, passed.output
    assert "attestation verified" in passed.output.lower()
    (folder / "report.html").write_text("<p>forged</p>\n")
    failed = CliRunner().invoke(cli, [*args, "--attestation", str(folder), "--key", str(key), "--json"])
    assert failed.exit_code == 1, failed.output
    problems = json.loads(failed.output)["problems"]
    assert [p["code"] for p in problems] == ["attestation-mismatch"] and "report.html" in problems[0]["message"]
    assert v.main(["--attestation", str(folder), "--key", str(key), "--json"]) == 1
    keyless = CliRunner().invoke(cli, [*args, "--attestation", str(folder)])
    assert keyless.exit_code == 2 and "--attestation needs --key" in keyless.output
    bare = tmp_path / "bare"
    bare.mkdir()
    missing = CliRunner().invoke(cli, [*args, "--attestation", str(bare), "--key", str(key)])
    assert missing.exit_code == 2 and "has no attestation.dsse.json" in missing.output
