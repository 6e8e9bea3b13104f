"""The site commands' errors: what a person sees when the broker or the configuration is missing."""

from pathlib import Path

from click.testing import CliRunner

from drillbook.cli.app import cli
from tests.integration.s3fixtures import free_port


def invoke(tmp_path: Path, *args: str):
    return CliRunner().invoke(cli, ["--drills", str(tmp_path / "drills"), "--reports", str(tmp_path / "reports"),
                                    "--state", str(tmp_path / "state"), *args])


def test_workers_without_workers_configured_says_what_to_add(tmp_path):
    (tmp_path / "drills").mkdir()
    result = invoke(tmp_path, "workers")
    assert result.exit_code == 2 and "declares no workers:" in result.output


def test_workers_with_the_broker_away_exits_3_naming_it(tmp_path):
    (tmp_path / "drills").mkdir()
    port = free_port()  # nothing listens there
    (tmp_path / "drills" / "drillbook.yaml").write_text(f"workers: {{broker: 'redis://127.0.0.1:{port}/0'}}\n")
    result = invoke(tmp_path, "workers", "--timeout", "0.2")
    assert result.exit_code == 3, result.output
    assert f"cannot reach the broker redis://127.0.0.1:{port}" in result.output
