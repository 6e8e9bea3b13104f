"""``drillbook completion``: a script for each shell, and drill/runbook names completed from their folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drillbook.cli.app import cli
from tests.support import write_drill


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o nosort -F _drillbook_completion drillbook"),
                                               ("zsh", "#compdef drillbook"),
                                               ("fish", "complete --no-files --command drillbook")])
def test_the_script_is_printed_for_each_shell(shell: str, marker: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0 and marker in result.output and "_DRILLBOOK_COMPLETE" in result.output


def test_an_unknown_shell_is_a_usage_error() -> None:
    assert CliRunner().invoke(cli, ["completion", "tcsh"]).exit_code == 2


def complete(words: str, env: dict[str, str]) -> list[str]:
    """What bash would offer for ``words`` (the last one being typed), as click answers it."""
    parts = words.split(" ")
    result = CliRunner().invoke(cli, [], prog_name="drillbook", env={
        "_DRILLBOOK_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1), **env})
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.output.splitlines() if line]


def test_run_and_validate_complete_drill_names_from_the_drills_folder(tmp_path: Path) -> None:
    drills = tmp_path / "drills"
    for name in ("clinic-docs", "clinic-db", "lab"):
        write_drill(drills, name, "/srv/repo")
    (drills / "renamed-file.yaml").write_text((drills / "lab.yaml").read_text() + "name: pharmacy\n")
    (drills / "drillbook.yaml").write_text("notify: []\n")
    env = {"DRILLBOOK_DRILLS": str(drills)}
    assert complete("drillbook run cli", env) == ["clinic-db", "clinic-docs"]
    assert complete("drillbook validate ph", env) == ["pharmacy"]
    assert complete("drillbook run clinic-db ", env) == ["clinic-docs", "lab", "pharmacy"]
    assert complete(f"drillbook --drills {tmp_path / 'none'} run ", env) == []


def test_runbook_run_completes_runbook_names_from_the_folder_given(tmp_path: Path) -> None:
    runbooks = tmp_path / "books"
    runbooks.mkdir()
    for name in ("failover", "failback", "restore-ehr"):
        (runbooks / f"{name}.md").write_text("# x\n")
    assert complete(f"drillbook --runbooks {runbooks} runbook run fail", {}) == ["failback", "failover"]
