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


def test_a_reseal_that_keeps_the_earlier_attempt_is_told_apart_from_one_that_overwrote_it():
    first = {"run.json": "a1", "report.html": "b1"}
    kept = {"run.json": "a2", "report.html": "b2", "attempts/1/run.json": "a1", "attempts/1/report.html": "b1"}
    overwritten = {"run.json": "a2", "report.html": "b2"}
    third = {**kept, "run.json": "a3", "attempts/2/run.json": "a2", "attempts/2/report.html": "b2"}
    assert v._kept_in(first, kept) and v._kept_in(kept, third)
    assert not v._kept_in(first, overwritten)
    assert not v._kept_in(kept, {**third, "attempts/1/run.json": "forged"})
    result = v.Result(root="r", resealed=2, resealed_kept=1, entries=3, folders=1)
    text = v.format_result(result)
    assert "3 in the ledger, for 1 run folder(s)" in text
    assert "1 of 2 kept in the run's attempts/ folder, the others were overwritten" in text


def test_the_summary_says_which_key_it_trusted_and_that_failed_counts_are_not_evidence(sealed):
    settings, folders = sealed
    own = v.verify_folder(settings.reports_dir)
    assert "published beside the ledger: pin it with --key" in v.format_result(own)
    key = v.load_public_key((settings.reports_dir / "evidence" / "public-key.pem").read_bytes())
    pinned = v.verify_folder(settings.reports_dir, [key])
    assert pinned.ok and "pinned with --key" in v.format_result(pinned)
    (folders[0] / "run.json").write_text("{}")
    failed = v.format_result(v.verify_folder(settings.reports_dir))
    assert "they are not evidence" in failed and failed.index("not evidence") < failed.index("entries:")
