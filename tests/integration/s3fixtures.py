"""A real ``moto_server`` process on 127.0.0.1 and helpers to build restic repositories in it.

The ``moto`` fixture (in this folder's conftest.py) gives each test module its own server on a
free port, stopped when the module ends.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.motoserver import moto_binary, start_moto_server, stop_moto_server
from devtools.repos import RepoBuilder
from tests.support import PASSWORD, free_port, make_sample_tree

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass
class Moto:
    endpoint: str
    process: subprocess.Popen[bytes]
    files: Path

    def env(self, **extra: str) -> dict[str, str]:
        """AWS variables for a drillbook child: moto's endpoint, no shared config files."""
        env = dict(AWS_ENV)
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CONFIG_FILE": str(self.files / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.files / "no-aws-credentials"),
        })
        env.update(extra)
        return env

    def client(self, service: str = "s3") -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"])

    def bucket(self, name: str, lock_mode: str | None = None, days: int = 30) -> str:
        """A bucket; with ``lock_mode`` Object Lock (and so versioning) and a default retention."""
        s3 = self.client()
        if lock_mode:
            s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
            s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": lock_mode, "Days": days}}})
        else:
            s3.create_bucket(Bucket=name)
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def restic_repo(self, bucket: str, prefix: str, work: Path) -> str:
        """``restic init`` and one nightly backup of the sample clinic data into bucket/prefix."""
        data_root = work / f"source-{bucket}"
        make_sample_tree(data_root, files=12, rows=1200)
        repository = f"s3:{self.endpoint}/{bucket}/{prefix}"
        builder = RepoBuilder(repository, PASSWORD, env=self.env(), timeout=120)
        builder.init()
        builder.backup(["srv"], host="clinic-1", tags=["nightly"], cwd=data_root)
        return repository

    def versions(self, bucket: str, prefix: str = "") -> list[tuple[str, str, bool, str]]:
        """Every version and delete marker under prefix: (key, version id, latest, kind)."""
        out: list[tuple[str, str, bool, str]] = []
        pages = self.client().get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            out += [(v["Key"], v["VersionId"], v["IsLatest"], "version") for v in page.get("Versions", [])]
            out += [(m["Key"], m["VersionId"], m["IsLatest"], "marker") for m in page.get("DeleteMarkers", [])]
        return sorted(out)


def start_moto(files: Path, timeout: float = 30.0, env: dict[str, str] | None = None) -> Moto:
    if not moto_binary():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    files.mkdir(parents=True, exist_ok=True)
    proc = start_moto_server(port, files / "moto.log", {**AWS_ENV, **(env or {})}, timeout)
    return Moto(f"http://127.0.0.1:{port}", proc, files)


stop_moto = stop_moto_server
