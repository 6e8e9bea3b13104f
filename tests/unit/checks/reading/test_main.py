"""The reader's entry point: every failure is an answer, in drillbook's words."""

from __future__ import annotations

import json

import pytest

from drillbook.checks.reading import main as reader


def test_an_exception_is_answered_by_type_and_place_never_by_its_message(monkeypatch) -> None:
    def explode(request: dict) -> dict:
        int("PATIENT Ada Lovelace")
        return {}

    monkeypatch.setitem(reader.OPS, "files", explode)
    answer = reader.answer({"op": "files"})
    assert answer["crash"].startswith("check could not run: ValueError in explode (test_main.py:")
    assert "Lovelace" not in answer["crash"]


def test_an_unknown_operation_is_answered_not_raised() -> None:
    assert reader.answer({"op": "rm"}) == {"crash": "the reader has no operation 'rm'"}


def test_main_prints_one_json_line(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    (tmp_path / "docs").mkdir()
    request = {"op": "files", "root": str(tmp_path), "path": "docs", "required": []}
    assert reader.main([json.dumps(request)]) == 0
    assert json.loads(capsys.readouterr().out) == {"count": 0, "missing": [], "problems": []}


def test_main_without_a_request_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert reader.main([]) == 2
    assert json.loads(capsys.readouterr().out) == {"crash": "the reader was given no request"}


def test_the_tree_is_compared_with_a_listing_file_read_line_by_line(tmp_path) -> None:
    """The listing of a snapshot of millions of nodes is a file, never one JSON argument or document."""
    (tmp_path / "restore" / "docs").mkdir(parents=True)
    (tmp_path / "restore" / "docs" / "a.txt").write_bytes(b"abc")
    listing = tmp_path / "listing.jsonl"
    listing.write_text('["/docs", "dir", null]\n["/docs/a.txt", "file", 3]\n["/docs/b.txt", "file", 2]\n')
    answer = reader.answer({"op": "tree", "root": str(tmp_path / "restore"), "listing": str(listing)})
    assert answer["files_expected"] == 2 and answer["dirs_expected"] == 1
    assert answer["bytes_present"] == 3 and answer["missing"] == ["docs/b.txt"]
