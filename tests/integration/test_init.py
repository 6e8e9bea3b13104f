"""``drillbook init`` against a real restic repository: the drill it writes validates and passes."""

from __future__ import annotations

import yaml

from tests.support import PASSWORD


def password_file(workspace):
    path = workspace.root / "secrets" / "restic.pw"
    path.parent.mkdir(exist_ok=True)
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


def test_the_first_drill_validates_runs_and_passes(workspace, repo):
    pw = password_file(workspace)
    result = workspace.cli("init", "--repository", str(repo.path), "--password-file", str(pw), "--name", "clinic")
    assert result.returncode == 0, result.stderr
    drill_file = workspace.drills / "clinic.yaml"
    assert f"wrote {drill_file}" in result.stdout
    drill = yaml.safe_load(drill_file.read_text())
    snapshot_path = f"{repo.data_root}/srv"
    assert drill["source"] == {"repository": str(repo.path), "password": {"file": str(pw)},
                               "snapshot": {"host": "clinic-1", "path": snapshot_path}}
    files_total = sum(1 for p in (repo.data_root / "srv").rglob("*") if not p.is_dir())
    [check] = drill["verify"]  # the other kinds are commented examples
    assert check["type"] == "files" and check["min_count"] == files_total
    assert check["path"].endswith("srv") and snapshot_path.endswith(check["path"])  # restic < 0.17 stores it shorter
    assert PASSWORD not in drill_file.read_text()

    validated = workspace.cli("validate")
    assert validated.returncode == 0, validated.stderr
    ran = workspace.cli("run", "clinic")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run = workspace.last_run("clinic")
    assert run["status"] == "passed"
    [files] = [c for c in run["checks"] if c["type"] == "files"]
    assert files["status"] == "passed" and files["data"]["count"] == files_total


def test_two_hosts_without_host_are_listed_and_nothing_is_written(workspace, repo):
    repo.backup(host="clinic-2")
    result = workspace.cli("init", "--repository", str(repo.path), "--password-file", str(password_file(workspace)))
    assert result.returncode == 2
    assert "choose one with --host" in result.stderr
    assert "--host clinic-1 --path" in result.stderr and "--host clinic-2 --path" in result.stderr
    assert list(workspace.drills.iterdir()) == []

    chosen = workspace.cli("init", "--repository", str(repo.path), "--password-file",
                           str(password_file(workspace)), "--host", "clinic-2")
    assert chosen.returncode == 0, chosen.stderr
    [written] = workspace.drills.iterdir()
    assert written.name == "clinic-2-srv.yaml"
    assert yaml.safe_load(written.read_text())["source"]["snapshot"]["host"] == "clinic-2"


def test_an_existing_file_is_never_overwritten(workspace, repo):
    existing = workspace.drills / "clinic.yaml"
    existing.write_text("owner: someone\n")
    result = workspace.cli("init", "--repository", str(repo.path), "--password-file", str(password_file(workspace)),
                           "--output", str(existing))
    assert result.returncode == 2
    assert f"{existing} already exists" in result.stderr
    assert existing.read_text() == "owner: someone\n"

    by_name = workspace.cli("init", "--repository", str(repo.path), "--password-file",
                            str(password_file(workspace)), "--name", "clinic")
    assert by_name.returncode == 2 and f"{existing} already exists" in by_name.stderr
    assert existing.read_text() == "owner: someone\n"
