"""A real drill whose repository password comes from a command or a systemd credential."""

from __future__ import annotations

from tests.support import PASSWORD, PASSWORD_ENV, STANDARD_CHECKS, write_drill


def with_password(workspace, repo, source: str):
    path = write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    path.write_text(path.read_text().replace(f"password: {{env: {PASSWORD_ENV}}}", f"password: {source}"))
    return path


def everything_written(workspace, result) -> str:
    files = [p.read_text(errors="replace") for p in workspace.reports.rglob("*") if p.is_file()]
    return "\n".join([result.stdout, result.stderr, *files])


def password_script(workspace, body: str):
    program = workspace.root / "bin" / "restic-password"
    program.parent.mkdir(exist_ok=True)
    program.write_text("#!/bin/sh\n" + body + "\n")
    program.chmod(0o755)
    return program


def test_the_password_comes_from_an_allowed_command(workspace, repo):
    program = password_script(workspace, f'echo "{PASSWORD}"')
    (workspace.drills).mkdir(parents=True, exist_ok=True)
    (workspace.drills / "drillbook.yaml").write_text(f"password_commands:\n  - [{program}, clinic]\n")
    with_password(workspace, repo, f"{{command: [{program}, clinic]}}")
    result = workspace.cli("run", "clinic", **{PASSWORD_ENV: "not-the-password"})
    assert result.returncode == 0, result.stderr
    run = workspace.last_run("clinic")
    assert run["status"] == "passed"
    assert run["phases"][0]["detail"] == "password from command"
    assert PASSWORD not in everything_written(workspace, result)


def test_a_failing_command_fails_the_drill_without_showing_its_output(workspace, repo):
    program = password_script(workspace, f'echo "{PASSWORD}"; echo "denied for {PASSWORD}" >&2; exit 7')
    (workspace.drills).mkdir(parents=True, exist_ok=True)
    (workspace.drills / "drillbook.yaml").write_text(f"password_commands:\n  - [{program}]\n")
    with_password(workspace, repo, f"{{command: [{program}]}}")
    result = workspace.cli("run", "clinic")
    assert result.returncode == 1
    run = workspace.last_run("clinic")
    assert run["status"] == "failed"
    assert f"password command {program} exited with 7" in run["reason"]
    assert PASSWORD not in everything_written(workspace, result)


def test_a_command_drillbook_yaml_does_not_list_is_refused_before_anything_runs(workspace, repo):
    marker = workspace.root / "ran"
    program = password_script(workspace, f"touch {marker}; echo x")
    path = with_password(workspace, repo, f"{{command: [{program}]}}")
    result = workspace.cli("run", "clinic")
    assert result.returncode == 2
    assert f"{path}:6: source.password.command:" in result.stderr and "password_commands" in result.stderr
    assert not marker.exists()


def test_the_password_comes_from_a_systemd_credential(workspace, repo, tmp_path):
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "clinic-restic").write_text(PASSWORD + "\n")
    with_password(workspace, repo, "{credential: clinic-restic}")
    result = workspace.cli("run", "clinic", CREDENTIALS_DIRECTORY=str(credentials),
                           **{PASSWORD_ENV: "not-the-password"})
    assert result.returncode == 0, result.stderr
    assert workspace.last_run("clinic")["phases"][0]["detail"] == "password from credential"
    assert PASSWORD not in everything_written(workspace, result)


def test_a_credential_outside_systemd_fails_with_the_fix(workspace, repo):
    with_password(workspace, repo, "{credential: clinic-restic}")
    result = workspace.cli("run", "clinic")
    assert result.returncode == 1
    reason = workspace.last_run("clinic")["reason"]
    assert "CREDENTIALS_DIRECTORY is not set" in reason and "LoadCredential=clinic-restic" in reason
