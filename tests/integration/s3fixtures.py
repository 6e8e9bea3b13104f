"""A real ``moto_server`` process on 127.0.0.1 and helpers to build restic repositories in it.

Import the fixture into a test module (``from tests.integration.s3fixtures import moto  # noqa``);
each module gets its own server on a free port, stopped when the module ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from drillbook.restic import Restic
from tests.support import PASSWORD, make_sample_tree

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_binary() -> str:
    local = Path(sys.executable).parent / "moto_server"
    found = str(local) if local.exists() else shutil.which("moto_server")
    if not found:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    return found


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
        restic = Restic(repository, PASSWORD, env=self.env(), read_only=False, timeout=120)
        restic.init()
        restic.backup(["srv"], host="clinic-1", tags=["nightly"], cwd=data_root)
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
    port = free_port()
    files.mkdir(parents=True, exist_ok=True)
    log = open(files / "moto.log", "wb")
    proc = subprocess.Popen([moto_binary(), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, **AWS_ENV, **(env or {})})
    log.close()
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited: {(files / 'moto.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                return Moto(endpoint, proc, files)
        except OSError:
            time.sleep(0.2)
    stop_moto(proc)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {timeout:.0f}s")


def stop_moto(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    server = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        stop_moto(server.process)
