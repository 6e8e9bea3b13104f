"""Bad credentials against a real S3 API that checks them (moto with IAM authentication on)."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.s3fixtures import start_moto, stop_moto
from tests.support import STANDARD_CHECKS, write_drill

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def strict_moto(tmp_path_factory):
    """moto authenticates every request from the first one: unknown keys are refused."""
    server = start_moto(tmp_path_factory.mktemp("moto-auth"), env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        yield server
    finally:
        stop_moto(server.process)


def test_bad_credentials_fail_fast_and_say_so(workspace, strict_moto):
    write_drill(workspace.drills, "vault", f"s3:{strict_moto.endpoint}/clinic-vault/clinic",
                body=STANDARD_CHECKS)
    env = strict_moto.env(AWS_ACCESS_KEY_ID="AKIANOTAREALKEY00000",
                          AWS_SECRET_ACCESS_KEY="not-a-real-secret-key-abcdef")
    started = time.monotonic()
    result = workspace.cli("run", "vault", timeout=120, **env)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    record = workspace.last_run("vault")
    assert record["status"] == "failed"
    assert "bad AWS credentials" in record["reason"], record["reason"]
    assert strict_moto.endpoint.removeprefix("http://") in record["reason"]
    assert "not-a-real-secret-key-abcdef" not in (result.stdout + result.stderr + str(record))
    assert elapsed < 30, f"took {elapsed:.1f}s"


@pytest.fixture(scope="module")
def vault(moto, tmp_path_factory) -> str:
    moto.bucket("clinic-creds")
    return moto.restic_repo("clinic-creds", "clinic", tmp_path_factory.mktemp("creds"))


@pytest.fixture
def restic_env_log() -> Iterator[tuple[Path, Path]]:
    """A restic wrapper logging, per call, its subcommand, uid and the AWS secret it was given.

    Outside pytest's private folders and open to all: the restore runs as the sandbox account.
    """
    with tempfile.TemporaryDirectory(prefix="drillbook-restic-env-") as name:
        folder = Path(name)
        folder.chmod(0o1777)
        yield restic_wrapper(folder)


def restic_wrapper(folder: Path) -> tuple[Path, Path]:
    log = folder / "restic-env.log"
    log.touch()
    log.chmod(0o666)
    wrapper = folder / "restic-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$1 $(id -u) secret=${{AWS_SECRET_ACCESS_KEY:-none}}" >> {log}\n'
                       'exec restic "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


def calls(log: Path) -> list[tuple[str, str, str]]:
    return [tuple(line.split(" ", 2)) for line in log.read_text().splitlines()]  # type: ignore[misc]


def keyless(moto, **extra: str) -> dict[str, str]:
    """moto's environment with no keys in it: the keys come from a file or a process."""
    return moto.env(AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="", **extra)


def test_keys_from_the_environment_are_restic_s_own(workspace, moto, vault):
    write_drill(workspace.drills, "vault", vault, body=STANDARD_CHECKS)
    result = workspace.cli("run", "vault", timeout=180, **moto.env())
    record = workspace.last_run("vault")
    assert result.returncode == 0, (result.stderr, record.get("reason"))
    assert record["credentials"] == "restic's own chain (env)"
    assert "restic's own chain (env)" in (workspace.reports / "vault" / record["run_id"] / "report.md").read_text()


def test_a_shared_credentials_file_is_read_by_restic_itself(workspace, moto, vault, restic_env_log, tmp_path):
    wrapper, log = restic_env_log
    shared = tmp_path / "aws-credentials"
    shared.write_text("[clinic]\naws_access_key_id = file-key-id\naws_secret_access_key = file-secret-key\n")
    shared.chmod(0o600)
    write_drill(workspace.drills, "vault", vault, body=STANDARD_CHECKS)
    env = keyless(moto, AWS_SHARED_CREDENTIALS_FILE=str(shared), AWS_PROFILE="clinic")
    result = workspace.cli("run", "vault", timeout=180, DRILLBOOK_RESTIC=str(wrapper), **env)
    record = workspace.last_run("vault")
    assert result.returncode == 0, (result.stderr, record.get("reason"))
    assert record["credentials"].startswith("restic's own chain (shared credentials file)")
    as_drillbook = [c for c in calls(log) if c[1] == "0"]
    assert {c[0] for c in as_drillbook} >= {"snapshots", "ls"}
    assert all(c[2] == "secret=none" for c in as_drillbook), as_drillbook
    # the restore as the sandbox account cannot read the 0600 file: it gets the file's keys
    as_account = [c for c in calls(log) if c[1] != "0"]
    assert [c[0] for c in as_account] == ["restore"], (calls(log), record["restore"])
    assert as_account[0][2] == "secret=file-secret-key"
    assert "file-secret-key" not in (result.stdout + result.stderr + str(record))


def test_credential_process_keys_are_frozen_and_the_record_says_until_when(
        workspace, moto, vault, restic_env_log, tmp_path):
    wrapper, log = restic_env_log
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0)
    helper = tmp_path / "credential-helper"
    helper.write_text("#!/bin/sh\n" + "echo '" + json.dumps({
        "Version": 1, "AccessKeyId": "process-key-id", "SecretAccessKey": "process-secret-key",
        "SessionToken": "process-session-token", "Expiration": expires.isoformat()}) + "'\n")
    helper.chmod(0o755)
    config = tmp_path / "aws-config"
    config.write_text(f"[profile clinic]\ncredential_process = {helper}\n")
    write_drill(workspace.drills, "vault", vault, body=STANDARD_CHECKS)
    env = keyless(moto, AWS_CONFIG_FILE=str(config), AWS_PROFILE="clinic")
    result = workspace.cli("run", "vault", timeout=180, DRILLBOOK_RESTIC=str(wrapper), **env)
    record = workspace.last_run("vault")
    assert result.returncode == 0, (result.stderr, record.get("reason"))
    stamp = expires.isoformat().replace("+00:00", "Z")
    assert record["credentials"] == f"frozen from boto3 (custom-process), expires {stamp}"
    assert {c[2] for c in calls(log) if c[0] != "version"} == {"secret=process-secret-key"}
    assert "process-secret-key" not in (result.stdout + result.stderr + str(record))
