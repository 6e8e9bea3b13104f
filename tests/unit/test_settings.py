"""Where drillbook reads and writes, and the folders it makes and checks before a run."""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from drillbook import settings as settings_module
from drillbook.errors import CannotRun
from drillbook.locations import Host
from drillbook.settings import FolderInUse, Settings, default_sandbox_root, folders_in_use, prepare_folders

STATE = Path("/srv/drillbook/state")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in settings_module.ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)


def folders(tmp_path: Path) -> Settings:
    return Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                    sandbox_root=tmp_path / "sandboxes", state_dir=tmp_path / "state")


# -- the default sandbox root -------------------------------------------------------------------

@pytest.mark.parametrize("as_root", [False, True])
def test_the_default_sandbox_root_is_not_in_a_shared_temp_folder(as_root: bool) -> None:
    root = default_sandbox_root(STATE, as_root=as_root)
    assert not root.is_relative_to(tempfile.gettempdir()) and not root.is_relative_to("/var/tmp")


def test_an_ordinary_account_restores_under_its_state_folder() -> None:
    assert default_sandbox_root(STATE, as_root=False) == STATE / "sandboxes"
    assert default_sandbox_root(Path("state"), as_root=False) == Path.cwd() / "state" / "sandboxes"


def test_root_restores_where_the_sandbox_account_can_reach() -> None:
    """Root's state folder is under /root (0700): the sandbox account could not pass through it."""
    assert default_sandbox_root(STATE, as_root=True) == Path("/var/lib/drillbook-sandboxes")


def test_settings_follow_their_state_folder_unless_a_sandbox_root_is_given(clean_env: None) -> None:
    assert Settings(state_dir=STATE).sandbox_root == default_sandbox_root(STATE)
    assert Settings.from_env(state_dir=STATE).sandbox_root == default_sandbox_root(STATE)
    assert Settings.from_env(state_dir=STATE, sandbox_root="/srv/sb").sandbox_root == Path("/srv/sb")
    assert Settings(state_dir=STATE, sandbox_root=Path("/srv/sb")).sandbox_root == Path("/srv/sb")


def test_the_sandbox_root_variable_still_wins(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILLBOOK_SANDBOX_ROOT", "/srv/sb")
    monkeypatch.setenv("DRILLBOOK_STATE", str(STATE))
    settings = Settings.from_env()
    assert settings.sandbox_root == Path("/srv/sb") and settings.state_dir == STATE


# -- the folders a run needs ----------------------------------------------------------------------

def test_missing_folders_are_made_private(tmp_path: Path) -> None:
    settings = folders(tmp_path)
    prepare_folders(settings)
    assert oct(mode_of(settings.state_dir)) == oct(0o700)
    assert oct(mode_of(settings.reports_dir)) == oct(0o750)
    sandbox_mode = 0o711 if os.geteuid() == 0 else 0o700  # as root the sandbox account passes it
    assert oct(mode_of(settings.sandbox_root)) == oct(sandbox_mode)
    assert settings.sandbox_root.stat().st_uid == os.geteuid()


def test_a_squatted_folder_is_refused_naming_it_and_the_option(tmp_path: Path) -> None:
    settings = folders(tmp_path)
    settings.sandbox_root.mkdir()
    settings.sandbox_root.chmod(0o777)
    with pytest.raises(CannotRun) as caught:
        prepare_folders(settings)
    message = str(caught.value)
    assert f"sandbox root folder {settings.sandbox_root}" in message and "DRILLBOOK_SANDBOX_ROOT" in message


def test_without_create_only_the_state_folder_is_made(tmp_path: Path) -> None:
    settings = folders(tmp_path)
    prepare_folders(settings, create=False)
    assert settings.state_dir.is_dir() and oct(mode_of(settings.state_dir)) == oct(0o700)
    assert not settings.reports_dir.exists() and not settings.sandbox_root.exists()


def test_the_state_folder_is_0700_also_as_root(tmp_path: Path) -> None:
    """It holds the signing key, the ledger lock and the job database: no other account, the
    sandbox account included, needs to pass through it (as root, sandboxes are made elsewhere)."""
    settings = folders(tmp_path)
    prepare_folders(settings)
    assert oct(mode_of(settings.state_dir)) == oct(0o700)
    assert not settings.sandbox_root.is_relative_to(settings.state_dir)


def test_as_root_a_sandbox_root_inside_the_state_folder_is_refused_naming_both_and_the_fix(
        tmp_path: Path) -> None:
    """The sandbox account would have to pass through the state folder, which is 0700."""
    if os.geteuid() != 0:
        pytest.skip("root mode needs root")
    settings = Settings(reports_dir=tmp_path / "reports", state_dir=tmp_path / "state",
                        sandbox_root=tmp_path / "state" / "sandboxes")
    with pytest.raises(CannotRun) as caught:
        prepare_folders(settings)
    message = str(caught.value)
    assert f"sandbox root folder {settings.sandbox_root} is inside the state folder {settings.state_dir}" in message
    assert "--sandbox-root or DRILLBOOK_SANDBOX_ROOT" in message
    assert not settings.sandbox_root.exists()
    assert not settings.state_dir.exists() or oct(mode_of(settings.state_dir)) == oct(0o700)


def test_an_existing_state_folder_others_may_enter_is_narrowed_to_0700(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Made 0711 by an earlier drillbook, or 0755 by hand: narrowing hides nothing, only shuts others out."""
    settings = folders(tmp_path)
    settings.state_dir.mkdir(mode=0o700)
    settings.state_dir.chmod(0o755)
    prepare_folders(settings)
    assert oct(mode_of(settings.state_dir)) == oct(0o700)
    assert f"state folder {settings.state_dir} was open to other accounts (mode 0755): narrowed to 0700" in caplog.text


# -- where the folders come from, and what `drillbook paths` shows -------------------------------

def service_host(tmp_path: Path, **environ: str) -> Host:
    return Host(environ, "/nonexistent", tmp_path, service_config=tmp_path / "etc",
                service_state=tmp_path / "var-lib", service_cache=tmp_path / "var-cache")


def test_settings_made_directly_keep_the_cache_in_the_state_folder() -> None:
    assert Settings(state_dir=STATE).cache_dir == STATE / "cache"
    assert Settings(state_dir=STATE, cache_dir=Path("/srv/c")).cache_dir == Path("/srv/c")


def test_settings_from_the_environment_follow_the_rules_and_say_why(tmp_path: Path) -> None:
    settings = Settings.from_env(host=service_host(tmp_path, CONFIGURATION_DIRECTORY="/etc/drillbook",
                                                   STATE_DIRECTORY="/var/lib/drillbook",
                                                   CACHE_DIRECTORY="/var/cache/drillbook",
                                                   DRILLBOOK_REPORTS="/srv/drillbook/reports"))
    assert (settings.drills_dir, settings.runbooks_dir) == (Path("/etc/drillbook/drills"),
                                                            Path("/etc/drillbook/runbooks"))
    assert (settings.state_dir, settings.cache_dir) == (Path("/var/lib/drillbook"), Path("/var/cache/drillbook"))
    assert settings.reports_dir == Path("/srv/drillbook/reports")
    assert settings.sandbox_root == Path("/var/lib/drillbook/sandboxes"), "the service account is not root"
    assert settings.origins["state_dir"] == "STATE_DIRECTORY (systemd's StateDirectory=)"
    assert settings.origins["reports_dir"] == "DRILLBOOK_REPORTS"


def test_the_config_option_names_drills_and_runbooks(tmp_path: Path) -> None:
    settings = Settings.from_env(config=tmp_path / "cfg", host=service_host(tmp_path))
    assert settings.drills_dir == tmp_path / "cfg" / "drills" and settings.config_dir == tmp_path / "cfg"
    assert settings.origins["config_dir"] == "--config"


def by_name(settings: Settings) -> dict[str, FolderInUse]:
    return {row.name: row for row in folders_in_use(settings)}


def test_paths_shows_every_folder_with_its_reason_and_whether_it_exists_and_is_writable(tmp_path: Path) -> None:
    (tmp_path / "etc" / "drills").mkdir(parents=True)
    (tmp_path / "var-lib").mkdir(mode=0o700)
    settings = Settings.from_env(host=service_host(tmp_path))
    rows = by_name(settings)
    assert list(rows) == ["config", "drills", "project file", "runbooks", "reports", "state", "cache",
                          "sandbox root"]
    assert rows["drills"] == FolderInUse("drills", tmp_path / "etc" / "drills",
                                         "drills/ of the configuration folder", True, True)
    assert rows["config"].reason == f"service install: {tmp_path / 'etc' / 'drills'} exists"
    assert rows["project file"].path == tmp_path / "etc" / "drills" / "drillbook.yaml"
    assert not rows["project file"].exists and not rows["runbooks"].exists
    assert rows["state"] == FolderInUse("state", tmp_path / "var-lib", "service account: home is /nonexistent",
                                        True, True)
    assert rows["cache"].path == tmp_path / "var-cache" and not rows["cache"].exists
    assert rows["cache"].writable, "a missing folder is writable when the folder above it is"
    assert rows["reports"].reason == "default: ./reports"
    assert rows["state"].to_dict()["path"] == str(tmp_path / "var-lib")


def test_paths_says_when_a_folder_cannot_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    state.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: path != state and real_access(path, mode))
    rows = by_name(Settings(state_dir=state, reports_dir=tmp_path / "reports"))
    assert rows["state"].exists and not rows["state"].writable
    assert rows["state"].reason == "given directly" and "config" not in rows


def test_paths_warns_of_a_drillbook_yaml_beside_drills_that_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "cfg" / "drills").mkdir(parents=True)
    (tmp_path / "cfg" / "drillbook.yaml").write_text("reports: {}\n")
    rows = by_name(Settings.from_env(config=tmp_path / "cfg", host=service_host(tmp_path)))
    assert rows["config"].note == "drillbook.yaml here is not read: it belongs in the drills folder"
    assert rows["drills"].note is None


def test_roots_sandboxes_stay_outside_the_state_folder_whatever_chose_it(tmp_path: Path) -> None:
    host = replace(service_host(tmp_path, STATE_DIRECTORY="/var/lib/drillbook"), as_root=True)
    settings = Settings.from_env(host=host)
    assert settings.sandbox_root == Path("/var/lib/drillbook-sandboxes")
    assert settings.origins["sandbox_root"] == "default for root: outside the state folder"
