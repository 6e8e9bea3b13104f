"""Which of boto3's credential sources restic resolves itself, and which are frozen for it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.credentials import ReadOnlyCredentials

from drillbook.backends.aws import plan_credentials

SESSION = ReadOnlyCredentials("ASIAKEY", "session-secret", "session-token")
EXPIRES = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
WEB_IDENTITY = {"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"}


@pytest.mark.parametrize(("method", "words"), [
    ("env", "env"), ("iam-role", "instance role"), ("container-role", "container role"),
])
def test_sources_restic_reads_and_refreshes_itself_get_no_secret(method: str, words: str) -> None:
    plan = plan_credentials(method, SESSION, EXPIRES, {})
    assert plan.env == {} and plan.account_env == {}
    assert plan.described == f"restic's own chain ({words})"


def test_web_identity_from_the_environment_is_left_to_restic() -> None:
    plan = plan_credentials("assume-role-with-web-identity", SESSION, EXPIRES, WEB_IDENTITY)
    assert plan.env == {} and plan.described == "restic's own chain (web identity)"


def test_web_identity_from_a_config_profile_is_frozen() -> None:
    plan = plan_credentials("assume-role-with-web-identity", SESSION, EXPIRES, {})
    assert plan.env["AWS_SESSION_TOKEN"] == "session-token"
    assert plan.described == "frozen from boto3 (assume-role-with-web-identity), expires 2026-12-03T17:00:00Z"


def test_the_shared_file_is_read_by_restic_and_its_keys_only_reach_the_sandbox_account() -> None:
    plan = plan_credentials("shared-credentials-file", ReadOnlyCredentials("AKIA", "file-secret", None),
                            None, {}, profile="clinic")
    assert plan.env == {"AWS_PROFILE": "clinic"}
    assert plan.account_env == {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "file-secret"}
    assert (plan.described or "").startswith("restic's own chain (shared credentials file)")


@pytest.mark.parametrize("method", ["sso", "custom-process", "assume-role", "config-file"])
def test_sources_restic_cannot_read_are_frozen_with_their_expiry(method: str) -> None:
    plan = plan_credentials(method, SESSION, EXPIRES, {})
    assert plan.env == {"AWS_ACCESS_KEY_ID": "ASIAKEY", "AWS_SECRET_ACCESS_KEY": "session-secret",
                        "AWS_SESSION_TOKEN": "session-token"}
    assert plan.described == f"frozen from boto3 ({method}), expires 2026-12-03T17:00:00Z"


def test_frozen_static_keys_say_they_do_not_expire() -> None:
    plan = plan_credentials("config-file", ReadOnlyCredentials("AKIA", "s", None), None, {})
    assert plan.described == "frozen from boto3 (config-file), no expiry"
    assert "AWS_SESSION_TOKEN" not in plan.env


def test_no_credentials_are_said_so() -> None:
    assert plan_credentials(None, None, None, {}).described == "none found"
