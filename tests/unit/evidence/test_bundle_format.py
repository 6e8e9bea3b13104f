"""Bundles are ``drillbook-bundle/2`` (proofs, notes); /1 bundles verify as before; formats the
verifier does not know are named, never misread."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from drillbook.evidence import ledger, signing
from drillbook.evidence import verify as v
from drillbook.evidence.export import Selection, export
from tests.unit.evidence.ledgers import fake_run, make_settings, standalone

Change = Callable[[bytes], bytes] | None


@pytest.fixture
def exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Clinic and billing runs sealed, clinic's exported."""
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    settings = make_settings(tmp_path)
    for i, name in enumerate(["clinic", "billing", "clinic"], start=1):
        ledger.seal(fake_run(settings.reports_dir, name, f"20261102T0{i}0000Z-00000{i}"), settings)
    out = tmp_path / "clinic.zip"
    export(settings, out, Selection(names=("clinic",)))
    return settings, out


def rezip(src: Path, dst: Path, changes: dict[str, Change]) -> Path:
    """A copy of ``src``: members ending in a key go through its change, or are left out for None."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            suffix = next((s for s in changes if info.filename.endswith(s)), None)
            change = changes[suffix] if suffix else (lambda data: data)
            if change is not None:
                zout.writestr(info, change(zin.read(info)))
    return dst


def resigned(settings, **fields) -> Callable[[bytes], bytes]:
    """bundle.json with ``fields`` set (None removes one), signed again with drillbook's key."""
    def change(data: bytes) -> bytes:
        bundle = json.loads(data)
        for name, value in fields.items():
            bundle.pop(name) if value is None else bundle.__setitem__(name, value)
        bundle["sig"] = signing.load_signer(settings).sign(v.entry_hash(bundle))
        return json.dumps(bundle).encode()
    return change


def test_an_export_is_bundle_format_2(exported):
    settings, out = exported
    with zipfile.ZipFile(out) as zf:
        assert json.loads(zf.read("clinic/bundle.json"))["format"] == "drillbook-bundle/2"
    assert v.verify_path(out, [signing.load_signer(settings).public]).ok


def test_format_1_bundles_with_and_without_proofs_verify_as_before(exported, tmp_path):
    settings, out = exported
    key = [signing.load_signer(settings).public]
    with_proofs = rezip(out, tmp_path / "one.zip", {"/bundle.json": resigned(settings, format="drillbook-bundle/1")})
    assert v.verify_path(with_proofs, key).ok
    assert standalone(with_proofs, tmp_path / "auditor", settings).returncode == 0

    whole = ledger.ledger_path(settings.reports_dir).read_bytes()  # before proofs: the whole ledger shipped
    old = rezip(out, tmp_path / "old.zip", {
        "/proofs.json": None, "/ledger.jsonl": lambda _: whole,
        "/bundle.json": resigned(settings, format="drillbook-bundle/1", root=None, tree_size=None)})
    result = v.verify_path(old, key)
    assert result.ok, result.problems
    assert (result.entries, result.runs_checked, result.outside_bundle) == (3, 2, 1)


def test_a_format_2_bundle_without_its_proofs_fails(exported, tmp_path):
    settings, out = exported
    whole = ledger.ledger_path(settings.reports_dir).read_bytes()
    stripped = rezip(out, tmp_path / "stripped.zip", {
        "/proofs.json": None, "/ledger.jsonl": lambda _: whole,
        "/bundle.json": resigned(settings, root=None, tree_size=None)})
    problems = v.verify_path(stripped, [signing.load_signer(settings).public]).problems
    assert [p.code for p in problems] == ["bad-bundle"]
    assert "drillbook-bundle/2" in str(problems[0]) and "proofs.json is missing" in str(problems[0])


def test_formats_this_verifier_does_not_know_are_named(exported, tmp_path):
    settings, out = exported
    later = rezip(out, tmp_path / "later.zip", {"/bundle.json": resigned(settings, format="drillbook-bundle/3")})
    problems = v.verify_path(later, [signing.load_signer(settings).public]).problems
    assert [p.code for p in problems] == ["unknown-format"]
    assert "bundle.json is drillbook-bundle/3, a format this verifier does not know" in str(problems[0])
    shipped = standalone(later, tmp_path / "auditor", settings)
    assert shipped.returncode == 1 and "drillbook-bundle/3" in shipped.stdout

    proofs = rezip(out, tmp_path / "proofs.zip", {"/proofs.json": lambda d: d.replace(b"drillbook-proofs/1",
                                                                                          b"drillbook-proofs/7")})
    assert "drillbook-proofs/7" in str(v.verify_path(proofs).problems)

    path = ledger.ledger_path(settings.reports_dir)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[-1])
    entry["format"] = "drillbook-ledger/9"
    entry["hash"] = v.entry_hash(entry)
    entry["sig"] = signing.load_signer(settings).sign(entry["hash"])
    path.write_text("\n".join([*lines[:-1], v.canonical(entry).decode()]) + "\n")
    problems = v.verify_folder(settings.reports_dir).problems
    assert [p.code for p in problems] == ["unknown-format"]
    assert "ledger entry #3 (run 20261102T030000Z-000003) is drillbook-ledger/9" in str(problems[0])
