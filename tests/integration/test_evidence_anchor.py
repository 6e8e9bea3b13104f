"""Each new ledger head goes to the WORM bucket under Object Lock and serves as --anchor."""

from __future__ import annotations

import json

import pytest

from drillbook.evidence import ledger
from drillbook.settings import Settings
from tests.support import STANDARD_CHECKS, write_drill
from tests.unit.evidence.ledgers import fake_run

pytestmark = pytest.mark.integration


def locked_head(workspace, moto, bucket: str, key: str) -> dict:
    """The ledger head published at ``key``, after checking it is under Object Lock and that
    ``evidence verify`` accepts its hash as an anchor."""
    s3 = moto.client()
    assert s3.head_object(Bucket=bucket, Key=key)["ObjectLockMode"] == "COMPLIANCE"
    published = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert workspace.cli("evidence", "verify", "--anchor", published["hash"]).returncode == 0
    return published


def test_ledger_head_is_published_locked_and_verifies_as_anchor(workspace, moto, repo):
    moto.bucket("clinic-evidence", "COMPLIANCE", days=1)
    (workspace.drills / "drillbook.yaml").write_text(
        f"evidence: {{s3: s3://clinic-evidence/drillbook, retain: 2d, endpoint_url: '{moto.endpoint}'}}\n")
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("run", "clinic", **moto.env())
    assert result.returncode == 0, result.stderr
    head = json.loads((workspace.reports / "evidence" / "ledger.jsonl").read_text().splitlines()[-1])

    published = locked_head(workspace, moto, "clinic-evidence", "drillbook/ledger-heads/00000001/head.json")
    assert published["hash"] == head["hash"] and published["seq"] == 1

    # a rewritten ledger (even re-signed with the stolen key) no longer contains the anchor
    (workspace.reports / "evidence" / "ledger.jsonl").write_text("")
    rewritten = workspace.cli("evidence", "verify", "--anchor", published["hash"])
    assert rewritten.returncode == 1 and "is not in the chain" in rewritten.stdout


def test_a_note_publishes_the_new_head_to_its_runs_bucket(workspace, moto):
    """A note's seal is anchored at once, to the run's drill's own target, not at the next run."""
    moto.bucket("note-evidence", "COMPLIANCE", days=1)
    target = f"evidence: {{s3: s3://note-evidence/clinic, retain: 2d, endpoint_url: '{moto.endpoint}'}}\n"
    write_drill(workspace.drills, "clinic", workspace.root / "no-repo", body=target)
    settings = Settings(drills_dir=workspace.drills, reports_dir=workspace.reports, state_dir=workspace.state,
                        runbooks_dir=workspace.root / "runbooks")
    run_id = "20261102T030000Z-000001"
    ledger.seal(fake_run(workspace.reports, "clinic", run_id, status="failed"), settings)

    noted = workspace.cli("evidence", "note", run_id, "--by", "A. Jones", "--kind", "review",
                          "--text", "Looked at it.", **moto.env())
    assert noted.returncode == 0, noted.stderr
    note = json.loads((workspace.reports / "evidence" / "ledger.jsonl").read_text().splitlines()[-1])
    published = locked_head(workspace, moto, "note-evidence", "clinic/ledger-heads/00000002/head.json")
    assert (published["seq"], published["hash"]) == (2, note["hash"])
