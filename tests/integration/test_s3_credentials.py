"""Bad credentials against a real S3 API that checks them (moto with IAM authentication on)."""

from __future__ import annotations

import time

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
