"""S3 repositories with Object Lock against a real moto_server: audit, read-only drills, speed."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from tests.integration.s3fixtures import Moto
from tests.support import STANDARD_CHECKS, Workspace, free_port, write_drill

pytestmark = pytest.mark.integration


def audit(mode: str, retention: str = "30d") -> str:
    return f"  immutability: {{mode: {mode}, min_retention: {retention}}}\n" + STANDARD_CHECKS


@pytest.fixture(scope="module")
def compliance_repo(moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> str:
    moto.bucket("clinic-compliance", "COMPLIANCE", days=30)
    return moto.restic_repo("clinic-compliance", "backups/clinic", tmp_path_factory.mktemp("c"))


@pytest.fixture(scope="module")
def governance_repo(moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> str:
    moto.bucket("clinic-governance", "GOVERNANCE", days=30)
    return moto.restic_repo("clinic-governance", "clinic", tmp_path_factory.mktemp("g"))


def run(workspace: Workspace, moto: Moto, name: str):
    result = workspace.cli("run", name, timeout=180, **moto.env())
    return result, workspace.last_run(name)


@pytest.mark.restic_versions
def test_locked_compliance_bucket_passes_and_drill_changes_no_version(
        workspace, moto, compliance_repo):
    before = moto.versions("clinic-compliance")
    write_drill(workspace.drills, "locked", compliance_repo, body=audit("compliance"))
    result, record = run(workspace, moto, "locked")
    assert result.returncode == 0, (result.stdout, result.stderr, record.get("reason"))
    imm = record["immutability"]
    assert imm["status"] == "passed"
    assert imm["bucket"]["versioning"] == "Enabled" and imm["bucket"]["object_lock"] == "Enabled"
    assert imm["bucket"]["default_mode"] == "COMPLIANCE"
    assert imm["objects"]["total"] >= 5 and imm["objects"]["by_mode"] == {"COMPLIANCE": imm["objects"]["total"]}
    assert imm["objects"]["earliest_retain_until"] > record["started_at"]
    # restic's own lock files were removed after backup: their delete markers are reported
    assert all("/locks/" in key for key in imm["objects"]["delete_markers"])
    assert moto.versions("clinic-compliance") == before, "a read-only drill wrote to the bucket"
    html = (workspace.reports / "locked" / record["run_id"] / "report.html").read_text()
    assert "COMPLIANCE" in html and "clinic-compliance" in html
    # the restic cache went to drillbook's state folder, not next to the backup
    assert (workspace.state / "cache").is_dir()


def test_unlocked_bucket_fails_naming_object_lock(workspace, moto, tmp_path):
    moto.bucket("clinic-unlocked")
    repository = moto.restic_repo("clinic-unlocked", "clinic", tmp_path)
    write_drill(workspace.drills, "unlocked", repository, body=audit("compliance"))
    result, record = run(workspace, moto, "unlocked")
    assert result.returncode == 1
    assert "Object Lock" in record["reason"]
    assert record["immutability"]["objects"]["by_mode"].get("none", 0) >= 5
    restore = next(p for p in record["phases"] if p["name"] == "restore")
    assert restore["status"] == "skipped", "an unproven backup must not be restored as if fine"


def test_governance_bucket_fails_compliance_and_passes_governance(
        workspace, moto, governance_repo):
    write_drill(workspace.drills, "strict", governance_repo, body=audit("compliance"))
    write_drill(workspace.drills, "lenient", governance_repo, body=audit("governance"))
    result, record = run(workspace, moto, "strict")
    assert result.returncode == 1
    assert "GOVERNANCE" in record["reason"] and "compliance requires COMPLIANCE" in record["reason"]
    result, record = run(workspace, moto, "lenient")
    assert result.returncode == 0, record.get("reason")
    assert record["immutability"]["objects"]["by_mode"] == {
        "GOVERNANCE": record["immutability"]["objects"]["total"]}


def test_min_retention_longer_than_bucket_default_fails(workspace, moto, governance_repo):
    write_drill(workspace.drills, "long", governance_repo, body=audit("governance", "90d"))
    result, record = run(workspace, moto, "long")
    assert result.returncode == 1
    assert "shorter than min_retention 90d" in record["reason"]


def test_pack_with_governance_retention_cut_short_fails_naming_it(workspace, moto, tmp_path):
    moto.bucket("clinic-tampered", "GOVERNANCE")
    repository = moto.restic_repo("clinic-tampered", "clinic", tmp_path)
    s3 = moto.client()
    pack = next(k for k, _, latest, kind in moto.versions("clinic-tampered")
                if "/data/" in k and latest and kind == "version")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    s3.put_object_retention(Bucket="clinic-tampered", Key=pack, BypassGovernanceRetention=True,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": past})
    write_drill(workspace.drills, "tampered", repository, body=audit("governance"))
    result, record = run(workspace, moto, "tampered")
    assert result.returncode == 1
    assert pack in record["reason"] and "retention ended" in record["reason"]
    assert record["immutability"]["objects"]["unlocked"] == [pack]


def test_unreachable_endpoint_fails_fast_naming_it(workspace, moto):
    port = free_port()
    write_drill(workspace.drills, "offline", f"s3:http://127.0.0.1:{port}/clinic/repo",
                body=audit("compliance"))
    started = time.monotonic()
    result, record = run(workspace, moto, "offline")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in record["reason"] and "unreachable" in record["reason"]
    assert elapsed < 20, f"took {elapsed:.1f}s"


@pytest.mark.restic_versions
def test_missing_bucket_and_missing_repository_say_so(workspace, moto, compliance_repo):
    write_drill(workspace.drills, "nobucket", f"s3:{moto.endpoint}/no-such-bucket/x")
    write_drill(workspace.drills, "norepo", compliance_repo.rsplit("/", 1)[0] + "/elsewhere")
    _, record = run(workspace, moto, "nobucket")
    assert "bucket no-such-bucket does not exist" in record["reason"]
    _, record = run(workspace, moto, "norepo")
    assert "no restic repository" in record["reason"]


def _with_password(path: Path, source: str) -> None:
    path.write_text(path.read_text().replace("{env: TEST_RESTIC_PASSWORD}", source))


def test_password_from_secrets_manager_and_ssm(workspace, moto, compliance_repo):
    from tests.support import PASSWORD

    moto.client("secretsmanager").create_secret(
        Name="clinic/restic", SecretString=f'{{"password": "{PASSWORD}", "user": "x"}}')
    moto.client("ssm").put_parameter(Name="/clinic/restic-password", Value=PASSWORD,
                                     Type="SecureString")
    _with_password(write_drill(workspace.drills, "from-secret", compliance_repo, body=STANDARD_CHECKS),
                   "{aws_secret: clinic/restic, key: password}")
    _with_password(write_drill(workspace.drills, "from-ssm", compliance_repo, body=STANDARD_CHECKS),
                   "{ssm: /clinic/restic-password}")
    _with_password(write_drill(workspace.drills, "bad-key", compliance_repo),
                   "{aws_secret: clinic/restic, key: passwd}")
    env = moto.env(TEST_RESTIC_PASSWORD="")
    for name in ("from-secret", "from-ssm"):
        result = workspace.cli("run", name, timeout=180, **env)
        assert result.returncode == 0, (name, workspace.last_run(name).get("reason"))
    result = workspace.cli("run", "bad-key", timeout=180, **env)
    record = workspace.last_run("bad-key")
    assert result.returncode == 1 and "no field 'passwd'" in record["reason"]
    for f in (p for p in workspace.reports.rglob("*") if p.is_file()):
        assert PASSWORD not in f.read_text(errors="replace"), f
    assert PASSWORD not in result.stdout + result.stderr


def test_silent_endpoint_times_out_within_seconds(workspace, moto):
    import socket

    with socket.socket() as silent:  # accepts connections into its backlog, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        write_drill(workspace.drills, "silent", f"s3:http://127.0.0.1:{port}/clinic/repo")
        started = time.monotonic()
        result, record = run(workspace, moto, "silent")
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"127.0.0.1:{port} unreachable (timed out)" in record["reason"]
    assert elapsed < 30, f"took {elapsed:.1f}s"
