"""An export of one drill ships only its entries, each proven in the signed ledger head."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from drillbook.evidence import ledger, signing
from drillbook.evidence import verify as v
from drillbook.evidence.export import Selection, export
from tests.unit.evidence.ledgers import fake_run, make_settings, rewrite_member, standalone


def two_drills(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    settings = make_settings(tmp_path)
    for i, name in enumerate(["clinic", "billing", "clinic", "billing", "billing"], start=1):
        ledger.seal(fake_run(settings.reports_dir, name, f"20261102T0{i}0000Z-00000{i}"), settings)
    return settings


def test_export_of_one_drill_ships_its_entries_only_each_proven_in_the_signed_head(tmp_path, monkeypatch):
    settings = two_drills(tmp_path, monkeypatch)
    out = tmp_path / "clinic.zip"
    export(settings, out, Selection(names=("clinic",)))
    with zipfile.ZipFile(out) as zf:
        lines = zf.read("clinic/evidence/ledger.jsonl").decode().splitlines()
        proofs = json.loads(zf.read("clinic/evidence/proofs.json"))
    assert [json.loads(line)["name"] for line in lines] == ["clinic", "clinic"]
    assert proofs["head"]["tree_size"] == 5 and [p["index"] for p in proofs["entries"]] == [0, 2]
    result = v.verify_path(out, [signing.load_signer(settings).public])
    assert result.ok, result.problems
    assert (result.proven, result.entries, result.tree_size, result.head_seq) == (2, 2, 5, 5)
    assert "2 of 2 entries proven in the signed ledger head (5 entries" in v.format_result(result)
    assert standalone(out, tmp_path / "auditor", settings).returncode == 0


def test_an_entry_edited_and_re_signed_with_the_key_is_not_in_the_signed_head(tmp_path, monkeypatch):
    """Even someone holding the key cannot change an exported entry without a new head."""
    settings = two_drills(tmp_path, monkeypatch)
    out = tmp_path / "clinic.zip"
    export(settings, out, Selection(names=("clinic",)))
    signer = signing.load_signer(settings)

    def forge(data: bytes) -> bytes:
        entries = [json.loads(line) for line in data.decode().splitlines()]
        entries[0]["status"] = "failed"
        entries[0]["hash"] = v.entry_hash(entries[0])
        entries[0]["sig"] = signer.sign(entries[0]["hash"])
        return b"".join(v.canonical(e) + b"\n" for e in entries)

    tampered = tmp_path / "tampered.zip"
    rewrite_member(out, tampered, "/ledger.jsonl", forge)
    result = v.verify_path(tampered, [signer.public])
    assert [p.code for p in result.problems] == ["not-in-head"]
    assert "20261102T010000Z-000001" in str(result.problems[0])
    rejected = standalone(tampered, tmp_path / "auditor", settings)
    assert rejected.returncode == 1 and "[not-in-head] ledger entry #1" in rejected.stdout


def test_a_bundle_stripped_of_its_proofs_or_with_a_forged_head_fails(tmp_path, monkeypatch):
    settings = two_drills(tmp_path, monkeypatch)
    out = tmp_path / "clinic.zip"
    export(settings, out, Selection(names=("clinic",)))
    stripped = tmp_path / "stripped.zip"
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(stripped, "w") as zout:
        for info in zin.infolist():
            if not info.filename.endswith("/proofs.json"):
                zout.writestr(info, zin.read(info))
    assert {"bad-bundle", "chain-break"} <= {p.code for p in v.verify_path(stripped).problems}

    def forge_head(data: bytes) -> bytes:
        proofs = json.loads(data)
        proofs["head"]["tree_size"] = 2
        return json.dumps(proofs).encode()

    forged = tmp_path / "forged.zip"
    rewrite_member(out, forged, "/proofs.json", forge_head)
    assert "bad-head" in {p.code for p in v.verify_path(forged).problems}
