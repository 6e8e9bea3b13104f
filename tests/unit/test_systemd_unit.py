"""deploy/systemd/drillbook.service: confined, yet able to build a drill's sandbox.

Read with configparser (a unit file is close enough to INI once ``\\`` continuations are joined),
and its command line parsed by drillbook's own ``serve`` command, so a renamed option shows up
here. Where systemd-analyze exists, ``verify`` checks the file as systemd reads it (no running
systemd needed); without it that one test is skipped.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from drillbook.cli.serve import serve_command
from drillbook.locations import Host
from drillbook.settings import Settings

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "drillbook.service"
#: Every namespace the sandbox creates (bubblewrap's --unshare-cgroup-try takes cgroup too).
SANDBOX_NAMESPACES = {"user", "mnt", "pid", "ipc", "uts", "net", "cgroup"}
#: Settings that break the sandbox (see the unit's header) and so must not be switched on.
BREAK_THE_SANDBOX = ("ProtectKernelTunables", "ProtectKernelLogs", "ProtectHostname", "SystemCallFilter")


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"), source=str(UNIT))
    for section in parser.sections():
        for key, value in parser[section].items():
            parser[section][key] = re.sub(r"\s*\\\n\s*", " ", value)
    return parser


@pytest.fixture(scope="module")
def service() -> configparser.SectionProxy:
    return _unit()["Service"]


@pytest.fixture(scope="module")
def environment(service: configparser.SectionProxy) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(service["Environment"]))


def systemd_directories(service: configparser.SectionProxy) -> dict[str, str]:
    """The variables systemd sets for StateDirectory= and the like (systemd.exec(5))."""
    tops = {"StateDirectory": "/var/lib", "CacheDirectory": "/var/cache", "ConfigurationDirectory": "/etc"}
    return {f"{key.removesuffix('Directory').upper()}_DIRECTORY": f"{top}/{service[key]}"
            for key, top in tops.items() if key in service}


@pytest.fixture(scope="module")
def folders(service: configparser.SectionProxy, environment: dict[str, str]) -> Settings:
    """The folders `serve` uses under this unit, by drillbook's own rules (no machine file read)."""
    env = {**systemd_directories(service), **environment}
    return Settings.from_env(host=Host(env, "/var/lib/drillbook", Path("/"), service_config=Path("/nowhere/etc"),
                                       service_state=Path("/nowhere/lib"), service_cache=Path("/nowhere/cache")))


def test_the_unit_has_the_three_sections_systemd_needs():
    assert _unit().sections() == ["Unit", "Service", "Install"]
    assert _unit()["Install"]["WantedBy"] == "multi-user.target"


def test_serve_runs_as_the_unprivileged_account_with_no_way_to_gain_privileges(service):
    assert service["User"] == service["Group"] == "drillbook"
    assert service["NoNewPrivileges"] == "yes"
    assert service["CapabilityBoundingSet"] == "" and service["AmbientCapabilities"] == ""


def test_the_file_system_is_read_only_but_for_state_cache_and_reports(service, environment, folders):
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "yes" and service["PrivateTmp"] == "yes"
    assert service["StateDirectory"] == "drillbook"
    assert service["CacheDirectory"] == "drillbook" and service["ConfigurationDirectory"] == "drillbook"
    state = PurePosixPath("/var/lib") / service["StateDirectory"]
    cache = PurePosixPath("/var/cache") / service["CacheDirectory"]
    writable = [state, cache, *map(PurePosixPath, service["ReadWritePaths"].split())]
    for attr in ("reports_dir", "state_dir", "sandbox_root", "cache_dir"):
        folder = PurePosixPath(getattr(folders, attr))
        assert any(folder == top or top in folder.parents for top in writable), f"{attr} is read-only"
    for attr in ("drills_dir", "runbooks_dir"):
        folder = PurePosixPath(getattr(folders, attr))
        assert not any(folder == top or top in folder.parents for top in writable), f"{attr} is writable"
    assert PurePosixPath(environment["DRILLBOOK_REPORTS"]) in writable[2:], "ReadWritePaths= names reports"


def test_every_folder_comes_from_systemds_directories_or_the_environment(folders):
    """As before: drills and runbooks in /etc/drillbook, state and sandboxes in /var/lib/drillbook."""
    assert (folders.drills_dir, folders.runbooks_dir) == (Path("/etc/drillbook/drills"),
                                                          Path("/etc/drillbook/runbooks"))
    assert (folders.state_dir, folders.sandbox_root) == (Path("/var/lib/drillbook"),
                                                         Path("/var/lib/drillbook/sandboxes"))
    assert (folders.cache_dir, folders.reports_dir) == (Path("/var/cache/drillbook"), Path("/srv/drillbook/reports"))
    paths = [PurePosixPath(getattr(folders, attr)) for attr in ("drills_dir", "runbooks_dir", "reports_dir",
                                                                "state_dir", "sandbox_root", "cache_dir")]
    assert all(path.is_absolute() for path in paths)
    homes = (PurePosixPath("/home"), PurePosixPath("/root"), PurePosixPath("/tmp"))
    assert not [p for p in paths if any(h in p.parents for h in homes)], "ProtectHome= and PrivateTmp= hide these"


def test_the_sandbox_can_still_create_its_namespaces(service):
    allowed = set(service["RestrictNamespaces"].split())
    assert allowed >= SANDBOX_NAMESPACES and "time" not in allowed
    assert {"AF_NETLINK", "AF_UNIX"} <= set(service["RestrictAddressFamilies"].split())
    switched_on = [key for key in BREAK_THE_SANDBOX if key in service]
    assert switched_on == [], "these stop bubblewrap from building the sandbox"
    assert service.get("ProcSubset", "all") == "all"


def test_exec_start_is_drillbook_serve_with_options_it_knows(service):
    argv = shlex.split(service["ExecStart"])
    assert PurePosixPath(argv[0]).is_absolute() and PurePosixPath(argv[0]).name == "drillbook"
    assert argv[1] == "serve"
    context = serve_command.make_context("serve", argv[2:])
    assert context.params["metrics_host"] == "127.0.0.1"


def test_stopping_lets_running_drills_finish(service):
    """``serve`` alone gets SIGTERM, and systemd waits past grace + abort grace before SIGKILL."""
    params = serve_command.make_context("serve", shlex.split(service["ExecStart"])[2:]).params
    timeout = re.fullmatch(r"(\d+)min", service["TimeoutStopSec"])
    assert timeout, "TimeoutStopSec= in whole minutes, like 7min"
    assert service["KillMode"] == "mixed"
    assert int(timeout.group(1)) * 60 > params["grace"] + params["abort_grace"]


def test_serve_tells_systemd_when_it_is_ready_reloaded_and_alive(service):
    """notify-reload: systemd sends SIGHUP itself and waits for RELOADING=1, READY=1 (serve/sdnotify.py)."""
    assert service["Type"] == "notify-reload" and service["NotifyAccess"] == "main"
    assert "ExecReload" not in service, "systemd sends the reload signal itself; a kill would send a second"
    watchdog = re.fullmatch(r"(\d+)min", service["WatchdogSec"])
    assert watchdog and int(watchdog.group(1)) * 60 >= 60, "fed from a loop that may pause for a reload"


def test_the_unit_says_how_to_run_under_a_systemd_without_notify_reload():
    assert fallback_lines() == ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID"]


def fallback_lines() -> list[str]:
    """The lines the unit's comment gives for systemd < 253, in place of Type=notify-reload."""
    text = UNIT.read_text(encoding="utf-8")
    block = re.search(r"systemd 253 or\n[^\n]*write instead:\n((?:#   [^\n]*\n)+)", text)
    assert block, "the comment above Type= names the lines for systemd < 253"
    return [line.removeprefix("#   ") for line in block.group(1).splitlines()]


def systemd_version() -> int:
    done = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True, timeout=60)
    version = re.match(r"systemd (\d+)", done.stdout)
    assert version, done.stdout
    return int(version.group(1))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_reads_the_unit_without_a_warning(tmp_path):
    """Unknown keys and bad values are warnings that ``verify`` prints; ExecStart must exist for it."""
    unit = tmp_path / UNIT.name
    text = UNIT.read_text(encoding="utf-8")
    exec_start = shlex.split(_unit()["Service"]["ExecStart"])[0]
    if systemd_version() < 253:  # the lines the unit's comment gives for it
        text = text.replace("\nType=notify-reload\n", "\n" + "\n".join(fallback_lines()) + "\n")
    unit.write_text(text.replace(exec_start, "/bin/true"), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
