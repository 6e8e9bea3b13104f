"""deploy/systemd/drillbook-worker@.service: one site's worker, confined like the scheduler."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from drillbook.cli.sites import worker_command

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def _service(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser["Service"]


def test_the_worker_runs_its_instances_site_with_options_drillbook_knows():
    service = _service("drillbook-worker@.service")
    argv = shlex.split(service["ExecStart"])
    assert argv[1] == "worker"
    params = worker_command.make_context("worker", argv[2:]).params
    assert params["site"] == "%i" and params["concurrency"] == 1
    assert service["User"] == "drillbook" and service["KillMode"] == "mixed"


def test_the_worker_is_confined_exactly_like_the_scheduler_but_writes_no_reports_folder():
    worker, serve = _service("drillbook-worker@.service"), _service("drillbook.service")
    shared = ("NoNewPrivileges", "CapabilityBoundingSet", "ProtectSystem", "ProtectHome", "PrivateTmp",
              "PrivateDevices", "StateDirectory", "RestrictNamespaces", "RestrictAddressFamilies")
    assert {k: worker[k] for k in shared} == {k: serve[k] for k in shared}
    assert "ReadWritePaths" not in worker
    assert worker["Environment"].startswith("DRILLBOOK_REPORTS=/var/lib/drillbook/")
