"""Password sources: Secrets Manager and SSM errors name the secret and the fix, never its value
(stubbed clients); a password command and a systemd credential."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from drillbook.backends import aws
from drillbook.backends.secrets import PasswordError, describe_source, resolve_password
from drillbook.spec.models import PasswordSource

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


def test_keys_in_the_environment_are_left_to_restic(monkeypatch):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")
    creds = aws.restic_environment("s3:http://127.0.0.1:9/b/p")
    assert creds.env == {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"}
    assert creds.account_env == {}
    assert creds.described == "restic's own chain (env)"


def test_a_profile_in_the_shared_file_is_left_to_restic(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    creds = tmp_path / "credentials"
    creds.write_text("[clinic]\naws_access_key_id = pk\naws_secret_access_key = ps\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_PROFILE", "clinic")
    resolved = aws.restic_environment("s3:http://127.0.0.1:9/b/p")
    assert "AWS_SECRET_ACCESS_KEY" not in resolved.env
    assert resolved.env["AWS_PROFILE"] == "clinic"
    assert resolved.account_env == {"AWS_ACCESS_KEY_ID": "pk", "AWS_SECRET_ACCESS_KEY": "ps"}
    assert (resolved.described or "").startswith("restic's own chain (shared credentials file)")


# -- password: {command:} and {credential:} ------------------------------------------------------
def script(folder, body: str, mode: int = 0o755):
    path = folder / "get-password"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(mode)
    return path


def from_command(argv, **extra) -> str:
    return resolve_password(PasswordSource(command=[str(a) for a in argv], **extra), Path("/"))


def test_a_command_gives_the_first_line_of_its_output(tmp_path):
    program = script(tmp_path, f'echo "{SECRET}"; echo second-line')
    assert from_command([program]) == SECRET


def test_a_command_runs_without_a_shell_and_gets_drillbooks_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULT_TOKEN", "vt")
    program = script(tmp_path, 'printf "%s|%s" "$1" "$VAULT_TOKEN"')
    assert from_command([program, "a b; rm -rf /"]) == "a b; rm -rf /|vt"


def test_a_failing_command_names_argv0_and_its_exit_code_never_its_output(tmp_path, caplog):
    program = script(tmp_path, f'echo "{SECRET}"; echo "stderr {SECRET}" >&2; exit 3')
    with pytest.raises(PasswordError) as err:
        from_command([program, "--vault"])
    assert f"password command {program} exited with 3" in str(err.value)
    assert SECRET not in str(err.value) + caplog.text


def test_empty_output_is_a_clear_failure(tmp_path):
    program = script(tmp_path, "echo; echo second")
    with pytest.raises(PasswordError, match=f"password command {program} printed no password"):
        from_command([program])


def test_a_hanging_command_is_killed_at_its_timeout(tmp_path):
    program = script(tmp_path, "sleep 30")
    began = time.monotonic()
    with pytest.raises(PasswordError, match="did not finish within 1s"):
        from_command([program], timeout="1s")
    assert time.monotonic() - began < 10


def test_a_missing_command_is_a_clear_failure(tmp_path):
    with pytest.raises(PasswordError, match=f"password command {tmp_path}/nope"):
        from_command([tmp_path / "nope"])


def test_a_command_others_can_change_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    program = script(tmp_path, f"touch {marker}; echo pw", mode=0o775)
    with pytest.raises(PasswordError) as err:
        from_command([program])
    assert "group-writable" in str(err.value) and str(program) in str(err.value)
    assert not marker.exists()


def test_a_command_in_a_folder_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    program = script(shared, "echo pw")
    with pytest.raises(PasswordError, match="world-writable"):
        from_command([program])


def test_a_credential_is_read_from_the_credentials_directory(tmp_path, monkeypatch):
    (tmp_path / "clinic-restic").write_text(SECRET + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert resolve_password(PasswordSource(credential="clinic-restic"), Path("/")) == SECRET


def test_a_credential_without_credentials_directory_says_how_to_fix_it(monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(PasswordError) as err:
        resolve_password(PasswordSource(credential="clinic-restic"), Path("/"))
    assert "CREDENTIALS_DIRECTORY is not set" in str(err.value) and "LoadCredential=clinic-restic" in str(err.value)


def test_a_missing_or_empty_credential_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    with pytest.raises(PasswordError, match=f"no credential clinic-restic in {tmp_path}"):
        resolve_password(PasswordSource(credential="clinic-restic"), Path("/"))
    (tmp_path / "clinic-restic").write_text("\n")
    with pytest.raises(PasswordError, match="is empty"):
        resolve_password(PasswordSource(credential="clinic-restic"), Path("/"))


def test_a_source_is_described_by_kind_and_name_never_by_value(tmp_path: Path) -> None:
    drills = tmp_path / "drills"
    assert describe_source(PasswordSource(env="CLINIC_PW"), drills) == "env CLINIC_PW"
    assert describe_source(PasswordSource(file="../pw"), drills) == f"file ../pw (= {drills / '../pw'})"
    assert describe_source(PasswordSource(file="/etc/pw"), drills) == "file /etc/pw"
    assert describe_source(PasswordSource(aws_secret="clinic", key="pw"), drills) == "aws_secret clinic key pw"
    assert describe_source(PasswordSource(command=["/usr/bin/vault", "read"]), drills) == "command /usr/bin/vault"
