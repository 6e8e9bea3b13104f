"""WORM evidence: each finished run's folder is uploaded under Object Lock; failures are retried."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import STANDARD_CHECKS, write_drill

pytestmark = pytest.mark.integration


def upload_of(workspace, drill: str) -> dict:
    run = workspace.last_run(drill)
    return json.loads((workspace.reports / drill / run["run_id"] / "evidence-upload.json").read_text())


def test_runs_are_uploaded_locked_and_a_failed_drill_stays_failed(workspace, moto, repo):
    moto.bucket("clinic-evidence", "COMPLIANCE", days=1)
    (workspace.drills / "drillbook.yaml").write_text(
        f"evidence: {{s3: s3://clinic-evidence/drillbook, mode: compliance, retain: 2d, "
        f"endpoint_url: '{moto.endpoint}'}}\n")
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    write_drill(workspace.drills, "wrong-host", repo.path, snapshot="{host: nobody}")
    assert workspace.cli("run", "clinic", **moto.env()).returncode == 0
    assert workspace.cli("run", "wrong-host", **moto.env()).returncode == 1
    assert workspace.last_run("wrong-host")["status"] == "failed"

    upload = upload_of(workspace, "clinic")
    assert upload["status"] == "uploaded"
    run = workspace.last_run("clinic")
    by_name = {o["key"].rsplit("/", 1)[1]: o for o in upload["objects"]}
    assert {"run.json", "report.html", "report.md"} <= set(by_name)
    key = by_name["run.json"]["key"]
    assert key == f"drillbook/clinic/{run['run_id']}/run.json"
    s3 = moto.client()
    head = s3.head_object(Bucket="clinic-evidence", Key=key)
    assert head["VersionId"] == by_name["run.json"]["version_id"]
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"].astimezone(UTC)
    assert timedelta(days=1, hours=23) < until - datetime.now(UTC) < timedelta(days=2, minutes=1)
    body = s3.get_object(Bucket="clinic-evidence", Key=key)["Body"].read()
    assert body == (workspace.reports / "clinic" / run["run_id"] / "run.json").read_bytes()
    assert upload_of(workspace, "wrong-host")["status"] == "uploaded"


def test_failed_upload_never_changes_the_status_and_is_retried_next_run(workspace, moto, repo):
    body = STANDARD_CHECKS + (f"evidence: {{s3: s3://later-evidence/runs, retain: 1d, "
                              f"endpoint_url: '{moto.endpoint}'}}\n")
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic", **moto.env())
    assert result.returncode == 0, "an upload failure turned a pass into a failure"
    first = workspace.last_run("clinic")
    upload = upload_of(workspace, "clinic")
    assert upload["status"] == "failed" and "later-evidence" in upload["error"]
    assert "WORM evidence upload" in result.stderr
    pending = json.loads((workspace.state / "evidence-pending.json").read_text())
    assert [p["run_id"] for p in pending] == [first["run_id"]]

    moto.bucket("later-evidence", "COMPLIANCE", days=1)
    assert workspace.cli("run", "clinic", **moto.env()).returncode == 0
    upload = upload_of(workspace, "clinic")
    assert upload["status"] == "uploaded"
    assert [(r["run_id"], r["status"]) for r in upload["retried"]] == [(first["run_id"], "uploaded")]
    assert json.loads((workspace.state / "evidence-pending.json").read_text()) == []
    keys = {k for k, *_ in moto.versions("later-evidence", f"runs/clinic/{first['run_id']}/")}
    assert f"runs/clinic/{first['run_id']}/run.json" in keys
    # the retry wrote nothing into the first run's sealed folder: the ledger still verifies
    verify = workspace.cli("evidence", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_runbook_run_is_uploaded_like_a_drill_run(workspace, moto):
    moto.bucket("runbook-evidence", "COMPLIANCE", days=1)
    (workspace.drills / "drillbook.yaml").write_text(
        f"evidence: {{s3: s3://runbook-evidence/drillbook, retain: 1d, endpoint_url: '{moto.endpoint}'}}\n")
    runbooks = workspace.root / "runbooks"
    runbooks.mkdir()
    (runbooks / "failover.md").write_text("# Fail over\n\n## Promote the standby\n```sh\ntrue\n```\n")
    result = workspace.cli("runbook", "run", "failover", "--yes", "--operator", "alice", **moto.env())
    assert result.returncode == 0, result.stderr
    [folder] = (workspace.reports / "runbooks" / "failover").iterdir()
    upload = json.loads((folder / "evidence-upload.json").read_text())
    assert upload["status"] == "uploaded"
    key = f"drillbook/failover/{folder.name}/run.json"
    assert key in {o["key"] for o in upload["objects"]}
    body = moto.client().get_object(Bucket="runbook-evidence", Key=key)["Body"].read()
    assert body == (folder / "run.json").read_bytes()
    entries = (workspace.reports / "evidence" / "ledger.jsonl").read_text().splitlines()
    assert "evidence-upload.json" in json.loads(entries[-1])["files"]  # uploaded before sealing
    verify = workspace.cli("evidence", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
