"""Making a restored tree safe: whatever the backup chose, the sandbox account gets a tree without
setuid bits, devices, file capabilities or owners of its choosing, and nothing outside is touched."""

from __future__ import annotations

import os
import socket
import stat
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.sandbox.safety import UnsafeTree, make_safe
from tests.unit.sandbox.test_removal import DEPTH, deep_tree

UID, GID = 4242, 4343  # an owner no file of the tree has yet
CAPABILITY = "security.capability"
#: vfs_cap_data revision 2, effective, permitted CAP_NET_RAW (what ``setcap cap_net_raw+ep`` writes)
NET_RAW = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: makes devices and chowns")


def _walk(top: Path) -> Iterator[tuple[Path, os.stat_result]]:
    for base, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = Path(base) / name
            yield path, path.lstat()


def _hostile_tree(top: Path, outside: Path) -> None:
    """What a hostile backup restored as root leaves: the review's findings and their cousins."""
    bad = top / "srv" / "app"
    bad.mkdir(parents=True)
    shell = bad / "sh"
    shell.write_bytes(Path("/bin/sh").read_bytes())
    shell.chmod(0o4755)
    (bad / "setgid").write_text("x")
    (bad / "setgid").chmod(0o2755)
    (bad / "shared").mkdir()
    (bad / "shared").chmod(0o2775)
    (bad / "theirs.txt").write_text("owned by nobody\n")
    os.chown(bad / "theirs.txt", 65534, 65534)
    os.mknod(bad / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    os.mknod(bad / "loop", 0o660 | stat.S_IFBLK, os.makedev(7, 0))
    os.mkfifo(bad / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(bad / "sock"))
    (bad / "ping").write_text("pretend ping\n")
    os.setxattr(bad / "ping", CAPABILITY, NET_RAW)
    (bad / "escape").symlink_to(outside)
    os.chown(bad / "escape", 65534, 65534, follow_symlinks=False)
    (bad / "locked").mkdir()
    (bad / "locked" / "inside").write_text("x")
    os.chown(bad / "locked" / "inside", 65534, 65534)
    (bad / "locked").chmod(0o000)


@needs_root
def test_a_hostile_tree_is_made_safe_and_nothing_outside_changes(tmp_path: Path) -> None:
    outside = tmp_path / "host-file"
    outside.write_text("the host's\n")
    outside.chmod(0o4755)
    top = tmp_path / "restore"
    _hostile_tree(top, outside)

    report = make_safe(top, UID, GID)

    entries = dict(_walk(top))
    names = {p.name for p in entries}
    assert not {"null", "loop"} & names, "device nodes are removed"
    assert {"pipe", "sock", "sh", "theirs.txt", "escape", "inside"} <= names
    for path, info in [(top, top.lstat()), *entries.items()]:
        assert (info.st_uid, info.st_gid) == (UID, GID), path
        assert not info.st_mode & (stat.S_ISUID | stat.S_ISGID), path
        assert not (stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)), path
    assert stat.S_ISFIFO(entries[top / "srv/app/pipe"].st_mode)
    assert stat.S_ISSOCK(entries[top / "srv/app/sock"].st_mode)
    assert CAPABILITY not in os.listxattr(top / "srv/app/ping")
    assert stat.S_IMODE(entries[top / "srv/app/sh"].st_mode) == 0o755
    assert stat.S_IMODE(entries[top / "srv/app/shared"].st_mode) == 0o775
    # the link's target lies outside: it keeps its owner and its setuid bit
    host = outside.stat()
    assert (host.st_uid, stat.S_IMODE(host.st_mode)) == (0, 0o4755)
    assert report.devices_removed == 2 and report.setid_cleared == 3 and report.capabilities_removed == 1
    assert report.owners_changed == len(entries) + 1
    assert report.to_dict()["devices_removed"] == 2


@needs_root
def test_a_tree_deeper_than_the_recursion_limit_is_made_safe(tmp_path: Path) -> None:
    top = tmp_path / "restore"
    deep_tree(top)
    try:
        report = make_safe(top, UID, GID)
        assert report.owners_changed == DEPTH + 2  # the top, every folder, the file at the bottom
        bottom = subprocess.run(["find", str(top), "-name", "bottom.txt", "-printf", "%U %G"],
                                capture_output=True, text=True, check=True).stdout
        assert bottom == f"{UID} {GID}"
    finally:
        subprocess.run(["rm", "-rf", str(top)], check=False)


def test_a_setuid_bit_of_drillbooks_own_files_goes_too(tmp_path: Path) -> None:
    """Unprivileged, restic restores setuid bits on the account's own files: they go as well."""
    top = tmp_path / "restore"
    (top / "bin").mkdir(parents=True)
    (top / "bin" / "tool").write_text("#!/bin/sh\n")
    (top / "bin" / "tool").chmod(0o4711)
    report = make_safe(top, os.getuid(), os.getgid())
    assert stat.S_IMODE((top / "bin" / "tool").stat().st_mode) == 0o711
    assert report.setid_cleared == 1 and report.owners_changed == 0


def test_the_top_must_be_a_real_folder(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "restore").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafeTree, match="restore"):
        make_safe(tmp_path / "restore", os.getuid(), os.getgid())


@needs_root
def test_a_mount_inside_the_tree_is_not_entered_and_fails_the_walk(tmp_path: Path) -> None:
    top = tmp_path / "restore"
    (top / "mnt").mkdir(parents=True)
    host = tmp_path / "host"
    host.mkdir()
    (host / "data").write_text("host data\n")
    if subprocess.run(["mount", "--bind", str(host), str(top / "mnt")], capture_output=True).returncode:
        pytest.skip("cannot bind-mount here")
    try:
        with pytest.raises(UnsafeTree, match="mount"):
            make_safe(top, UID, GID)
        assert (host / "data").stat().st_uid == 0
    finally:
        subprocess.run(["umount", str(top / "mnt")], check=False)


@needs_root
def test_a_capability_goes_even_when_the_owner_is_already_right(tmp_path: Path) -> None:
    """A chown by root drops a file's capability by itself; no chown happens for the right owner."""
    top = tmp_path / "restore"
    top.mkdir()
    (top / "ping").write_text("pretend ping\n")
    os.setxattr(top / "ping", CAPABILITY, NET_RAW)
    report = make_safe(top, 0, 0)
    assert CAPABILITY not in os.listxattr(top / "ping")
    assert report.capabilities_removed == 1 and report.owners_changed == 0
