"""Two exports' signed heads: a consistency proof shows the ledger only grew, or that it was rewritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from drillbook.cli.app import cli
from drillbook.errors import BadInput
from drillbook.evidence import consistency, ledger, merkle, signing
from drillbook.evidence import verify as v
from drillbook.evidence.export import Selection, export
from tests.unit.evidence.ledgers import fake_run, make_settings


@pytest.fixture
def grown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An export after three runs, three more runs, a second export."""
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    settings = make_settings(tmp_path)
    for i in range(1, 4):
        ledger.seal(fake_run(settings.reports_dir, "clinic", f"20261102T0{i}0000Z-00000{i}"), settings)
    export(settings, tmp_path / "q3.zip", Selection(names=("clinic",)))
    for i in range(4, 7):
        ledger.seal(fake_run(settings.reports_dir, "billing", f"20261102T0{i}0000Z-00000{i}"), settings)
    export(settings, tmp_path / "q4.zip", Selection(names=("billing",)))
    return settings, tmp_path / "q3.zip", tmp_path / "q4.zip"


def keys(settings) -> dict:
    public = signing.load_signer(settings).public
    return {v.key_id(public): public}


def test_a_grown_ledger_is_proven_consistent_and_the_standalone_verifier_agrees(grown, tmp_path, capsys):
    settings, old, new = grown
    doc = consistency.prove(settings, old, new)
    assert (doc["old"]["tree_size"], doc["new"]["tree_size"]) == (3, 6)
    assert v.check_consistency(doc, keys(settings)) == []
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(doc))
    pem = tmp_path / "public.pem"
    pem.write_bytes(signing.load_signer(settings).public_pem())
    assert v.main(["--consistency", str(proof), "--key", str(pem)]) == 0
    assert "Consistency: OK" in capsys.readouterr().out


def test_a_ledger_rewritten_after_the_first_export_is_rejected(grown, tmp_path):
    """Whoever holds the key removes the second run and re-signs the chain: the heads disagree."""
    settings, old, _ = grown
    path = ledger.ledger_path(settings.reports_dir)
    signer = signing.load_signer(settings)
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    shutil.rmtree(settings.reports_dir / entries.pop(1)["path"])
    prev = v.GENESIS
    for seq, entry in enumerate(entries, start=1):  # a re-sealed, internally valid chain
        entry.update(seq=seq, prev=prev)
        entry["hash"] = v.entry_hash({k: x for k, x in entry.items() if k not in ("hash", "sig")})
        entry["sig"] = signer.sign(entry["hash"])
        prev = entry["hash"]
    path.write_text("".join(v.canonical(e).decode() + "\n" for e in entries))
    assert v.verify_folder(settings.reports_dir).ok  # the rewrite alone is invisible
    export(settings, tmp_path / "later.zip", Selection(names=("billing",)))
    doc = consistency.prove(settings, old, tmp_path / "later.zip")
    problems = v.check_consistency(doc, keys(settings))
    assert len(problems) == 1 and "history was rewritten" in problems[0]
    forged = dict(doc, proof=[h.hex() for h in merkle.Tree.of_entries(entries).consistency_proof(3, 5)])
    assert v.check_consistency(forged, keys(settings)) != []


def test_heads_signed_by_another_key_and_exports_in_the_wrong_order(grown):
    settings, old, new = grown
    doc = consistency.prove(settings, old, new)
    doc["new"]["tree_size"] = 7
    assert any("not signed by a trusted key" in p for p in v.check_consistency(doc, keys(settings)))
    with pytest.raises(BadInput, match="give the earlier export first"):
        consistency.prove(settings, new, old)


def test_the_consistency_command_writes_the_proof_the_auditor_checks(grown, tmp_path):
    settings, old, new = grown
    args = ["--drills", str(settings.drills_dir), "--reports", str(settings.reports_dir),
            "--state", str(settings.state_dir), "--runbooks", str(settings.runbooks_dir)]
    proof = tmp_path / "proof.json"
    result = CliRunner().invoke(cli, [*args, "evidence", "consistency", str(old), str(new), "--out", str(proof)])
    assert result.exit_code == 0, result.output
    assert "Consistency: OK" in result.output and "earlier:  3 entries" in result.output
    assert json.loads(proof.read_text())["format"] == v.CONSISTENCY_FORMAT


def test_evidence_verify_checks_a_consistency_proof_like_the_standalone_verifier(grown, tmp_path):
    settings, old, new = grown
    args = ["--drills", str(settings.drills_dir), "--reports", str(settings.reports_dir),
            "--state", str(settings.state_dir), "--runbooks", str(settings.runbooks_dir), "evidence", "verify"]
    doc = consistency.prove(settings, old, new)
    proof, forged = tmp_path / "proof.json", tmp_path / "forged.json"
    proof.write_text(json.dumps(doc))
    forged.write_text(json.dumps(dict(doc, new=dict(doc["new"], tree_size=7))))
    pem = tmp_path / "public.pem"
    pem.write_bytes(signing.load_signer(settings).public_pem())

    pinned = CliRunner().invoke(cli, [*args, "--consistency", str(proof), "--key", str(pem)])
    assert pinned.exit_code == 0, pinned.output
    assert "Consistency: OK" in pinned.output and "later:  6 entries" in pinned.output
    assert CliRunner().invoke(cli, [*args, "--consistency", str(proof)]).exit_code == 0  # the published key
    rejected = CliRunner().invoke(cli, [*args, "--consistency", str(forged), "--json"])
    assert rejected.exit_code == 1
    assert json.loads(rejected.output)["problems"] == ["the later head (size 7) is not signed by a trusted key"]
    assert v.main(["--consistency", str(forged), "--json", str(settings.reports_dir)]) == 1
    unreadable = CliRunner().invoke(cli, [*args, "--consistency", str(pem)])
    assert unreadable.exit_code == 2 and f"--consistency {pem}: not a consistency proof" in unreadable.output
