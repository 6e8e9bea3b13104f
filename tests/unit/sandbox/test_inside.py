"""The reader of the restore: packed from the standard library and drillbook only, run, answered."""

from __future__ import annotations

import json
import subprocess
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from drillbook.sandbox.inside import (
    READER_FILE,
    READER_FOLDER,
    ReaderFailed,
    install_reader,
    read_inside,
    reader_modules,
    reader_zip,
)
from tests.unit.checks.fakes import ScriptedLauncher, completed

SYSTEM_PYTHON = "/usr/bin/python3"


def test_the_reader_packs_only_modules_of_drillbook_that_need_nothing_but_the_standard_library() -> None:
    modules = reader_modules()
    assert "drillbook.checks.reading.main" in modules
    assert "drillbook.checks.reading.sqlite_readonly" in modules
    assert all(name.startswith("drillbook.") for name in modules)
    names = zipfile.ZipFile(BytesIO(reader_zip())).namelist()
    assert "__main__.py" in names
    assert "drillbook/__init__.py" in names and "drillbook/checks/reading/files.py" in names


def test_a_module_that_needs_a_third_party_package_cannot_be_packed() -> None:
    with pytest.raises(ValueError, match="imports pydantic"):
        reader_modules("drillbook.spec.models")


@pytest.mark.skipif(not Path(SYSTEM_PYTHON).exists(), reason="no system python3")
def test_the_system_python3_runs_the_reader_in_isolated_mode(tmp_path: Path) -> None:
    reader = install_reader(tmp_path / "config")
    (tmp_path / "restore" / "docs").mkdir(parents=True)
    (tmp_path / "restore" / "docs" / "a.txt").write_text("a")
    request = {"op": "files", "root": str(tmp_path / "restore"), "path": "docs", "required": ["b.txt"]}
    done = subprocess.run([SYSTEM_PYTHON, "-I", "-S", str(reader), json.dumps(request)],
                          capture_output=True, text=True, timeout=60, env={"PYTHONPATH": "/nowhere"})
    assert json.loads(done.stdout) == {"count": 1, "missing": ["b.txt"], "problems": []}


def test_the_reader_is_written_once_into_drillbooks_own_folder_and_others_may_only_read_it(tmp_path: Path) -> None:
    own = tmp_path / "config"
    first = install_reader(own)
    assert first == own / READER_FOLDER / READER_FILE
    assert install_reader(own) == first
    assert first.stat().st_mode & 0o777 == 0o644
    assert (own / READER_FOLDER).stat().st_mode & 0o777 == 0o755


def test_a_symlink_where_the_reader_goes_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "config").symlink_to(elsewhere)
    with pytest.raises(ReaderFailed, match="is a symlink"):
        install_reader(tmp_path / "config")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(("result", "reason"), [
    (completed(None, timed_out=True), "stopped after 5.0 s"),
    (completed(1, stdout="", stderr="Traceback ... SECRET"), r"gave no answer \(exit 1\)"),
    (completed(0, stdout="[1, 2]"), r"gave no answer \(exit 0\)"),
    (completed(0, stdout='{"crash": "check could not run: KeyError in f (x.py:1)"}'),
     "check could not run: KeyError in f"),
    (FileNotFoundError(2, "No such file", "python3"), "python3 is not installed"),
])
def test_a_reader_without_an_answer_to_trust_fails_in_drillbooks_words(tmp_path: Path, result, reason) -> None:
    launcher = ScriptedLauncher([result], real_reader=False)
    with pytest.raises(ReaderFailed, match=reason) as failed:
        read_inside(launcher, tmp_path / "config", tmp_path, {"op": "files"}, 5.0)
    assert "SECRET" not in str(failed.value)


def test_the_reader_gets_no_environment_and_the_timeout_asked_for(tmp_path: Path) -> None:
    launcher = ScriptedLauncher()
    with pytest.raises(ReaderFailed, match="the reader has no operation 'nothing'"):
        read_inside(launcher, tmp_path / "config", tmp_path, {"op": "nothing"}, 7.0)
    assert launcher.reads[0].env == {}
    assert launcher.reads[0].timeout == 7.0
    assert launcher.reads[0].argv[:3] == ["python3", "-I", "-S"]
