"""The Object Lock audit's rules and its handling of missing permissions (stubbed S3, no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from drillbook.backends import aws
from drillbook.backends.immutability import BucketFacts, ObjectFact, evaluate
from drillbook.spec.models import Immutability

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=20)
LOC = aws.S3Location("http://127.0.0.1:9", "vault", "clinic")


def wanted(mode: str = "compliance", retention: str = "30d") -> Immutability:
    return Immutability.model_validate({"mode": mode, "min_retention": retention})


def locked_bucket(mode: str = "COMPLIANCE", days: int = 30) -> BucketFacts:
    return BucketFacts("vault", versioning="Enabled", object_lock="Enabled", default_mode=mode,
                       default_retention=f"{days} days", default_retention_seconds=days * 86400.0)


@pytest.mark.parametrize("repository, endpoint, bucket, prefix", [
    ("s3:http://127.0.0.1:9000/vault/clinic/files", "http://127.0.0.1:9000", "vault", "clinic/files"),
    ("s3:https://minio.example.org/vault", "https://minio.example.org", "vault", ""),
    ("s3:s3.amazonaws.com/vault/clinic/", None, "vault", "clinic"),
    ("s3://s3.eu-west-1.amazonaws.com/vault/x", "https://s3.eu-west-1.amazonaws.com", "vault", "x"),
])
def test_parse_repository_reads_restic_forms(repository, endpoint, bucket, prefix):
    assert aws.parse_repository(repository) == aws.S3Location(endpoint, bucket, prefix)


def test_parse_repository_without_bucket_says_how_to_write_it():
    with pytest.raises(aws.AwsError, match="names no bucket"):
        aws.parse_repository("s3:https://minio.example.org/")


def test_all_locked_compliance_passes_with_counts_and_earliest_date():
    objects = [ObjectFact("clinic/config", "COMPLIANCE", LATER),
               ObjectFact("clinic/data/aa/aa1", "COMPLIANCE", LATER + timedelta(days=3))]
    result = evaluate(wanted(), "clinic/", locked_bucket(), objects, [], NOW)
    assert result["status"] == "passed", result["reason"]
    assert result["objects"]["by_mode"] == {"COMPLIANCE": 2}
    assert result["objects"]["earliest_retain_until"].startswith("2026-12-14")


def test_governance_satisfies_governance_but_not_compliance():
    objects = [ObjectFact("clinic/config", "GOVERNANCE", LATER)]
    assert evaluate(wanted("governance"), "clinic/", locked_bucket("GOVERNANCE"), objects, [], NOW)[
        "status"] == "passed"
    result = evaluate(wanted("compliance"), "clinic/", locked_bucket("GOVERNANCE"), objects, [], NOW)
    assert result["status"] == "failed"
    assert "default retention is GOVERNANCE" in result["reason"]
    assert "clinic/config (GOVERNANCE, compliance requires COMPLIANCE)" in result["reason"]


def test_expired_retention_and_missing_lock_name_the_keys():
    objects = [ObjectFact("clinic/data/aa/old", "GOVERNANCE", NOW - timedelta(seconds=1)),
               ObjectFact("clinic/index/bare"),
               ObjectFact("clinic/config", "GOVERNANCE", LATER)]
    result = evaluate(wanted("governance"), "clinic/", locked_bucket("GOVERNANCE"), objects,
                      ["clinic/locks/l1"], NOW)
    assert result["objects"]["unlocked"] == ["clinic/data/aa/old", "clinic/index/bare"]
    assert "retention ended 2026-11-24T11:59:59" in result["reason"]
    assert result["objects"]["by_mode"] == {"GOVERNANCE": 2, "none": 1}
    assert result["objects"]["delete_markers"] == ["clinic/locks/l1"]


def test_bucket_without_versioning_or_short_default_fails():
    bucket = locked_bucket(days=7)
    bucket.versioning = "Suspended"
    result = evaluate(wanted(), "clinic/", bucket, [ObjectFact("clinic/config", "COMPLIANCE", LATER)],
                      [], NOW)
    assert "versioning Suspended" in result["reason"]
    assert "default retention 7 days is shorter than min_retention 30d" in result["reason"]


def test_empty_prefix_never_passes():
    result = evaluate(wanted(), "clinic/", locked_bucket(), [], [], NOW)
    assert result["status"] == "failed" and "no objects under clinic/" in result["reason"]


# -- against a stubbed S3 client: what the calls answer decides locked / unlocked / unknown ----
def stubbed() -> tuple[object, Stubber]:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s", endpoint_url="http://127.0.0.1:9")
    return client, Stubber(client)


def _listing(stub: Stubber, keys: list[str]) -> None:
    stub.add_response("list_object_versions", {
        "Versions": [{"Key": k, "VersionId": "v1", "IsLatest": True} for k in keys],
        "IsTruncated": False}, {"Bucket": "vault", "Prefix": "clinic/"})


def test_lock_fields_hidden_by_permissions_are_unknown_and_name_the_permission():
    client, stub = stubbed()
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"})
    stub.add_client_error("get_object_lock_configuration", "AccessDenied", http_status_code=403)
    _listing(stub, ["clinic/config"])
    stub.add_response("head_object", {"ContentLength": 1})  # no ObjectLock* fields shown
    stub.add_client_error("get_object_retention", "AccessDenied", http_status_code=403)
    with stub:
        result = aws.audit_location(client, LOC, wanted(), now=NOW)
    assert result["status"] == "failed"
    assert result["bucket"]["object_lock"] == "unknown"
    assert result["objects"]["by_mode"] == {"unknown": 1}
    assert "s3:GetBucketObjectLockConfiguration" in result["reason"]
    assert "s3:GetObjectRetention" in result["reason"]


def test_absent_lock_fields_that_may_be_read_mean_not_locked(monkeypatch):
    monkeypatch.setattr(aws, "AUDIT_WORKERS", 1)  # the stub answers in order: one worker
    client, stub = stubbed()
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"})
    stub.add_response("get_object_lock_configuration", {"ObjectLockConfiguration": {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}}})
    _listing(stub, ["clinic/config", "clinic/keys/k1"])
    stub.add_response("head_object", {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": LATER})
    stub.add_response("head_object", {"ContentLength": 1})
    stub.add_client_error("get_object_retention", "NoSuchObjectLockConfiguration", http_status_code=404)
    with stub:
        result = aws.audit_location(client, LOC, wanted(), now=NOW)
    assert result["objects"]["by_mode"] == {"COMPLIANCE": 1, "none": 1}
    assert result["objects"]["unlocked"] == ["clinic/keys/k1"]
    assert "permission" not in (result["reason"] or "")


def test_denied_version_listing_falls_back_and_says_markers_were_not_checked():
    client, stub = stubbed()
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"})
    stub.add_response("get_object_lock_configuration", {"ObjectLockConfiguration": {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}}}})
    stub.add_client_error("list_object_versions", "AccessDenied", http_status_code=403)
    stub.add_response("list_objects_v2", {"Contents": [{"Key": "clinic/config"}], "IsTruncated": False})
    stub.add_response("head_object", {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": LATER})
    with stub:
        result = aws.audit_location(client, LOC, wanted(), now=NOW)
    assert result["status"] == "passed", result["reason"]
    assert result["bucket"]["default_retention"] == "1 years"
    assert "s3:ListBucketVersions" in result["notes"][0]


def test_unreachable_endpoint_names_it(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    result = aws.audit_repository("s3:http://127.0.0.1:9/vault/clinic", wanted())
    assert result["status"] == "failed"
    assert "http://127.0.0.1:9 unreachable" in result["reason"]


def test_no_credentials_say_where_they_come_from(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert "no AWS credentials found" in aws.probe_repository("s3:http://127.0.0.1:9/vault/clinic")


@pytest.mark.parametrize("code, expected", [
    ("InvalidAccessKeyId", "bad AWS credentials: http://127.0.0.1:9 answered InvalidAccessKeyId"),
    ("AccessDenied", "access denied to bucket vault at http://127.0.0.1:9: the credentials need"),
])
def test_probe_tells_bad_credentials_from_missing_permissions(code, expected):
    client, stub = stubbed()
    stub.add_client_error("head_bucket", "403", http_status_code=403)
    stub.add_client_error("list_objects_v2", code, http_status_code=403)
    with stub:
        reason = aws.probe_location(client, LOC, "s3:http://127.0.0.1:9/vault/clinic")
    assert expected in reason


def test_probe_passes_when_bucket_and_config_exist():
    client, stub = stubbed()
    stub.add_response("head_bucket", {})
    stub.add_response("head_object", {"ContentLength": 155}, {"Bucket": "vault", "Key": "clinic/config"})
    with stub:
        assert aws.probe_location(client, LOC, "s3:http://127.0.0.1:9/vault/clinic") is None
