"""The isolation argv and account rules, without starting anything."""

from pathlib import Path

import pytest

from drillbook.sandbox import isolation as iso
from drillbook.spec.models import Isolation, Limits

ACCOUNT = iso.Account("drillbook-sandbox", 999, 995)


def test_holder_unshares_network_only_when_none():
    none = iso.holder_argv(Path("/tmp/sb/run1"), "none", 5)
    host = iso.holder_argv(Path("/tmp/sb/run1"), "host", 5)
    assert "--unshare-net" in none and "--unshare-net" not in host
    for argv in (none, host):
        assert "--unshare-pid" in argv and "--die-with-parent" in argv
        assert argv[argv.index("--bind") + 1:argv.index("--bind") + 3] == ["/tmp/sb/run1"] * 2


def test_holder_hides_host_tmp_and_run_and_binds_system_read_only():
    argv = iso.holder_argv(Path("/srv/sandboxes/run1"), "none", 5)
    text = " ".join(argv)
    assert "--tmpfs /tmp" in text and "--tmpfs /run" in text and "--tmpfs /dev/shm" in text
    assert "--ro-bind /usr /usr" in text
    assert "--bind / " not in text and "/etc/shadow" not in text and "/root" not in text
    assert "--dir /srv/sandboxes" in text  # parents made traversable inside
    assert "/etc/resolv.conf" not in text  # no resolver without a network


def test_enter_drops_to_account_with_limits_and_chdir():
    limits = Limits(memory="512M", processes=64, open_files=256)
    argv = iso.enter_argv(1234, ACCOUNT, limits, Path("/sb/restore"), ["python3", "-V"],
                          network="none")
    assert argv[0].endswith("nsenter") and "--target=1234" in argv and "--net" in argv
    assert f"--as={512 * 1024 * 1024}" in argv and "--nproc=64" in argv and "--nofile=256" in argv
    assert "--reuid=999" in argv and "--regid=995" in argv and "--no-new-privs" in argv
    assert argv[-5:] == ["-C", "/sb/restore", "--", "python3", "-V"]


def test_enter_with_host_network_does_not_enter_a_network_namespace():
    argv = iso.enter_argv(1, ACCOUNT, Limits(), Path("/x"), ["true"], network="host")
    assert "--net" not in argv and not any(a.endswith("prlimit") for a in argv)


def test_environment_is_an_allow_list_plus_the_drills_env():
    base = {"PATH": "/usr/bin", "HOME": "/sb/home", "AWS_SECRET_ACCESS_KEY": "x",
            "RESTIC_PASSWORD": "y", "LANG": "C.UTF-8"}
    env = iso.scrubbed_env(base, {"APP_MODE": "drill"})
    assert env == {"PATH": "/usr/bin", "HOME": "/sb/home", "LANG": "C.UTF-8", "APP_MODE": "drill"}


def test_limits_are_recorded_with_their_mechanism():
    shown = iso.limits_record(Limits(memory="1G", open_files=64))
    assert shown["memory"].startswith("1G") and "RLIMIT_AS" in shown["memory"]
    assert "RLIMIT_NOFILE" in shown["open_files"] and "processes" not in shown
    assert iso.memory_bytes("2K") == 2048


def test_declared_user_that_does_not_exist_fails_closed():
    with pytest.raises(iso.IsolationError, match="does not exist"):
        iso.resolve_account(Isolation(user="no-such-user-xyz"))


def test_root_is_never_the_sandbox_account():
    with pytest.raises(iso.IsolationError, match="root"):
        iso.resolve_account(Isolation(user="root"))


def test_record_flags_host_network():
    record = iso.isolation_record("host", ACCOUNT, Limits())
    assert record["network"] == "host" and "host's network" in record["network_detail"]
    assert "network" not in record["method"].split("own ")[1].split(" namespaces")[0]


def test_without_root_isolation_fails_closed(monkeypatch):
    monkeypatch.setattr(iso.os, "geteuid", lambda: 65534)
    with pytest.raises(iso.IsolationError, match="not root"):
        iso.resolve_account(Isolation())
