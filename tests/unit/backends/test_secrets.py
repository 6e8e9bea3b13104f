"""Secrets Manager and SSM errors name the secret and the fix, never its value (stubbed clients)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from drillbook.backends import aws
from drillbook.backends.secrets import PasswordError

SECRET = "s3cr3t-horse-battery"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    for key, value in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
                       "AWS_DEFAULT_REGION": "eu-west-1",
                       "AWS_CONFIG_FILE": str(tmp_path / "none"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(key, value)


def stub_service(monkeypatch, service: str) -> Stubber:
    client = boto3.client(service, region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")
    monkeypatch.setattr(aws, "_service_client", lambda name: client)
    return Stubber(client)


def test_json_secret_field_is_returned(monkeypatch):
    stub = stub_service(monkeypatch, "secretsmanager")
    stub.add_response("get_secret_value", {"SecretString": f'{{"password": "{SECRET}"}}'},
                      {"SecretId": "clinic/restic"})
    with stub:
        assert aws.secret_value("clinic/restic", "password") == SECRET


def test_missing_field_lists_field_names_not_values(monkeypatch):
    stub = stub_service(monkeypatch, "secretsmanager")
    stub.add_response("get_secret_value", {"SecretString": f'{{"password": "{SECRET}"}}'})
    with stub, pytest.raises(PasswordError) as err:
        aws.secret_value("clinic/restic", "passwd")
    assert "no field 'passwd' (its fields: password)" in str(err.value)
    assert SECRET not in str(err.value)


def test_plain_secret_with_key_is_not_shown(monkeypatch):
    stub = stub_service(monkeypatch, "secretsmanager")
    stub.add_response("get_secret_value", {"SecretString": SECRET})
    with stub, pytest.raises(PasswordError) as err:
        aws.secret_value("clinic/restic", "password")
    assert "is not JSON" in str(err.value) and SECRET not in str(err.value)


@pytest.mark.parametrize("code, expected", [
    ("ResourceNotFoundException", "AWS secret clinic/restic not found"),
    ("AccessDeniedException", "secretsmanager:GetSecretValue"),
    ("UnrecognizedClientException", "bad AWS credentials"),
])
def test_secret_errors_say_what_to_fix(monkeypatch, code, expected):
    stub = stub_service(monkeypatch, "secretsmanager")
    stub.add_client_error("get_secret_value", code, http_status_code=400)
    with stub, pytest.raises(PasswordError, match=expected):
        aws.secret_value("clinic/restic", None)


def test_ssm_parameter_decrypted_and_missing(monkeypatch):
    stub = stub_service(monkeypatch, "ssm")
    stub.add_response("get_parameter", {"Parameter": {"Name": "/p", "Value": SECRET}},
                      {"Name": "/p", "WithDecryption": True})
    stub.add_client_error("get_parameter", "ParameterNotFound", http_status_code=400)
    with stub:
        assert aws.ssm_parameter("/p") == SECRET
        with pytest.raises(PasswordError, match="SSM parameter /q not found"):
            aws.ssm_parameter("/q")


def test_no_region_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(PasswordError, match="no AWS region configured"):
        aws.ssm_parameter("/p")


def test_restic_environment_resolves_the_chain(monkeypatch):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")
    env = aws.restic_environment("s3:http://127.0.0.1:9/b/p")
    assert env == {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok",
                   "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"}


def test_restic_environment_from_a_profile(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    creds = tmp_path / "credentials"
    creds.write_text("[clinic]\naws_access_key_id = pk\naws_secret_access_key = ps\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_PROFILE", "clinic")
    env = aws.restic_environment("s3:http://127.0.0.1:9/b/p")
    assert env["AWS_ACCESS_KEY_ID"] == "pk" and env["AWS_SECRET_ACCESS_KEY"] == "ps"
