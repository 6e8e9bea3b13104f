"""``postgres`` against a hostile restore: nothing restored is followed, blocks, or configures the server.

The launcher is scripted, so these run without PostgreSQL: they check what drillbook reads and
writes as itself, and the command line it starts the server with.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

import pytest

from drillbook.checks.base import CheckContext
from drillbook.checks.services import pgbin
from drillbook.checks.services import postgres as pg
from drillbook.drill.record import CheckResult
from drillbook.spec.models import PostgresCheck
from drillbook.status import Status
from drillbook.util.process import Completed
from tests.unit.checks.fakes import Call, ScriptedLauncher, completed

SECRET = "-----BEGIN PRIVATE KEY----- MC4CAQAwBQYDK2VwBCIEIDrillbookSigningKey"
BINS = pgbin.PgBinaries(Path("/usr/lib/postgresql/15/bin"), 15, "test")


@pytest.fixture(autouse=True)
def _postgres_15(monkeypatch) -> None:
    monkeypatch.setattr(pgbin, "installed", lambda: [BINS])


def _sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """A sandbox folder laid out like the real one: restore/ and work/ under a private folder."""
    sandbox = tmp_path / "sandbox"
    (sandbox / "restore" / "srv" / "pgdata").mkdir(parents=True)
    (sandbox / "work").mkdir()
    sandbox.chmod(0o755)
    (sandbox / "restore" / "srv" / "pgdata" / "PG_VERSION").write_text("15\n")
    return sandbox, sandbox / "restore" / "srv" / "pgdata"


def _spec(**fields: object) -> PostgresCheck:
    return PostgresCheck.model_validate({"type": "postgres", **fields})


def _run(sandbox: Path, launcher: ScriptedLauncher, **fields: object) -> CheckResult:
    ctx = CheckContext(sandbox / "restore", sandbox / "work", launcher)
    return pg.check_postgres(_spec(**fields), ctx)


def _recorded(result: CheckResult) -> str:
    return json.dumps(dataclasses.asdict(result))


def test_pg_version_symlinked_to_a_host_key_is_never_read(tmp_path: Path) -> None:
    sandbox, data = _sandbox(tmp_path)
    key = tmp_path / "signing.key"
    key.write_text(SECRET)
    (data / "PG_VERSION").unlink()
    (data / "PG_VERSION").symlink_to(key)
    launcher = ScriptedLauncher([completed()])
    result = _run(sandbox, launcher, data_dir="srv/pgdata")
    assert result.status == Status.FAILED
    assert result.detail == f"srv/pgdata/PG_VERSION leads outside the restore (a symlink to {key})"
    assert "PRIVATE KEY" not in _recorded(result)
    assert launcher.calls == []


def test_pg_version_that_is_not_a_version_is_not_quoted(tmp_path: Path) -> None:
    sandbox, data = _sandbox(tmp_path)
    (data / "PG_VERSION").write_text(SECRET)
    result = _run(sandbox, ScriptedLauncher([completed()]), data_dir="srv/pgdata")
    assert (result.status, result.detail) == (
        Status.FAILED, "srv/pgdata/PG_VERSION does not hold a PostgreSQL version number")
    assert "PRIVATE KEY" not in _recorded(result)


def test_pg_version_as_a_fifo_fails_at_once(tmp_path: Path) -> None:
    sandbox, data = _sandbox(tmp_path)
    (data / "PG_VERSION").unlink()
    os.mkfifo(data / "PG_VERSION")
    result = _run(sandbox, ScriptedLauncher([completed()]), data_dir="srv/pgdata")
    assert (result.status, result.detail) == (Status.FAILED,
                                              "srv/pgdata/PG_VERSION is a FIFO, not a regular file")


def test_a_fifo_as_the_dump_fails_at_once_and_never_hangs(tmp_path: Path) -> None:
    sandbox, _ = _sandbox(tmp_path)
    fifo = sandbox / "restore" / "srv" / "clinic.dump"
    os.mkfifo(fifo)
    launcher = ScriptedLauncher([completed(), completed()])
    outcome: list[CheckResult | BaseException] = []

    def run() -> None:
        try:
            outcome.append(_run(sandbox, launcher, dump="srv/clinic.dump"))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # release the blocked open so the test process can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("a restored FIFO given as the dump hung the check")
    [result] = outcome
    assert isinstance(result, CheckResult), result
    assert (result.status, result.detail) == (Status.FAILED, "srv/clinic.dump is a FIFO, not a regular file")
    assert launcher.calls == []


class RacingLauncher(ScriptedLauncher):
    """Scripted, and while the server's folders are made a lingering process plants symlinks."""

    def __init__(self, results: list[Completed | BaseException], plant: dict[str, Path]):
        super().__init__(results)
        self.plant = plant

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            stdin_data: str | None = None) -> Completed:
        if argv[:2] == ["mkdir", "-p"]:
            home = Path(argv[-1])
            home.mkdir(parents=True, exist_ok=True)
            for name, target in self.plant.items():
                (home / name).symlink_to(target)
        return super().run(argv, cwd=cwd, env=env, timeout=timeout, stdin_data=stdin_data)


def _up(sandbox: Path, launcher: ScriptedLauncher) -> CheckResult:
    return _run(sandbox, launcher, data_dir="srv/pgdata",
                queries=[{"sql": "select 1", "expect": "= 1"}])


def _scripted_server() -> list[Completed | BaseException]:
    """mkdir, pg_isready, show server_version, one query."""
    return [completed(), completed(), completed(stdout="15.4\n"), completed(stdout="1\n")]


def test_config_is_written_where_the_sandbox_cannot_swap_it_and_no_planted_link_is_followed(
        tmp_path: Path) -> None:
    sandbox, _ = _sandbox(tmp_path)
    victims = {name: tmp_path / f"root-owned-{name}" for name in ("postgresql.conf", "pg_hba.conf",
                                                                  "pg_ident.conf")}
    for victim in victims.values():
        victim.write_text("precious\n")
    launcher = RacingLauncher(_scripted_server(), victims)
    result = _up(sandbox, launcher)
    assert result.status == Status.PASSED, result.detail
    assert all(v.read_text() == "precious\n" for v in victims.values())
    conf = sandbox / "config" / "pg-1"
    assert sorted(p.name for p in conf.iterdir()) == ["pg_hba.conf", "pg_ident.conf", "postgresql.conf"]
    assert not any(p.is_symlink() for p in conf.iterdir())
    assert (conf / "pg_hba.conf").read_text() == "local all all trust\n"
    assert oct(conf.stat().st_mode & 0o777) == oct(0o755)


def _server_argv(launcher: ScriptedLauncher) -> list[str]:
    started: list[Call] = [c for c in launcher.calls if c.argv[0].endswith("/postgres")]
    assert len(started) == 1
    return started[0].argv


def test_every_network_auth_archive_and_preload_setting_is_on_the_command_line(tmp_path: Path) -> None:
    sandbox, _ = _sandbox(tmp_path)
    launcher = ScriptedLauncher(_scripted_server())
    assert _up(sandbox, launcher).status == Status.PASSED
    argv = _server_argv(launcher)
    settings = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "-c")
    conf = sandbox / "config" / "pg-1"
    assert settings["listen_addresses"] == ""
    assert settings["unix_socket_directories"] == "/tmp/pg-1"
    assert settings["config_file"] == str(conf / "postgresql.conf")
    assert settings["hba_file"] == str(conf / "pg_hba.conf")
    assert settings["ident_file"] == str(conf / "pg_ident.conf")
    for name in ("shared_preload_libraries", "local_preload_libraries", "session_preload_libraries",
                 "archive_command", "archive_library", "restore_command", "primary_conninfo"):
        assert settings[name] == "", name
    assert (settings["archive_mode"], settings["ssl"], settings["dynamic_library_path"]) == (
        "off", "off", "$libdir")


def test_restored_auto_conf_and_recovery_signals_are_set_aside(tmp_path: Path) -> None:
    sandbox, data = _sandbox(tmp_path)
    (data / "postgresql.auto.conf").write_text("listen_addresses = '*'\nhba_file = '/tmp/trust'\n")
    (data / "standby.signal").write_text("")
    (data / "postmaster.pid").write_text("4242\n")
    outside = tmp_path / "outside.conf"
    outside.write_text("precious\n")
    (data / "recovery.signal").symlink_to(outside)
    launcher = ScriptedLauncher(_scripted_server())
    result = _up(sandbox, launcher)
    assert result.status == Status.PASSED, result.detail
    assert result.data["set_aside"] == ["postgresql.auto.conf", "standby.signal", "recovery.signal"]
    assert sorted(p.name for p in data.iterdir()) == [
        "PG_VERSION", "postgresql.auto.conf.drillbook-set-aside", "recovery.signal.drillbook-set-aside",
        "standby.signal.drillbook-set-aside"]
    assert outside.read_text() == "precious\n"
    assert oct(data.stat().st_mode & 0o777) == oct(0o700)


def test_a_symlink_at_drillbooks_own_config_folder_is_refused(tmp_path: Path) -> None:
    sandbox, _ = _sandbox(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (sandbox / "config").symlink_to(elsewhere)
    result = _up(sandbox, ScriptedLauncher(_scripted_server()))
    assert result.status == Status.FAILED
    assert result.detail.startswith(f"cannot prepare the reader of the restore: {sandbox / 'config'} "
                                    "is a symlink")
    assert list(elsewhere.iterdir()) == []


class PsqlLauncher(ScriptedLauncher):
    """Scripted; ``{null}`` in a query's scripted output stands for the null display psql was given."""

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            stdin_data: str | None = None) -> Completed:
        done = super().run(argv, cwd=cwd, env=env, timeout=timeout, stdin_data=stdin_data)
        shown = [a.removeprefix("null=") for a in argv if a.startswith("null=")]
        return dataclasses.replace(done, stdout=done.stdout.format(null=shown[0])) if shown else done


def _queried(tmp_path: Path, outputs: list[str], expects: list[str]) -> tuple[CheckResult, PsqlLauncher]:
    """Each query expects an exact value, written {text: ...}."""
    sandbox, _ = _sandbox(tmp_path)
    launcher = PsqlLauncher([completed(), completed(), completed(stdout="15.4\n"),
                             *(completed(stdout=o) for o in outputs)])
    result = _run(sandbox, launcher, data_dir="srv/pgdata",
                  queries=[{"sql": f"select {n}", "expect": {"text": e}} for n, e in enumerate(expects)])
    return result, launcher


def test_the_text_null_is_not_sql_null(tmp_path: Path) -> None:
    result, launcher = _queried(tmp_path, ["NULL\n"], ["NULL"])
    assert result.status == Status.FAILED
    assert result.detail == "'select 0' expected NULL, got 'NULL'"
    assert "--csv" in launcher.calls[-1].argv


def test_sql_null_empty_text_and_the_text_null_each_meet_their_own_expectation(tmp_path: Path) -> None:
    result, _ = _queried(tmp_path, ["{null}\n", "\n", "NULL\n", "{null},1\n", "", ",x\n"],
                         ["NULL", "", "'NULL'", "NULL", "NULL", ""])
    assert result.status == Status.PASSED, result.detail
    assert [q["value"] for q in result.data["queries"]] == ["NULL", "", "'NULL'", "NULL", "NULL", ""]


def test_a_value_with_a_newline_is_whole(tmp_path: Path) -> None:
    result, _ = _queried(tmp_path, ['"a\nb"\n', '"x, ""y"""\n', '"a\nb",c\nd\n'],
                         ["a\nb", 'x, "y"', "a\nb"])
    assert result.status == Status.PASSED, result.detail
    assert result.data["queries"][0]["value"] == "a\nb"
