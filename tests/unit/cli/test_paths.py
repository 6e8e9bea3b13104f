"""`drillbook paths`: the folders in use, why, and whether they exist and are writable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from drillbook.cli.app import cli

CLEARED = {"DRILLBOOK_DRILLS": None, "DRILLBOOK_REPORTS": None, "DRILLBOOK_SANDBOX_ROOT": None,
           "DRILLBOOK_STATE": None, "DRILLBOOK_RUNBOOKS": None, "DRILLBOOK_CACHE": None, "DRILLBOOK_CONFIG": None,
           "CONFIGURATION_DIRECTORY": None, "STATE_DIRECTORY": None, "CACHE_DIRECTORY": None}


def paths(tmp_path: Path, *args: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args], env={**CLEARED, **env})
    return result.exit_code, result.output


def test_json_names_each_folder_and_the_flag_or_variable_that_chose_it(tmp_path: Path) -> None:
    (tmp_path / "cfg" / "drills").mkdir(parents=True)
    code, output = paths(tmp_path, "--config", str(tmp_path / "cfg"), "--state", str(tmp_path / "state"),
                         "paths", "--json", DRILLBOOK_REPORTS=str(tmp_path / "reports"),
                         CACHE_DIRECTORY=str(tmp_path / "cache"))
    assert code == 0
    rows = {row["name"]: row for row in json.loads(output)}
    assert rows["drills"] == {"name": "drills", "path": str(tmp_path / "cfg" / "drills"),
                              "reason": "drills/ of the configuration folder", "exists": True, "writable": True,
                              "note": None}
    assert rows["config"]["reason"] == "--config"
    assert (rows["state"]["path"], rows["state"]["reason"]) == (str(tmp_path / "state"), "--state")
    assert rows["reports"]["reason"] == "DRILLBOOK_REPORTS" and rows["reports"]["exists"] is False
    assert rows["cache"]["reason"] == "CACHE_DIRECTORY (systemd's CacheDirectory=)"
    assert not (tmp_path / "state").exists(), "paths only looks: it makes no folder"


def test_the_table_shows_path_reason_and_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "drills").mkdir()
    code, output = paths(tmp_path, "--cache", str(tmp_path / "c"), "paths", STATE_DIRECTORY=str(tmp_path / "s"))
    assert code == 0
    lines = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
             for line in output.splitlines() if line.startswith("│") and "│" in line[1:]}
    assert lines["drills"] == [str(tmp_path / "drills"), "drills/ of the configuration folder", "yes", "yes"]
    assert lines["config"][1] == "checkout: ./drills exists in the working folder"
    assert lines["state"] == [str(tmp_path / "s"), "STATE_DIRECTORY (systemd's StateDirectory=)", "no", "yes"]
    assert lines["cache"][:2] == [str(tmp_path / "c"), "--cache"]
