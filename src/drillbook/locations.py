"""Which folder drillbook uses, and the rule that chose it.

A folder given explicitly always wins: a flag, then its ``DRILLBOOK_*`` variable. Otherwise:

- drills and runbooks live in one configuration folder (``drills/`` and ``runbooks/`` under it;
  the project's ``drillbook.yaml`` stays in ``drills/``): ``--config``, ``DRILLBOOK_CONFIG``,
  systemd's ``$CONFIGURATION_DIRECTORY``, the working folder when ``./drills`` exists there (a
  checkout), ``/etc/drillbook`` when ``/etc/drillbook/drills`` exists (a service install), else
  the working folder (``./drills``, missing: the command then says so);
- state: systemd's ``$STATE_DIRECTORY``, ``$XDG_STATE_HOME/drillbook``, ``/var/lib/drillbook``
  for a service account without a usable home, else ``~/.local/state/drillbook``;
- restic's cache: systemd's ``$CACHE_DIRECTORY``, ``/var/cache/drillbook`` when the state folder
  is the service account's, else ``cache/`` in the state folder;
- reports: ``./reports``.

Every input (environment, home, working folder, the service folders) comes in a :class:`Host`, so
each rule is tested without the machine's own /etc or home.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The project file beside the drills: notification targets, evidence, password commands.
PROJECT_CONFIG = "drillbook.yaml"

SERVICE_CONFIG = Path("/etc/drillbook")
SERVICE_STATE = Path("/var/lib/drillbook")
SERVICE_CACHE = Path("/var/cache/drillbook")
#: The home Debian and others give system accounts that have none.
NO_HOME = "/nonexistent"
CWD = Path(".")
#: How the state and cache folders of a service account without a home are explained.
SERVICE_ACCOUNT = "service account"

#: The folders a flag or a variable can name, by Settings attribute.
ENV_VARS = {
    "drills_dir": "DRILLBOOK_DRILLS",
    "reports_dir": "DRILLBOOK_REPORTS",
    "sandbox_root": "DRILLBOOK_SANDBOX_ROOT",
    "state_dir": "DRILLBOOK_STATE",
    "runbooks_dir": "DRILLBOOK_RUNBOOKS",
    "cache_dir": "DRILLBOOK_CACHE",
}
FLAGS = {
    "drills_dir": "--drills",
    "reports_dir": "--reports",
    "sandbox_root": "--sandbox-root",
    "state_dir": "--state",
    "runbooks_dir": "--runbooks",
    "cache_dir": "--cache",
}
CONFIG_VAR = "DRILLBOOK_CONFIG"
#: Under the configuration folder.
SUBFOLDERS = {"drills_dir": "drills", "runbooks_dir": "runbooks"}


@dataclass(frozen=True)
class Host:
    """What the rules look at; :meth:`current` is this process on this machine."""

    environ: Mapping[str, str]
    home: str | None
    cwd: Path
    service_config: Path = SERVICE_CONFIG
    service_state: Path = SERVICE_STATE
    service_cache: Path = SERVICE_CACHE
    #: Root's sandboxes are made outside the state folder (settings.default_sandbox_root).
    as_root: bool = False

    @classmethod
    def current(cls) -> Host:
        return cls(os.environ, _home(), Path(os.path.abspath(".")), as_root=os.geteuid() == 0)

    def systemd_folder(self, variable: str) -> Path | None:
        """systemd's ``$STATE_DIRECTORY`` and the like: a colon-separated list; its first entry."""
        first = self.environ.get(variable, "").split(":")[0]
        return Path(first) if first else None

    def home_unusable(self) -> str | None:
        """Why this account has no home to keep state in, or None when it has one."""
        if not self.home:
            return "no home folder"
        if self.home == NO_HOME or self.home.startswith(NO_HOME + "/"):
            return f"home is {self.home}"
        if not os.path.isdir(self.home):
            return f"home {self.home} does not exist"
        if not os.access(self.home, os.W_OK):
            return f"home {self.home} is not writable"
        return None


@dataclass(frozen=True)
class Choice:
    """A folder and the rule that chose it, as ``drillbook paths`` shows it."""

    path: Path
    reason: str


def _home() -> str | None:
    home = os.environ.get("HOME")
    if home:
        return home
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return None


def given(attr: str, value: Path | str | None, host: Host) -> Choice | None:
    """The folder's flag, else its variable; None when neither names it."""
    if value is not None:
        return Choice(Path(value), FLAGS[attr])
    if host.environ.get(ENV_VARS[attr]):
        return Choice(Path(host.environ[ENV_VARS[attr]]), ENV_VARS[attr])
    return None


def config_folder(flag: Path | str | None, host: Host) -> Choice:
    """The folder holding ``drills/`` and ``runbooks/``."""
    if flag is not None:
        return Choice(Path(flag), "--config")
    if host.environ.get(CONFIG_VAR):
        return Choice(Path(host.environ[CONFIG_VAR]), CONFIG_VAR)
    if (systemd := host.systemd_folder("CONFIGURATION_DIRECTORY")) is not None:
        return Choice(systemd, "CONFIGURATION_DIRECTORY (systemd's ConfigurationDirectory=)")
    if (host.cwd / "drills").is_dir():
        return Choice(CWD, "checkout: ./drills exists in the working folder")
    if (host.service_config / "drills").is_dir():
        return Choice(host.service_config, f"service install: {host.service_config / 'drills'} exists")
    return Choice(CWD, f"default: the working folder (no ./drills, no {host.service_config / 'drills'})")


def under_config(attr: str, config: Choice) -> Choice:
    return Choice(config.path / SUBFOLDERS[attr], f"{SUBFOLDERS[attr]}/ of the configuration folder")


def state_folder(host: Host) -> Choice:
    """When neither ``--state`` nor ``DRILLBOOK_STATE`` names it."""
    if (systemd := host.systemd_folder("STATE_DIRECTORY")) is not None:
        return Choice(systemd, "STATE_DIRECTORY (systemd's StateDirectory=)")
    if host.environ.get("XDG_STATE_HOME"):
        return Choice(Path(host.environ["XDG_STATE_HOME"]) / "drillbook", "XDG_STATE_HOME")
    if (why := host.home_unusable()) is not None:
        return Choice(host.service_state, f"{SERVICE_ACCOUNT}: {why}")
    home = Path(host.home or os.path.expanduser("~"))  # set: home_unusable() saw it
    return Choice(home / ".local" / "state" / "drillbook", "default: ~/.local/state/drillbook")


def cache_folder(host: Host, state: Choice) -> Choice:
    """When neither ``--cache`` nor ``DRILLBOOK_CACHE`` names it; follows the state folder's rule."""
    if (systemd := host.systemd_folder("CACHE_DIRECTORY")) is not None:
        return Choice(systemd, "CACHE_DIRECTORY (systemd's CacheDirectory=)")
    if state.path == host.service_state and state.reason.startswith(SERVICE_ACCOUNT):
        return Choice(host.service_cache, state.reason)
    return Choice(state.path / "cache", "default: cache/ in the state folder")


def choose(flags: Mapping[str, Path | str | None], config_flag: Path | str | None, host: Host) -> dict[str, Choice]:
    """Every folder with its reason; ``sandbox_root`` only when given (it follows the state folder)."""
    chosen: dict[str, Choice] = {}
    for attr in ENV_VARS:
        if (explicit := given(attr, flags.get(attr), host)) is not None:
            chosen[attr] = explicit
    if "drills_dir" not in chosen or "runbooks_dir" not in chosen or config_flag is not None:
        chosen["config_dir"] = config = config_folder(config_flag, host)
        for attr in SUBFOLDERS:
            chosen.setdefault(attr, under_config(attr, config))
    chosen.setdefault("reports_dir", Choice(Path("reports"), "default: ./reports"))
    chosen.setdefault("state_dir", state_folder(host))
    chosen.setdefault("cache_dir", cache_folder(host, chosen["state_dir"]))
    return chosen
