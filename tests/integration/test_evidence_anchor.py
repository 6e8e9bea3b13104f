"""Each new ledger head goes to the WORM bucket under Object Lock and serves as --anchor."""

from __future__ import annotations

import json

import pytest

from tests.support import STANDARD_CHECKS, write_drill

pytestmark = pytest.mark.integration


def test_ledger_head_is_published_locked_and_verifies_as_anchor(workspace, moto, repo):
    moto.bucket("clinic-evidence", "COMPLIANCE", days=1)
    (workspace.drills / "drillbook.yaml").write_text(
        f"evidence: {{s3: s3://clinic-evidence/drillbook, retain: 2d, endpoint_url: '{moto.endpoint}'}}\n")
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("run", "clinic", **moto.env())
    assert result.returncode == 0, result.stderr
    head = json.loads((workspace.reports / "evidence" / "ledger.jsonl").read_text().splitlines()[-1])

    s3 = moto.client()
    key = "drillbook/ledger-heads/00000001/head.json"
    assert s3.head_object(Bucket="clinic-evidence", Key=key)["ObjectLockMode"] == "COMPLIANCE"
    published = json.loads(s3.get_object(Bucket="clinic-evidence", Key=key)["Body"].read())
    assert published["hash"] == head["hash"] and published["seq"] == 1
    assert workspace.cli("evidence", "verify", "--anchor", published["hash"]).returncode == 0

    # a rewritten ledger (even re-signed with the stolen key) no longer contains the anchor
    (workspace.reports / "evidence" / "ledger.jsonl").write_text("")
    rewritten = workspace.cli("evidence", "verify", "--anchor", published["hash"])
    assert rewritten.returncode == 1 and "is not in the chain" in rewritten.stdout
