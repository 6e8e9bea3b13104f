"""The site commands' errors: what a person sees when the broker or the configuration is missing."""

import json
from pathlib import Path

from click.testing import CliRunner

from drillbook.cli.app import cli
from drillbook.sites import status
from drillbook.sites.outbox import Outbox, State
from tests.support import free_port, write_drill


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


def test_schedule_json_shows_the_site_runs_and_the_drills_no_worker_can_take(tmp_path, monkeypatch):
    port = free_port()  # nothing listens there: the workers online are what the broker would say
    monkeypatch.setattr(status, "online_sites", lambda _settings, _workers: {"clinic-west"})
    write_drill(tmp_path / "drills", "east-docs", "/srv/repo", body="site: clinic-east\n")
    write_drill(tmp_path / "drills", "west-docs", "/srv/repo", body="site: clinic-west\n")
    (tmp_path / "drills" / "drillbook.yaml").write_text(f"workers: {{broker: 'redis://127.0.0.1:{port}/0'}}\n")
    box = Outbox(tmp_path / "state")
    box.add("r-open", "east-docs", "clinic-east", 100.0, "schedule", 100.0)
    box.republished("r-open", 160.0)
    box.add("r-done", "west-docs", "clinic-west", 100.0, "schedule", 100.0)
    box.closed("r-done", State.DONE, "passed", None, 200.0)  # nothing to look at: not shown
    box.close()
    text = invoke(tmp_path, "schedule")
    result = invoke(tmp_path, "schedule", "--json")
    assert result.exit_code == text.exit_code == 0, result.output
    sites = json.loads(result.stdout)["sites"]
    assert sites["problems"] == [{"drill": "east-docs", "site": "clinic-east",
                                  "problem": "site clinic-east has no worker online"}]
    assert sites["workers_online"] == ["clinic-west"]
    [run] = sites["runs"]
    assert (run["drill"], run["run_id"], run["site"], run["state"], run["republished"]) == (
        "east-docs", "r-open", "clinic-east", "queued", 1)
    shown = [line for line in text.stdout.splitlines() if line.startswith(("problem: drill", "site run:"))]
    assert shown == ["problem: drill east-docs: site clinic-east has no worker online",
                     "site run: east-docs r-open at clinic-east: queued, republished 1x (the broker lost its message)"]


def test_schedule_json_without_workers_has_no_sites(tmp_path):
    write_drill(tmp_path / "drills", "east-docs", "/srv/repo")
    result = invoke(tmp_path, "schedule", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["sites"] is None
