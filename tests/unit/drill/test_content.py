"""The always-on content check: every node of the snapshot's listing is in the restore, at its size."""

from __future__ import annotations

import os
from pathlib import Path

from drillbook.checks.reading.tree import MAX_LISTED, SPECIAL_NAMED, compare_tree
from drillbook.drill.content import verify_restore


def file_node(path: str, size: int) -> dict:
    return {"type": "file", "path": path, "size": size}


def test_a_complete_restore_matches(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "a.txt").write_text("hello")
    os.symlink("a.txt", tmp_path / "srv" / "link")
    result = compare_tree([{"type": "dir", "path": "/srv"}, file_node("/srv/a.txt", 5),
                           {"type": "symlink", "path": "/srv/link"}], tmp_path)
    assert result["files_expected"] == 1 and result["dirs_expected"] == 1 and result["symlinks_expected"] == 1
    assert result["bytes_expected"] == result["bytes_present"] == 5
    assert result["missing_count"] == 0 and result["wrong_size_count"] == 0


def test_missing_files_and_folders_are_listed(tmp_path: Path) -> None:
    result = compare_tree([{"type": "dir", "path": "/srv"}, file_node("/srv/gone.txt", 3)], tmp_path)
    assert result["missing"] == ["srv/", "srv/gone.txt"] and result["missing_count"] == 2
    assert result["bytes_present"] == 0


def test_a_wrong_size_is_named_with_both_sizes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("short")
    result = compare_tree([file_node("/a.txt", 9)], tmp_path)
    assert result["wrong_size"] == ["a.txt (5 bytes, snapshot has 9)"] and result["wrong_size_count"] == 1


def test_a_symlink_must_be_restored_as_a_link_and_is_never_followed(tmp_path: Path) -> None:
    (tmp_path / "target.txt").write_text("x" * 100)
    (tmp_path / "plain").write_text("not a link")
    os.symlink(tmp_path / "target.txt", tmp_path / "link.txt")
    result = compare_tree([{"type": "symlink", "path": "/plain"}, file_node("/link.txt", 100)], tmp_path)
    assert result["missing"] == ["plain"]  # a regular file where the snapshot has a link
    # the file node is the link itself: lstat, its own size, not the 100 bytes it points at
    assert result["wrong_size_count"] == 1 and result["wrong_size"][0].startswith("link.txt (")


def test_long_lists_are_cut_but_counted(tmp_path: Path) -> None:
    result = compare_tree([file_node(f"/f{i}", 1) for i in range(MAX_LISTED + 5)], tmp_path)
    assert result["missing_count"] == MAX_LISTED + 5 and len(result["missing"]) == MAX_LISTED


def test_verify_restore_passes_a_complete_restore_and_says_how(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    content, problem = verify_restore(compare_tree([file_node("/a.txt", 5)], tmp_path), "f" * 64, "ffffffff")
    assert problem is None and content["status"] == "passed"
    assert content["reference"] == f"snapshot {'f' * 64}"
    assert content["files_verified"] == 1 and content["bytes_verified"] == 5
    assert content["method"].startswith("restic restore --verify")


def test_verify_restore_names_what_is_missing_or_wrong(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hi")
    compared = compare_tree([file_node("/a.txt", 5), file_node("/b.txt", 1)], tmp_path)
    content, problem = verify_restore(compared, "id", "short")
    assert problem == ("restored tree is incomplete: 1 missing (first: b.txt); "
                       "1 with wrong size (first: a.txt (2 bytes, snapshot has 5))")
    assert content["status"] == "failed" and content["files_verified"] == 1


def test_verify_restore_fails_a_snapshot_without_files(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    content, problem = verify_restore(compare_tree([{"type": "dir", "path": "/srv"}], tmp_path), "id", "abc12345")
    assert problem is not None and problem.startswith("snapshot abc12345 holds no files: nothing was recovered")
    assert content["status"] == "failed"


def test_special_files_are_listed_never_missing_and_their_names_escaped(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    os.mkfifo(tmp_path / "pipe")
    listing = [file_node("/a.txt", 5), {"type": "chardev", "path": "/dev/null"},
               {"type": "dev", "path": "/dev/sda"}, {"type": "fifo", "path": "/pipe"},
               {"type": "socket", "path": "/run/\x1b[31mred.sock"}]
    content, problem = verify_restore(compare_tree(listing, tmp_path), "id", "short")
    assert problem is None and content["missing_count"] == 0, "a device is not a missing file"
    special = content["special_files"]
    assert special["count"] == 4
    assert special["by_type"] == {"character device": 1, "block device": 1, "FIFO": 1, "socket": 1}
    assert special["examples"] == [
        {"path": "dev/null", "type": "character device"}, {"path": "dev/sda", "type": "block device"},
        {"path": "pipe", "type": "FIFO"}, {"path": "run/\\x1b[31mred.sock", "type": "socket"}]


def test_only_the_first_special_files_are_named(tmp_path: Path) -> None:
    listing = [{"type": "fifo", "path": f"/p{i}"} for i in range(SPECIAL_NAMED + 3)]
    special = compare_tree(listing, tmp_path)["special_files"]
    assert special["count"] == SPECIAL_NAMED + 3 and len(special["examples"]) == SPECIAL_NAMED


def test_a_tree_without_special_files_says_none(tmp_path: Path) -> None:
    assert compare_tree([], tmp_path)["special_files"] == {"count": 0, "by_type": {}, "examples": []}


def test_a_restored_folder_symlinked_to_the_host_is_never_walked_into(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "shadow").write_text("root:x")
    restore = tmp_path / "restore"
    restore.mkdir()
    os.symlink(host / "etc", restore / "srv")
    result = compare_tree([{"type": "dir", "path": "/srv"}, file_node("/srv/shadow", 6)], restore)
    assert result["missing"] == ["srv/", "srv/shadow"]
    assert result["bytes_present"] == 0
