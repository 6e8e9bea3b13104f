"""Where drillbook reads and writes, and the folders it makes and checks before a run."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from drillbook import settings as settings_module
from drillbook.errors import CannotRun
from drillbook.settings import Settings, default_sandbox_root, prepare_folders

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
