"""The isolation argv and account rules, without starting anything."""

from pathlib import Path

import pytest

from drillbook.sandbox import isolation as iso
from drillbook.spec.models import Isolation, Limits

ACCOUNT = iso.Account("drillbook-sandbox", 999, 995)
ROOT, ROOTLESS = iso.Mode.ROOT, iso.Mode.ROOTLESS


def _holder(network: str = "none", mode: iso.Mode = ROOT, sandbox: str = "/tmp/sb/run1") -> list[str]:
    return iso.holder_argv(Path(sandbox), network, 5, ACCOUNT, mode)


def _enter(mode: iso.Mode = ROOT, limits: Limits | None = None, network: str = "none",
           env: dict[str, str] | None = None) -> list[str]:
    return iso.enter_argv(1234, ACCOUNT, limits or Limits(), Path("/sb/restore"), ["python3", "-V"],
                          env if env is not None else {"PATH": "/usr/bin"}, network=network, mode=mode)


def _tool(argv: list[str], name: str) -> int:
    """Where the first ``name`` helper starts in a chain."""
    return next(i for i, arg in enumerate(argv) if arg.endswith("/" + name) or arg == name)


def _last_tool(argv: list[str], name: str) -> int:
    return len(argv) - 1 - _tool(argv[::-1], name)


def test_holder_unshares_network_only_when_none():
    none = _holder("none")
    host = _holder("host")
    assert "--unshare-net" in none and "--unshare-net" not in host
    for argv in (none, host):
        assert "--unshare-pid" in argv and "--die-with-parent" in argv
        text = " ".join(argv)
        assert "--ro-bind /tmp/sb/run1 /tmp/sb/run1" in text


def test_inside_only_the_accounts_folders_of_the_run_folder_are_writable():
    text = " ".join(_holder())
    writable = [arg for i, arg in enumerate(_holder()) if _holder()[i - 1] == "--bind"]
    assert writable == ["/tmp/sb/run1/restore", "/tmp/sb/run1/work", "/tmp/sb/run1/home"]
    assert text.index("--ro-bind /tmp/sb/run1 ") < text.index("--bind /tmp/sb/run1/restore")


def test_holder_hides_host_tmp_and_run_and_binds_system_read_only():
    argv = _holder(sandbox="/srv/sandboxes/run1")
    text = " ".join(argv)
    assert "--tmpfs /tmp" in text and "--tmpfs /run" in text and "--tmpfs /dev/shm" in text
    assert "--ro-bind /usr /usr" in text
    assert "--bind / " not in text and "/etc/shadow" not in text and "/root" not in text
    assert "--dir /srv/sandboxes" in text  # parents made traversable inside
    assert "/etc/resolv.conf" not in text  # no resolver without a network


def test_holder_is_one_user_namespace_mapping_the_account_to_itself():
    for mode in (ROOT, ROOTLESS):
        argv = _holder(mode=mode)
        bwrap = argv[_tool(argv, "bwrap"):]
        assert bwrap[1:6] == ["--unshare-user", "--uid", "999", "--gid", "995"]
        assert "--dev" not in bwrap  # its devpts would make bubblewrap nest a second user namespace
        text = " ".join(bwrap)
        assert "--tmpfs /dev " in text and "--dev-bind /dev/null /dev/null" in text
        assert "--tmpfs /dev/shm" in text and "--symlink /proc/self/fd /dev/fd" in text


def test_root_starts_the_holder_as_the_account_and_rootless_starts_it_directly():
    root = _holder(mode=ROOT)
    assert root[0].endswith("setpriv") and root[_tool(root, "bwrap") - 1] == "--"
    switch = root[1:_tool(root, "bwrap") - 1]
    assert switch == ["--reuid=999", "--regid=995", "--clear-groups", "--no-new-privs",
                      "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]
    rootless = _holder(mode=ROOTLESS)
    assert rootless[0].endswith("bwrap") and not any(a.endswith("setpriv") for a in rootless)


def test_enter_as_root_switches_to_the_account_before_nsenter():
    argv = _enter(ROOT)
    nsenter = _tool(argv, "nsenter")
    assert argv[0].endswith("setpriv") and nsenter > 0
    assert argv[1:nsenter] == ["--reuid=999", "--regid=995", "--clear-groups", "--no-new-privs",
                               "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"]


def test_enter_rootless_runs_nsenter_itself():
    argv = _enter(ROOTLESS)
    assert argv[0].endswith("nsenter")
    assert not any(a.startswith(("--reuid", "--regid", "--clear-groups")) for a in argv)


def test_enter_joins_the_user_namespace_first_and_keeps_the_accounts_uid():
    for mode in (ROOT, ROOTLESS):
        argv = _enter(mode)
        nsenter = _tool(argv, "nsenter")
        assert argv[nsenter + 1:nsenter + 4] == ["--target=1234", "--user", "--preserve-credentials"]
        assert {"--mount", "--pid", "--ipc", "--uts", "--root", "--net"} <= set(argv[nsenter:])


def test_enter_drops_capabilities_inside_before_the_program():
    for mode in (ROOT, ROOTLESS):
        argv = _enter(mode)
        inner = _last_tool(argv, "setpriv")
        assert inner > _tool(argv, "nsenter")
        assert argv[inner + 1:inner + 5] == ["--no-new-privs", "--inh-caps=-all", "--ambient-caps=-all", "--"]
        assert argv[inner + 5].endswith("env") and argv[inner + 6] == "-i"


def test_enter_applies_limits_and_changes_directory_inside():
    limits = Limits(memory="512M", processes=64, open_files=256)
    argv = _enter(ROOT, limits)
    assert f"--as={512 * 1024 * 1024}" in argv and "--nproc=64" in argv and "--nofile=256" in argv
    assert _tool(argv, "nsenter") < _tool(argv, "prlimit")
    assert argv[-6:] == ["-C", "/sb/restore", "--", "PATH=/usr/bin", "python3", "-V"]


def test_the_environment_is_set_only_by_the_last_helper():
    env = {"PATH": "/usr/bin", "LD_PRELOAD": "/evil.so", "MODE": "drill"}
    for mode in (ROOT, ROOTLESS):
        argv = _enter(mode, env=env)
        last = _last_tool(argv, "env")
        assert argv[last + 1:last + 4] == ["-i", "-C", "/sb/restore"]
        assert argv[last + 4:] == ["--", "PATH=/usr/bin", "LD_PRELOAD=/evil.so", "MODE=drill", "python3", "-V"]
        assert not any("LD_PRELOAD" in a for a in argv[:last])
    assert iso.tool_env(Path("/sb")) == {"PATH": iso.TOOL_PATH, "DRILLBOOK_SANDBOX": "/sb"}


def test_enter_with_host_network_does_not_enter_a_network_namespace():
    argv = iso.enter_argv(1, ACCOUNT, Limits(), Path("/x"), ["true"], {}, network="host", mode=ROOT)
    assert "--net" not in argv


def test_environment_is_an_allow_list_plus_the_drills_env():
    base = {"PATH": "/usr/bin", "HOME": "/sb/home", "AWS_SECRET_ACCESS_KEY": "x",
            "RESTIC_PASSWORD": "y", "LANG": "C.UTF-8"}
    env = iso.scrubbed_env(base, {"APP_MODE": "drill"})
    assert env == {"PATH": "/usr/bin", "HOME": "/sb/home", "LANG": "C.UTF-8", "APP_MODE": "drill"}


def test_limits_are_recorded_with_their_mechanism():
    shown = iso.limits_record(Limits(memory="1G", open_files=64))
    assert shown["memory"].startswith("1G") and "RLIMIT_AS" in shown["memory"]
    assert "RLIMIT_NOFILE" in shown["open_files"] and "drillbook's default" in shown["processes"]
    assert iso.memory_bytes("2K") == 2048


def test_declared_user_that_does_not_exist_fails_closed():
    with pytest.raises(iso.IsolationError, match="does not exist"):
        iso.resolve_account(Isolation(user="no-such-user-xyz"), ROOT)


def test_root_is_never_the_sandbox_account():
    with pytest.raises(iso.IsolationError, match="root"):
        iso.resolve_account(Isolation(user="root"), ROOT)


def test_record_flags_host_network():
    record = iso.isolation_record("host", ACCOUNT, Limits(), ROOT)
    assert record["network"] == "host" and "host's network" in record["network_detail"]
    assert "network" not in record["method"].split("own ")[1].split(" namespaces")[0]


def test_record_says_who_built_the_sandbox():
    record = iso.isolation_record("none", ACCOUNT, Limits(), ROOTLESS)
    assert record["mode"] == "rootless" and record["outer_uid"] == 999
    assert record["user"] == "drillbook-sandbox (uid 999, gid 995)"
    assert "own user, network, mount" in record["method"]


def test_mode_follows_drillbooks_own_uid(monkeypatch):
    monkeypatch.setattr(iso.os, "geteuid", lambda: 0)
    assert iso.current_mode() is ROOT
    monkeypatch.setattr(iso.os, "geteuid", lambda: 65534)
    assert iso.current_mode() is ROOTLESS


def test_without_root_the_sandbox_account_is_drillbooks_own(monkeypatch):
    monkeypatch.setattr(iso.os, "geteuid", lambda: 65534)
    monkeypatch.setattr(iso.os, "getegid", lambda: 65533)
    account = iso.resolve_account(Isolation(), ROOTLESS)
    assert (account.uid, account.gid) == (65534, 65533)
    assert iso.resolve_account(Isolation(user=account.name), ROOTLESS) == account


def test_without_root_another_declared_user_fails_closed(monkeypatch):
    monkeypatch.setattr(iso.os, "geteuid", lambda: 65534)
    with pytest.raises(iso.IsolationError, match="needs drillbook to run as root"):
        iso.resolve_account(Isolation(user="drillbook-sandbox"), ROOTLESS)


def test_disabled_user_namespaces_fail_closed_naming_the_sysctl():
    def sysctls(values: dict[str, str]):
        return lambda path: values.get(path)

    problem = iso.user_namespace_problem(sysctls({iso.USERNS_SYSCTL: "0\n"}))
    assert problem and "user.max_user_namespaces" in problem
    assert "kernel.apparmor_restrict_unprivileged_userns" in problem
    debian = iso.user_namespace_problem(sysctls({iso.USERNS_SYSCTL: "1000", iso.DEBIAN_USERNS_SYSCTL: "0"}))
    assert debian and "kernel.unprivileged_userns_clone" in debian
    assert iso.user_namespace_problem(sysctls({iso.USERNS_SYSCTL: "96362\n"})) is None


def test_whether_the_account_can_read_a_repository_is_tried_as_the_account():
    argv = iso.readable_argv(ACCOUNT, Path("/srv/backups/repo"), ROOT)
    assert argv[:_tool(argv, "find")] == iso.switch_argv(ACCOUNT, ROOT)
    find = argv[_tool(argv, "find"):]
    assert find[1:3] == ["-H", "/srv/backups/repo"] and find[-2:] == ["-print", "-quit"]
    assert "-readable" in find and "-executable" in find


def test_a_group_other_accounts_hold_is_not_the_accounts_own(monkeypatch: pytest.MonkeyPatch):
    class Entry:
        def __init__(self, name: str, uid: int, gid: int) -> None:
            self.pw_name, self.pw_uid, self.pw_gid = name, uid, gid

    class Group:
        def __init__(self, members: list[str]) -> None:
            self.gr_mem = members

    monkeypatch.setattr(iso.pwd, "getpwall", lambda: [Entry("drillbook-sandbox", 999, 995),
                                                       Entry("_apt", 42, 995), Entry("bob", 1000, 1000)])
    monkeypatch.setattr(iso.grp, "getgrgid", lambda gid: Group(["drillbook-sandbox", "alice"]))
    assert iso.group_shared_with(ACCOUNT) == ["_apt", "alice"]
    monkeypatch.setattr(iso.grp, "getgrgid", lambda gid: Group([]))
    monkeypatch.setattr(iso.pwd, "getpwall", lambda: [Entry("drillbook-sandbox", 999, 995)])
    assert iso.group_shared_with(ACCOUNT) == []


# -- default limits -------------------------------------------------------------------

GIB = 1024 ** 3


def _prlimit_options(argv: list[str]) -> list[str]:
    start = _tool(argv, "prlimit") + 1
    return argv[start:argv.index("--", start)]


def test_every_sandboxed_process_gets_the_default_limits():
    for mode in (ROOT, ROOTLESS):
        assert _prlimit_options(_enter(mode)) == [f"--as={4 * GIB}", "--nproc=512", "--nofile=1024"]


def test_a_drill_may_raise_or_lower_each_limit_and_keeps_the_other_defaults():
    raised = _prlimit_options(_enter(ROOT, Limits(memory="8G")))
    assert raised == [f"--as={8 * GIB}", "--nproc=512", "--nofile=1024"]
    lowered = _prlimit_options(_enter(ROOT, Limits(processes=32, open_files=64)))
    assert lowered == [f"--as={4 * GIB}", "--nproc=32", "--nofile=64"]


def test_the_record_shows_every_limit_in_force_and_whether_the_drill_chose_it():
    shown = iso.limits_record(Limits(open_files=64))
    assert set(shown) == {"memory", "processes", "open_files"}
    assert shown["memory"] == "4G per process (RLIMIT_AS via prlimit; drillbook's default)"
    assert shown["processes"].startswith("512 ") and "drillbook's default" in shown["processes"]
    assert shown["open_files"] == "64 per process (RLIMIT_NOFILE via prlimit; declared by the drill)"
    assert iso.isolation_record("none", ACCOUNT, Limits(), ROOT)["limits"] == iso.limits_record(Limits())
