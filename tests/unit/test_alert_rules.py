"""The Prometheus alert rules parse, and each fires and stays quiet where its promtool tests say.

promtool comes with Debian's ``prometheus`` package (the Makefile installs it). Without it the
promtool tests are skipped on a workstation, never in CI (``CI=true``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "drillbook-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "drillbook-alerts.test.yml"
RUNBOOK = ROOT / "docs" / "alerts.md"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing in CI: install Debian's prometheus package (make setup)")
        pytest.skip("promtool is missing (apt-get install prometheus)")
    return found


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules():
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_fires_and_stays_quiet_as_its_promtool_tests_say():
    done = subprocess.run([promtool(), "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_not_firing():
    tested: dict[str, set[bool]] = {}
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            tested.setdefault(check["alertname"], set()).add(bool(check["exp_alerts"]))
    assert {rule["alert"]: {True, False} for rule in rules()} == tested


def test_every_alert_links_its_runbook_section():
    headings = {re.sub(r"[^a-z0-9-]", "", line[3:].strip().lower().replace(" ", "-"))
                for line in RUNBOOK.read_text().splitlines() if line.startswith("## ")}
    for rule in rules():
        url = rule["annotations"].get("runbook_url", "")
        path, _, anchor = url.partition("#")
        assert (ROOT / path) == RUNBOOK and anchor in headings, f"{rule['alert']}: runbook_url {url!r}"
