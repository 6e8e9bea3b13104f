"""Removing a sandbox's tree: restored data is hostile, so its shape must never stop or steer it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.sandbox import removal
from drillbook.sandbox.holder import remove_tree

DEPTH = 1100  # deeper than Python's default recursion limit


def deep_tree(top: Path, depth: int = DEPTH) -> None:
    """``depth`` nested folders with a file at the bottom, built without long paths."""
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as fh:
            fh.write("patient data\n")
    finally:
        os.close(fd)


@pytest.fixture
def deep(tmp_path: Path) -> Iterator[Path]:
    """A deep tree that never outlives its test: pytest's own clean-up of old temporary folders
    recurses, and would fail on it in every later session."""
    deep_tree(tmp_path / "sandbox")
    try:
        yield tmp_path / "sandbox"
    finally:
        subprocess.run(["rm", "-rf", str(tmp_path / "sandbox")], check=False)


def test_a_tree_deeper_than_the_recursion_limit_is_removed(deep: Path) -> None:
    remove_tree(deep)
    assert not deep.exists()


def test_read_only_files_and_folders_without_bits_are_removed(tmp_path: Path) -> None:
    top = tmp_path / "sandbox"
    for mode, name in ((0o000, "none"), (0o400, "read-only"), (0o500, "no-write"), (0o300, "no-read"),
                       (0o600, "no-exec")):
        folder = top / "restore" / name
        (folder / "inner").mkdir(parents=True)
        (folder / "inner" / "file").write_text("x")
        (folder / "file").write_text("x")
        (folder / "file").chmod(0o400)
        folder.chmod(mode)
    (top / "restore").chmod(0o500)
    remove_tree(top)
    assert not top.exists()


def test_permissions_are_mended_by_an_unprivileged_owner_too() -> None:
    """Rootless drillbook owns the restored tree but has no CAP_DAC_OVERRIDE to ignore its modes."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged account")
    with tempfile.TemporaryDirectory() as shared:
        Path(shared).chmod(0o777)
        assert _as_nobody(Path(shared)) == 0


def _as_nobody(tmp_path: Path) -> int:
    pid = os.fork()
    if pid == 0:  # the child: an ordinary account, as drillbook runs rootless
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            top = tmp_path / "sandbox"
            (top / "a" / "b").mkdir(parents=True)
            (top / "a" / "b" / "f").write_text("x")
            (top / "a" / "b").chmod(0o000)
            (top / "a").chmod(0o100)
            top.chmod(0o500)
            remove_tree(top)
            code = 0 if not top.exists() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_symlinks_are_removed_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "precious.txt").write_text("host data")
    top = tmp_path / "sandbox"
    (top / "restore").mkdir(parents=True)
    (top / "restore" / "to-dir").symlink_to(outside)
    (top / "restore" / "to-file").symlink_to(outside / "keep" / "precious.txt")
    (top / "restore" / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(top / "restore" / "fifo")
    remove_tree(top)
    assert not top.exists()
    assert (outside / "keep" / "precious.txt").read_text() == "host data"
    assert outside.stat().st_mode & 0o777 == (tmp_path / "outside").stat().st_mode & 0o777


def test_a_symlink_given_as_the_tree_is_removed_not_its_target(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "f").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    remove_tree(tmp_path / "link")
    assert not os.path.lexists(tmp_path / "link") and (tmp_path / "target" / "f").exists()


def test_a_missing_tree_is_nothing_to_do(tmp_path: Path) -> None:
    """Teardown runs again after a failure: a tree already gone is no error, and nothing beside it goes."""
    (tmp_path / "neighbour").write_text("kept")
    remove_tree(tmp_path / "nothing-here")
    remove_tree(tmp_path / "no-parent" / "nothing-here")
    assert sorted(os.listdir(tmp_path)) == ["neighbour"] and (tmp_path / "neighbour").read_text() == "kept"


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A host folder bind-mounted inside a sandbox's restore (same filesystem, another mount)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root and mount")
    host = tmp_path / "host"
    host.mkdir()
    (host / "precious.txt").write_text("host data")
    point = tmp_path / "sandbox" / "restore" / "mnt"
    point.mkdir(parents=True)
    if subprocess.run(["mount", "--bind", str(host), str(point)], capture_output=True).returncode:
        pytest.skip("bind mounts are not allowed here")
    try:
        yield tmp_path / "sandbox", host
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_mount_inside_the_tree_is_never_entered_and_the_tree_is_reported_left(
        mounted: tuple[Path, Path]) -> None:
    top, host = mounted
    (top / "restore" / "other.txt").write_text("restored")
    with pytest.raises(OSError, match=r"sandbox could not be removed completely") as raised:
        remove_tree(top)
    assert "mnt" in str(raised.value)
    assert (host / "precious.txt").read_text() == "host data"
    assert not (top / "restore" / "other.txt").exists()  # everything else went


@pytest.fixture(params=["stuck.txt"])
def immutable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A file the kernel refuses to delete, whoever asks (chattr +i); named by the param."""
    top = tmp_path / "sandbox"
    (top / "restore").mkdir(parents=True)
    stuck = top / "restore" / request.param
    stuck.write_text("x")
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(stuck)],
                                                    capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        yield top
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=False)


def test_a_file_that_cannot_be_deleted_raises_naming_the_tree(immutable: Path) -> None:
    with pytest.raises(OSError, match=r"sandbox could not be removed completely: .*stuck\.txt"):
        remove_tree(immutable)
    assert (immutable / "restore" / "stuck.txt").exists()


@pytest.mark.parametrize("immutable", ["\x1b[2Jstuck.txt"], indirect=True)
def test_names_left_behind_are_shown_escaped(immutable: Path) -> None:
    """A restored name is hostile: the error (logged, printed, recorded) must not carry its escapes."""
    with pytest.raises(OSError) as raised:
        remove_tree(immutable)
    assert "\x1b" not in str(raised.value) and "\\x1b[2Jstuck.txt" in str(raised.value)


def test_what_is_left_is_named_first_few_then_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = tmp_path / "sandbox"
    (top / "restore" / "deep").mkdir(parents=True)
    for i in range(10):
        (top / "restore" / "deep" / f"keep-{i}").write_text("x")
    (top / "restore" / "gone.txt").write_text("x")
    unlink = os.unlink

    def refuse(name: str, *, dir_fd: int | None = None) -> None:
        if str(name).startswith("keep-"):
            raise PermissionError(1, "Operation not permitted")
        unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(removal.os, "unlink", refuse)
    with pytest.raises(removal.TreeLeft) as raised:
        remove_tree(top)
    text = str(raised.value)
    assert text.count("restore/deep/keep-") == 3 and text.endswith("(and 7 more)")
    assert "Directory not empty" not in text
    assert not (top / "restore" / "gone.txt").exists()


def test_files_are_removed_by_several_threads_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing a large restore one file at a time took longer than any other part of a drill but
    the restore itself; the kernel frees several files' blocks at once."""
    top = tmp_path / "sandbox"
    for folder in range(8):
        (top / "restore" / f"box-{folder}").mkdir(parents=True)
        for i in range(40):
            (top / "restore" / f"box-{folder}" / f"record-{i}").write_bytes(b"x" * 100)
    unlink = os.unlink
    threads: set[int] = set()
    lock = threading.Lock()

    def counted(name: str, *, dir_fd: int | None = None) -> None:
        with lock:
            threads.add(threading.get_ident())
        time.sleep(0.001)
        unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(removal.os, "unlink", counted)
    remove_tree(top)
    assert not top.exists() and len(threads) > 1


def test_a_tree_is_removed_by_an_atexit_clean_up_too(tmp_path: Path) -> None:
    """At exit no new thread may start: the files are unlinked one at a time then."""
    top = tmp_path / "sandbox"
    (top / "restore").mkdir(parents=True)
    (top / "restore" / "letter.txt").write_text("patient data\n")
    script = ("import atexit, sys\nfrom pathlib import Path\nfrom drillbook.sandbox.removal import remove_tree\n"
              f"atexit.register(remove_tree, Path({str(top)!r}))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert not top.exists()
