"""Which folder drillbook uses and why: every rule, with the environment, home, working folder and
the service folders injected (nothing here reads this machine's /etc, /var or home)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drillbook.locations import Choice, Host, choose


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    """A fake machine: a home, a working folder, and where /etc, /var/lib and /var/cache would be."""
    for folder in ("home", "cwd", "etc/drillbook", "var/lib", "var/cache"):
        (tmp_path / folder).mkdir(parents=True)
    return tmp_path


def host(machine: Path, home: str | None = None, **environ: str) -> Host:
    return Host(environ, str(machine / "home") if home is None else home, machine / "cwd",
                service_config=machine / "etc" / "drillbook", service_state=machine / "var" / "lib" / "drillbook",
                service_cache=machine / "var" / "cache" / "drillbook")


def chosen(machine: Path, flags: dict[str, str] | None = None, config: str | None = None, home: str | None = None,
           **environ: str) -> dict[str, Choice]:
    return choose(flags or {}, config, host(machine, home, **environ))


# -- drills and runbooks: one configuration folder -----------------------------------------------

def test_a_checkout_uses_the_working_folder_as_before(machine: Path) -> None:
    (machine / "cwd" / "drills").mkdir()
    (machine / "etc" / "drillbook" / "drills").mkdir()
    folders = chosen(machine)
    assert folders["drills_dir"] == Choice(Path("drills"), "drills/ of the configuration folder")
    assert folders["runbooks_dir"].path == Path("runbooks")
    assert folders["config_dir"].reason == "checkout: ./drills exists in the working folder"


def test_a_service_install_uses_etc_drillbook_when_the_working_folder_has_no_drills(machine: Path) -> None:
    (machine / "etc" / "drillbook" / "drills").mkdir()
    folders = chosen(machine)
    etc = machine / "etc" / "drillbook"
    assert folders["config_dir"] == Choice(etc, f"service install: {etc / 'drills'} exists")
    assert folders["drills_dir"].path == etc / "drills" and folders["runbooks_dir"].path == etc / "runbooks"


def test_with_neither_the_default_stays_the_missing_dot_drills(machine: Path) -> None:
    """The command then says `drills folder drills does not exist`, as it always did."""
    folders = chosen(machine)
    assert folders["drills_dir"].path == Path("drills")
    assert folders["config_dir"].reason.startswith("default: the working folder")


def test_systemds_configuration_directory_comes_before_a_checkout(machine: Path) -> None:
    (machine / "cwd" / "drills").mkdir()
    folders = chosen(machine, CONFIGURATION_DIRECTORY="/etc/drillbook:/etc/other")
    assert folders["drills_dir"].path == Path("/etc/drillbook/drills")
    assert folders["config_dir"].reason == "CONFIGURATION_DIRECTORY (systemd's ConfigurationDirectory=)"


def test_config_flag_beats_the_variable_which_beats_systemd(machine: Path) -> None:
    env = {"DRILLBOOK_CONFIG": "/srv/from-env", "CONFIGURATION_DIRECTORY": "/etc/drillbook"}
    assert chosen(machine, **env)["drills_dir"].path == Path("/srv/from-env/drills")
    assert chosen(machine, **env)["config_dir"].reason == "DRILLBOOK_CONFIG"
    flagged = chosen(machine, config="/srv/flag", **env)
    assert flagged["runbooks_dir"].path == Path("/srv/flag/runbooks") and flagged["config_dir"].reason == "--config"


def test_a_folders_own_flag_and_variable_keep_winning_over_config(machine: Path) -> None:
    folders = chosen(machine, {"drills_dir": "/x/drills"}, config="/srv/cfg", DRILLBOOK_RUNBOOKS="/y/runbooks",
                     DRILLBOOK_DRILLS="/z/ignored")
    assert folders["drills_dir"] == Choice(Path("/x/drills"), "--drills")
    assert folders["runbooks_dir"] == Choice(Path("/y/runbooks"), "DRILLBOOK_RUNBOOKS")
    assert folders["config_dir"].path == Path("/srv/cfg")


def test_no_configuration_folder_is_shown_when_both_its_folders_are_given(machine: Path) -> None:
    assert "config_dir" not in chosen(machine, DRILLBOOK_DRILLS="/a", DRILLBOOK_RUNBOOKS="/b")


# -- state -------------------------------------------------------------------------------------

def test_state_defaults_to_the_home_as_before(machine: Path) -> None:
    folders = chosen(machine)
    assert folders["state_dir"] == Choice(machine / "home" / ".local" / "state" / "drillbook",
                                          "default: ~/.local/state/drillbook")
    assert folders["cache_dir"] == Choice(folders["state_dir"].path / "cache", "default: cache/ in the state folder")


def test_xdg_state_home_still_counts(machine: Path) -> None:
    assert chosen(machine, XDG_STATE_HOME="/srv/xdg")["state_dir"] == Choice(Path("/srv/xdg/drillbook"),
                                                                             "XDG_STATE_HOME")


@pytest.mark.parametrize("home, why", [
    ("/nonexistent", "home is /nonexistent"),
    ("{machine}/no-such-home", "home {machine}/no-such-home does not exist"),
    ("", "no home folder"),
])
def test_a_service_account_without_a_home_keeps_state_in_var_lib(machine: Path, home: str, why: str) -> None:
    folders = chosen(machine, home=home.format(machine=machine))
    reason = f"service account: {why.format(machine=machine)}"
    assert folders["state_dir"] == Choice(machine / "var" / "lib" / "drillbook", reason)
    assert folders["cache_dir"] == Choice(machine / "var" / "cache" / "drillbook", reason)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any folder")
def test_an_unwritable_home_counts_as_none(machine: Path) -> None:
    (machine / "home").chmod(0o555)
    assert chosen(machine)["state_dir"].path == machine / "var" / "lib" / "drillbook"


def test_an_unwritable_home_counts_as_none_as_root_too(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writability test itself (root passes os.access on any folder, so it is stood in for)."""
    home = str(machine / "home")
    monkeypatch.setattr(os, "access", lambda path, mode: path != home)
    assert chosen(machine)["state_dir"].reason == f"service account: home {home} is not writable"


def test_systemds_state_and_cache_directories_come_before_any_home_rule(machine: Path) -> None:
    folders = chosen(machine, home="/nonexistent", STATE_DIRECTORY="/var/lib/drillbook",
                     CACHE_DIRECTORY="/var/cache/drillbook", XDG_STATE_HOME="/srv/xdg")
    assert folders["state_dir"] == Choice(Path("/var/lib/drillbook"), "STATE_DIRECTORY (systemd's StateDirectory=)")
    assert folders["cache_dir"] == Choice(Path("/var/cache/drillbook"), "CACHE_DIRECTORY (systemd's CacheDirectory=)")


def test_without_cache_directory_the_cache_follows_systemds_state_folder(machine: Path) -> None:
    assert chosen(machine, STATE_DIRECTORY="/var/lib/drillbook")["cache_dir"].path == Path("/var/lib/drillbook/cache")


def test_explicit_state_and_cache_keep_winning(machine: Path) -> None:
    env = {"STATE_DIRECTORY": "/var/lib/drillbook", "CACHE_DIRECTORY": "/var/cache/drillbook"}
    folders = chosen(machine, home="/nonexistent", DRILLBOOK_STATE="/srv/state", **env)
    assert folders["state_dir"] == Choice(Path("/srv/state"), "DRILLBOOK_STATE")
    assert folders["cache_dir"].path == Path("/var/cache/drillbook")
    flagged = chosen(machine, {"state_dir": "/f/state", "cache_dir": "/f/cache"}, DRILLBOOK_CACHE="/e/cache", **env)
    assert flagged["state_dir"] == Choice(Path("/f/state"), "--state")
    assert flagged["cache_dir"] == Choice(Path("/f/cache"), "--cache")
    assert chosen(machine, DRILLBOOK_CACHE="/e/cache")["cache_dir"] == Choice(Path("/e/cache"), "DRILLBOOK_CACHE")


def test_an_explicit_state_folder_keeps_its_cache_even_without_a_home(machine: Path) -> None:
    """The service-account cache is for the service-account state folder, not for `--state X`."""
    folders = chosen(machine, home="/nonexistent", DRILLBOOK_STATE="/srv/state")
    assert folders["cache_dir"].path == Path("/srv/state/cache")


def test_reports_keep_their_default(machine: Path) -> None:
    assert chosen(machine)["reports_dir"] == Choice(Path("reports"), "default: ./reports")
    assert chosen(machine, DRILLBOOK_REPORTS="/srv/r")["reports_dir"] == Choice(Path("/srv/r"), "DRILLBOOK_REPORTS")
