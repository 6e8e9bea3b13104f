"""Tampering the verifier must catch (each test names the attack)."""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path

from drillbook.evidence import ledger
from drillbook.evidence import verify as v
from drillbook.evidence.export import Selection, export
from tests.unit.evidence.ledgers import codes, ledger_lines


def test_duplicate_key_in_a_ledger_line_is_not_canonical(sealed):
    """A line showing "status":"passed" to a reader, while the parsed (last) value still hashes right."""
    settings, _ = sealed
    lines = ledger_lines(settings)
    lines[0] = lines[0].replace('"status":"passed"', '"status":"failed","status":"passed"', 1)
    lines[1] = '{"_line":7,' + lines[1][1:]
    ledger.ledger_path(settings.reports_dir).write_text("".join(lines))
    found = codes(settings)
    assert found.count("entry-edited") == 2, found


def test_symlink_added_to_a_sealed_run_folder_is_reported(sealed, tmp_path):
    settings, folders = sealed
    forged = tmp_path / "forged.html"
    forged.write_text("<p>all good</p>")
    os.symlink(forged, folders[0] / "extra-report.html")
    assert "file-added" in codes(settings)


def test_zip_without_its_signed_bundle_manifest_fails(sealed, tmp_path):
    """Stripping bundle.json would drop the signed head that shows a truncated ledger."""
    settings, _ = sealed
    out = tmp_path / "audit.zip"
    export(settings, out, Selection())
    stripped = tmp_path / "stripped.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(stripped, "w") as dst:
        for info in src.infolist():
            if info.filename.endswith("/bundle.json"):
                continue
            data = src.read(info)
            if info.filename.endswith("/ledger.jsonl"):  # drop the last entry and its run folder
                data = b"".join(data.splitlines(keepends=True)[:-1])
            if "20261102T030000Z" in info.filename:
                continue
            dst.writestr(info, data)
    assert v.verify_path(out).ok
    result = v.verify_path(stripped)
    assert not result.ok and "bad-bundle" in [p.code for p in result.problems]
    assert json.dumps(result.to_dict())


def test_hidden_temp_files_and_special_files_added_to_a_sealed_run_are_reported(sealed):
    """A writer's ``.tmp-`` name or a FIFO must not be a place to hide content from the manifest."""
    settings, folders = sealed
    (folders[0] / ".tmp-report.html").write_text("<p>all good</p>")
    os.mkfifo(folders[1] / "pipe")
    added = [p for p in v.verify_folder(settings.reports_dir).problems if p.code == "file-added"]
    assert {Path(p.file).name for p in added} == {".tmp-report.html", "pipe"}, added
    assert any("temp file" in p.message for p in added) and any("special file" in p.message for p in added)


def test_a_damaged_deflate_stream_names_its_member_instead_of_crashing(sealed, tmp_path, monkeypatch):
    """A flipped bit in compressed data fails in zlib before the CRC check: still a named problem."""
    settings, _ = sealed
    out = tmp_path / "audit.zip"
    export(settings, out, Selection())
    real_extract = zipfile.ZipFile.extract

    def extract(self, member, path=None, pwd=None):
        if str(getattr(member, "filename", member)).endswith("/run.json"):
            raise zlib.error("Error -3 while decompressing data: invalid distance too far back")
        return real_extract(self, member, path, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "extract", extract)
    problems = v.verify_path(out).problems
    damaged = [p for p in problems if p.code == "file-changed" and "damaged" in p.message]
    assert damaged and all(p.file.endswith("/run.json") for p in damaged)
