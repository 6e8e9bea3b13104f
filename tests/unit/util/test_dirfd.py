"""The iterative descriptor walk: any depth, one descriptor, symlinks reported and never followed."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

from drillbook.sandbox.removal import remove_tree
from drillbook.util.dirfd import walk


def test_a_tree_deeper_than_the_recursion_limit_is_walked_whole(tmp_path: Path) -> None:
    depth = sys.getrecursionlimit() + 200
    folder = tmp_path
    fd = os.open(tmp_path, os.O_RDONLY)
    for _ in range(depth):  # by descriptor: the path grows past PATH_MAX
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(os.open("leaf.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(fd)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))  # one descriptor at a time, not one per level
    try:
        entries = list(walk(folder))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        remove_tree(tmp_path / "d")  # pytest's own clean-up would recurse too deep
    assert len(entries) == depth + 1
    folder_rel, name, _ = entries[-1]
    assert name == "leaf.txt" and folder_rel.count("/") == depth - 1


def test_symlinks_are_reported_and_never_followed(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("x")
    top = tmp_path / "top"
    (top / "a").mkdir(parents=True)
    (top / "a" / "f.txt").write_text("f")
    os.symlink(host, top / "a" / "out")
    found = {(rel, name) for rel, name, _ in walk(top)}
    assert found == {("", "a"), ("a", "f.txt"), ("a", "out")}


def test_an_open_folder_descriptor_stays_the_callers(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert [name for _, name, _ in walk(fd)] == ["x"]
        assert os.listdir(fd) == ["x"]  # still open, still usable
    finally:
        os.close(fd)
