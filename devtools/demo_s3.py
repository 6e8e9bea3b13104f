"""The demo's S3 part: a local moto S3 with an Object Lock bucket, one audited drill.

Why a local moto server: a new user sees the immutability audit in a report without an AWS
account or any network beyond loopback. The server listens on 127.0.0.1:DEMO_PORT (the port the
bundled ``drills/clinic-vault-s3.yaml`` names) only while this step runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from devtools.motoserver import start_moto_server, stop_moto_server
from devtools.repos import RepoBuilder

DEMO_PORT = 45454
ENDPOINT = f"http://127.0.0.1:{DEMO_PORT}"
BUCKET = "clinic-vault"
DRILL = "clinic-vault-s3"
DEMO_AWS = {
    "AWS_ACCESS_KEY_ID": "demo-access-key",
    "AWS_SECRET_ACCESS_KEY": "demo-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def start_moto(log_path: Path) -> subprocess.Popen[bytes]:
    try:
        urllib.request.urlopen(f"{ENDPOINT}/", timeout=1)
        raise RuntimeError(f"port {DEMO_PORT} on 127.0.0.1 is already in use; free it and rerun")
    except OSError:
        pass
    return start_moto_server(DEMO_PORT, log_path, DEMO_AWS)


stop_moto = stop_moto_server


def make_locked_repository(source: Path, password: str) -> str:
    """A COMPLIANCE-locked, versioned bucket holding a restic backup of the clinic."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1",
                      aws_access_key_id=DEMO_AWS["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=DEMO_AWS["AWS_SECRET_ACCESS_KEY"])
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}})
    repository = f"s3:{ENDPOINT}/{BUCKET}/clinic"
    repo = RepoBuilder(repository, password, env=DEMO_AWS, timeout=600)
    repo.init()
    repo.backup(["srv/clinic"], host="clinic-1", tags=["nightly"], cwd=source)
    return repository


def run_s3_drill(state: Any, root: Path, demo: Path, password_file: Path,
                 source: Path, say: Any) -> None:
    """Run the Object Lock drill against a moto S3 started on loopback, then stop the server."""
    try:
        proc = start_moto(demo / "moto" / "moto.log")
    except RuntimeError as exc:
        state.problems.append(f"S3 drill not run: {exc}")
        return
    try:
        repository = make_locked_repository(source, password_file.read_text().strip())
        state.lines.append(f"S3 repository with Object Lock (moto on loopback): {repository}")
        say(f"$ drillbook run {DRILL}    # against {repository}")
        env = {**os.environ, **state.env, **DEMO_AWS}
        env.pop("AWS_PROFILE", None)  # the demo's keys, never the user's own AWS profile
        done = subprocess.run([sys.executable, "-m", "drillbook", "run", DRILL], env=env, timeout=900)
        runs = sorted((root / "reports" / DRILL).glob("*/run.json"))
        status = _status(runs[-1]) if runs else "missing"
        state.outcomes[DRILL] = status
        if status != "passed":
            state.problems.append(f"drill {DRILL}: expected passed, got {status} (exit {done.returncode})")
    except Exception as exc:  # the demo reports its problem and goes on to the next step
        state.problems.append(f"S3 drill: {type(exc).__name__}: {exc}")
    finally:
        stop_moto(proc)


def _status(run_json: Path) -> str:
    import json

    return json.loads(run_json.read_text()).get("status", "missing")
